package login_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm"
)

// asksPassword says whether the browser, sent to authorize, gets the login
// form (200) rather than a code (303).
func (f *loginFixture) asksPassword(t *testing.T, b *http.Client) bool {
	t.Helper()
	p := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	switch p.status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	t.Fatalf("authorize: %d %s", p.status, p.body)
	return false
}

var (
	logoutForm   = regexp.MustCompile(`<form method="post" action="([^"]+)">((?:\s*<input type="hidden"[^>]*>)*)`)
	hiddenFields = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// confirmForm reads the "Sign out?" form: where it posts and its fields.
func confirmForm(t testing.TB, body string) (string, url.Values) {
	t.Helper()
	m := logoutForm.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "Sign out?") {
		return "", nil
	}
	fields := url.Values{}
	for _, h := range hiddenFields.FindAllStringSubmatch(m[2], -1) {
		fields.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// logout sends a logout request; when Ward asks "Sign out?" it presses the
// button. It returns the final answer and whether it was asked.
func (f *loginFixture) logout(t testing.TB, b *http.Client, method string, q url.Values) (*page, bool) {
	t.Helper()
	var p *page
	if method == http.MethodGet {
		p = fetch(t, b, method, f.realm.issuer+pathLogout+"?"+q.Encode(), nil)
	} else {
		p = fetch(t, b, method, f.realm.issuer+pathLogout, q)
	}
	action, fields := confirmForm(t, p.body)
	if p.status != http.StatusOK || fields == nil {
		return p, false
	}
	return fetch(t, b, http.MethodPost, f.env.base+action, fields), true
}

// TestLogoutConfirmation: without an ID token hint of the signed-in user,
// logout asks first (so a page elsewhere cannot sign users out); the
// session lasts until the button is pressed, a forged form changes
// nothing, and the confirmed request keeps its redirect. Without a session
// there is nothing to ask.
func TestLogoutConfirmation(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	f.signIn(t, b, "openid")
	q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {f.redirect}, "state": {"st"}}
	ask := fetch(t, b, http.MethodGet, f.realm.issuer+pathLogout+"?"+q.Encode(), nil)
	action, fields := confirmForm(t, ask.body)
	if ask.status != http.StatusOK || fields == nil {
		t.Fatalf("logout without a hint: %d %s, want the confirmation", ask.status, ask.body)
	}
	// The request's parameters ride in hidden fields, not in the URL.
	if strings.Contains(action, "?") || fields.Get("client_id") != "web" || fields.Get("state") != "st" ||
		fields.Get("post_logout_redirect_uri") != f.redirect || fields.Get("confirm") != "yes" || fields.Get("csrf_token") == "" {
		t.Errorf("confirmation form posts to %q with %v", action, fields)
	}
	if !strings.Contains(ask.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || ask.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("confirmation headers %v", ask.header)
	}
	if f.asksPassword(t, b) {
		t.Fatal("asking to sign out ended the session")
	}
	bad := url.Values{}
	for k, v := range fields {
		bad[k] = v
	}
	bad.Set("csrf_token", "forged")
	forged := fetch(t, b, http.MethodPost, f.env.base+action, bad)
	if forged.status != http.StatusForbidden || f.asksPassword(t, b) {
		t.Fatalf("forged confirmation: %d, want 403 and the session kept", forged.status)
	}
	action, fields = confirmForm(t, forged.body)
	if fields == nil || fields.Get("client_id") != "web" {
		t.Fatalf("the refused confirmation offers no new form with the request: %s", forged.body)
	}
	done := fetch(t, b, http.MethodPost, f.env.base+action, fields)
	if done.status != http.StatusSeeOther || done.location == nil || done.location.Query().Get("state") != "st" ||
		!strings.HasPrefix(done.location.String(), f.redirect) {
		t.Fatalf("confirmed logout: %d %v, want a redirect to %s with state", done.status, done.location, f.redirect)
	}
	if !f.asksPassword(t, b) {
		t.Error("confirmed logout left the session")
	}
	// No session: nothing to confirm.
	p := fetch(t, b, http.MethodGet, f.realm.issuer+pathLogout, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out") {
		t.Errorf("logout without a session: %d %s", p.status, p.body)
	}
	// Another user's ID token is no hint for this session.
	other := &realm.User{ID: f.env.id(), RealmID: f.realm.ID, Email: "bob@example.com", Active: true,
		Groups: []string{}, CreatedAt: f.env.now(), UpdatedAt: f.env.now()}
	if err := f.env.store.CreateUser(f.env.ctx, other); err != nil {
		t.Fatal(err)
	}
	other.PasswordHash = f.user.PasswordHash // testPassword
	if err := f.env.store.UpdateUser(f.env.ctx, other); err != nil {
		t.Fatal(err)
	}
	tok := f.signInAs(t, browser(t), other.Email, "openid")
	f.signIn(t, b, "openid")
	if _, asked := f.logout(t, b, http.MethodGet, url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}); !asked {
		t.Error("logout with another user's ID token as hint did not ask")
	}
}

