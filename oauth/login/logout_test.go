package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestLogoutConfirmation: without an ID token hint of the signed-in user,
// logout asks first (so a page elsewhere cannot sign users out); the
// session lasts until the button is pressed, a forged form changes
// nothing, and the confirmed request keeps its redirect. Without a session
// there is nothing to ask.
func TestLogoutConfirmation(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	f.SignIn(t, b, "openid")
	q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {f.Redirect}, "state": {"st"}}
	ask := oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+oauth.PathLogout+"?"+q.Encode(), nil)
	action, fields := confirmForm(t, ask.Body)
	if ask.Status != http.StatusOK || fields == nil {
		t.Fatalf("logout without a hint: %d %s, want the confirmation", ask.Status, ask.Body)
	}
	// The request's parameters ride in hidden fields, not in the URL.
	if strings.Contains(action, "?") || fields.Get("client_id") != "web" || fields.Get("state") != "st" ||
		fields.Get("post_logout_redirect_uri") != f.Redirect || fields.Get("confirm") != "yes" || fields.Get("csrf_token") == "" {
		t.Errorf("confirmation form posts to %q with %v", action, fields)
	}
	if !strings.Contains(ask.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || ask.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("confirmation headers %v", ask.Header)
	}
	if asksPassword(t, f, b) {
		t.Fatal("asking to sign out ended the session")
	}
	bad := url.Values{}
	for k, v := range fields {
		bad[k] = v
	}
	bad.Set("csrf_token", "forged")
	forged := oauthtest.Fetch(t, b, http.MethodPost, f.Env.Base+action, bad)
	if forged.Status != http.StatusForbidden || asksPassword(t, f, b) {
		t.Fatalf("forged confirmation: %d, want 403 and the session kept", forged.Status)
	}
	action, fields = confirmForm(t, forged.Body)
	if fields == nil || fields.Get("client_id") != "web" {
		t.Fatalf("the refused confirmation offers no new form with the request: %s", forged.Body)
	}
	done := oauthtest.Fetch(t, b, http.MethodPost, f.Env.Base+action, fields)
	if done.Status != http.StatusSeeOther || done.Location == nil || done.Location.Query().Get("state") != "st" ||
		!strings.HasPrefix(done.Location.String(), f.Redirect) {
		t.Fatalf("confirmed logout: %d %v, want a redirect to %s with state", done.Status, done.Location, f.Redirect)
	}
	if !asksPassword(t, f, b) {
		t.Error("confirmed logout left the session")
	}
	// No session: nothing to confirm.
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+oauth.PathLogout, nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "You are signed out") {
		t.Errorf("logout without a session: %d %s", p.Status, p.Body)
	}
	// Another user's ID token is no hint for this session.
	other := &realm.User{ID: f.Env.ID(), RealmID: f.Realm.ID, Email: "bob@example.com", Active: true,
		Groups: []string{}, CreatedAt: f.Env.Now(), UpdatedAt: f.Env.Now()}
	if err := f.Env.Store.CreateUser(f.Env.Ctx, other); err != nil {
		t.Fatal(err)
	}
	other.PasswordHash = f.User.PasswordHash // oauthtest.Password
	if err := f.Env.Store.UpdateUser(f.Env.Ctx, other); err != nil {
		t.Fatal(err)
	}
	tok := f.SignInAs(t, oauthtest.Browser(t), other.Email, "openid")
	f.SignIn(t, b, "openid")
	if _, asked := logout(t, f, b, http.MethodGet, url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}); !asked {
		t.Error("logout with another user's ID token as hint did not ask")
	}
}

