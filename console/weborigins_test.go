package console

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
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
	if got := origins(e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"web_origins": []string{"https://app.example.com", "http://LOCALHOST:3000"}})); !slices.Equal(got, []string{"https://app.example.com", "http://localhost:3000"}) {
		t.Errorf("patched web_origins %v", got)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{"web_origins": []string{"https://app.example.com", "https://app.example.com:443"}}),
		http.StatusBadRequest), "web_origins[1]")
}

// TestClientMistakesAtSaveTime (issue 19): mistakes that would only show at
// sign-in are refused when the client is saved, saying what to do: a
// post_message application whose redirect URIs' origin is not among its
// web origins (by creation, by PATCH of any of the three), a redirect URI
// with a wildcard, and a private-use scheme on a confidential client;
// native apps' redirect URIs (RFC 8252) are accepted for public clients.
func TestClientMistakesAtSaveTime(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sql.Store{"SQLite": sqltest.Open, "Postgres": sqltest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testClientMistakesAtSaveTime(t, newEnvOn(t, open(t))) })
	}
}

func testClientMistakesAtSaveTime(t *testing.T, e *env) {
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"
	message := func(p Problem, field string) string {
		for _, f := range p.Errors {
			if f.Field == field {
				return f.Message
			}
		}
		t.Fatalf("problem does not name %s: %+v", field, p)
		return ""
	}
	pm := map[string]any{"name": "popup", "kind": "application", "public": true, "communication": "post_message",
		"redirect_uris": []string{"https://app.example.com/cb", "https://app.example.com/other", "https://admin.example.com:8443/cb"},
		"web_origins":   []string{"https://app.example.com"}}
	msg := message(problem(t, e.do(ownerToken, "POST", base, pm), http.StatusBadRequest), "web_origins")
	if !strings.Contains(msg, "https://admin.example.com:8443") || strings.Contains(msg, "https://app.example.com,") {
		t.Errorf("post_message without the redirect URI's origin: %q, want it to name https://admin.example.com:8443 only", msg)
	}
	pm["web_origins"] = []string{"https://app.example.com", "https://admin.example.com:8443"}
	id := e.must(201, ownerToken, "POST", base, pm)["client_id"].(string)
	// Each of the three, changed alone, is checked against the others.
	message(problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{"web_origins": []string{"https://app.example.com"}}), http.StatusBadRequest), "web_origins")
	message(problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{"redirect_uris": []string{"https://new.example.com/cb"}}), http.StatusBadRequest), "web_origins")
	redirect := e.must(201, ownerToken, "POST", base, map[string]any{"name": "plain", "kind": "application", "public": true,
		"redirect_uris": []string{"https://plain.example.com/cb"}})["client_id"].(string)
	message(problem(t, e.do(ownerToken, "PATCH", base+"/"+redirect, map[string]any{"communication": "post_message"}), http.StatusBadRequest), "web_origins")
	e.must(200, ownerToken, "PATCH", base+"/"+redirect, map[string]any{"communication": "post_message", "web_origins": []string{"https://plain.example.com"}})

	if msg := message(problem(t, e.do(ownerToken, "POST", base, map[string]any{"name": "wild", "kind": "application", "public": true,
		"redirect_uris": []string{"https://app.example.com/cb", "https://*.example.com/cb"}}), http.StatusBadRequest), "redirect_uris[1]"); msg != "wildcards are not supported; list each URI" {
		t.Errorf("wildcard redirect URI: %q", msg)
	}
	native := map[string]any{"name": "native", "kind": "application", "public": false,
		"redirect_uris": []string{"com.example.app:/callback", "http://127.0.0.1/callback"}}
	if msg := message(problem(t, e.do(ownerToken, "POST", base, native), http.StatusBadRequest), "redirect_uris[0]"); !strings.Contains(msg, "public") {
		t.Errorf("private-use scheme on a confidential client: %q, want it to say native apps are public clients", msg)
	}
	native["public"] = true
	if got := e.must(201, ownerToken, "POST", base, native)["redirect_uris"].([]any); len(got) != 2 {
		t.Errorf("native app's redirect URIs: %v", got)
	}
}
