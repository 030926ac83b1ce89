package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// Refresh tokens (CONTRACT §4) are JWTs signed with the realm's ES256 key,
// with "typ":"Refresh" in the payload as Keycloak's adapters expect;
// clients treat them as opaque. What makes one valid is its row in
// refresh_tokens, found by jti: single use, rotated on every refresh, and
// revoked with its whole family when a used one comes back. The row also
// keeps the token's SHA-256, so a token is accepted only if it is exactly
// the one issued (no dependence on the signing key still being known, which
// matters for offline tokens that outlive a key).

// refreshTokenType is the payload's typ claim.
const refreshTokenType = "Refresh"

// offlineLifespan is how long an offline token lasts after its last use
// (Keycloak's offline session idle default).
const offlineLifespan = 30 * 24 * time.Hour

// errRefreshReused is a refresh token whose rotation lost to a concurrent
// use of the same token, or that was used already: its family is revoked.
var errRefreshReused = errors.New("refresh token already used")

// causedBy reports whether target is in err's chain, following both
// Unwrap and Cause: fosite's RFC6749Error keeps the storage error it wraps
// behind Cause only, where errors.Is does not look.
func causedBy(err, target error) bool {
	for err != nil {
		if errors.Is(err, target) {
			return true
		}
		if u := errors.Unwrap(err); u != nil {
			err = u
			continue
		}
		c, ok := err.(interface{ Cause() error })
		if !ok {
			return false
		}
		err = c.Cause()
	}
	return false
}

