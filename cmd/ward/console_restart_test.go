package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	s, owner := adminFor(t, w, "--addr", addr)
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

	// Still signed in: the page and its form work.
	csrf, formID := formKeys(t, ua, s.URL+"/console/realms/shop/attributes")
	resp, err := ua.PostForm(s.URL+"/console/realms/shop/attributes", map[string][]string{
		"csrf_token": {csrf}, "form_id": {formID}, "name": {"region"}, "type": {"string"}})
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
		for name, secret := range map[string]string{"session cookie": cookie, "CSRF token": csrf} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), name)
			}
		}
	}
	if strings.Contains(s.logs(), cookie) {
		t.Error("the log shows the session cookie")
	}
}
