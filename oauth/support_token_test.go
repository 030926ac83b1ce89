package oauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestIssueSupportToken: only while the org allows support access; the
// token is a console-realm access token (JWKS-verifiable) with role
// support, the reason, and an exp no later than the access's end.
func TestIssueSupportToken(t *testing.T) {
	env := oauthtest.New(t)
	sys := env.System()
	if err := env.Service.EnsureSystem(sys); err != nil {
		t.Fatal(err)
	}
	res, err := env.Service.Bootstrap(sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "o@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.OAuth.IssueSupportToken(sys, "acme", "ticket", 0); !errors.Is(err, realm.ErrSupportNotAllowed) {
		t.Fatalf("while off: %v", err)
	}
	owner := realm.WithPrincipal(env.Ctx, realm.Principal{OrgID: res.Org.ID, Role: realm.RoleOwner, ActorType: "member", ActorID: res.Owner.UserID})
	on, until := true, env.Now().Add(20*time.Minute)
	if _, err := env.Service.SetSupportAccess(owner, realm.SupportAccessInput{Enabled: &on, Until: &until}); err != nil {
		t.Fatal(err)
	}
	tok, err := env.OAuth.IssueSupportToken(sys, "acme", "ticket 7", 0)
	if err != nil {
		t.Fatal(err)
	}
	h, claims := env.VerifyWithJWKS(t, realm.ConsoleRealm, tok.Token)
	if h.Algorithm != "ES256" || claims["role"] != "support" || claims["kind"] != "support" || claims["org"] != "acme" ||
		claims["org_id"] != res.Org.ID || claims["support_reason"] != "ticket 7" || claims["client_id"] != realm.ConsoleClientID {
		t.Errorf("claims = %v", claims)
	}
	if exp := int64(claims["exp"].(float64)); exp > until.Unix() || !tok.ExpiresAt.Equal(time.Unix(exp, 0).UTC()) {
		t.Errorf("exp %d past the end %v (ExpiresAt %v)", exp, until, tok.ExpiresAt)
	}
	cl, _, err := env.OAuth.VerifyAccessToken(env.Ctx, realm.ConsoleRealm, tok.Token)
	if err != nil || cl.SupportReason != "ticket 7" || cl.SupportSince == 0 {
		t.Errorf("VerifyAccessToken: %+v %v", cl, err)
	}
	// Introspection by the org's admin client follows the switch, as the
	// admin API does: active while on, inactive at once when off.
	introspect := func() any {
		t.Helper()
		r := env.Introspect(realm.ConsoleRealm, tok.Token, res.Client.ClientID, res.ClientSecret)
		if r.Status != 200 {
			t.Fatalf("introspection: %d %s", r.Status, r.RawBody)
		}
		return r.Body["active"]
	}
	if got := introspect(); got != true {
		t.Fatalf("introspection while on: active %v", got)
	}
	off := false
	if _, err := env.Service.SetSupportAccess(owner, realm.SupportAccessInput{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if got := introspect(); got != false {
		t.Fatalf("introspection after switching off: active %v, want false", got)
	}
	if _, _, err := env.OAuth.VerifyAccessToken(env.Ctx, realm.ConsoleRealm, tok.Token); err == nil {
		t.Error("VerifyAccessToken accepted a support token after switching off")
	}
}
