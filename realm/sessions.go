package realm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// A user's sign-ins as admins manage them (CONTRACT §3 "user sessions"):
// the live browser sessions and refresh token chains, each ended alone or
// all at once, and the sign-in lock an admin may lift.
//
// Ending a sign-in is in force at once on every node: the session and the
// refresh tokens are revoked in the database, which the login page and the
// refresh grant read on every request, and the access tokens issued with
// those refresh tokens go on the revocation list, whose change every node
// learns within its token state poll (realm.TokenStateWatcher). Signing a
// user out everywhere also stamps its TokensValidAfter, so every access
// token issued until then is dead wherever it is presented.

// DefaultAccessTokenLifespan is how long an access token lives (the oauth
// package's default); the revocation list keeps an entry that long.
const DefaultAccessTokenLifespan = 5 * time.Minute

// LoginLockThreshold is how many consecutive failed sign-ins lock an
// account (the login page's brute-force protection).
const LoginLockThreshold = 10

// LoginAccountKey is the LoginFailureStore key of the account signing in
// with email: a hash of the address lower-cased, so unknown addresses are
// counted like known ones and no address is stored.
func LoginAccountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// SignInLock is a user's brute-force state as an admin sees it.
type SignInLock struct {
	// LockedUntil is set while sign-in is locked.
	LockedUntil *time.Time
	// FailedSignIns counts the consecutive failures since the last
	// success or lockout.
	FailedSignIns int
	// Lockouts counts the lockouts so far (each one locks longer).
	Lockouts int
}

// signInLock reads u's brute-force state at now.
func (s *Service) signInLock(ctx context.Context, st Store, u *User) (SignInLock, error) {
	f, err := st.GetLoginFailure(ctx, u.RealmID, LoginAccountKey(u.Email))
	if errors.Is(err, ErrNotFound) {
		return SignInLock{}, nil
	}
	if err != nil {
		return SignInLock{}, err
	}
	l := SignInLock{FailedSignIns: f.Failures, Lockouts: f.Lockouts}
	if f.LockedUntil != nil && s.clock().Before(*f.LockedUntil) {
		until := f.LockedUntil.UTC()
		l.LockedUntil = &until
	}
	return l, nil
}

// ListUserSessions lists a user's live sign-ins, newest first.
func (s *Service) ListUserSessions(ctx context.Context, realmName, userID string) ([]UserSession, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetUser(ctx, r.ID, userID); err != nil {
		return nil, err
	}
	return s.store.ListUserSessions(ctx, r.ID, userID, s.now())
}

// RevokeUserSession ends one of a user's sign-ins: a browser session with
// the refresh token chains bound to it, or one refresh token chain
// (offline ones included). The access tokens issued with those refresh
// tokens are revoked too. A session that is not the user's live one is
// ErrNotFound.
func (s *Service) RevokeUserSession(ctx context.Context, realmName, userID, sessionID string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.ID, userID)
		if err != nil {
			return err
		}
		// Looked up directly (not in the listing, which is bounded): a
		// live browser session of the user, else a live chain of its.
		now := s.now()
		d := map[string]any{"email": u.Email, "session_id": sessionID}
		var chains []string
		bs, err := tx.GetBrowserSession(ctx, r.ID, sessionID)
		switch {
		case err == nil && bs.UserID == u.ID && !bs.Revoked && now.Before(bs.ExpiresAt):
			if err := tx.RevokeBrowserSession(ctx, r.ID, bs.ID); err != nil {
				return err
			}
			if chains, err = tx.SessionRefreshFamilies(ctx, r.ID, bs.ID); err != nil {
				return err
			}
			d["kind"] = SessionBrowser
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		default:
			t, err := tx.LiveRefreshToken(ctx, r.ID, u.ID, sessionID, now)
			if err != nil {
				return err // ErrNotFound: no live session of the user by that ID
			}
			chains = []string{t.FamilyID}
			d["kind"], d["client_id"] = SessionRefresh, t.ClientID
			if t.Offline {
				d["kind"] = SessionOffline
			}
		}
		for _, family := range chains {
			if err := revokeChain(ctx, tx, r, family, now); err != nil {
				return err
			}
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventUserSessionRevoked, "user", u.ID, d))
	})
}

// revokeChain revokes a refresh token chain and puts the access tokens
// issued with it on the revocation list.
func revokeChain(ctx context.Context, tx Store, r *Realm, family string, now time.Time) error {
	realmID := r.ID
	// The realm's access lifetime, or the longest a token of it may have
	// been given: the revocation list must outlast every one.
	access, err := tx.RevokeRefreshFamily(ctx, realmID, family, now, max(r.Settings.AccessTokenLife(0), maxAccessTokenSeconds*time.Second))
	if err != nil {
		return err
	}
	for _, at := range access {
		// A minute past its end, as the token endpoint's revocations.
		if err := tx.RevokeToken(ctx, realmID, at.JTI, at.ExpiresAt.Add(time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

// LogoutUser signs a user out everywhere: every browser session and refresh
// token is revoked, and every access token issued until now is dead
// (TokensValidAfter). The user may sign in again at once.
func (s *Service) LogoutUser(ctx context.Context, realmName, userID string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		// UpdateUser writes the whole user, memberships included: the
		// realm's membership lock keeps a concurrent group change from
		// being overwritten with what was read here.
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.ID, userID)
		if err != nil {
			return err
		}
		now := s.now()
		u.TokensValidAfter = &now
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := endSignIns(ctx, tx, r.ID, u.ID); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventUserSignedOutEverywhere, "user", u.ID,
			map[string]any{"email": u.Email}))
	})
}

// UnlockUser lifts a user's sign-in lock and forgets its failed sign-ins.
// Unlocking a user that is not locked changes nothing and records nothing.
func (s *Service) UnlockUser(ctx context.Context, realmName, userID string) (*UserView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	var view *UserView
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.ID, userID)
		if err != nil {
			return err
		}
		lock, err := s.signInLock(ctx, tx, u)
		if err != nil {
			return err
		}
		if lock.LockedUntil != nil || lock.FailedSignIns > 0 {
			if err := tx.ClearLoginFailures(ctx, r.ID, LoginAccountKey(u.Email)); err != nil {
				return err
			}
			d := map[string]any{"email": u.Email, "failed_sign_ins": lock.FailedSignIns}
			if lock.LockedUntil != nil {
				d["locked_until"] = lock.LockedUntil.Format(time.RFC3339)
			}
			if err := appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventUserUnlocked, "user", u.ID, d)); err != nil {
				return err
			}
		}
		view, err = s.userView(ctx, tx, u)
		return err
	})
	return view, err
}
