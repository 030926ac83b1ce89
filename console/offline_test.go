package console

import (
	"net/http"
	"testing"
)

// TestClientOfflineAccess: offline_access is an application's flag,
// false unless set, changed by PATCH, and refused for service accounts.
func TestClientOfflineAccess(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"
	app := map[string]any{"name": "web", "kind": "application", "public": true, "redirect_uris": []string{"https://app.example.com/cb"}}
	plain := e.must(201, ownerToken, "POST", base, app)
	if plain["offline_access"] != false {
		t.Errorf("default offline_access = %v, want false", plain["offline_access"])
	}
	app["name"], app["offline_access"] = "mobile", true
	on := e.must(201, ownerToken, "POST", base, app)
	id, _ := on["client_id"].(string)
	if on["offline_access"] != true {
		t.Errorf("created offline_access = %v, want true", on["offline_access"])
	}
	if got := e.must(200, ownerToken, "GET", base+"/"+id, nil); got["offline_access"] != true {
		t.Errorf("read offline_access = %v, want true", got["offline_access"])
	}
	if got := e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"offline_access": false}); got["offline_access"] != false {
		t.Errorf("patched offline_access = %v, want false", got["offline_access"])
	}
	if got := e.must(200, ownerToken, "GET", base+"/"+id, nil); got["offline_access"] != false {
		t.Errorf("offline_access after PATCH = %v, want false", got["offline_access"])
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base, map[string]any{"name": "svc", "kind": "service_account",
		"offline_access": true}), http.StatusBadRequest), "offline_access")
	svc := e.must(201, ownerToken, "POST", base, map[string]any{"name": "svc", "kind": "service_account"})
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+svc["client_id"].(string), map[string]any{"offline_access": true}),
		http.StatusBadRequest), "offline_access")
}

// TestClientIDTokenAlg: an application's ID token algorithm is RS256 unless
// set to ES256, changed by PATCH (null restores RS256), anything else is a
// 400 naming the field; service accounts have none (null) and may not set one.
func TestClientIDTokenAlg(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"
	const field = "id_token_signed_response_alg"
	app := map[string]any{"name": "web", "kind": "application", "public": true, "redirect_uris": []string{"https://app.example.com/cb"}}
	if got := e.must(201, ownerToken, "POST", base, app); got[field] != "RS256" {
		t.Errorf("default %s = %v, want RS256", field, got[field])
	}
	app["name"], app[field] = "mobile", "ES256"
	es := e.must(201, ownerToken, "POST", base, app)
	id, _ := es["client_id"].(string)
	if es[field] != "ES256" {
		t.Errorf("created %s = %v, want ES256", field, es[field])
	}
	if got := e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{field: nil}); got[field] != "RS256" {
		t.Errorf("%s after PATCH null = %v, want RS256", field, got[field])
	}
	if got := e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{field: "ES256"}); got[field] != "ES256" {
		t.Errorf("patched %s = %v, want ES256", field, got[field])
	}
	if got := e.must(200, ownerToken, "GET", base+"/"+id, nil); got[field] != "ES256" {
		t.Errorf("read %s = %v, want ES256", field, got[field])
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{field: "HS256"}), http.StatusBadRequest), field)
	app["name"], app[field] = "bad", "none"
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base, app), http.StatusBadRequest), field)
	svc := e.must(201, ownerToken, "POST", base, map[string]any{"name": "svc", "kind": "service_account"})
	if v, ok := svc[field]; !ok || v != nil {
		t.Errorf("service account %s = %v (present %v), want null", field, v, ok)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+svc["client_id"].(string), map[string]any{field: "ES256"}),
		http.StatusBadRequest), field)
}
