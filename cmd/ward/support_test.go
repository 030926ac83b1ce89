package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/storage/sqltest"
)

// TestSupportTokenCommand: `ward support-token` (CONTRACT §1, §7) against a
// real `ward serve`, on SQLite and PostgreSQL: exit 1 with a clear message
// for an unknown org, an org that has not allowed support access, an empty
// reason or a bad ttl; while it is on, the token reads the admin API (each
// call an event with actor support and the reason) and may not write;
// switching off, or until passing, refuses it at once.
func TestSupportTokenCommand(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { supportTokenCommand(t, "") })
	t.Run("postgres", func(t *testing.T) { supportTokenCommand(t, sqltest.PostgresDSN(t)) })
}

// supportDo makes one admin API call and returns the status and JSON body.
func supportDo(t *testing.T, base, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func supportTokenCommand(t *testing.T, db string) {
	ctx := context.Background()
	w := newWardEnv(t, db)
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d: %s", code, errOut)
	}
	boot := parseBootstrap(t, out)
	s := w.serve(t)
	issue := func(extra ...string) (string, string, int) {
		return w.command(t, append([]string{"support-token", "--public-url", s.URL}, extra...)...)
	}
	wantExit1 := func(what, msg string, args ...string) {
		t.Helper()
		out, errOut, code := issue(args...)
		if code != 1 || out != "" || !strings.Contains(errOut, msg) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 saying %q", what, code, out, errOut, msg)
		}
	}
	wantExit1("not allowed", `organization "acme" has not allowed support access`, "--org", "acme", "--reason", "ticket 42")
	wantExit1("unknown org", `no organization "nope"`, "--org", "nope", "--reason", "ticket 42")
	wantExit1("no reason", "--reason is required", "--org", "acme")
	wantExit1("blank reason", "--reason is required", "--org", "acme", "--reason", "  ")
	wantExit1("ttl too short", "--ttl 1s: must be between", "--org", "acme", "--reason", "x", "--ttl", "1s")
	wantExit1("ttl too long", "--ttl 192h0m0s: must be between", "--org", "acme", "--reason", "x", "--ttl", "192h")
	wantExit1("ttl not a duration", "invalid value", "--org", "acme", "--reason", "x", "--ttl", "soon")

	tok, err := clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	owner := tok.AccessToken
	put := func(body map[string]any) map[string]any {
		t.Helper()
		st, m := supportDo(t, s.URL, owner, "PUT", "/admin/v1/support-access", body)
		if st != 200 {
			t.Fatalf("PUT support-access %v: %d %v", body, st, m)
		}
		return m
	}
	// A bad until changes nothing: still refused.
	if st, m := supportDo(t, s.URL, owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true, "until": time.Now().Add(-time.Hour).Format(time.RFC3339)}); st != 400 {
		t.Errorf("until in the past: %d %v", st, m)
	}
	wantExit1("after a refused switch", "has not allowed support access", "--org", "acme", "--reason", "ticket 42")

	put(map[string]any{"enabled": true})
	out, errOut, code = issue("--org", "acme", "--reason", "ticket 42", "--ttl", "30m")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 || !strings.Contains(errOut, "valid until") {
		t.Fatalf("support-token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	support := strings.TrimSpace(out)
	claims := verifyAccessToken(t, s.URL, "console", support)
	if claims["role"] != "support" || claims["org"] != "acme" || claims["support_reason"] != "ticket 42" {
		t.Errorf("support token claims: %v", claims)
	}
	if st, m := supportDo(t, s.URL, support, "GET", "/admin/v1/realms", nil); st != 200 {
		t.Fatalf("support reading realms: %d %v", st, m)
	}
	if st, _ := supportDo(t, s.URL, support, "POST", "/admin/v1/realms", map[string]any{"name": "evil"}); st != 403 {
		t.Errorf("support creating a realm: %d, want 403", st)
	}
	if st, _ := supportDo(t, s.URL, support, "POST", "/admin/v1/clients/"+boot.ClientID+"/secret", map[string]any{}); st != 403 {
		t.Errorf("support rotating a secret: %d, want 403", st)
	}
	_, evs := supportDo(t, s.URL, owner, "GET", "/admin/v1/events?type=support.call", nil)
	items, _ := evs["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("support.call events: %v, want 3", evs)
	}
	for _, it := range items {
		ev := it.(map[string]any)
		if d, _ := ev["details"].(map[string]any); ev["actor_type"] != "support" || d["reason"] != "ticket 42" {
			t.Errorf("support.call event: %v", ev)
		}
	}

	// Off: refused at once.
	put(map[string]any{"enabled": false})
	if st, m := supportDo(t, s.URL, support, "GET", "/admin/v1/realms", nil); st != 401 || !strings.Contains(m["detail"].(string), "support access") {
		t.Errorf("after switching off: %d %v, want 401 naming support access", st, m)
	}
	wantExit1("after switching off", "has not allowed support access", "--org", "acme", "--reason", "ticket 42")

	// until passing: on for a few seconds, then refused without a switch.
	until := time.Now().Add(4 * time.Second).UTC()
	put(map[string]any{"enabled": true, "until": until.Format(time.RFC3339Nano)})
	out, errOut, code = issue("--org", "acme", "--reason", "ticket 43")
	if code != 0 {
		t.Fatalf("support-token: exit %d, %s", code, errOut)
	}
	brief := strings.TrimSpace(out)
	if exp := int64(verifyAccessToken(t, s.URL, "console", brief)["exp"].(float64)); exp > until.Unix() {
		t.Errorf("token exp %d is after until %d", exp, until.Unix())
	}
	if st, m := supportDo(t, s.URL, brief, "GET", "/admin/v1/realms", nil); st != 200 {
		t.Fatalf("brief token while on: %d %v", st, m)
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	if st, _ := supportDo(t, s.URL, brief, "GET", "/admin/v1/realms", nil); st != 401 {
		t.Errorf("after until: %d, want 401", st)
	}
}
