package console

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestRealmContents walks the realm-scoped resources through the HTTP API:
// attributes, groups with typed values, users with effective attributes and
// group membership, clients in groups, and the audit log.
func TestRealmContents(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	const base = "/admin/v1/realms/vault"

	// Attributes.
	a := e.must(201, ownerToken, "POST", base+"/attributes", map[string]any{"name": "admin", "type": "boolean"})
	if a["name"] != "admin" || a["type"] != "boolean" || a["multi"] != false || a["id"] == "" {
		t.Fatalf("attribute answer %v", a)
	}
	e.must(201, ownerToken, "POST", base+"/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	e.must(201, ownerToken, "POST", base+"/attributes", map[string]any{"name": "level", "type": "integer", "description": "clearance"})
	problem(t, e.do(ownerToken, "POST", base+"/attributes", map[string]any{"name": "admin", "type": "string"}), http.StatusConflict)
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base+"/attributes", map[string]any{"name": "Bad-Name", "type": "string"}), http.StatusBadRequest), "name")
	if items := e.must(200, ownerToken, "GET", base+"/attributes", nil)["items"].([]any); len(items) != 3 {
		t.Errorf("%d attributes listed, want 3", len(items))
	}
	if got := e.must(200, ownerToken, "PATCH", base+"/attributes/level", map[string]any{"description": "clearance level"}); got["description"] != "clearance level" {
		t.Errorf("attribute patch: %v", got)
	}

	// Groups with typed values; integers arrive intact.
	editors := e.must(201, ownerToken, "POST", base+"/groups", map[string]any{
		"name": "Editors", "attributes": map[string]any{"admin": false, "departments": []string{"sport", "news"}, "level": 3}})
	admins := e.must(201, ownerToken, "POST", base+"/groups", map[string]any{
		"name": "Admins", "attributes": map[string]any{"admin": true, "departments": []string{"finance", "news"}}})
	edID, adID := editors["id"].(string), admins["id"].(string)
	if !reflect.DeepEqual(editors["attributes"], map[string]any{"admin": false, "departments": []any{"news", "sport"}, "level": float64(3)}) {
		t.Errorf("group attributes %v", editors["attributes"])
	}
	problem(t, e.do(ownerToken, "POST", base+"/groups", map[string]any{"name": "editors"}), http.StatusConflict)
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base+"/groups", map[string]any{"name": "X", "attributes": map[string]any{"level": "high"}}), http.StatusBadRequest), "attributes.level")
	problem(t, e.do(ownerToken, "POST", base+"/groups", map[string]any{"name": "Y", "attributes": map[string]any{"level": 1.5}}), http.StatusBadRequest)
	problem(t, e.do(ownerToken, "POST", base+"/groups", map[string]any{"name": "Z", "attributes": map[string]any{"nope": 1}}), http.StatusBadRequest)
	problem(t, e.do(ownerToken, "POST", base+"/groups", map[string]any{"name": "W", "attributes": map[string]any{"admin": []bool{true}}}), http.StatusBadRequest)
	// Changing the type of an attribute in use is a conflict.
	problem(t, e.do(ownerToken, "PATCH", base+"/attributes/level", map[string]any{"type": "string"}), http.StatusConflict)
	// A large integer survives the trip (UseNumber, no float64 rounding).
	g := e.must(200, ownerToken, "PATCH", base+"/groups/"+edID, map[string]any{
		"attributes": map[string]any{"admin": false, "departments": []string{"news", "sport"}, "level": 9007199254740993}})
	if e.do(ownerToken, "GET", base+"/groups/"+edID, nil).json(t) == nil || g["attributes"] == nil {
		t.Fatal("group patch lost attributes")
	}
	raw := e.do(ownerToken, "GET", base+"/groups/"+edID, nil)
	if !strings.Contains(string(raw.body), "9007199254740993") {
		t.Errorf("large integer was rounded: %s", raw.body)
	}
	e.must(200, ownerToken, "PATCH", base+"/groups/"+edID, map[string]any{
		"attributes": map[string]any{"admin": false, "departments": []string{"news", "sport"}, "level": 3}})

	// Users: effective attributes merge the groups; the primary group wins
	// a single-valued disagreement.
	u := e.must(201, ownerToken, "POST", base+"/users", map[string]any{
		"email": "ann@vault.test", "first_name": "Ann", "last_name": "Lee",
		"groups": []string{edID, adID}, "primary_group": edID, "send_set_password_email": false})
	uid := u["id"].(string)
	want := map[string]any{"admin": false, "departments": []any{"finance", "news", "sport"}, "level": float64(3)}
	if !reflect.DeepEqual(u["effective_attributes"], want) || u["active"] != true || u["primary_group"] != edID {
		t.Errorf("created user %v", u)
	}
	if got := e.must(200, ownerToken, "GET", base+"/users/"+uid, nil); !reflect.DeepEqual(got["effective_attributes"], want) {
		t.Errorf("GET user effective_attributes %v", got["effective_attributes"])
	}
	problem(t, e.do(ownerToken, "POST", base+"/users", map[string]any{
		"email": "ANN@vault.test", "first_name": "A", "last_name": "L", "send_set_password_email": false}), http.StatusConflict)
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base+"/users", map[string]any{"email": "x@vault.test", "last_name": "L"}), http.StatusBadRequest), "first_name")
	list := e.must(200, ownerToken, "GET", base+"/users", nil)["items"].([]any)
	if len(list) != 1 {
		t.Fatalf("%d users listed", len(list))
	}
	if _, ok := list[0].(map[string]any)["effective_attributes"]; ok {
		t.Error("list items carry effective_attributes")
	}

	// Group membership.
	problem(t, e.do(ownerToken, "DELETE", base+"/users/"+uid+"/groups/"+edID, nil), http.StatusConflict) // primary
	e.must(204, ownerToken, "DELETE", base+"/users/"+uid+"/groups/"+adID, nil)
	got := e.must(200, ownerToken, "PUT", base+"/users/"+uid+"/groups/"+adID, nil)
	if !reflect.DeepEqual(got["effective_attributes"], want) {
		t.Errorf("after re-adding Admins: %v", got["effective_attributes"])
	}
	members := e.must(200, ownerToken, "GET", base+"/groups/"+adID+"/members", nil)["items"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["kind"] != "user" || members[0].(map[string]any)["id"] != uid {
		t.Errorf("Admins members %v", members)
	}

	// Deactivate and reactivate.
	if got := e.must(200, ownerToken, "PATCH", base+"/users/"+uid, map[string]any{"active": false}); got["active"] != false {
		t.Errorf("deactivate: %v", got)
	}
	if got := e.must(200, ownerToken, "PATCH", base+"/users/"+uid, map[string]any{"active": true, "first_name": "Anne"}); got["active"] != true || got["first_name"] != "Anne" || got["last_name"] != "Lee" {
		t.Errorf("reactivate: %v", got)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/users/"+uid, map[string]any{"active": nil}), http.StatusBadRequest), "active")

	// Clients in groups.
	sa := e.must(201, ownerToken, "POST", base+"/clients", map[string]any{"name": "ingest", "kind": "service_account"})
	cid := sa["client_id"].(string)
	cv := e.must(200, ownerToken, "PUT", base+"/clients/"+cid+"/groups/"+adID, nil)
	if !reflect.DeepEqual(cv["groups"], []any{adID}) || cv["effective_attributes"].(map[string]any)["admin"] != true {
		t.Errorf("client after joining Admins: %v", cv)
	}
	e.must(204, ownerToken, "DELETE", base+"/clients/"+cid+"/groups/"+adID, nil)
	if got := e.must(200, ownerToken, "PATCH", base+"/clients/"+cid, map[string]any{"active": false}); got["active"] != false {
		t.Errorf("disable client: %v", got)
	}

	// Deleting a group that is still someone's primary group is refused.
	problem(t, e.do(ownerToken, "DELETE", base+"/groups/"+edID, nil), http.StatusConflict)

	// The audit log lists the changes, newest first, filterable by type.
	events := e.must(200, ownerToken, "GET", base+"/events?limit=200", nil)["items"].([]any)
	if len(events) < 10 {
		t.Fatalf("only %d events", len(events))
	}
	first := events[0].(map[string]any)
	if first["actor_type"] == "" || first["time"] == "" || first["type"] == "" {
		t.Errorf("event %v", first)
	}
	created := e.must(200, ownerToken, "GET", base+"/events?type=user.created", nil)["items"].([]any)
	if len(created) != 1 || created[0].(map[string]any)["target_id"] != uid {
		t.Errorf("user.created events %v", created)
	}
	if items := e.must(200, ownerToken, "GET", base+"/events?since=2999-01-01T00:00:00Z", nil)["items"].([]any); len(items) != 0 {
		t.Errorf("events since the future: %v", items)
	}
}

// TestMembers covers the org member calls.
func TestMembers(t *testing.T) {
	e := newEnv(t)
	// Every role may see the members; only owners change them.
	if got := e.must(200, viewerToken, "GET", "/admin/v1/members", nil)["items"].([]any); len(got) != 1 {
		t.Fatalf("viewer sees members %v", got)
	}
	problem(t, e.do(viewerToken, "POST", "/admin/v1/members", map[string]any{"email": "v@acme.test", "first_name": "V", "last_name": "W", "role": "viewer"}), http.StatusForbidden)
	list := e.must(200, ownerToken, "GET", "/admin/v1/members", nil)["items"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["email"] != "owner@acme.test" || list[0].(map[string]any)["role"] != "owner" {
		t.Fatalf("members %v", list)
	}
	m := e.must(201, ownerToken, "POST", "/admin/v1/members", map[string]any{
		"email": "bob@acme.test", "first_name": "Bob", "last_name": "Stone", "role": "viewer"})
	id := m["id"].(string)
	if m["role"] != "viewer" || m["email"] != "bob@acme.test" {
		t.Errorf("created member %v", m)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", "/admin/v1/members", map[string]any{
		"email": "eve@acme.test", "first_name": "Eve", "last_name": "X", "role": "god"}), http.StatusBadRequest), "role")
	if got := e.must(200, ownerToken, "PATCH", "/admin/v1/members/"+id, map[string]any{"role": "admin"}); got["role"] != "admin" {
		t.Errorf("patched member %v", got)
	}
	problem(t, e.do(viewerToken, "PATCH", "/admin/v1/members/"+id, map[string]any{"role": "owner"}), http.StatusForbidden)
	problem(t, e.do(otherToken, "GET", "/admin/v1/members/"+id, nil), http.StatusNotFound)
	e.must(204, ownerToken, "DELETE", "/admin/v1/members/"+id, nil)
	problem(t, e.do(ownerToken, "GET", "/admin/v1/members/"+id, nil), http.StatusNotFound)
}
