package main

import (
	"net/http"
	"testing"
)

// BenchmarkConsolePage measures a signed-in console page end to end over
// HTTP against the real binary (SQLite): the session read, the token
// check, the org list, the page's service calls and the template. Run with
// `go test ./cmd/ward -run '^$' -bench ConsolePage`.
func BenchmarkConsolePage(b *testing.B) {
	w := newWardEnv(b, "")
	s, owner := adminFor(b, w)
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	owner.must(201, "POST", "/admin/v1/realms/shop/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	group := owner.must(201, "POST", "/admin/v1/realms/shop/groups", map[string]any{"name": "Editors",
		"attributes": map[string]any{"departments": []string{"news"}}})
	for _, email := range []string{"a@shop.test", "b@shop.test", "c@shop.test"} {
		owner.must(201, "POST", "/admin/v1/realms/shop/users", map[string]any{"email": email, "first_name": "A",
			"last_name": "B", "groups": []string{group["id"].(string)}, "send_set_password_email": false})
	}
	owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "bea@acme.test", "first_name": "Bea", "last_name": "Bench", "role": "admin"})
	const password = "bea bench horse battery"
	setPasswordFromOutbox(b, w, password)
	ua := browser(b)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consoleSignIn(b, s, ua, "bea@acme.test", password)
	for _, page := range []string{"/console", "/console/realms/shop/users", "/console/realms/shop/groups/" + group["id"].(string)} {
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				resp, err := ua.Get(s.URL + page)
				if err != nil {
					b.Fatal(err)
				}
				readBody(b, resp)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s = %d", page, resp.StatusCode)
				}
			}
		})
	}
}
