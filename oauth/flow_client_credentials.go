package oauth

import (
	"context"
	"fmt"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// The client_credentials grant is fosite's (compose.OAuth2ClientCredentialsGrantFactory);
// this is what Ward decides in it: the service account's token claims.

// clientSession grants scope and audience and sets the token's claims
// (CONTRACT §4). It runs after fosite has authenticated the client and
// checked the requested scopes and audience against it.
func (p *provider) clientSession(ctx context.Context, ar fosite.AccessRequester, fc *fositeClient, session *oauth2.JWTSession) error {
	c := fc.c
	if !networkAllows(ctx, fc.realmNetwork, fc.groups) {
		p.s.networkRefusal(ctx, p, "client", c.ClientID, "client_credentials")
		return errNetworkRefused()
	}
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	// The audience asked for, or all of the client's when none was; with
	// neither, the realm's issuer, since RFC 9068 §2.2 requires aud. That
	// is also the audience the admin API requires of console tokens.
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = c.Audience
	}
	if len(aud) == 0 {
		aud = []string{p.issuer}
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}

	// Read with the client in its one query.
	groups, attrs, err := p.subjectClaims(ctx, clientSubject(fc))
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
		org, err := p.s.store.GetOrg(ctx, c.OrgID)
		if err != nil {
			return fosite.ErrServerError.WithWrap(fmt.Errorf("load org of client: %w", err))
		}
		extra["org"] = org.Slug
		extra["org_id"] = org.ID
		extra["role"] = string(c.OrgRole)
	}
	session.Subject = c.ClientID // a service account is its own subject
	session.JWTClaims = &fjwt.JWTClaims{
		Subject: c.ClientID,
		Issuer:  p.issuer,
		Extra:   extra,
	}
	// iat from the clock reading exp came from: fosite set exp when it
	// handled the request, and left alone it reads the clock again for
	// iat when the token is signed, which now and then is the next second
	// (exp - iat = 299 s).
	if exp := session.GetExpiresAt(fosite.AccessToken); !exp.IsZero() {
		session.JWTClaims.IssuedAt = exp.Add(-p.accessLifespan())
	}
	session.JWTHeader = &fjwt.Headers{Extra: map[string]any{
		"typ": accessTokenType,
		"kid": p.signers[AlgES256].kid,
	}}
	return nil
}
