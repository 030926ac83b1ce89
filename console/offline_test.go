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
