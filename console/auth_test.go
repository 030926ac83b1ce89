package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// adminAuthOf is the admin API's authentication over env's OAuth server,
// as cmd/ward builds it.
func adminAuthOf(t *testing.T, env *oauthtest.Env) *AdminAuth {
	t.Helper()
	a, err := NewAdminAuth(env.OAuth, env.Service)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConsoleAdminTokens(t *testing.T) { testConsoleAdminTokens(t, oauthtest.New(t)) }

func TestConsoleAdminTokensPostgres(t *testing.T) {
	testConsoleAdminTokens(t, oauthtest.NewOn(t, oauthtest.OpenPostgres))
}

func testConsoleAdminTokens(t *testing.T, env *oauthtest.Env) {
	auth := adminAuthOf(t, env)
	org := env.NewOrg("acme")
	console := env.NewRealm("", realm.ConsoleRealm, true)
	admin, secret := env.NewClient(console.ID, "acme-ci", func(c *realm.Client) {
		c.OrgID, c.OrgRole = org.ID, realm.RoleAdmin
	})
	tok := env.MustToken(realm.ConsoleRealm, admin.ClientID, secret, nil)
	_, claims := env.VerifyWithJWKS(t, realm.ConsoleRealm, tok)
	if claims["org"] != "acme" || claims["org_id"] != org.ID || claims["role"] != "admin" {
		t.Errorf("org claims = %v %v %v", claims["org"], claims["org_id"], claims["role"])
	}

	p, err := auth.AuthenticateAdmin(env.Ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := realm.Principal{OrgID: org.ID, Role: realm.RoleAdmin, ActorType: "client", ActorID: "acme-ci"}
	if p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	// Tokens of other realms, garbage and nothing are refused.
	other := env.NewRealm(org.ID, "apps", true)
	svc, svcSecret := env.NewClient(other.ID, "acme-ci", func(c *realm.Client) { c.OrgID, c.OrgRole = org.ID, realm.RoleOwner })
	otherTok := env.MustToken(other.Name, svc.ClientID, svcSecret, nil)
	for name, bad := range map[string]string{"other realm": otherTok, "garbage": "x.y.z", "empty": ""} {
		if _, err := auth.AuthenticateAdmin(env.Ctx, bad); !errors.Is(err, realm.ErrUnauthenticated) {
			t.Errorf("%s: err = %v", name, err)
		}
	}

	// Admin tokens name the console issuer as audience, and the admin API
	// refuses a console token meant for another audience.
	if aud := oauthtest.AnyStrings(claims["aud"]); !slices.Equal(aud, []string{console.Issuer}) {
		t.Errorf("admin token aud = %v, want [%s]", aud, console.Issuer)
	}
	scoped, scopedSecret := env.NewClient(console.ID, "acme-reports", func(c *realm.Client) {
		c.OrgID, c.OrgRole, c.Audience = org.ID, realm.RoleAdmin, []string{"reports"}
	})
	for _, extra := range []url.Values{nil, {"audience": {"reports"}}} {
		reportsTok := env.MustToken(realm.ConsoleRealm, scoped.ClientID, scopedSecret, extra)
		if _, err := auth.AuthenticateAdmin(env.Ctx, reportsTok); !errors.Is(err, realm.ErrUnauthenticated) {
			t.Errorf("console token for audience reports accepted by the admin API: %v", err)
		}
	}

	// A demoted client's older token no longer carries its role.
	admin.OrgRole = realm.RoleViewer
	if err := env.Store.UpdateClient(env.Ctx, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.AuthenticateAdmin(env.Ctx, tok); !errors.Is(err, realm.ErrUnauthenticated) {
		t.Errorf("stale role accepted: %v", err)
	}
	viewerTok := env.MustToken(realm.ConsoleRealm, admin.ClientID, secret, nil)
	if p, err := auth.AuthenticateAdmin(env.Ctx, viewerTok); err != nil || p.Role != realm.RoleViewer {
		t.Errorf("viewer token: %+v %v", p, err)
	}

	// Revoked and disabled: refused.
	if r := env.Post("/realms/console"+oauth.PathRevoke, url.Values{"token": {viewerTok}}, admin.ClientID, secret); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d", r.Status)
	}
	if _, err := auth.AuthenticateAdmin(env.Ctx, viewerTok); !errors.Is(err, realm.ErrUnauthenticated) {
		t.Errorf("revoked token accepted: %v", err)
	}
	fresh := env.MustToken(realm.ConsoleRealm, admin.ClientID, secret, nil)
	admin.Active = false
	if err := env.Store.UpdateClient(env.Ctx, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.AuthenticateAdmin(env.Ctx, fresh); !errors.Is(err, realm.ErrUnauthenticated) {
		t.Errorf("disabled client's token accepted: %v", err)
	}
	// Expired: refused.
	env.Advance(10 * time.Minute)
	admin.Active = true
	_ = env.Store.UpdateClient(env.Ctx, admin)
	if _, err := auth.AuthenticateAdmin(env.Ctx, fresh); !errors.Is(err, realm.ErrUnauthenticated) {
		t.Errorf("expired token accepted: %v", err)
	}
}

// TestAdminAuthStoreDownIsUnavailable: a database outage while checking an
// admin token is ErrUnavailable (the admin API answers 503), never
// ErrUnauthenticated (401 would tell the caller its credential is bad).
func TestAdminAuthStoreDownIsUnavailable(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			env := oauthtest.New(t)
			auth := adminAuthOf(t, env)
			org := env.NewOrg("acme")
			console := env.NewRealm("", realm.ConsoleRealm, true)
			admin, secret := env.NewClient(console.ID, "acme-ci", func(c *realm.Client) { c.OrgID, c.OrgRole = org.ID, realm.RoleAdmin })
			tok := env.MustToken(realm.ConsoleRealm, admin.ClientID, secret, nil)
			if !cached {
				env.OAuth.Forget(console.ID)
			}
			if err := env.Store.Close(); err != nil {
				t.Fatal(err)
			}
			_, err := auth.AuthenticateAdmin(env.Ctx, tok)
			if !errors.Is(err, realm.ErrUnavailable) || errors.Is(err, realm.ErrUnauthenticated) {
				t.Errorf("store down: err = %v, want ErrUnavailable and not ErrUnauthenticated", err)
			}
			// With the console realm's keys in memory, a token that is not
			// one is still a bad credential.
			if _, err := auth.AuthenticateAdmin(env.Ctx, "x.y.z"); cached && !errors.Is(err, realm.ErrUnauthenticated) {
				t.Errorf("garbage token with the store down: %v", err)
			}
		})
	}
}
