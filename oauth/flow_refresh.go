package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// The refresh grant's own decisions (CONTRACT §4): until when a refresh
// token lasts, and whether the grounds it was issued on still hold. The
// token's format is in strategy_refresh.go, its storage in
// storage_refresh.go.

// scopeOffline is the scope of refresh tokens that outlive the session.
const scopeOffline = "offline_access"

// refreshBounds decides, at the token endpoint, until when the refresh
// token issued now lasts, and refuses a refresh whose grounds are gone: a
// session-bound token needs its browser session live; an offline one needs
// its client still allowed offline access.
func (p *provider) refreshBounds(ctx context.Context, ar fosite.AccessRequester, fc *fositeClient, us *userSession) error {
	now := p.s.clock()
	if us.Offline {
		if !fc.c.AllowOfflineAccess {
			return fosite.ErrInvalidGrant.WithHint("The client may no longer use offline access.")
		}
		// An offline token outlives the session, but it is born in one: a
		// code redeemed after sign-out gets nothing.
		if ar.GetGrantTypes().ExactOne("authorization_code") {
			if _, err := p.liveSession(ctx, us, now); err != nil {
				return err
			}
		}
		us.SetExpiresAt(fosite.RefreshToken, now.Add(offlineLifespan))
		return nil
	}
	bs, err := p.liveSession(ctx, us, now)
	if err != nil {
		return err
	}
	us.SetExpiresAt(fosite.RefreshToken, bs.ExpiresAt)
	return nil
}

// liveSession returns the browser session us belongs to while it lasts.
func (p *provider) liveSession(ctx context.Context, us *userSession, now time.Time) (*realm.BrowserSession, error) {
	var (
		bs  *realm.BrowserSession
		err error
	)
	if g := us.grant; g != nil && (g.Session == nil || g.Session.ID == us.SessionID) {
		bs = g.Session // read with the refresh token
		if bs == nil {
			err = realm.ErrNotFound
		}
	} else {
		bs, err = p.s.store.GetBrowserSession(ctx, p.realm.ID, us.SessionID)
	}
	if errors.Is(err, realm.ErrNotFound) || (err == nil && (bs.Revoked || !now.Before(bs.ExpiresAt) || bs.UserID != us.UserID)) {
		return nil, fosite.ErrInvalidGrant.WithHint("The session has ended.")
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return bs, nil
}
