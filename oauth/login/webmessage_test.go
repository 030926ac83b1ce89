package login_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// TestWebMessageResponse: a post_message client gets its code by a page
// that posts {type, response:{code, state, iss}} to exactly the redirect
// URI's origin, a registered web origin; the code redeems.
func TestWebMessageResponse(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	const redirect, origin = "http://127.0.0.1:43118/popup-cb", "http://127.0.0.1:43118"
	f.NewPopupClient("popup", redirect, []string{"http://127.0.0.1:9", origin})
	conf := *f.Conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := oauthtest.Browser(t)
	verifier, state := oauth2.GenerateVerifier(), oauthtest.RandomString(t)

	// No response_mode: the client's communication decides.
	login := oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if login.Status != http.StatusOK || !strings.Contains(login.Body, "Popup App") {
		t.Fatalf("login page: %d %s", login.Status, login.Body)
	}
	wm := readWebMessage(t, f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password))
	if wm.origin != origin {
		t.Errorf("target origin %q, want exactly %q", wm.origin, origin)
	}
	if wm.typ != "authorization_response" || wm.response["state"] != state || wm.response["iss"] != f.Realm.Issuer || wm.response["code"] == "" {
		t.Fatalf("message %s %v", wm.typ, wm.response)
	}
	if wm.response["error"] != "" {
		t.Errorf("success message carries error %q", wm.response["error"])
	}
	tok, err := conf.Exchange(context.Background(), wm.response["code"], oauth2.VerifierOption(verifier))
	if err != nil || tok.Extra("id_token") == nil {
		t.Fatalf("exchange of the posted code: %v", err)
	}

	// Asking for another response mode changes nothing for this client.
	p := oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "query")), nil)
	if wm := readWebMessage(t, p); wm.response["code"] == "" || wm.origin != origin {
		t.Errorf("post_message client asking for query: %v", wm)
	}

	// A redirect client may ask for web_message; its own web origin counts
	// (stored serialized, as the admin API stores it; TestCORSOriginSerialized
	// covers a row in another spelling).
	web, err := f.Env.Store.GetClient(f.Env.Ctx, f.Realm.ID, "web")
	if err != nil {
		t.Fatal(err)
	}
	web.WebOrigins = []string{"http://127.0.0.1:43117"}
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, web); err != nil {
		t.Fatal(err)
	}
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "web_message")), nil)
	if wm := readWebMessage(t, p); wm.response["code"] == "" || wm.origin != "http://127.0.0.1:43117" {
		t.Errorf("redirect client with response_mode=web_message: %v", wm)
	}
}

// TestWebMessageErrors: after the redirect URI is verified, errors are
// posted like answers (with state and iss); before, they are an error page.
// An origin that is not registered gets a page saying so, and no script.
func TestWebMessageErrors(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	const redirect = "http://127.0.0.1:43118/popup-cb"
	f.NewPopupClient("popup", redirect, []string{"http://127.0.0.1:43118"})
	f.NewPopupClient("elsewhere", "https://app.example.com/cb", []string{"https://other.example.com"})
	conf := *f.Conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := oauthtest.Browser(t)
	state := oauthtest.RandomString(t)

	// prompt=none without a session: login_required, posted.
	p := oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	wm := readWebMessage(t, p)
	if wm.response["error"] != "login_required" || wm.response["state"] != state || wm.response["iss"] != f.Realm.Issuer || wm.response["code"] != "" {
		t.Errorf("prompt=none signed out: %v", wm.response)
	}
	if wm.response["error_description"] == "" {
		t.Errorf("error without error_description: %v", wm.response)
	}

	// A bad request after the redirect URI checked out: posted.
	p = oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.SetAuthURLParam("code_challenge", "abc"),
		oauth2.SetAuthURLParam("code_challenge_method", "plain")), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_request" || wm.response["state"] != state {
		t.Errorf("plain PKCE: %v", wm.response)
	}
	// A public client without PKCE: posted too.
	p = oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_request" {
		t.Errorf("no PKCE: %v", wm.response)
	}
	// A scope the client may not have: fosite's own error, posted.
	p = oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("scope", "openid nonsense")), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_scope" || wm.response["iss"] != f.Realm.Issuer {
		t.Errorf("bad scope: %v", wm.response)
	}

	// An unregistered redirect URI is never a message.
	bad := *f.Conf
	bad.ClientID, bad.RedirectURL = "popup", "http://127.0.0.1:43118/other"
	p = oauthtest.Fetch(t, b, http.MethodGet, bad.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p.Status != http.StatusBadRequest || strings.Contains(p.Body, "postMessage") || !strings.Contains(p.Body, "invalid redirect URI") {
		t.Errorf("unregistered redirect URI: %d %s", p.Status, p.Body)
	}

	// A redirect URI whose origin is not a web origin: a page that says
	// why, no script, no login form.
	other := *f.Conf
	other.ClientID, other.RedirectURL = "elsewhere", "https://app.example.com/cb"
	p = oauthtest.Fetch(t, b, http.MethodGet, other.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p.Status != http.StatusBadRequest || strings.Contains(p.Body, "<script") || strings.Contains(p.Body, "<form") ||
		!strings.Contains(p.Body, "https://app.example.com is not registered as a web origin") {
		t.Errorf("unregistered origin: %d %s", p.Status, p.Body)
	}
	checkWebMessageHeaders(t, p)
}

// TestWebMessageNoOpenerText: the page's script checks for an opener and
// says why nothing was sent when there is none (the browser test runs it).
func TestWebMessageNoOpenerText(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	f.NewPopupClient("popup", "http://127.0.0.1:43118/cb", []string{"http://127.0.0.1:43118"})
	conf := *f.Conf
	conf.ClientID, conf.RedirectURL = "popup", "http://127.0.0.1:43118/cb"
	p := oauthtest.Fetch(t, oauthtest.Browser(t), http.MethodGet, conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	readWebMessage(t, p)
	if !strings.Contains(p.Body, "if (!opener || opener.closed)") || !strings.Contains(p.Body, "it has no opener window") {
		t.Errorf("page does not handle a missing opener:\n%s", p.Body)
	}
}

// TestWebMessageWithoutClient: when fosite refused the request before it
// found the client, nothing says where a message may go: a 400 page says
// the sign-in failed, with no script.
func TestWebMessageWithoutClient(t *testing.T) {
	rec := httptest.NewRecorder()
	login.WriteWebMessage(rec, nil, "https://app.example.com/cb", map[string]any{"error": "invalid_request"})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || strings.Contains(body, "<script") || !strings.Contains(body, "cannot be sent to the application") {
		t.Errorf("page without a client: %d %s", rec.Code, body)
	}
}