func TestLogoutWithRedirect(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	tok := f.signIn(t, b, "openid")
	if f.asksPassword(t, b) {
		t.Fatal("signed-in browser asked for the password")
	}
	idToken, _ := tok.Extra("id_token").(string)
	state := randomString(t)
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {f.redirect}, "state": {state}}
	p := fetch(t, b, http.MethodGet, f.realm.issuer+pathLogout+"?"+q.Encode(), nil)
	if p.status != http.StatusSeeOther || p.location == nil {
		t.Fatalf("logout: %d %s, want a redirect", p.status, p.body)
	}
	if got := p.location.Scheme + "://" + p.location.Host + p.location.Path; got != f.redirect || p.location.Query().Get("state") != state {
		t.Errorf("logout redirected to %s, want %s with state %s", p.location, f.redirect, state)
	}
	cleared := false
	for _, line := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, sessionCookie+"=;") && strings.Contains(line, "Max-Age=0") && strings.Contains(line, "Path=/realms/shop/") {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("logout did not clear the session cookie: %v", p.header.Values("Set-Cookie"))
	}
	if !f.asksPassword(t, b) {
		t.Error("after logout, authorize did not ask for the password")
	}

	// The session is revoked in the store, not only forgotten by the
	// browser: its cookie replayed no longer signs in.
	b2 := browser(t)
	f.signIn(t, b2, "openid")
	u, _ := url.Parse(f.realm.issuer + "/")
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
	p, asked := f.logout(t, b2, http.MethodPost, url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {f.redirect}})
	if !asked {
		t.Error("POST logout without a hint did not ask for confirmation")
	}
	if p.status != http.StatusSeeOther || p.location.Query().Has("state") {
		t.Errorf("POST logout with client_id: %d %v", p.status, p.location)
	}
	b3 := browser(t)
	b3.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: stolen.Value, Path: "/realms/shop/"}})
	if !f.asksPassword(t, b3) {
		t.Error("the logged-out session's cookie still signs in")
	}
}

func TestLogoutRefusesUnregisteredRedirect(t *testing.T) {
	f := newLoginFixture(t, openStore)
	_, _ = f.env.newClient(f.realm.ID, "other-app", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.RedirectURIs = []string{"https://other.example/cb"}
	})
	b := browser(t)
	tok := f.signIn(t, b, "openid")
	idToken, _ := tok.Extra("id_token").(string)

	signedOut := func(what string, q url.Values) {
		t.Helper()
		f.signIn(t, b, "openid") // a session to end
		p, _ := f.logout(t, b, http.MethodGet, q)
		if p.status != http.StatusOK || p.location != nil || !strings.Contains(p.body, "You are signed out") {
			t.Errorf("%s: %d %v, want the signed-out page", what, p.status, p.location)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: signed-out page headers %v", what, p.header)
		}
		if !f.asksPassword(t, b) {
			t.Errorf("%s: session not ended", what)
		}
	}
	signedOut("no redirect", url.Values{})
	signedOut("unregistered URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/cb"}})
	signedOut("prefix of a registered URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:43117/"}})
	signedOut("no hint or client_id", url.Values{"post_logout_redirect_uri": {f.redirect}})
	signedOut("another client's URI", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://other.example/cb"}})
	signedOut("client_id disagreeing with the hint", url.Values{"id_token_hint": {idToken}, "client_id": {"other-app"},
		"post_logout_redirect_uri": {"https://other.example/cb"}})
	signedOut("an access token as hint", url.Values{"id_token_hint": {tok.AccessToken}, "post_logout_redirect_uri": {f.redirect}})
	if tok.RefreshToken != "" {
		signedOut("a refresh token as hint", url.Values{"id_token_hint": {tok.RefreshToken}, "post_logout_redirect_uri": {f.redirect}})
	} else {
		t.Error("the sign-in returned no refresh token to try as a hint")
	}
	forged := idToken[:strings.LastIndex(idToken, ".")+1] + "AAAA"
	signedOut("a forged hint", url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {f.redirect}})

	// An expired hint still names the application.
	// (No session is left to end; the redirect does not need one.)
	f.env.advance(2 * f.env.srv.sessionLifespan)
	p := fetch(t, b, http.MethodGet, f.realm.issuer+pathLogout+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {f.redirect}}.Encode(), nil)
	if p.status != http.StatusSeeOther {
		t.Errorf("expired hint: %d, want a redirect", p.status)
	}
}
