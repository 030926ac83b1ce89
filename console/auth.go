package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// TokenVerifier is the part of oauth.Server that admin authentication
// stands on: a live access token of a realm, and the realm's issuer.
type TokenVerifier interface {
	VerifyAccessToken(ctx context.Context, realmName, token string) (*oauth.AccessClaims, *realm.Client, error)
	Issuer(realmName string) string
}

// AdminAuth turns an admin API bearer token into the principal it acts as
// (it is the Authenticator of the admin API and of the console pages).
type AdminAuth struct {
	tokens  TokenVerifier
	service *realm.Service
}

// NewAdminAuth builds an AdminAuth on the console realm's tokens and the
// service's memberships.
func NewAdminAuth(tokens TokenVerifier, service *realm.Service) (*AdminAuth, error) {
	if tokens == nil || service == nil {
		return nil, errors.New("console: NewAdminAuth needs a token verifier and the service")
	}
	return &AdminAuth{tokens: tokens, service: service}, nil
}

// AuthenticateAdmin accepts a live access token of the console realm whose
// aud names the console issuer, issued to an org admin client that is still
// active and still holds the org and role the token names, or to a console
// member (through ward-console) who is still active and still holds that
// org and role. A token that is not good wraps realm.ErrUnauthenticated; a
// failure to check it (the database is down) wraps realm.ErrUnavailable
// instead, and never realm.ErrUnauthenticated.
func (a *AdminAuth) AuthenticateAdmin(ctx context.Context, bearer string) (realm.Principal, error) {
	fail := func(why error) (realm.Principal, error) {
		return realm.Principal{}, fmt.Errorf("%w: %w", realm.ErrUnauthenticated, why)
	}
	unavailable := func(err error) (realm.Principal, error) {
		return realm.Principal{}, fmt.Errorf("console: admin token cannot be checked: %w: %w", realm.ErrUnavailable, err)
	}
	if bearer == "" {
		return fail(errors.New("no token"))
	}
	cl, c, err := a.tokens.VerifyAccessToken(ctx, realm.ConsoleRealm, bearer)
	switch {
	case errors.Is(err, realm.ErrSupportAccessOff):
		return realm.Principal{}, realm.ErrSupportAccessOff // its own detail
	case errors.Is(err, oauth.ErrInvalidToken), errors.Is(err, oauth.ErrRealmNotFound):
		return fail(err)
	case err != nil:
		return unavailable(err)
	}
	// A console token meant for another audience (one the client asked for
	// or is configured with) is not for the admin API.
	if !cl.Audience.Contains(a.tokens.Issuer(realm.ConsoleRealm)) {
		return fail(errors.New("token's audience is not the admin API"))
	}
	if cl.Kind == oauth.KindSupport {
		return a.authenticateSupport(ctx, cl, c)
	}
	if cl.Kind == "user" {
		// A console member signed in through ward-console: the token's
		// user is active (VerifyAccessToken checks); the membership must
		// still be the one the token names, with the same role.
		if c.ClientID != realm.ConsoleClientID {
			return fail(errors.New("person token not issued to the console"))
		}
		m, err := a.service.MembershipOf(ctx, cl.Subject, cl.OrgID)
		if errors.Is(err, realm.ErrNotFound) {
			return fail(errors.New("not a member of the token's org"))
		}
		if err != nil {
			return unavailable(err)
		}
		if cl.Role == "" || string(m.Role) != cl.Role || !m.Role.Valid() {
			return fail(errors.New("token does not carry the member's current org and role"))
		}
		return realm.Principal{OrgID: m.OrgID, Role: m.Role, ActorType: "member", ActorID: cl.Subject}, nil
	}
	if cl.OrgID == "" || c.OrgID == "" || cl.OrgID != c.OrgID || cl.Role != string(c.OrgRole) || !c.OrgRole.Valid() {
		return fail(errors.New("token does not carry the client's current org and role"))
	}
	return realm.Principal{OrgID: c.OrgID, Role: c.OrgRole, ActorType: "client", ActorID: c.ClientID}, nil
}

// authenticateSupport accepts a well-formed support token
// (oauth.IssueSupportToken). That its org's support access is on, and
// still the one the token was issued under, VerifyAccessToken has already
// checked against the database (as it does for introspection): switching
// it off or its end passing refuses the token at once on every node
// (realm.ErrSupportAccessOff, a 401, mapped in AuthenticateAdmin).
func (a *AdminAuth) authenticateSupport(_ context.Context, cl *oauth.AccessClaims, c *realm.Client) (realm.Principal, error) {
	if c.ClientID != realm.ConsoleClientID || cl.Subject != oauth.KindSupport || cl.Role != string(realm.RoleSupport) ||
		cl.OrgID == "" || cl.SupportSince == 0 || cl.SupportReason == "" {
		return realm.Principal{}, fmt.Errorf("%w: malformed support token", realm.ErrUnauthenticated)
	}
	return realm.Principal{OrgID: cl.OrgID, Role: realm.RoleSupport, ActorType: realm.ActorSupport, ActorID: cl.ID,
		Reason: cl.SupportReason}, nil
}
