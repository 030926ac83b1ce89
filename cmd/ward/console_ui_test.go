package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestConsoleUISignIn: the console signs the bootstrap owner in through the
// console realm (code + PKCE as ward-console), keeps a server-side session
// behind an HttpOnly cookie, lists the org's realms with strict page
// headers, refuses a forged state and a sign-out without its CSRF token, and
// signs out of both the console and the realm.
func TestConsoleUISignIn(t *testing.T) {
	ctx := context.Background()
	w := newWardEnv(t, "")
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	boot := parseBootstrap(t, out)
	s := w.serve(t)
	tok, err := clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	owner := &admin{t: t, base: s.URL, token: tok.AccessToken}
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop", "display_name": "Shop"})

	// The owner sets a password from the bootstrap link (its host is the
	// address bootstrap assumed; the path and token are what count).
	link, err := url.Parse(boot.SetPasswordURL)
	if err != nil {
		t.Fatal(err)
	}
	setPW := s.URL + link.Path
	b := browser(t)
	_, _, csrf := page(t, b, setPW+"?"+link.RawQuery)
	const password = "owner console horse"
	if status, body := post(t, b, setPW, url.Values{"csrf_token": {csrf}, "token": {link.Query().Get("token")},
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}

	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(target string) (*http.Response, string) {
		t.Helper()
		resp, err := ua.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readBody(t, resp)
	}
	// startSignIn checks that /console without a session sends the
	// browser to the console realm with PKCE and returns that URL.
	startSignIn := func() string {
		t.Helper()
		resp, _ := get(s.URL + "/console")
		loc := resp.Header.Get("Location")
		u, err := url.Parse(loc)
		if resp.StatusCode != http.StatusFound || err != nil ||
			!strings.HasPrefix(loc, s.URL+"/realms/console/protocol/openid-connect/auth?") {
			t.Fatalf("GET /console without a session = %d, Location %q", resp.StatusCode, loc)
		}
		q := u.Query()
		if q.Get("client_id") != "ward-console" || q.Get("redirect_uri") != s.URL+"/console/callback" ||
			q.Get("response_type") != "code" || q.Get("scope") != "openid" || len(q.Get("state")) < 32 ||
			q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
			t.Fatalf("authorization request %v", q)
		}
		var found bool
		for _, c := range resp.Cookies() {
			if c.Name == "ward_console_signin_"+q.Get("state")[:12] {
				found = c.HttpOnly && c.SameSite == http.SameSiteLaxMode && c.MaxAge > 0 && !c.Secure
			}
		}
		if !found {
			t.Fatalf("sign-in cookie missing or not HttpOnly+Lax: %v", resp.Header.Values("Set-Cookie"))
		}
		return loc
	}

	// A forged state is refused and gives no session.
	startSignIn()
	resp, body := get(s.URL + "/console/callback?code=anything&state=forged")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "could not be verified") {
		t.Fatalf("forged state = %d:\n%s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "ward_console" && c.MaxAge > 0 {
			t.Fatal("a forged state got a session cookie")
		}
	}
	if resp, _ := get(s.URL + "/console"); resp.StatusCode != http.StatusFound {
		t.Fatalf("after a forged state /console = %d, want a redirect to sign in", resp.StatusCode)
	}

	// The real sign-in: login form, callback, session.
	authURL := startSignIn()
	_, loginBody, csrf := page(t, ua, authURL)
	resp, err = ua.PostForm(s.URL+html.UnescapeString(loginAction.FindStringSubmatch(loginBody)[1]),
		url.Values{"csrf_token": {csrf}, "email": {"owner@acme.test"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, s.URL+"/console/callback?") {
		t.Fatalf("login answered %d, Location %q", resp.StatusCode, callback)
	}
	resp, body = get(callback)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("callback = %d, Location %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ward_console" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/console" || session.Value == "" {
		t.Fatalf("session cookie %v", resp.Header.Values("Set-Cookie"))
	}
	if strings.Count(session.Value, ".") == 2 {
		t.Fatal("the session cookie looks like a JWT: tokens must stay on the server")
	}
	// An unknown console address is an HTML page, not the API's JSON.
	if resp, body := get(s.URL + "/console/no-such-page"); resp.StatusCode != http.StatusNotFound ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Page not found") {
		t.Errorf("unknown console page = %d %s:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// The callback's code is used up: replaying it signs nobody in.
	if resp, _ := get(callback); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback = %d, want 400", resp.StatusCode)
	}

	resp, body = get(s.URL + "/console")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-realm="shop"`) || !strings.Contains(body, `data-role>owner<`) {
		t.Fatalf("GET /console signed in = %d:\n%s", resp.StatusCode, body)
	}
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: CSP %q, XFO %q, Cache-Control %q", csp, h.Get("X-Frame-Options"), h.Get("Cache-Control"))
	}
	// The page lists exactly what the admin API lists for the org.
	for _, r := range owner.must(200, "GET", "/admin/v1/realms", nil)["items"].([]any) {
		if name := r.(map[string]any)["name"].(string); !strings.Contains(body, `data-realm="`+name+`"`) {
			t.Errorf("realm %q from the API is not on the page", name)
		}
	}
	logoutCSRF := csrfField.FindStringSubmatch(body)
	if logoutCSRF == nil {
		t.Fatalf("no CSRF field in the sign-out form:\n%s", body)
	}

	// Bad text (issue 13): a parameter or form field that is not UTF-8 or
	// has a control character, or a search past 200 characters, answers a
	// 400 page naming it, before anything reads it.
	for target, field := range map[string]string{
		"/console?q=a%00b":                                          "q",
		"/console/realms/shop/users?q=%FF":                          "q",
		"/console/realms/shop/groups?q=" + strings.Repeat("a", 201): "q",
		"/console/realms/sh%00op":                                   "realm",
		"/console/callback?code=%00&state=x":                        "code",
	} {
		resp, body := get(s.URL + target)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Bad request") || !strings.Contains(body, field+":") {
			t.Errorf("GET %.60s = %d, want a 400 page naming %s:\n%s", target, resp.StatusCode, field, body)
		}
	}
	resp, err = ua.PostForm(s.URL+"/console", url.Values{"csrf_token": {logoutCSRF[1]}, "name": {"vault"}, "display_name": {"Va\x00ult"}})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "display_name:") {
		t.Errorf("a display name with a NUL = %d:\n%s", resp.StatusCode, body)
	}

	// Sign-out without the CSRF token is refused and the session stays.
	resp, err = ua.PostForm(s.URL+"/console/logout", url.Values{"csrf_token": {"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out with a forged CSRF token = %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(s.URL + "/console"); resp.StatusCode != http.StatusOK {
		t.Fatalf("session after a refused sign-out = %d", resp.StatusCode)
	}

	// Sign-out ends the console session and, through the realm's logout,
	// the realm session: the next visit shows the login form again.
	resp, err = ua.PostForm(s.URL+"/console/logout", url.Values{"csrf_token": {logoutCSRF[1]}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	loc := resp.Header.Get("Location")
	lu, _ := url.Parse(loc)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, s.URL+"/realms/console/protocol/openid-connect/logout?") ||
		lu.Query().Get("id_token_hint") == "" || lu.Query().Get("post_logout_redirect_uri") != s.URL+"/console/callback" {
		t.Fatalf("sign-out = %d, Location %q", resp.StatusCode, loc)
	}
	resp, body = get(loc)
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), s.URL+"/console/callback") {
		t.Fatalf("realm logout = %d, Location %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are signed out") {
		t.Fatalf("after the realm logout = %d:\n%s", resp.StatusCode, body)
	}
	authURL = startSignIn()
	if _, body, _ := page(t, ua, authURL); !strings.Contains(body, `name="password"`) {
		t.Fatalf("after sign-out the realm did not ask for the password again:\n%s", body)
	}
}
