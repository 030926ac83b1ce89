package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// Introspecting refresh tokens (CONTRACT §4). A refresh token is active
// while its row is unused and unrevoked, it has not expired, its user and
// client are active, and its grounds hold: the browser session it is bound
// to lives, or, for an offline token, its client still allows offline
// access (exactly what a refresh grant with it would need). token_type
// tells the kinds apart with Keycloak's values: "Bearer" for an access
// token, "Refresh" for a refresh token (the refresh JWT's own typ claim).

// refreshTokenTypeIntrospected is introspection's token_type for a
// refresh token.
const refreshTokenTypeIntrospected = refreshTokenType

// introspectRefresh answers introspection for token as a refresh token of
// the realm, as the confidential client caller sees it.
func (s *Server) introspectRefresh(c echo.Context, p *provider, caller *fositeClient, token string) error {
	out, orgID, err := p.refreshIntrospection(c.Request().Context(), token)
	if err != nil {
		s.logServerError(c.Request().Context(), p, "introspection", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked right now.")
	}
	if out == nil || !mayAccess(p, caller, out.ClientID, orgID) {
		return c.JSON(http.StatusOK, struct {
			Active bool `json:"active"`
		}{false})
	}
	return writeIntrospection(c, out)
}

// refreshIntrospection returns the introspection answer for a live refresh
// token and the org its session acts for (console realm), or nil when
// token is not one. An error is a failure to check it.
func (p *provider) refreshIntrospection(ctx context.Context, token string) (*introspection, string, error) {
	sig := refreshSignature(token)
	if sig == "" {
		return nil, "", nil
	}
	req, err := newFositeStore(p).GetRefreshTokenSession(ctx, sig, &userSession{})
	switch {
	case errors.Is(err, fosite.ErrNotFound), errors.Is(err, fosite.ErrInactiveToken):
		return nil, "", nil // unknown, used (rotated) or revoked; a disabled client reads as unknown
	case err != nil:
		return nil, "", err
	}
	us, ok := req.GetSession().(*userSession)
	fc, cok := req.GetClient().(*fositeClient)
	if !ok || !cok || us.grant == nil {
		return nil, "", errors.New("oauth: refresh token read without its grant or client")
	}
	g := us.grant
	now := p.s.clock()
	if !now.Before(g.Token.ExpiresAt) || g.User == nil || !g.User.User.Active {
		return nil, "", nil
	}
	if g.Token.Offline {
		if !fc.c.AllowOfflineAccess {
			return nil, "", nil
		}
	} else if _, err := p.liveSession(ctx, us, now); err != nil {
		if errors.Is(err, fosite.ErrServerError) {
			return nil, "", err
		}
		return nil, "", nil // the session has ended
	}
	return &introspection{
		Active:    true,
		ClientID:  fc.c.ClientID,
		Subject:   g.Token.UserID,
		Scope:     strings.Join(req.GetGrantedScopes(), " "),
		Expiry:    g.Token.ExpiresAt.Unix(),
		IssuedAt:  g.Token.CreatedAt.Unix(),
		Audience:  []string{p.issuer}, // the refresh JWT's aud
		Issuer:    p.issuer,
		JTI:       g.Token.ID,
		TokenType: refreshTokenTypeIntrospected,
		Kind:      "user",
	}, us.OrgID, nil
}
