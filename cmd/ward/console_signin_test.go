package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// TestConsoleMemberSignsIn: a member created through the admin API gets the
// set-password mail, signs in through /realms/console as the public client
// ward-console (code + PKCE, redirect {server}/console/callback), and the
// token acts in the admin API for the member's org with the member's role.
// A role change applies at the next refresh; a removed member can neither
// refresh nor use the old token. A member of two orgs picks one with the
// scope org:SLUG.
func TestConsoleMemberSignsIn(t *testing.T) {
	ctx := context.Background()
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
	// A second org, bootstrapped before the server starts; its owner
	// client adds the same person later.
	out, errOut, code := w.command(t, "bootstrap", "--org", "beta", "--owner-email", "owner@beta.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap beta: %s", errOut)
	}
	betaBoot := parseBootstrap(t, out)
	s, owner := adminFor(t, w) // org acme
	betaTok, err := clientToken(ctx, s.URL, "console", betaBoot.ClientID, betaBoot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	beta := &admin{t: t, base: s.URL, token: betaTok.AccessToken}

	member := owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "carol@acme.test", "first_name": "Carol", "last_name": "Console", "role": "admin"})
	memberPath := "/admin/v1/members/" + member["id"].(string)

	// The mailed link, in the console realm, sets the password.
	link := setPasswordLink.FindString(mailtest.Parse(t, smtpSrv.Wait(t, 1, 20*time.Second)[0].Data).Text)
	if !strings.HasPrefix(link, s.URL+"/realms/console/") {
		t.Fatalf("member mail link %q is not in the console realm", link)
	}
	b := browser(t)
	_, _, csrf := page(t, b, link)
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	const password = "console horse battery"
	if status, body := post(t, b, strings.SplitN(link, "?", 2)[0], url.Values{"csrf_token": {csrf}, "token": token["token"],
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}

	issuer := s.URL + "/realms/console"
	conf := &oauth2.Config{ClientID: "ward-console", RedirectURL: s.URL + "/console/callback", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/protocol/openid-connect/auth", TokenURL: issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	ua := browser(t) // Carol's browser, keeping the session cookie
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// authorize returns the redirect's query (code or error) for scopes;
	// the first call signs in with the password, later ones use the session.
	signedIn := false
	authorize := func(scopes ...string) (url.Values, string) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		c := *conf
		c.Scopes = append([]string{"openid"}, scopes...)
		authURL := c.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier))
		var resp *http.Response
		if !signedIn {
			_, body, csrf := page(t, ua, authURL)
			r, err := ua.PostForm(s.URL+html.UnescapeString(loginAction.FindStringSubmatch(body)[1]),
				url.Values{"csrf_token": {csrf}, "email": {"carol@acme.test"}, "password": {password}})
			if err != nil {
				t.Fatal(err)
			}
			resp, signedIn = r, true
		} else {
			r, err := ua.Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			resp = r
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound || err != nil ||
			!strings.HasPrefix(resp.Header.Get("Location"), s.URL+"/console/callback?") {
			t.Fatalf("authorize %v = %d, Location %q", scopes, resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query(), verifier
	}
	exchange := func(scopes ...string) *oauth2.Token {
		t.Helper()
		q, verifier := authorize(scopes...)
		if q.Get("code") == "" {
			t.Fatalf("authorize %v answered %v", scopes, q)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}

	tok := exchange()
	at := verifyAccessToken(t, s.URL, "console", tok.AccessToken)
	if at["kind"] != "user" || at["sub"] != member["user_id"] || at["org"] != "acme" || at["role"] != "admin" || at["org_id"] == "" {
		t.Fatalf("console access token claims %v", at)
	}
	carol := &admin{t: t, base: s.URL, token: tok.AccessToken}
	carol.must(200, "GET", "/admin/v1/realms", nil)
	carol.must(403, "POST", "/admin/v1/members", map[string]any{"email": "x@acme.test", "role": "viewer"})

	// Owner makes Carol a viewer: the old token stops (role differs), the
	// refreshed one says viewer and cannot create realms.
	owner.must(200, "PATCH", memberPath, map[string]any{"role": "viewer"})
	if status, _, raw := carol.do("GET", "/admin/v1/realms", nil); status != 401 {
		t.Errorf("admin token with a stale role = %d, want 401: %s", status, raw)
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if at := verifyAccessToken(t, s.URL, "console", tok2.AccessToken); at["role"] != "viewer" || at["org"] != "acme" {
		t.Fatalf("refreshed claims %v", at)
	}
	carol.token = tok2.AccessToken
	carol.must(200, "GET", "/admin/v1/realms", nil)
	carol.must(403, "POST", "/admin/v1/realms", map[string]any{"name": "nope"})

	// Carol joins beta too (as admin; she has a password, so no new mail).
	beta.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "carol@acme.test", "first_name": "Carol", "last_name": "Console", "role": "admin"})
	btok := exchange("org:beta")
	if at := verifyAccessToken(t, s.URL, "console", btok.AccessToken); at["org"] != "beta" || at["role"] != "admin" {
		t.Fatalf("org:beta claims %v", at)
	}
	cb := &admin{t: t, base: s.URL, token: btok.AccessToken}
	cb.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "beta-apps"})
	if status, _, raw := carol.do("GET", "/admin/v1/realms", nil); status != 200 || strings.Contains(raw, "beta-apps") {
		t.Errorf("the acme token lists realms = %d (must not see beta's): %s", status, raw)
	}
	if at := verifyAccessToken(t, s.URL, "console", exchange().AccessToken); at["org"] != "acme" {
		t.Errorf("default org = %v, want the first joined (acme)", at["org"])
	}
	if q, _ := authorize("org:nosuch"); q.Get("error") != "access_denied" {
		t.Errorf("org:nosuch answered %v, want access_denied", q)
	}
	if q, _ := authorize("org:acme", "org:beta"); q.Get("error") != "invalid_scope" {
		t.Errorf("two org scopes answered %v, want invalid_scope", q)
	}

	// Removed from acme: the acme refresh fails and the acme token is
	// refused; beta still works.
	if status, _, raw := owner.do("DELETE", memberPath, nil); status/100 != 2 {
		t.Fatalf("delete member = %d: %s", status, raw)
	}
	if _, err := refresh(tok2.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh after removal: %v, want invalid_grant", err)
	}
	if status, _, raw := carol.do("GET", "/admin/v1/realms", nil); status != 401 {
		t.Errorf("removed member's token = %d, want 401: %s", status, raw)
	}
	if q, _ := authorize("org:acme"); q.Get("error") != "access_denied" {
		t.Errorf("org:acme after removal answered %v, want access_denied", q)
	}
	cb.must(200, "GET", "/admin/v1/realms", nil)
}
