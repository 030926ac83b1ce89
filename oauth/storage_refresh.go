package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

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
	data, err := encodeRefreshRequest(req, us, hash)
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
		IPAddress: clientAddrText(ctx),
	}
	if us.grant == nil {
		if req.GetRequestForm().Get("grant_type") == "refresh_token" {
			// Fail closed: a refresh that did not read the token it
			// presents would leave that token usable.
			return fosite.ErrServerError.WithDebug("refresh grant without the presented token")
		}
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
	g := readAheadGrant(ctx, s.realmID, signature) // refresh_read.go
	if g == nil {
		var err error
		g, err = s.store.GetRefreshGrant(ctx, s.realmID, jti)
		if errors.Is(err, realm.ErrNotFound) {
			return nil, fosite.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
	}
	row := g.Token
	req, tokenHash, err := s.decodeRefreshRequest(ctx, row.Data, into)
	if err != nil {
		return nil, err
	}
	req.Session.(*userSession).grant = g
	if subtle.ConstantTimeCompare([]byte(tokenHash), []byte(hash)) != 1 {
		return nil, fosite.ErrNotFound
	}
	if row.Used || row.Revoked {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// refreshRequest is the stored form of a refresh token's request (the
// data of its refresh_tokens row): JSON with the keys of storedRequest,
// so rows written before and after this form decode either way, but with
// the session inline (one pass to write and to read, where a
// json.RawMessage is scanned again), and without the form: a refresh
// reads only the form of the request in hand, and the form stored was the
// previous grant's, the presented refresh token itself taking most of it.
type refreshRequest struct {
	requestFields
	Session *userSession `json:"session"`
	// TokenHash is the refresh token's SHA-256.
	TokenHash string `json:"token_hash,omitempty"`
}

// encodeRefreshRequest is the stored form of req, whose session is us,
// issuing the refresh token with SHA-256 tokenHash.
func encodeRefreshRequest(req fosite.Requester, us *userSession, tokenHash string) ([]byte, error) {
	// No access token claims: every refresh builds them anew from the
	// user (fillUserSession). Left out, the row is about half as long to
	// write and to decode.
	lean := *us
	lean.Access, lean.AccessHdr = nil, nil
	f := fieldsOf(req)
	// A refresh checks the granted audience against the client's; the
	// default one (the issuer, when neither asked nor configured) is
	// derived again at each grant, so only what was asked is kept.
	f.GrantedAudience = f.Audience
	return json.Marshal(refreshRequest{requestFields: f, Session: &lean, TokenHash: tokenHash})
}

// decodeRefreshRequest is the inverse of encodeRefreshRequest; it returns
// the stored token hash too. The session is decoded into into when that is
// an empty *userSession (as decodeRequest does). A stored client that is
// unknown or disabled is fosite.ErrNotFound.
func (s *fositeStore) decodeRefreshRequest(ctx context.Context, data []byte, into fosite.Session) (*fosite.Request, string, error) {
	sess, ok := into.(*userSession)
	if !ok || sess.UserID != "" {
		sess = &userSession{}
	}
	rr := refreshRequest{Session: sess}
	if err := json.Unmarshal(data, &rr); err != nil {
		return nil, "", fmt.Errorf("oauth: stored refresh request does not decode: %w", err)
	}
	if rr.Session != sess {
		// "session": null would leave a fresh pointer or none.
		return nil, "", errors.New("oauth: stored refresh request has no session")
	}
	client, err := s.storedClient(ctx, rr.ClientID)
	if err != nil {
		return nil, "", fosite.ErrNotFound
	}
	return rr.request(client, url.Values{}, sess), rr.TokenHash, nil
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
