package main

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// outboxMail waits for the first .eml file in dir (files being written are
// named .tmp-* and not .eml, but are skipped by name too) and returns it.
func outboxMail(t testing.TB, dir string) []byte {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") || !strings.HasSuffix(e.Name(), ".eml") {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
	}
	t.Fatalf("no .eml file in %s within 20s", dir)
	return nil
}

// TestUserSignsInThroughOutbox is TestUserSignsIn without SMTP: the
// set-password mail is read from the outbox, then the user signs in with
// the code flow and PKCE, the ID token verifies with go-oidc, userinfo
// answers, the refresh token rotates, reuse of a used one revokes the
// family, and logout makes the next authorization ask for the password.
func TestUserSignsInThroughOutbox(t *testing.T) {
	ctx := context.Background()
	w := newWardEnv(t, "")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	const redirect = "http://127.0.0.1:43120/cb"
	a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{
		"name": "webapp", "kind": "application", "public": true, "display_name": "Vault Web",
		"redirect_uris": []string{redirect},
	})
	user := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})
	var clientID string
	for _, it := range a.must(200, "GET", "/admin/v1/realms/vault/clients", nil)["items"].([]any) {
		if m := it.(map[string]any); m["name"] == "webapp" {
			clientID, _ = m["client_id"].(string)
		}
	}
	if clientID == "" {
		t.Fatal("no client_id for the application")
	}

	// The outbox mail's link sets the password.
	m := mailtest.Parse(t, outboxMail(t, filepath.Join(w.dataDir, "outbox")))
	link := setPasswordLink.FindString(m.Text)
	if link == "" || !strings.Contains(m.To, "ada@vault.test") {
		t.Fatalf("outbox mail to %q without a set-password link:\n%s", m.To, m.Text)
	}
	setPage, token := strings.SplitN(link, "?", 2)[0], ""
	if q, err := url.ParseQuery(strings.SplitN(link, "?", 2)[1]); err == nil {
		token = q.Get("token")
	}
	b := browser(t)
	_, _, csrf := page(t, b, link)
	const password = "correct horse battery"
	if status, body := post(t, b, setPage, url.Values{"csrf_token": {csrf}, "token": {token},
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}

	issuer := s.URL + "/realms/vault"
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"},
		Endpoint: provider.Endpoint()}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	// One browser for the whole sign-in, so its session cookie is kept.
	b = browser(t)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	codeFrom := func(resp *http.Response, state string) string {
		t.Helper()
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode < 300 || resp.StatusCode > 399 || err != nil || !strings.HasPrefix(loc.String(), redirect) ||
			loc.Query().Get("state") != state || loc.Query().Get("iss") != issuer || loc.Query().Get("code") == "" {
			t.Fatalf("authorization answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	verifier := oauth2.GenerateVerifier()
	_, body, csrf := page(t, b, conf.AuthCodeURL("state-outbox-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-outbox-1")))
	if !strings.Contains(body, "Vault Web") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("login page without the application's name or a password field:\n%s", body)
	}
	action := html.UnescapeString(loginAction.FindStringSubmatch(body)[1])
	resp, err := b.PostForm(s.URL+action, url.Values{"csrf_token": {csrf}, "email": {"ada@vault.test"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	code := codeFrom(resp, "state-outbox-1")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("code exchange without access or refresh token: %+v", tok)
	}

	// ID token, verified against discovery and the JWKS.
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		SID   string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != user["id"] || idt.Nonce != "nonce-outbox-1" || claims.Email != "ada@vault.test" || claims.Name != "Ada Lovelace" || claims.SID == "" {
		t.Errorf("ID token sub %q nonce %q claims %+v", idt.Subject, idt.Nonce, claims)
	}

	// Userinfo with the access token.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uiClaims map[string]any
	if err := ui.Claims(&uiClaims); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != user["id"] || ui.Email != "ada@vault.test" || uiClaims["name"] != "Ada Lovelace" || uiClaims["family_name"] != "Lovelace" {
		t.Errorf("userinfo = %v", uiClaims)
	}

	// Refresh: a new access token and a new refresh token.
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate: old %q new %q", tok.RefreshToken, tok2.RefreshToken)
	}
	if at := verifyAccessToken(t, s.URL, "vault", tok2.AccessToken); at["sub"] != user["id"] || at["kind"] != "user" {
		t.Errorf("refreshed access token claims %v", at)
	}
	if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err != nil || ui.Subject != user["id"] {
		t.Errorf("userinfo with the refreshed access token: %v, %+v", err, ui)
	}

	// Reuse of the used refresh token fails and revokes its family: the
	// new refresh token fails too.
	var re *oauth2.RetrieveError
	if _, err := refresh(tok.RefreshToken); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v, want invalid_grant", err)
	}
	if _, err := refresh(tok2.RefreshToken); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh token of a revoked family: %v, want invalid_grant", err)
	}

	// While the browser session lives, authorization skips the password.
	verifier = oauth2.GenerateVerifier()
	resp, err = b.Get(conf.AuthCodeURL("state-outbox-2", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-outbox-2")))
	if err != nil {
		t.Fatal(err)
	}
	code = codeFrom(resp, "state-outbox-2")
	tok3, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idHint, _ := tok3.Extra("id_token").(string)

	// Logout: back to the application, and the session is over.
	q := url.Values{"id_token_hint": {idHint}, "post_logout_redirect_uri": {redirect}, "state": {"bye"}}
	resp, err = b.Get(issuer + "/protocol/openid-connect/logout?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode < 300 || resp.StatusCode > 399 || loc != redirect+"?state=bye" {
		t.Errorf("logout = %d, Location %q", resp.StatusCode, loc)
	}
	resp, err = b.Get(conf.AuthCodeURL("state-outbox-3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
		t.Errorf("authorization after logout = %d, Location %q; want the login form:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// The session-bound refresh token of the last sign-in ended with it.
	if _, err := refresh(tok3.RefreshToken); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh token of a logged-out session: %v, want invalid_grant", err)
	}
}
