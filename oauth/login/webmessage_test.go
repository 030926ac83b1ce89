package login_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm"
)

var (
	wmMessage = regexp.MustCompile(`var message = (\{.*\});`)
	wmOrigin  = regexp.MustCompile(`var origin = ("[^"\n]*");`)
	wmNonce   = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

// webMessage is what a web_message page would post: its target origin and
// message, read from the page's script.
type webMessage struct {
	origin   string
	typ      string
	response map[string]string
}

// readWebMessage checks the page's headers and returns what it posts.
func readWebMessage(t *testing.T, p *page) webMessage {
	t.Helper()
	if p.status != http.StatusOK {
		t.Fatalf("web_message page: %d, want 200: %s", p.status, p.body)
	}
	checkWebMessageHeaders(t, p)
	om, mm := wmOrigin.FindStringSubmatch(p.body), wmMessage.FindStringSubmatch(p.body)
	if om == nil || mm == nil {
		t.Fatalf("web_message page without origin and message:\n%s", p.body)
	}
	var wm webMessage
	if err := json.Unmarshal([]byte(om[1]), &wm.origin); err != nil {
		t.Fatalf("origin %s: %v", om[1], err)
	}
	var msg struct {
		Type     string            `json:"type"`
		Response map[string]string `json:"response"`
	}
	if err := json.Unmarshal([]byte(mm[1]), &msg); err != nil {
		t.Fatalf("message %s: %v", mm[1], err)
	}
	wm.typ, wm.response = msg.Type, msg.Response
	if !strings.Contains(p.body, "opener.postMessage(message, origin)") || strings.Contains(p.body, `"*"`) {
		t.Errorf("web_message page does not post to the origin variable alone:\n%s", p.body)
	}
	return wm
}

// checkWebMessageHeaders: only the page's own nonce-tagged script runs, it
// cannot be framed, cached or leak a Referer.
func checkWebMessageHeaders(t *testing.T, p *page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	if nm := wmNonce.FindStringSubmatch(p.body); nm != nil {
		if !strings.Contains(csp, "script-src 'nonce-"+nm[1]+"'") {
			t.Errorf("CSP %q does not allow exactly the page's script nonce %s", csp, nm[1])
		}
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows unsafe script", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

// popupClient registers a public post_message application whose web
// origin is its redirect URI's.
func popupClient(f *loginFixture, clientID, redirect string, origins []string) {
	f.env.newClient(f.realm.ID, clientID, func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.DisplayName = "Popup App"
		c.Communication = realm.CommPostMessage
		c.RedirectURIs = []string{redirect}
		c.WebOrigins = origins
	})
}

// TestWebMessageResponse: a post_message client gets its code by a page
// that posts {type, response:{code, state, iss}} to exactly the redirect
// URI's origin, a registered web origin; the code redeems.
func TestWebMessageResponse(t *testing.T) {
	f := newLoginFixture(t, openStore)
	const redirect, origin = "http://127.0.0.1:43118/popup-cb", "http://127.0.0.1:43118"
	popupClient(f, "popup", redirect, []string{"http://127.0.0.1:9", origin})
	conf := *f.conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := browser(t)
	verifier, state := oauth2.GenerateVerifier(), randomString(t)

	// No response_mode: the client's communication decides.
	login := fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if login.status != http.StatusOK || !strings.Contains(login.body, "Popup App") {
		t.Fatalf("login page: %d %s", login.status, login.body)
	}
	wm := readWebMessage(t, f.submitLogin(t, b, login, f.user.Email, testPassword))
	if wm.origin != origin {
		t.Errorf("target origin %q, want exactly %q", wm.origin, origin)
	}
	if wm.typ != "authorization_response" || wm.response["state"] != state || wm.response["iss"] != f.realm.issuer || wm.response["code"] == "" {
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
	p := fetch(t, b, http.MethodGet, conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "query")), nil)
	if wm := readWebMessage(t, p); wm.response["code"] == "" || wm.origin != origin {
		t.Errorf("post_message client asking for query: %v", wm)
	}

	// A redirect client may ask for web_message; its own web origin counts
	// (stored serialized, as the admin API stores it; TestCORSOriginSerialized
	// covers a row in another spelling).
	web, err := f.env.store.GetClient(f.env.ctx, f.realm.ID, "web")
	if err != nil {
		t.Fatal(err)
	}
	web.WebOrigins = []string{"http://127.0.0.1:43117"}
	if err := f.env.store.UpdateClient(f.env.ctx, web); err != nil {
		t.Fatal(err)
	}
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_mode", "web_message")), nil)
	if wm := readWebMessage(t, p); wm.response["code"] == "" || wm.origin != "http://127.0.0.1:43117" {
		t.Errorf("redirect client with response_mode=web_message: %v", wm)
	}
}

// TestWebMessageErrors: after the redirect URI is verified, errors are
// posted like answers (with state and iss); before, they are an error page.
// An origin that is not registered gets a page saying so, and no script.
func TestWebMessageErrors(t *testing.T) {
	f := newLoginFixture(t, openStore)
	const redirect = "http://127.0.0.1:43118/popup-cb"
	popupClient(f, "popup", redirect, []string{"http://127.0.0.1:43118"})
	popupClient(f, "elsewhere", "https://app.example.com/cb", []string{"https://other.example.com"})
	conf := *f.conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := browser(t)
	state := randomString(t)

	// prompt=none without a session: login_required, posted.
	p := fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	wm := readWebMessage(t, p)
	if wm.response["error"] != "login_required" || wm.response["state"] != state || wm.response["iss"] != f.realm.issuer || wm.response["code"] != "" {
		t.Errorf("prompt=none signed out: %v", wm.response)
	}
	if wm.response["error_description"] == "" {
		t.Errorf("error without error_description: %v", wm.response)
	}

	// A bad request after the redirect URI checked out: posted.
	p = fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.SetAuthURLParam("code_challenge", "abc"),
		oauth2.SetAuthURLParam("code_challenge_method", "plain")), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_request" || wm.response["state"] != state {
		t.Errorf("plain PKCE: %v", wm.response)
	}
	// A public client without PKCE: posted too.
	p = fetch(t, b, http.MethodGet, conf.AuthCodeURL(state), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_request" {
		t.Errorf("no PKCE: %v", wm.response)
	}
	// A scope the client may not have: fosite's own error, posted.
	p = fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("scope", "openid nonsense")), nil)
	if wm := readWebMessage(t, p); wm.response["error"] != "invalid_scope" || wm.response["iss"] != f.realm.issuer {
		t.Errorf("bad scope: %v", wm.response)
	}

	// An unregistered redirect URI is never a message.
	bad := *f.conf
	bad.ClientID, bad.RedirectURL = "popup", "http://127.0.0.1:43118/other"
	p = fetch(t, b, http.MethodGet, bad.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "postMessage") || !strings.Contains(p.body, "invalid redirect URI") {
		t.Errorf("unregistered redirect URI: %d %s", p.status, p.body)
	}

	// A redirect URI whose origin is not a web origin: a page that says
	// why, no script, no login form.
	other := *f.conf
	other.ClientID, other.RedirectURL = "elsewhere", "https://app.example.com/cb"
	p = fetch(t, b, http.MethodGet, other.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "<script") || strings.Contains(p.body, "<form") ||
		!strings.Contains(p.body, "https://app.example.com is not registered as a web origin") {
		t.Errorf("unregistered origin: %d %s", p.status, p.body)
	}
	checkWebMessageHeaders(t, p)
}

