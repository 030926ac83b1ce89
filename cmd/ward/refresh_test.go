package main

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// TestRefreshAndDeactivation: a signed-in user's refresh token rotates
// (x/oauth2 TokenSource) and the refreshed ID token keeps sub, auth_time
// and azp (go-oidc). Deactivating the user through the admin API ends it
// all at once: no refresh, introspection answers inactive, and the browser
// session is gone (after reactivation the old browser is asked for the
// password again and the old refresh token still fails).
func TestRefreshAndDeactivation(t *testing.T) {
	ctx := context.Background()
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	user := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})
	userPath := "/admin/v1/realms/vault/users/" + user["id"].(string)
	const redirect = "http://127.0.0.1:43121/cb"
	app := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{
		"name": "webapp", "kind": "application", "public": true, "redirect_uris": []string{redirect},
	})
	clientID := app["client_id"].(string)
	rs := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "api", "kind": "service_account"})

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
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/protocol/openid-connect/auth", TokenURL: issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	ua := browser(t) // the user's browser, keeping the session cookie
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := oauth2.GenerateVerifier()
	_, body, csrf := page(t, ua, conf.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier)))
	resp, err := ua.PostForm(s.URL+html.UnescapeString(loginAction.FindStringSubmatch(body)[1]),
		url.Values{"csrf_token": {csrf}, "email": {"ada@vault.test"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
	}
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	idClaims := func(tok *oauth2.Token) map[string]any {
		t.Helper()
		idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("verify ID token: %v", err)
		}
		var m map[string]any
		_ = idt.Claims(&m)
		return m
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	first := idClaims(tok)
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == tok.RefreshToken {
		t.Error("the refresh token did not rotate")
	}
	second := idClaims(tok2)
	for _, k := range []string{"sub", "auth_time", "azp"} {
		if second[k] == nil || second[k] != first[k] {
			t.Errorf("refreshed ID token %s = %v, want %v", k, second[k], first[k])
		}
	}
	introspect := func(at string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", issuer+"/protocol/openid-connect/token/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rs["client_id"].(string), rs["client_secret"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(readBody(t, resp)), &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("introspect: %d %v", resp.StatusCode, err)
		}
		return m
	}
	if r := introspect(tok2.AccessToken); r["active"] != true {
		t.Fatalf("refreshed access token: %v, want active", r)
	}

	// Deactivated mid-session.
	a.must(200, "PATCH", userPath, map[string]any{"active": false})
	_, err = refresh(tok2.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh of a deactivated user: %v, want invalid_grant", err)
	}
	if r := introspect(tok2.AccessToken); r["active"] != false {
		t.Errorf("access token of a deactivated user: %v, want inactive", r)
	}

	// Reactivated: the session and refresh tokens stay revoked.
	a.must(200, "PATCH", userPath, map[string]any{"active": true})
	again, err := ua.Get(conf.AuthCodeURL("state-234567", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, again); again.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Errorf("old browser after deactivation: %d, want the login form (session revoked)", again.StatusCode)
	}
	_, err = refresh(tok2.RefreshToken)
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh token from before the deactivation: %v, want invalid_grant", err)
	}
}
