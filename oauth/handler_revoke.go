package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// jwtRevoker is the realm's fosite RevocationHandler for access tokens
// (RFC 7009): a token that verifies is put on the revocation list until it
// expires; anything else is ignored, since the RFC answers 200 for unknown
// tokens.
type jwtRevoker struct {
	p *provider
}

var _ fosite.RevocationHandler = (*jwtRevoker)(nil)

func (r *jwtRevoker) RevokeToken(ctx context.Context, token string, hint fosite.TokenType, client fosite.Client) error {
	// A public client names itself with client_id alone (RFC 7009 §2.1,
	// fosite's client authentication with method none): it has no secret,
	// and it may revoke only the tokens issued to it, like any client.
	caller, ok := client.(*fositeClient)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected client type")
	}
	// RFC 7009 §2.1: token_type_hint is only a hint; every token is tried.
	_ = hint
	if revoked, err := r.revokeRefresh(ctx, token, caller); revoked || err != nil {
		return err
	}
	cl, err := r.p.verifySigned(token)
	if err != nil {
		return nil
	}
	if cl.ClientID != caller.GetID() {
		// CONTRACT §4: a client revokes only the tokens issued to it; a
		// token of another client answers 200 (RFC 7009 §2.2) and stays
		// valid, so the caller learns nothing about it either.
		return nil
	}
	exp := cl.Expiry.Time()
	if !r.p.s.clock().Before(exp) {
		return nil // already dead
	}
	if err := r.p.s.store.RevokeToken(ctx, r.p.realm.ID, cl.ID, exp); err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	return nil
}

// revokeRefresh revokes the family of a refresh token issued to caller (a
// refresh token is known by its stored row: jti plus the token's hash). It
// reports whether token was such a refresh token. A refresh token of another
// client is left alone and answered 200 (RFC 7009 §2.1 and §2.2).
func (r *jwtRevoker) revokeRefresh(ctx context.Context, token string, caller *fositeClient) (bool, error) {
	sig := refreshSignature(token)
	if sig == "" {
		return false, nil
	}
	st := newFositeStore(r.p)
	req, err := st.GetRefreshTokenSession(ctx, sig, &userSession{})
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		return false, nil
	case err != nil && !errors.Is(err, fosite.ErrInactiveToken):
		return true, fosite.ErrServerError.WithWrap(err)
	case req.GetClient().GetID() != caller.GetID():
		return true, nil
	}
	if err := st.RevokeRefreshToken(ctx, req.GetID()); err != nil {
		return true, fosite.ErrServerError.WithWrap(err)
	}
	return true, nil
}

// handleRevoke (RFC 7009) through fosite's revocation request, which
// authenticates the client (basic or post) and runs jwtRevoker.
func (s *Server) handleRevoke(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	p, err := s.formCall(c)
	if p == nil {
		return err
	}
	err = p.fosite.NewRevocationRequest(ctx, req)
	if errors.Is(err, fosite.ErrServerError) {
		// fosite would answer 200 here; the token is not revoked, so say so.
		s.logServerError(ctx, p, "revocation", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be revoked right now.")
	}
	if errors.Is(err, fosite.ErrInvalidClient) || errors.Is(err, fosite.ErrInvalidRequest) {
		return s.writeFositeError(c, p, err)
	}
	p.fosite.WriteRevocationResponse(ctx, c.Response(), err)
	return nil
}