// TestWebMessageNoOpenerText: the page's script checks for an opener and
// says why nothing was sent when there is none (the browser test runs it).
func TestWebMessageNoOpenerText(t *testing.T) {
	f := newLoginFixture(t, openStore)
	popupClient(f, "popup", "http://127.0.0.1:43118/cb", []string{"http://127.0.0.1:43118"})
	conf := *f.conf
	conf.ClientID, conf.RedirectURL = "popup", "http://127.0.0.1:43118/cb"
	p := fetch(t, browser(t), http.MethodGet, conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	readWebMessage(t, p)
	if !strings.Contains(p.body, "if (!opener || opener.closed)") || !strings.Contains(p.body, "it has no opener window") {
		t.Errorf("page does not handle a missing opener:\n%s", p.body)
	}
}

// TestWardJS: served to any origin as a JavaScript module, cacheable with
// an ETag; 404 for an unknown realm.
func TestWardJS(t *testing.T) {
	f := newLoginFixture(t, openStore)
	r := f.env.get("/realms/shop/ward.js")
	if r.Status != http.StatusOK || !strings.Contains(r.RawBody, "export async function login(") {
		t.Fatalf("ward.js: %d %.200s", r.Status, r.RawBody)
	}
	for h, want := range map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Access-Control-Allow-Origin": "*",
		"Cache-Control": wardJSCacheControl, "X-Content-Type-Options": "nosniff"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	etag := r.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, f.env.base+"/realms/shop/ward.js", nil)
	req.Header.Set("If-None-Match", etag)
	if r := f.env.do(req); etag == "" || r.Status != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: %d", etag, r.Status)
	}
	if r := f.env.get("/realms/nowhere/ward.js"); r.Status != http.StatusNotFound {
		t.Errorf("unknown realm: %d", r.Status)
	}
}

// TestWebMessageWithoutClient: when fosite refused the request before it
// found the client, nothing says where a message may go: a 400 page says
// the sign-in failed, with no script.
func TestWebMessageWithoutClient(t *testing.T) {
	rec := httptest.NewRecorder()
	ar := fosite.NewAuthorizeRequest()
	ar.Form.Set("redirect_uri", "https://app.example.com/cb")
	writeWebMessage(rec, ar, map[string]any{"error": "invalid_request"}, http.StatusOK)
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || strings.Contains(body, "<script") || !strings.Contains(body, "cannot be sent to the application") {
		t.Errorf("page without a client: %d %s", rec.Code, body)
	}
}