// refreshSignature is how fosite names a refresh token to the store: the
// jti and the token's hash, joined by a dot. The jti is read from the
// payload without verifying the signature; the hash comparison against the
// stored row is the check.
func refreshSignature(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 16<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var cl struct {
		ID string `json:"jti"`
	}
	if json.Unmarshal(payload, &cl) != nil || cl.ID == "" || strings.Contains(cl.ID, ".") {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return cl.ID + "." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// splitRefreshSignature returns the jti and token hash of a signature.
func splitRefreshSignature(sig string) (jti, hash string, ok bool) {
	jti, hash, ok = strings.Cut(sig, ".")
	return jti, hash, ok && jti != "" && hash != ""
}

// makeRefreshToken signs a new refresh token for req with the realm's
// ES256 key (through the same cheap signer as access tokens) and returns it
// with its signature.
func (p *provider) makeRefreshToken(ctx context.Context, req fosite.Requester, now time.Time) (string, string, error) {
	us, ok := req.GetSession().(*userSession)
	if !ok {
		return "", "", fosite.ErrServerError.WithDebug("refresh tokens are for users' sessions only")
	}
	exp := us.GetExpiresAt(fosite.RefreshToken)
	if exp.IsZero() {
		return "", "", fosite.ErrServerError.WithDebug("refresh token without expiry")
	}
	claims := fjwt.MapClaims{
		"typ": refreshTokenType, "jti": realm.NewID(now, nil), "sub": us.UserID,
		"azp": req.GetClient().GetID(), "iss": p.issuer, "aud": p.issuer,
		"exp": exp.Unix(), "iat": now.Unix(), "scope": strings.Join(req.GetGrantedScopes(), " "),
	}
	if us.SessionID != "" {
		claims["sid"] = us.SessionID
	}
	header := &fjwt.Headers{Extra: map[string]any{"typ": "JWT", "kid": p.signers[AlgES256].kid}}
	token, _, err := p.es256.Generate(ctx, claims, header)
	if err != nil {
		return "", "", err
	}
	return token, refreshSignature(token), nil
}

// CreateRefreshTokenSession stores the refresh token issued with req.
//
// A refresh grant's request carries the token presented (userSession.grant,
// set by GetRefreshTokenSession): the new token replaces it in one
// transaction (RotateRefreshToken of realm.Store), which fails when the
// presented one was used meanwhile. Any other request begins a family.
func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	jti, hash, ok := splitRefreshSignature(signature)
	if !ok {
		return fosite.ErrServerError.WithDebug("malformed refresh token signature")
	}
	us, ok := req.GetSession().(*userSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	data, err := encodeRequest(req, hash)
	if err != nil {
		return err
	}
	var accessJTI string
	if us.Access != nil {
		accessJTI = us.Access.JTI
	}
	t := &realm.RefreshToken{
		ID: jti, RealmID: s.realmID, FamilyID: req.GetID(), SessionID: us.SessionID, UserID: us.UserID,
		ClientID: req.GetClient().GetID(), AccessJTI: accessJTI, Offline: us.Offline,
		Data: data, ExpiresAt: us.GetExpiresAt(fosite.RefreshToken), CreatedAt: s.clock(),
	}
	if us.grant == nil {
		return s.store.CreateRefreshToken(ctx, t) // a family's first token
	}
	t.ParentID = us.grant.Token.ID
	return s.reused(ctx, req.GetID(), s.store.RotateRefreshToken(ctx, t))
}

// GetRefreshTokenSession returns the request of a refresh token. A token
// used or revoked already comes back with fosite.ErrInactiveToken, which
// makes fosite revoke its family (RevokeRefreshToken, RevokeAccessToken).
// The token is read with its user and session in one query; they ride on
// the request's session (userSession.grant) to the claims and the session
// check of the grant, and the token itself to CreateRefreshTokenSession.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	jti, hash, ok := splitRefreshSignature(signature)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	g, err := s.store.GetRefreshGrant(ctx, s.realmID, jti)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	row := g.Token
	req, stored, err := s.decodeRequest(ctx, row.Data, into, fosite.ErrNotFound)
	if err != nil {
		return nil, err
	}
	req.Session.(*userSession).grant = g
	if subtle.ConstantTimeCompare([]byte(stored.TokenHash), []byte(hash)) != 1 {
		return nil, fosite.ErrNotFound
	}
	if row.Used || row.Revoked {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession: rows stay (used or revoked) until they
// expire, so a reuse is recognised as one.
func (s *fositeStore) DeleteRefreshTokenSession(context.Context, string) error { return nil }

// RotateRefreshToken does nothing: fosite calls it just before
// CreateRefreshTokenSession, which marks the presented token used and
// inserts the new one in one transaction. Losing that to a concurrent
// refresh with the same token is a reuse: the family is revoked and the
// request fails.
func (s *fositeStore) RotateRefreshToken(context.Context, string, string) error { return nil }

// reused turns the outcome of marking a refresh token used into the
// grant's: a token used already (a reuse, or a concurrent refresh that won)
// revokes its family and fails the request.
func (s *fositeStore) reused(ctx context.Context, requestID string, err error) error {
	if errors.Is(err, realm.ErrAlreadyUsed) {
		if rerr := s.RevokeRefreshToken(ctx, requestID); rerr != nil {
			return rerr
		}
		return errRefreshReused
	}
	if errors.Is(err, realm.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// RevokeRefreshToken revokes the family of request requestID (every
// refresh token of the chain it began) and puts the access tokens issued
// with them on the revocation list. The access token of the code itself
// has the request ID as jti; fosite revokes it through RevokeAccessToken.
func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	revoked, err := s.store.RevokeRefreshFamily(ctx, s.realmID, requestID, s.clock(), s.accessLifespan)
	if err != nil {
		return err
	}
	for _, a := range revoked {
		if err := s.store.RevokeToken(ctx, s.realmID, a.JTI, a.ExpiresAt.Add(time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

// validateRefreshToken checks the refresh token's own lifetime; the row
// and hash were checked when it was read.
func validateRefreshToken(req fosite.Requester) error {
	exp := req.GetSession().GetExpiresAt(fosite.RefreshToken)
	if exp.IsZero() || !time.Now().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The refresh token has expired.")
	}
	return nil
}

// scopeOffline is the scope of refresh tokens that outlive the session.
const scopeOffline = "offline_access"

// refreshBounds decides, at the token endpoint, until when the refresh
// token issued now lasts, and refuses a refresh whose grounds are gone: a
// session-bound token needs its browser session live; an offline one needs
// its client still allowed offline access.
func (s *Server) refreshBounds(ctx context.Context, p *provider, ar fosite.AccessRequester, fc *fositeClient, us *userSession) error {
	now := s.clock()
	if us.Offline {
		if !fc.c.AllowOfflineAccess {
			return fosite.ErrInvalidGrant.WithHint("The client may no longer use offline access.")
		}
		// An offline token outlives the session, but it is born in one: a
		// code redeemed after sign-out gets nothing.
		if ar.GetGrantTypes().ExactOne("authorization_code") {
			if _, err := s.liveSession(ctx, p, us, now); err != nil {
				return err
			}
		}
		us.SetExpiresAt(fosite.RefreshToken, now.Add(offlineLifespan))
		return nil
	}
	bs, err := s.liveSession(ctx, p, us, now)
	if err != nil {
		return err
	}
	us.SetExpiresAt(fosite.RefreshToken, bs.ExpiresAt)
	return nil
}

// liveSession returns the browser session us belongs to while it lasts.
func (s *Server) liveSession(ctx context.Context, p *provider, us *userSession, now time.Time) (*realm.BrowserSession, error) {
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
		bs, err = s.store.GetBrowserSession(ctx, p.realm.ID, us.SessionID)
	}
	if errors.Is(err, realm.ErrNotFound) || (err == nil && (bs.Revoked || !now.Before(bs.ExpiresAt) || bs.UserID != us.UserID)) {
		return nil, fosite.ErrInvalidGrant.WithHint("The session has ended.")
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return bs, nil
}
