package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestConsoleSessionSurvivesRestart: console sessions live in the
// database, sealed: after Ward restarts, the member is still signed in and
// its forms still work, and the database holds neither the session cookie
// nor the session's CSRF token in clear.
func TestConsoleSessionSurvivesRestart(t *testing.T) {
	w := newWardEnv(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The same address both times: the issuer (and so the tokens) stay valid.
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	boot := parseBootstrap(t, out)
	s := w.serve(t, "--addr", addr)
	tok, err := clientToken(context.Background(), s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	owner := &admin{t: t, base: s.URL, token: tok.AccessToken}
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "rita@acme.test", "first_name": "Rita", "last_name": "Restart", "role": "admin"})
	const password = "rita restart horse battery"
	setPasswordFromOutbox(t, w, password)
	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consoleSignIn(t, s, ua, "rita@acme.test", password)

	s.stop(t)
	s = w.serve(t, "--addr", addr)

	resp, err := ua.Get(s.URL + "/console/realms/shop/attributes")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	csrf, formID := csrfField.FindStringSubmatch(body), formIDField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || csrf == nil || formID == nil {
		t.Fatalf("after a restart the console page = %d (want the page, still signed in):\n%s", resp.StatusCode, body)
	}
	resp, err = ua.PostForm(s.URL+"/console/realms/shop/attributes", map[string][]string{
		"csrf_token": {csrf[1]}, "form_id": {formID[1]}, "name": {"region"}, "type": {"string"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a form after the restart = %d", resp.StatusCode)
	}
	owner.must(200, "GET", "/admin/v1/realms/shop/attributes/region", nil)

	var cookie string
	u, _ := http.NewRequest("GET", s.URL+"/console", nil)
	for _, c := range ua.Jar.Cookies(u.URL) {
		if c.Name == "ward_console" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	files, _ := filepath.Glob(filepath.Join(w.dataDir, "*.db*"))
	if len(files) == 0 {
		t.Fatalf("no database file in %s", w.dataDir)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"session cookie": cookie, "CSRF token": csrf[1]} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), name)
			}
		}
	}
	if strings.Contains(s.logs(), cookie) {
		t.Error("the log shows the session cookie")
	}
}