func TestLogoutWithRedirect(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	tok := f.SignIn(t, b, "openid")
	if asksPassword(t, f, b) {
		t.Fatal("signed-in browser asked for the password")
	}
	idToken, _ := tok.Extra("id_token").(string)
	state := oauthtest.RandomString(t)
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {f.Redirect}, "state": {state}}
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+oauth.PathLogout+"?"+q.Encode(), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil {
		t.Fatalf("logout: %d %s, want a redirect", p.Status, p.Body)
	}
	if got := p.Location.Scheme + "://" + p.Location.Host + p.Location.Path; got != f.Redirect || p.Location.Query().Get("state") != state {
		t.Errorf("logout redirected to %s, want %s with state %s", p.Location, f.Redirect, state)
	}
	cleared := false
	for _, line := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, sessionCookie+"=;") && strings.Contains(line, "Max-Age=0") && strings.Contains(line, "Path=/realms/shop/") {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("logout did not clear the session cookie: %v", p.Header.Values("Set-Cookie"))
	}
	if !asksPassword(t, f, b) {
		t.Error("after logout, authorize did not ask for the password")
	}

	// The session is revoked in the store, not only forgotten by the
	// browser: its cookie replayed no longer signs in.
	b2 := oauthtest.Browser(t)
	f.SignIn(t, b2, "openid")
	u, _ := url.Parse(f.Realm.Issuer + "/")
	var stolen *http.Cookie
	for _, ck := range b2.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			stolen = ck
		}
	}
	if stolen == nil {
		t.Fatal("no session cookie")
	}
	// Logout by POST, with client_id instead of a hint.
	p, asked := logout(t, f, b2, http.MethodPost, url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {f.Redirect}})
	if !asked {
		t.Error("POST logout without a hint did not ask for confirmation")
	}
	if p.Status != http.StatusSeeOther || p.Location.Query().Has("state") {
		t.Errorf("POST logout with client_id: %d %v", p.Status, p.Location)
	}
	b3 := oauthtest.Browser(t)
	b3.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: stolen.Value, Path: "/realms/shop/"}})
	if !asksPassword(t, f, b3) {
		t.Error("the logged-out session's cookie still signs in")
	}
}

func TestLogoutRefusesUnregisteredRedirect(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	_, _ = f.Env.NewClient(f.Realm.ID, "other-app", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.RedirectURIs = []string{"https://other.example/cb"}
	})
	b := oauthtest.Browser(t)
	tok := f.SignIn(t, b, "openid")
	idToken, _ := tok.Extra("id_token").(string)

	signedOut := func(what string, q url.Values) {
		t.Helper()
		f.SignIn(t, b, "openid") // a session to end
		p, _ := logout(t, f, b, http.MethodGet, q)
		if p.Status != http.StatusOK || p.Location != nil || !strings.Contains(p.Body, "You are signed out") {
			t.Errorf("%s: %d %v, want the signed-out page", what, p.Status, p.Location)
		}
		if p.Header.Get("X-Frame-Options") != "DENY" || p.Header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: signed-out page headers %v", what, p.Header)
		}
		if !asksPassword(t, f, b) {
			t.Errorf("%s: session not ended", what)
		}
	}
	signedOut("no redirect", url.Values{})
	signedOut("unregistered URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/cb"}})
	signedOut("prefix of a registered URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:43117/"}})
	signedOut("no hint or client_id", url.Values{"post_logout_redirect_uri": {f.Redirect}})
	signedOut("another client's URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://other.example/cb"}})
	signedOut("client_id disagreeing with the hint", url.Values{"id_token_hint": {idToken}, "client_id": {"other-app"},
		"post_logout_redirect_uri": {"https://other.example/cb"}})
	signedOut("an access token as hint", url.Values{"id_token_hint": {tok.AccessToken}, "post_logout_redirect_uri": {f.Redirect}})
	if tok.RefreshToken != "" {
		signedOut("a refresh token as hint", url.Values{"id_token_hint": {tok.RefreshToken}, "post_logout_redirect_uri": {f.Redirect}})
	} else {
		t.Error("the sign-in returned no refresh token to try as a hint")
	}
	forged := idToken[:strings.LastIndex(idToken, ".")+1] + "AAAA"
	signedOut("a forged hint", url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {f.Redirect}})

	// An expired hint still names the application.
	// (No session is left to end; the redirect does not need one.)
	f.Env.Advance(2 * login.SessionLifespan(f.Env.Login))
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+oauth.PathLogout+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {f.Redirect}}.Encode(), nil)
	if p.Status != http.StatusSeeOther {
		t.Errorf("expired hint: %d, want a redirect", p.Status)
	}
}
