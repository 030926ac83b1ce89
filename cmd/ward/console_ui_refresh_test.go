package main

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// consoleSignIn signs email in to the console with ua (which must not
// follow redirects) and returns once /console has set the session.
func consoleSignIn(t testing.TB, s *server, ua *http.Client, email, password string) {
	t.Helper()
	resp, err := ua.Get(s.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /console without a session = %d", resp.StatusCode)
	}
	_, body, csrf := page(t, ua, resp.Header.Get("Location"))
	resp, err = ua.PostForm(s.URL+html.UnescapeString(loginAction.FindStringSubmatch(body)[1]),
		url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	resp, err = ua.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("callback = %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestConsoleUIRoleChangeAndRemoval: the console acts with the member's
// current role — after a role change its access token no longer
// authenticates and the console refreshes it, showing the new role; a
// removed member's session ends and /console asks to sign in again.
func TestConsoleUIRoleChangeAndRemoval(t *testing.T) {
	w := newWardEnv(t, "")
	s, owner := adminFor(t, w)
	member := owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "carol@acme.test", "first_name": "Carol", "last_name": "Console", "role": "admin"})
	memberPath := "/admin/v1/members/" + member["id"].(string)
	const password = "carol console horse"
	setPasswordFromOutbox(t, w, password)

	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consoleSignIn(t, s, ua, "carol@acme.test", password)
	home := func() (int, string) {
		t.Helper()
		resp, err := ua.Get(s.URL + "/console")
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	if status, body := home(); status != 200 || !strings.Contains(body, "data-role>admin<") {
		t.Fatalf("as admin /console = %d:\n%s", status, body)
	}

	owner.must(200, "PATCH", memberPath, map[string]any{"role": "viewer"})
	if status, body := home(); status != 200 || !strings.Contains(body, "data-role>viewer<") {
		t.Fatalf("after the role change /console = %d (want the refreshed viewer session):\n%s", status, body)
	}

	if status, _, raw := owner.do("DELETE", memberPath, nil); status/100 != 2 {
		t.Fatalf("delete member = %d: %s", status, raw)
	}
	for i := range 2 {
		if status, body := home(); status != http.StatusFound {
			t.Fatalf("removed member's /console (%d) = %d, want a redirect to sign in:\n%s", i, status, body)
		}
	}
}
