package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// maxFormBytes bounds token, introspection and revocation bodies; real ones
// are well under 4 KiB.
const maxFormBytes = 64 << 10

// accessTokenType is RFC 9068's JWT "typ" for access tokens; resource
// servers and our introspection refuse other JWTs (ID or refresh tokens)
// presented as access tokens.
const accessTokenType = "at+jwt"

// handleToken is the token endpoint: fosite authenticates the client and
// runs the grant handler; we only decide what the token says.
func (s *Server) handleToken(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	p, err := s.provider(ctx, c.Param("realm"))
	if err != nil {
		return s.realmError(c, err)
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	rw := c.Response()

	// fosite would call an unknown grant type invalid_request; RFC 6749
	// §5.2 has a precise code for it.
	if gt := req.PostFormValue("grant_type"); gt != "" && !slices.Contains(supportedGrantTypes, gt) {
		p.fosite.WriteAccessError(ctx, rw, nil, fosite.ErrUnsupportedGrantType)
		return nil
	}
	session := &oauth2.JWTSession{}
	ar, err := p.fosite.NewAccessRequest(ctx, req, session)
	if err != nil {
		s.logServerError(ctx, p, "token request", err)
		p.fosite.WriteAccessError(ctx, rw, ar, err)
		return nil
	}
	fc, ok := ar.GetClient().(*fositeClient)
	if !ok {
		p.fosite.WriteAccessError(ctx, rw, ar, fosite.ErrInvalidClient)
		return nil
	}
	if err := s.fillSession(ctx, p, ar, fc.c, session); err != nil {
		s.logServerError(ctx, p, "token claims", err)
		p.fosite.WriteAccessError(ctx, rw, ar, err)
		return nil
	}
	resp, err := p.fosite.NewAccessResponse(ctx, ar)
	if err != nil {
		s.logServerError(ctx, p, "token response", err)
		p.fosite.WriteAccessError(ctx, rw, ar, err)
		return nil
	}
	// fosite says "bearer"; RFC 6750 and CONTRACT §4 spell it "Bearer".
	resp.SetTokenType("Bearer")
	p.fosite.WriteAccessResponse(ctx, rw, ar, resp)
	return nil
}

// fillSession grants scope and audience and sets the token's claims
// (CONTRACT §4). It runs after fosite has authenticated the client and
// checked the requested scopes and audience against it.
func (s *Server) fillSession(ctx context.Context, p *provider, ar fosite.AccessRequester, c *realm.Client, session *oauth2.JWTSession) error {
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	// The audience asked for, or all of the client's when none was.
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = c.Audience
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}

	// The only lookup beyond the client itself.
	groups, attrs, err := s.subjectClaims(ctx, p, c.Groups, c.PrimaryGroup)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	extra := map[string]any{
		"client_id":  c.ClientID,
		"kind":       string(c.Kind),
		"groups":     groups,
		"attributes": attrs,
	}
	if c.OrgID != "" && p.realm.Name == realm.ConsoleRealm {
		// An org admin client: the admin API acts for this org and role.
		org, err := s.store.GetOrg(ctx, c.OrgID)
		if err != nil {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("load org of client: %w", err))
		}
		extra["org"] = org.Slug
		extra["org_id"] = org.ID
		extra["role"] = string(c.OrgRole)
	}
	session.Subject = c.ClientID // a service account is its own subject
	// iat is left to fosite, which also sets exp from the same wall clock,
	// so the two always agree.
	session.JWTClaims = &fjwt.JWTClaims{
		Subject: c.ClientID,
		Issuer:  p.issuer,
		Extra:   extra,
	}
	session.JWTHeader = &fjwt.Headers{Extra: map[string]any{
		"typ": accessTokenType,
		"kid": p.signers[AlgES256].kid,
	}}
	return nil
}

// logServerError logs failures that are ours (storage, keys), not the
// client's; client mistakes are answered, not logged.
func (s *Server) logServerError(ctx context.Context, p *provider, what string, err error) {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) && rfc.CodeField < 500 {
		return
	}
	s.log.ErrorContext(ctx, "oauth: "+what+" failed", "realm", p.realm.Name, "err", err)
}
