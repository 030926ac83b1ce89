package oauth_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

func TestUserinfoScopes(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)

	full := f.SignIn(t, b, "openid", "email", "profile")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := userinfoCall(t, f, method, full.AccessToken)
		if r.Status != http.StatusOK {
			t.Fatalf("%s userinfo: %d %s", method, r.Status, r.RawBody)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("userinfo headers: %v", r.Header)
		}
		// email_verified is true (CONTRACT §4): a user signs in only after
		// proving the mailbox through an emailed link.
		want := map[string]any{"sub": f.User.ID, "email": "ada@example.com", "email_verified": true,
			"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"}
		for k, v := range want {
			if r.Body[k] != v {
				t.Errorf("%s userinfo %s = %v, want %v", method, k, r.Body[k], v)
			}
		}
		// With profile, the user's groups (what a broker maps).
		if g := oauthtest.AnyStrings(r.Body["groups"]); !slices.Equal(g, []string{"staff"}) {
			t.Errorf("%s userinfo groups = %v, want [staff]", method, r.Body["groups"])
		}
	}
	// The token in a form body (RFC 6750 §2.2).
	r := f.Env.Post("/realms/shop"+oauth.PathUserinfo, url.Values{"access_token": {full.AccessToken}}, "", "")
	if r.Status != http.StatusOK || r.Body["sub"] != f.User.ID {
		t.Errorf("userinfo with access_token in the body: %d %s", r.Status, r.RawBody)
	}

	// Only openid: the client's default scopes (profile and email unless
	// it says otherwise) are granted all the same (CONTRACT §4).
	bare := f.SignIn(t, b, "openid")
	r = userinfoCall(t, f, http.MethodGet, bare.AccessToken)
	if r.Status != http.StatusOK || r.Body["email"] != "ada@example.com" || r.Body["email_verified"] != true ||
		r.Body["given_name"] != "Ada" || r.Body["family_name"] != "Lovelace" {
		t.Errorf("userinfo with scope openid: %d %s, want email and names (default scopes)", r.Status, r.RawBody)
	}
	// A client with no default scopes and email as an optional one: openid
	// alone is only sub; email without profile is email only.
	f.Env.NewClient(f.Realm.ID, "lean", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash, c.RedirectURIs = realm.KindApplication, true, nil, []string{f.Redirect}
		c.DefaultScopes, c.OptionalScopes = []string{}, []string{"email"}
	})
	lean := *f.Conf
	lean.ClientID = "lean"
	lean.Scopes = []string{"openid"}
	r = userinfoCall(t, f, http.MethodGet, signInRefresh(t, f, &lean).AccessToken)
	if r.Status != http.StatusOK || r.Body["sub"] != f.User.ID || len(r.Body) != 1 {
		t.Errorf("userinfo with scope openid, no default scopes: %d %s, want only sub", r.Status, r.RawBody)
	}
	lean.Scopes = []string{"openid", "email", "profile"}
	r = userinfoCall(t, f, http.MethodGet, signInRefresh(t, f, &lean).AccessToken)
	if r.Body["email"] != "ada@example.com" || r.Body["email_verified"] != true || r.Body["name"] != nil || r.Body["given_name"] != nil {
		t.Errorf("userinfo with scope openid email profile, profile not offered: %s", r.RawBody)
	}
	// No openid scope: not an OpenID request.
	plain := f.SignIn(t, b, "email")
	r = userinfoCall(t, f, http.MethodGet, plain.AccessToken)
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("userinfo without openid: %d %v", r.Status, r.Header)
	}
}

func TestUserinfoBadTokens(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	wantInvalid := func(what string, r *oauthtest.Response) {
		t.Helper()
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("%s: %d %q %s, want 401 invalid_token", what, r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
		}
	}
	r := userinfoCall(t, f, http.MethodGet, "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %v", r.Status, r.Header)
	}
	wantInvalid("garbage", userinfoCall(t, f, http.MethodGet, "not.a.token"))

	// A service account's token names no person.
	_, secret := f.Env.NewClient(f.Realm.ID, "svc", nil)
	wantInvalid("service account token", userinfoCall(t, f, http.MethodGet, f.Env.MustToken("shop", "svc", secret, nil)))

	// Revoked (on the revocation list, whoever put it there).
	tok := f.SignIn(t, b, "openid", "email")
	if err := f.Env.Store.RevokeToken(f.Env.Ctx, f.Realm.ID, jtiOf(t, tok.AccessToken), tok.Expiry); err != nil {
		t.Fatal(err)
	}
	wantInvalid("revoked token", userinfoCall(t, f, http.MethodGet, tok.AccessToken))

	// Another realm's token.
	other := f.Env.NewRealm(f.Env.NewOrg("other").ID, "other", true)
	_ = other
	req, _ := http.NewRequest(http.MethodGet, f.Env.Base+"/realms/other"+oauth.PathUserinfo, nil)
	tok2 := f.SignIn(t, b, "openid")
	req.Header.Set("Authorization", "Bearer "+tok2.AccessToken)
	wantInvalid("another realm's token", f.Env.Do(req))

	// The user deactivated after the token was issued (through the
	// Service, as the admin API does it); reactivating does not bring the
	// token back (CONTRACT §3, issue 13).
	tok = f.SignIn(t, b, "openid")
	if r := userinfoCall(t, f, http.MethodGet, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("live token: %d %s", r.Status, r.RawBody)
	}
	for _, on := range []bool{false, true} {
		if _, err := f.Env.Service.UpdateUser(f.Env.System(), "shop", f.User.ID, realm.UserPatch{Active: &on}); err != nil {
			t.Fatal(err)
		}
		wantInvalid(fmt.Sprintf("user's token after active=%v", on), userinfoCall(t, f, http.MethodGet, tok.AccessToken))
	}

	// Expired: a token that works until then. (Signed in the next second
	// of the wall clock, fosite's, from which iat comes: a token of the
	// deactivation's own second counts as older.)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	tok2 = f.SignIn(t, b, "openid")
	if r := userinfoCall(t, f, http.MethodGet, tok2.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("live token: %d %s", r.Status, r.RawBody)
	}
	f.Env.Advance(6 * time.Minute)
	wantInvalid("expired token", userinfoCall(t, f, http.MethodGet, tok2.AccessToken))
}
