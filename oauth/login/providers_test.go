package login_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestLoginPageProviders: the login page offers a button per enabled
// identity provider, carrying the authorization request to the broker;
// kc_idp_hint naming one goes straight there (an unknown or disabled one
// shows the page); a realm that turns password sign-in off shows no
// password form and refuses a password sent anyway (CONTRACT §9).
func TestLoginPageProviders(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit)
	env := f.Env
	hq := env.NewRealm(f.Realm.OrgID, "hq", true) // a discovery document to point at
	create := func(alias, display string, enabled bool) {
		t.Helper()
		if _, err := env.IdPs.CreateIdentityProvider(env.System(), "shop", realm.IdentityProviderInput{Alias: alias, Kind: "oidc",
			DisplayName: display, Enabled: &enabled, OIDC: &realm.OIDCInput{Issuer: hq.Issuer, ClientID: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	create("corp", "Acme SSO", true)
	create("old", "Old SSO", false)
	b := oauthtest.Browser(t)
	authURL := func(opts ...oauth2.AuthCodeOption) string {
		return f.Conf.AuthCodeURL("state-"+oauthtest.RandomString(t), append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...)
	}

	p := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, ">Sign in with Acme SSO<") || strings.Contains(p.Body, "Old SSO") ||
		!strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("login page: %d %v, want the Acme SSO button (not the disabled one) and the password form:\n%s", p.Status, p.Location, p.Body)
	}
	if !strings.Contains(p.Body, `href="/realms/shop/broker/corp/login?`) || !strings.Contains(p.Body, "client_id=web") {
		t.Errorf("the button does not carry the authorization request to the broker:\n%s", p.Body)
	}

	p = oauthtest.Fetch(t, b, http.MethodGet, authURL(oauth2.SetAuthURLParam("kc_idp_hint", "corp")), nil)
	if p.Status != http.StatusSeeOther || p.Location.Path != "/realms/shop/broker/corp/login" || p.Location.Query().Get("client_id") != "web" {
		t.Fatalf("kc_idp_hint=corp: %d %v, want 303 to the broker's start with the request", p.Status, p.Location)
	}
	for _, hint := range []string{"old", "nope"} {
		if p := oauthtest.Fetch(t, b, http.MethodGet, authURL(oauth2.SetAuthURLParam("kc_idp_hint", hint)), nil); p.Status != http.StatusOK {
			t.Errorf("kc_idp_hint=%s: %d, want the login page", hint, p.Status)
		}
	}

	// Password sign-in off.
	r, err := env.Store.GetRealm(env.Ctx, f.Realm.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.PasswordLoginDisabled = true
	if err := env.Store.UpdateRealm(env.Ctx, r); err != nil {
		t.Fatal(err)
	}
	p = oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil)
	if p.Status != http.StatusOK || strings.Contains(p.Body, `name="password"`) || !strings.Contains(p.Body, "Sign in with Acme SSO") ||
		!strings.Contains(p.Body, `name="cancel"`) {
		t.Fatalf("password sign-in off: %d, want the button and Cancel, no password form:\n%s", p.Status, p.Body)
	}
	// A password posted anyway (the form's fields by hand) is refused.
	p = f.SubmitLogin(t, b, p, f.User.Email, oauthtest.Password)
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "not available here") {
		t.Fatalf("a password with password sign-in off: %d %v, want 403", p.Status, p.Location)
	}
}
