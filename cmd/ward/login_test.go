package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

var loginAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// TestUserSignsIn: an admin creates a user, who gets the mail, sets a
// password on the page, and signs in to a public application with the
// authorization code flow and PKCE; the ID token verifies with go-oidc
// against discovery. After deactivation the password no longer works.
func TestUserSignsIn(t *testing.T) {
	ctx := context.Background()
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	user := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})
	const redirect = "http://127.0.0.1:43119/cb"
	a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{
		"name": "webapp", "kind": "application", "public": true, "display_name": "Vault Web",
		"redirect_uris": []string{redirect},
	})
	clients := a.must(200, "GET", "/admin/v1/realms/vault/clients", nil)
	var clientID string
	for _, it := range clients["items"].([]any) {
		if m := it.(map[string]any); m["name"] == "webapp" {
			clientID, _ = m["client_id"].(string)
		}
	}
	if clientID == "" {
		t.Fatalf("no client_id for the application in %v", clients)
	}

	// The mailed link sets the password.
	link := setPasswordLink.FindString(mailtest.Parse(t, smtpSrv.Wait(t, 1, 20*time.Second)[0].Data).Text)
	b := browser(t)
	_, _, csrf := page(t, b, link)
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	const password = "correct horse battery"
	if status, body := post(t, b, strings.SplitN(link, "?", 2)[0], url.Values{"csrf_token": {csrf}, "token": token["token"],
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}

	issuer := s.URL + "/realms/vault"
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/protocol/openid-connect/auth", TokenURL: issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	signIn := func(email, pw string) (*http.Response, string) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		b := browser(t)
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		_, body, csrf := page(t, b, conf.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-123456")))
		if !strings.Contains(body, "Vault Web") {
			t.Errorf("login page does not name the application:\n%s", body)
		}
		action := html.UnescapeString(loginAction.FindStringSubmatch(body)[1])
		resp, err := b.PostForm(s.URL+action, url.Values{"csrf_token": {csrf}, "email": {email}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		return resp, verifier
	}

	resp, verifier := signIn("ada@vault.test", password)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("iss") != issuer || loc.Query().Get("state") != "state-123456" {
		t.Fatalf("sign-in = %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	_ = idt.Claims(&claims)
	if idt.Subject != user["id"] || idt.Nonce != "nonce-123456" || claims.Email != "ada@vault.test" || claims.Name != "Ada Lovelace" {
		t.Errorf("ID token sub %q nonce %q claims %+v", idt.Subject, idt.Nonce, claims)
	}
	at := verifyAccessToken(t, s.URL, "vault", tok.AccessToken)
	if at["kind"] != "user" || at["sub"] != user["id"] {
		t.Errorf("access token claims %v", at)
	}

	// Deactivated: the same password is refused with the usual message.
	a.must(200, "PATCH", "/admin/v1/realms/vault/users/"+user["id"].(string), map[string]any{"active": false})
	resp, _ = signIn("ada@vault.test", password)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Invalid email or password.") {
		t.Errorf("deactivated sign-in = %d:\n%s", resp.StatusCode, body)
	}
}
