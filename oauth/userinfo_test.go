package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// signIn runs the code flow in browser b with scopes and returns the token.
func (f *loginFixture) signIn(t *testing.T, b *http.Client, scopes ...string) *oauth2.Token {
	t.Helper()
	return f.signInAs(t, b, f.user.Email, scopes...)
}

// signInAs is signIn as the user with the given email (password testPassword).
func (f *loginFixture) signInAs(t *testing.T, b *http.Client, email string, scopes ...string) *oauth2.Token {
	t.Helper()
	conf := *f.conf
	conf.Scopes = scopes
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier))
	login := fetch(t, b, http.MethodGet, authURL, nil)
	var loc *url.URL
	switch {
	case login.status == http.StatusSeeOther && login.location != nil:
		loc = login.location // already signed in
	case login.status == http.StatusOK:
		done := f.submitLogin(t, b, login, email, testPassword)
		if done.status != http.StatusSeeOther || done.location == nil {
			t.Fatalf("login: %d %s", done.status, done.body)
		}
		loc = done.location
	default:
		t.Fatalf("authorization endpoint: %d %s", login.status, login.body)
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// userinfoCall calls the userinfo endpoint with method and the token as a
// Bearer header.
func (f *loginFixture) userinfoCall(t *testing.T, method, token string) *tokenResponse {
	t.Helper()
	req, err := http.NewRequest(method, f.realm.issuer+pathUserinfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.env.do(req)
}

func TestUserinfoScopes(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)

	full := f.signIn(t, b, "openid", "email", "profile")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := f.userinfoCall(t, method, full.AccessToken)
		if r.Status != http.StatusOK {
			t.Fatalf("%s userinfo: %d %s", method, r.Status, r.RawBody)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("userinfo headers: %v", r.Header)
		}
		want := map[string]any{"sub": f.user.ID, "email": "ada@example.com", "email_verified": false,
			"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"}
		for k, v := range want {
			if r.Body[k] != v {
				t.Errorf("%s userinfo %s = %v, want %v", method, k, r.Body[k], v)
			}
		}
	}
	// The token in a form body (RFC 6750 §2.2).
	r := f.env.post("/realms/shop"+pathUserinfo, url.Values{"access_token": {full.AccessToken}}, "", "")
	if r.Status != http.StatusOK || r.Body["sub"] != f.user.ID {
		t.Errorf("userinfo with access_token in the body: %d %s", r.Status, r.RawBody)
	}

	// Only openid: only sub.
	bare := f.signIn(t, b, "openid")
	r = f.userinfoCall(t, http.MethodGet, bare.AccessToken)
	if r.Status != http.StatusOK || r.Body["sub"] != f.user.ID || len(r.Body) != 1 {
		t.Errorf("userinfo with scope openid: %d %s, want only sub", r.Status, r.RawBody)
	}
	// email without profile.
	mail := f.signIn(t, b, "openid", "email")
	r = f.userinfoCall(t, http.MethodGet, mail.AccessToken)
	if r.Body["email"] != "ada@example.com" || r.Body["name"] != nil || r.Body["given_name"] != nil {
		t.Errorf("userinfo with scope openid email: %s", r.RawBody)
	}
	// No openid scope: not an OpenID request.
	plain := f.signIn(t, b, "email")
	r = f.userinfoCall(t, http.MethodGet, plain.AccessToken)
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("userinfo without openid: %d %v", r.Status, r.Header)
	}
}

func TestUserinfoBadTokens(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	wantInvalid := func(what string, r *tokenResponse) {
		t.Helper()
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("%s: %d %q %s, want 401 invalid_token", what, r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
		}
	}
	r := f.userinfoCall(t, http.MethodGet, "")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %v", r.Status, r.Header)
	}
	wantInvalid("garbage", f.userinfoCall(t, http.MethodGet, "not.a.token"))

	// A service account's token names no person.
	_, secret := f.env.newClient(f.realm.ID, "svc", nil)
	wantInvalid("service account token", f.userinfoCall(t, http.MethodGet, f.env.mustToken("shop", "svc", secret, nil)))

	// Revoked.
	tok := f.signIn(t, b, "openid", "email")
	_, rsSecret := f.env.newClient(f.realm.ID, "rs", nil)
	if rr := f.env.post("/realms/shop"+pathRevoke, url.Values{"token": {tok.AccessToken}}, "rs", rsSecret); rr.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", rr.Status, rr.RawBody)
	}
	wantInvalid("revoked token", f.userinfoCall(t, http.MethodGet, tok.AccessToken))

	// The user deactivated after the token was issued.
	tok = f.signIn(t, b, "openid")
	if r := f.userinfoCall(t, http.MethodGet, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("live token: %d %s", r.Status, r.RawBody)
	}
	f.user.Active = false
	if err := f.env.store.UpdateUser(f.env.ctx, f.user); err != nil {
		t.Fatal(err)
	}
	wantInvalid("deactivated user", f.userinfoCall(t, http.MethodGet, tok.AccessToken))
	f.user.Active = true
	if err := f.env.store.UpdateUser(f.env.ctx, f.user); err != nil {
		t.Fatal(err)
	}
	if r := f.userinfoCall(t, http.MethodGet, tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("reactivated user: %d %s", r.Status, r.RawBody)
	}

	// Expired.
	f.env.advance(6 * time.Minute)
	wantInvalid("expired token", f.userinfoCall(t, http.MethodGet, tok.AccessToken))

	// Another realm's token.
	other := f.env.newRealm(f.env.newOrg("other").ID, "other", true)
	_ = other
	req, _ := http.NewRequest(http.MethodGet, f.env.base+"/realms/other"+pathUserinfo, nil)
	tok2 := f.signIn(t, b, "openid")
	req.Header.Set("Authorization", "Bearer "+tok2.AccessToken)
	wantInvalid("another realm's token", f.env.do(req))
}
