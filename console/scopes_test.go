package console

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/wardiam/ward/storage/sqltest"
)

// TestClientScopes (CONTRACT §4, issue 13): an application has
// default_scopes (["profile","email"] unless given) and optional_scopes;
// offline_access is an optional scope and the same setting as the
// offline_access flag; unknown, duplicate or doubly listed scopes, scopes
// on a service account and null in a PATCH are 400 naming the field, and
// nothing changes.
func TestClientScopes(t *testing.T) { testClientScopes(t, newEnv(t)) }

func TestClientScopesPostgres(t *testing.T) {
	testClientScopes(t, newEnvOn(t, sqltest.OpenPostgres(t)))
}

func testClientScopes(t *testing.T, e *env) {
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"
	app := func(name string, extra map[string]any) map[string]any {
		m := map[string]any{"name": name, "kind": "application", "public": true, "redirect_uris": []string{"https://app.example.com/cb"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	wantScopes := func(what string, got map[string]any, defaults, optional string) {
		t.Helper()
		if d, o := fmt.Sprint(got["default_scopes"]), fmt.Sprint(got["optional_scopes"]); d != defaults || o != optional {
			t.Errorf("%s: default_scopes %s, optional_scopes %s; want %s and %s", what, d, o, defaults, optional)
		}
	}
	plain := e.must(201, ownerToken, "POST", base, app("web", nil))
	wantScopes("new application", plain, "[profile email]", "[]")
	id, _ := plain["client_id"].(string)
	wantScopes("read back", e.must(200, ownerToken, "GET", base+"/"+id, nil), "[profile email]", "[]")
	wantScopes("offline_access: true", e.must(201, ownerToken, "POST", base, app("mobile", map[string]any{"offline_access": true})),
		"[profile email]", "[offline_access]")
	lean := e.must(201, ownerToken, "POST", base, app("lean", map[string]any{"default_scopes": []string{},
		"optional_scopes": []string{"email", "offline_access"}}))
	wantScopes("explicit lists", lean, "[]", "[email offline_access]")
	if lean["offline_access"] != true {
		t.Errorf("offline_access in optional_scopes: offline_access = %v, want true", lean["offline_access"])
	}
	// On create the flag alone asks for offline access too, also beside a
	// list that leaves it out (docs/openapi.yaml: either turns it on).
	both := e.must(201, ownerToken, "POST", base, app("both", map[string]any{"offline_access": true,
		"default_scopes": []string{"profile"}, "optional_scopes": []string{"email"}}))
	wantScopes("offline_access flag beside a list", both, "[profile]", "[email offline_access]")
	if both["offline_access"] != true {
		t.Errorf("offline_access flag beside a list: offline_access = %v, want true", both["offline_access"])
	}
	svc := e.must(201, ownerToken, "POST", base, map[string]any{"name": "svc", "kind": "service_account"})
	wantScopes("service account", svc, "[]", "[]")

	// PATCH: each list replaces; offline_access follows optional_scopes
	// and the other way round.
	p := e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"default_scopes": []string{"email"},
		"optional_scopes": []string{"profile", "offline_access"}})
	wantScopes("patched", p, "[email]", "[profile offline_access]")
	if p["offline_access"] != true {
		t.Errorf("offline_access after adding it to optional_scopes = %v", p["offline_access"])
	}
	p = e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"offline_access": false})
	wantScopes("offline_access turned off", p, "[email]", "[profile]")
	wantScopes("read back after PATCH", e.must(200, ownerToken, "GET", base+"/"+id, nil), "[email]", "[profile]")

	for _, tc := range []struct {
		method, path string
		body         map[string]any
		field        string
	}{
		{"POST", base, app("bad1", map[string]any{"default_scopes": []string{"profile", "openid"}}), "default_scopes[1]"},
		{"POST", base, app("bad2", map[string]any{"default_scopes": []string{"offline_access"}}), "default_scopes[0]"},
		{"POST", base, app("bad3", map[string]any{"optional_scopes": []string{"email"}}), "optional_scopes[0]"},
		{"POST", base, app("bad4", map[string]any{"default_scopes": []string{}, "optional_scopes": []string{"email", "email"}}), "optional_scopes[1]"},
		{"POST", base, app("bad5", map[string]any{"optional_scopes": []string{"groups"}}), "optional_scopes[0]"},
		{"POST", base, map[string]any{"name": "svc2", "kind": "service_account", "default_scopes": []string{"email"}}, "default_scopes"},
		{"POST", base, map[string]any{"name": "svc3", "kind": "service_account", "optional_scopes": []string{"offline_access"}}, "optional_scopes"},
		{"PATCH", base + "/" + id, map[string]any{"default_scopes": nil}, "default_scopes"},
		{"PATCH", base + "/" + id, map[string]any{"optional_scopes": nil}, "optional_scopes"},
		{"PATCH", base + "/" + id, map[string]any{"optional_scopes": []string{"offline_access"}, "offline_access": false}, "offline_access"},
		{"PATCH", base + "/" + id, map[string]any{"optional_scopes": []string{"email"}}, "optional_scopes[0]"},
		{"PATCH", base + "/" + svc["client_id"].(string), map[string]any{"default_scopes": []string{"profile"}}, "default_scopes"},
	} {
		fieldNamed(t, problem(t, e.do(ownerToken, tc.method, tc.path, tc.body), http.StatusBadRequest), tc.field)
	}
	wantScopes("after refused changes", e.must(200, ownerToken, "GET", base+"/"+id, nil), "[email]", "[profile]")
}
