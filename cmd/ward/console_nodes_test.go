package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestConsoleTwoNodes: two Ward nodes on one database serve one console
// session. Either node answers it; a form sent to both at the same moment
// is done once; after a role change both refresh the session's token at
// the same moment and the member stays signed in on both (one refresh,
// the other node takes its tokens), and neither loses the other's writes.
func TestConsoleTwoNodes(t *testing.T) {
	w := newWardEnv(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a, owner := adminFor(t, w, "--addr", addr)
	// Node b answers for the same public URL (behind one load balancer).
	b := w.serve(t, "--public-url", a.URL)
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	member := owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "nia@acme.test", "first_name": "Nia", "last_name": "Nodes", "role": "admin"})
	const password = "nia two nodes horse"
	setPasswordFromOutbox(t, w, password)
	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consoleSignIn(t, a, ua, "nia@acme.test", password)
	var cookie string
	u, _ := url.Parse(a.URL + "/console")
	for _, c := range ua.Jar.Cookies(u) {
		if c.Name == "ward_console" {
			cookie = c.Value
		}
	}
	send := func(method, target string, form url.Values) (int, string) {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, target, body)
		req.Header.Set("Cookie", "ward_console="+cookie)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		return resp.StatusCode, readBody(t, resp)
	}
	both := func(f func(base string) int) [2]int {
		var out [2]int
		var wg sync.WaitGroup
		for i, base := range []string{a.URL, b.URL} {
			wg.Add(1)
			go func() { defer wg.Done(); out[i] = f(base) }()
		}
		wg.Wait()
		return out
	}
	home := func(base string) int { code, _ := send("GET", base+"/console", nil); return code }
	if got := both(home); got != [2]int{200, 200} {
		t.Fatalf("the session on nodes a and b: %v", got)
	}

	// One form, sent to both nodes at once: one client is created.
	csrf, formID := formKeys(t, ua, a.URL+"/console/realms/shop/clients")
	form := url.Values{"csrf_token": {csrf}, "form_id": {formID}, "name": {"Twice"}, "kind": {"service_account"}}
	codes := both(func(base string) int { code, _ := send("POST", base+"/console/realms/shop/clients", form); return code })
	if codes != [2]int{303, 303} {
		t.Errorf("the form on both nodes answered %v", codes)
	}
	if n := len(owner.must(200, "GET", "/admin/v1/realms/shop/clients", nil)["items"].([]any)); n != 1 {
		t.Errorf("one form sent to two nodes created %d clients", n)
	}
	// The secret of that client waits once, whichever node shows it.
	client := owner.must(200, "GET", "/admin/v1/realms/shop/clients", nil)["items"].([]any)[0].(map[string]any)
	page := func(base string) int {
		code, body := send("GET", base+"/console/realms/shop/clients/"+client["client_id"].(string), nil)
		if strings.Contains(body, `id="client-secret"`) {
			return code + 1000 // shown here
		}
		return code
	}
	if shown := both(page); shown[0]+shown[1] != 200+1200 {
		t.Errorf("the new secret was shown %v (want once, on one node)", shown)
	}

	// A role change makes the access token stale: both nodes refresh at
	// once; one presents the refresh token, the other uses its result.
	owner.must(200, "PATCH", "/admin/v1/members/"+member["id"].(string), map[string]any{"role": "viewer"})
	if got := both(home); got != [2]int{200, 200} {
		t.Fatalf("concurrent refresh on two nodes: %v (the session must survive)", got)
	}
	for _, base := range []string{a.URL, b.URL} {
		if code, body := send("GET", base+"/console", nil); code != 200 || !strings.Contains(body, "data-role>viewer<") {
			t.Errorf("after the refresh, %s answers %d:\n%s", base, code, body)
		}
	}
}
