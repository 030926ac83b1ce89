package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/wardiam/ward/realm"
)

// storedRequest is the encoding of a fosite request in an auth_requests
// row. The client is stored by ID and read again when the row is, so a
// client disabled in between no longer redeems its codes.
type storedRequest struct {
	requestFields
	Form    url.Values      `json:"form"`
	Session json.RawMessage `json:"session"`
}

// requestFields are what both stored forms of a request (storedRequest,
// refreshRequest) keep of it besides its form and session; embedded, so
// their JSON keys are the ones each form always had.
type requestFields struct {
	ID              string    `json:"id"`
	RequestedAt     time.Time `json:"requested_at"`
	ClientID        string    `json:"client_id"`
	Scopes          []string  `json:"scopes"`
	GrantedScopes   []string  `json:"granted_scopes"`
	Audience        []string  `json:"audience"`
	GrantedAudience []string  `json:"granted_audience"`
}

// fieldsOf is what req's stored forms keep of it.
func fieldsOf(req fosite.Requester) requestFields {
	return requestFields{
		ID: req.GetID(), RequestedAt: req.GetRequestedAt(), ClientID: req.GetClient().GetID(),
		Scopes: req.GetRequestedScopes(), GrantedScopes: req.GetGrantedScopes(),
		Audience: req.GetRequestedAudience(), GrantedAudience: req.GetGrantedAudience(),
	}
}

// request is the fosite request f was kept of, with its client, form and
// session.
func (f *requestFields) request(client fosite.Client, form url.Values, sess fosite.Session) *fosite.Request {
	return &fosite.Request{
		ID: f.ID, RequestedAt: f.RequestedAt, Client: client,
		RequestedScope: f.Scopes, GrantedScope: f.GrantedScopes,
		RequestedAudience: f.Audience, GrantedAudience: f.GrantedAudience,
		Form: form, Session: sess,
	}
}

// errCodeReused is the second redemption of an authorization code, found
// by the conditional update when two redemptions race.
var errCodeReused = errors.New("authorization code already used")

func (s *fositeStore) putRequest(ctx context.Context, kind, signature string, req fosite.Requester, expires time.Time) error {
	sess, ok := req.GetSession().(*userSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	data, err := encodeRequest(req)
	if err != nil {
		return err
	}
	now := s.clock()
	if expires.IsZero() {
		expires = now.Add(codeLifespan)
	}
	return s.store.CreateAuthRequest(ctx, &realm.AuthRequest{
		Kind: kind, Signature: signature, RealmID: s.realmID, RequestID: req.GetID(),
		ClientID: req.GetClient().GetID(), UserID: sess.UserID, SessionID: sess.SessionID,
		Data: data, ExpiresAt: expires, CreatedAt: now,
	})
}

// encodeRequest is the stored form of req in auth_requests rows
// (refresh_tokens rows: encodeRefreshRequest).
func encodeRequest(req fosite.Requester) ([]byte, error) {
	sess, ok := req.GetSession().(*userSession)
	if !ok {
		return nil, fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sb, err := json.Marshal(sess)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedRequest{requestFields: fieldsOf(req), Form: req.GetRequestForm(), Session: sb})
}

// getRequest reads a stored request back; a missing row is notFound. The
// session is decoded into into when that is an empty *userSession: fosite
// validates the code against the session of the request it is handed,
// which is the one it passed here. A session already restored is left as
// it is (it holds the access token's claims by then).
func (s *fositeStore) getRequest(ctx context.Context, kind, signature string, into fosite.Session, notFound error) (fosite.Requester, *realm.AuthRequest, error) {
	row, err := s.store.GetAuthRequest(ctx, s.realmID, kind, signature)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	req, err := s.decodeRequest(ctx, row.Data, into, notFound)
	if err != nil {
		return nil, nil, err
	}
	return req, row, nil
}

// decodeRequest is the inverse of encodeRequest (see getRequest for into).
func (s *fositeStore) decodeRequest(ctx context.Context, data []byte, into fosite.Session, notFound error) (*fosite.Request, error) {
	var sr storedRequest
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("oauth: stored request does not decode: %w", err)
	}
	sess, ok := into.(*userSession)
	if !ok || sess.UserID != "" {
		sess = &userSession{}
	}
	if err := json.Unmarshal(sr.Session, sess); err != nil {
		return nil, fmt.Errorf("oauth: stored session does not decode: %w", err)
	}
	client, err := s.storedClient(ctx, sr.ClientID)
	if err != nil {
		return nil, notFound
	}
	if sr.Form == nil {
		sr.Form = url.Values{}
	}
	return sr.request(client, sr.Form, sess), nil
}

func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.putRequest(ctx, realm.AuthRequestCode, signature, req, req.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

// GetAuthorizeCodeSession returns the request of a code; a used code comes
// back with fosite.ErrInvalidatedAuthorizeCode, which makes fosite revoke
// the tokens its first redemption issued.
func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	req, row, err := s.getRequest(ctx, realm.AuthRequestCode, signature, into, fosite.ErrNotFound)
	if err != nil {
		return nil, err
	}
	if row.Used {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks the code used with a conditional
// update: of concurrent redemptions that all read it unused, only one gets
// here first; the others fail with errCodeReused.
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	err := s.store.UseAuthRequest(ctx, s.realmID, realm.AuthRequestCode, signature)
	if errors.Is(err, realm.ErrAlreadyUsed) || errors.Is(err, realm.ErrNotFound) {
		return errCodeReused
	}
	return err
}

func (s *fositeStore) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.putRequest(ctx, realm.AuthRequestPKCE, signature, req, req.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	req, _, err := s.getRequest(ctx, realm.AuthRequestPKCE, signature, nil, fosite.ErrNotFound)
	return req, err
}

// DeletePKCERequestSession keeps the row. fosite deletes the PKCE binding
// before it compares the verifier, so deleting here would let a redemption
// with a wrong verifier erase the binding, and a second redemption with no
// verifier at all then pass for a confidential client (a PKCE downgrade,
// RFC 9700 §4.8). The code is single use anyway, and expired rows are swept
// with the codes.
func (s *fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

// The OpenID Connect request is keyed by the code itself in fosite's
// interface; we store the code's hash (oidcKey, strategy_code.go).
func (s *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.putRequest(ctx, realm.AuthRequestOIDC, oidcKey(code), req, req.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.getRequest(ctx, realm.AuthRequestOIDC, oidcKey(code), nil, openid.ErrNoSessionFound)
	return req, err
}

func (s *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.store.DeleteAuthRequest(ctx, s.realmID, realm.AuthRequestOIDC, oidcKey(code))
}

// RevokeAccessToken revokes the access token issued for request ID
// requestID: a user's access token from a code carries the request ID as
// its jti, so it goes on the revocation list until it would have expired
// anyway.
func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.store.RevokeToken(ctx, s.realmID, requestID, s.clock().Add(s.accessLifespan+time.Minute))
}
