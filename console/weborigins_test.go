package console

import (
	"net/http"
	"slices"
	"testing"
)

// TestClientWebOrigins: the admin API answers with web origins as they
// are stored, serialized as browsers send them (lower-case scheme and
// host, no default port), and refuses one origin written twice, naming
// the entry.
func TestClientWebOrigins(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"
	origins := func(m map[string]any) []string {
		var out []string
		list, _ := m["web_origins"].([]any)
		for _, o := range list {
			s, _ := o.(string)
			out = append(out, s)
		}
		return out
	}
	app := e.must(201, ownerToken, "POST", base, map[string]any{"name": "web", "kind": "application", "public": true,
		"communication": "post_message", "redirect_uris": []string{"https://app.example.com/cb"},
		"web_origins": []string{"HTTPS://App.Example.com:443"}})
	id, _ := app["client_id"].(string)
	if got := origins(e.must(200, ownerToken, "GET", base+"/"+id, nil)); !slices.Equal(got, []string{"https://app.example.com"}) {
		t.Errorf("stored web_origins %v", got)
	}
	if got := origins(e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"web_origins": []string{"http://LOCALHOST:3000"}})); !slices.Equal(got, []string{"http://localhost:3000"}) {
		t.Errorf("patched web_origins %v", got)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{"web_origins": []string{"https://app.example.com", "https://app.example.com:443"}}),
		http.StatusBadRequest), "web_origins[1]")
}
