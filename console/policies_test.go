package console

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// policyRealm makes realm "prod" with attributes admin and departments,
// groups Admins and News, a user in News and a service account "robot" in
// Admins; it returns the user's ID.
func policyRealm(t *testing.T, e *env) string {
	t.Helper()
	e.must(201, adminToken, "POST", "/admin/v1/realms", map[string]any{"name": "prod"})
	e.must(201, adminToken, "POST", "/admin/v1/realms/prod/attributes", map[string]any{"name": "admin", "type": "boolean"})
	e.must(201, adminToken, "POST", "/admin/v1/realms/prod/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	admins := e.must(201, adminToken, "POST", "/admin/v1/realms/prod/groups", map[string]any{"name": "Admins",
		"attributes": map[string]any{"admin": true}})["id"].(string)
	news := e.must(201, adminToken, "POST", "/admin/v1/realms/prod/groups", map[string]any{"name": "News",
		"attributes": map[string]any{"admin": false, "departments": []string{"news"}}})["id"].(string)
	u := e.must(201, adminToken, "POST", "/admin/v1/realms/prod/users", map[string]any{"email": "ann@example.com",
		"first_name": "Ann", "last_name": "Lee", "groups": []string{news}, "primary_group": news,
		"send_set_password_email": false})
	e.must(201, adminToken, "POST", "/admin/v1/realms/prod/clients", map[string]any{"name": "Robot", "kind": "service_account",
		"client_id": "robot", "groups": []string{admins}, "primary_group": admins})
	return u["id"].(string)
}

const deptCondition = `subject.attributes.admin || resource.department in subject.attributes.departments`

func TestPolicyCRUD(t *testing.T) {
	e := newEnv(t)
	policyRealm(t, e)
	base := "/admin/v1/realms/prod/policies"

	res := e.do(adminToken, "POST", base, map[string]any{"name": "Departments", "description": "by department",
		"resource_type": "asset", "actions": []string{"read", "list"}, "condition": deptCondition})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	p := res.json(t)
	id := p["id"].(string)
	if loc := res.header.Get("Location"); loc != base+"/"+id {
		t.Errorf("Location = %q", loc)
	}
	if p["condition"] != deptCondition || p["resource_type"] != "asset" || len(p["actions"].([]any)) != 2 {
		t.Errorf("created %v", p)
	}
	got := e.must(200, viewerToken, "GET", base+"/"+id, nil)
	if got["name"] != "Departments" || got["description"] != "by department" {
		t.Errorf("get %v", got)
	}
	list := e.must(200, viewerToken, "GET", base+"?q=depart&limit=10", nil)
	if items := list["items"].([]any); len(items) != 1 {
		t.Errorf("list %v", list)
	}
	fieldNamed(t, problem(t, e.do(viewerToken, "GET", base+"?cursor=nope", nil), http.StatusBadRequest), "cursor")

	problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "DEPARTMENTS", "resource_type": "asset",
		"actions": []string{"read"}, "condition": "true"}), http.StatusConflict)

	up := e.must(200, ownerToken, "PATCH", base+"/"+id, map[string]any{"actions": []string{"*"}, "description": nil})
	if a := up["actions"].([]any); len(a) != 1 || a[0] != "*" || up["description"] != "" {
		t.Errorf("patched %v", up)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "PATCH", base+"/"+id, map[string]any{"condition": nil}), http.StatusBadRequest), "condition")

	e.must(204, adminToken, "DELETE", base+"/"+id, nil)
	problem(t, e.do(viewerToken, "GET", base+"/"+id, nil), http.StatusNotFound)

	// An attribute a policy's condition names cannot go while it does.
	e.must(201, adminToken, "POST", "/admin/v1/realms/prod/attributes", map[string]any{"name": "level", "type": "integer"})
	lv := e.must(201, adminToken, "POST", base, map[string]any{"name": "Levels", "resource_type": "asset",
		"actions": []string{"read"}, "condition": "subject.attributes.level > 2"})["id"].(string)
	p409 := problem(t, e.do(adminToken, "DELETE", "/admin/v1/realms/prod/attributes/level", nil), http.StatusConflict)
	if !strings.Contains(p409.Detail, `"Levels"`) {
		t.Errorf("conflict does not name the policy: %+v", p409)
	}
	e.must(204, adminToken, "DELETE", base+"/"+lv, nil)
	e.must(204, adminToken, "DELETE", "/admin/v1/realms/prod/attributes/level", nil)

	events := e.must(200, viewerToken, "GET", "/admin/v1/realms/prod/events?type=policy.updated", nil)["items"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["target_id"] != id {
		t.Errorf("policy.updated events = %v", events)
	}
}

// TestPolicyBadInput: every bad field is named; a condition that does not
// compile names its line and column.
func TestPolicyBadInput(t *testing.T) {
	e := newEnv(t)
	policyRealm(t, e)
	base := "/admin/v1/realms/prod/policies"
	p := problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "", "resource_type": "Asset",
		"actions": []string{"read", "read"}, "condition": "true"}), http.StatusBadRequest)
	fieldNamed(t, p, "name")
	fieldNamed(t, p, "resource_type")
	fieldNamed(t, p, "actions[1]")
	fieldNamed(t, problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "x", "resource_type": "asset",
		"actions": []string{}, "condition": "true"}), http.StatusBadRequest), "actions")

	p = problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "typo", "resource_type": "asset",
		"actions": []string{"read"}, "condition": "subject.attributes.admin ||\n   subject.attributes.deparments.size() > 0"}),
		http.StatusBadRequest)
	fieldNamed(t, p, "condition")
	if msg := p.Errors[0].Message; !strings.HasPrefix(msg, `line 2, column 22: the realm has no attribute "deparments"`) {
		t.Errorf("condition message = %q", msg)
	}
	p = problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "syntax", "resource_type": "asset",
		"actions": []string{"read"}, "condition": "resource.owner == subject.sub &&"}), http.StatusBadRequest)
	if msg := p.Errors[0].Message; p.Errors[0].Field != "condition" || !strings.HasPrefix(msg, "line 1, column ") {
		t.Errorf("syntax error problem = %+v", p)
	}
	if items := e.must(200, viewerToken, "GET", base, nil)["items"].([]any); len(items) != 0 {
		t.Errorf("refused policies were stored: %v", items)
	}
}

func TestPolicyRolesAndScoping(t *testing.T) {
	e := newEnv(t)
	user := policyRealm(t, e)
	base := "/admin/v1/realms/prod/policies"
	body := map[string]any{"name": "all", "resource_type": "asset", "actions": []string{"*"}, "condition": "true"}
	problem(t, e.do(viewerToken, "POST", base, body), http.StatusForbidden)
	id := e.must(201, adminToken, "POST", base, body)["id"].(string)
	problem(t, e.do(viewerToken, "PATCH", base+"/"+id, map[string]any{"name": "x"}), http.StatusForbidden)
	problem(t, e.do(viewerToken, "DELETE", base+"/"+id, nil), http.StatusForbidden)

	// Another org's realm is not found, whatever the call.
	problem(t, e.do(otherToken, "GET", base, nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "GET", base+"/"+id, nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "DELETE", base+"/"+id, nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "POST", base+":test", map[string]any{"subject": map[string]any{"user_id": user},
		"resource_type": "asset", "action": "read"}), http.StatusNotFound)
	// An ID of one realm in another realm's path is not found.
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "dev"})
	problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/dev/policies/"+id, nil), http.StatusNotFound)
}

func TestPolicyTestEndpoint(t *testing.T) {
	e := newEnv(t)
	user := policyRealm(t, e)
	base := "/admin/v1/realms/prod/policies"
	e.must(201, adminToken, "POST", base, map[string]any{"name": "departments", "resource_type": "asset",
		"actions": []string{"read"}, "condition": deptCondition})
	e.must(201, adminToken, "POST", base, map[string]any{"name": "big files", "resource_type": "asset",
		"actions": []string{"read"}, "condition": `"News" in subject.groups && resource.size > 100`})

	decide := func(token string, req map[string]any) (bool, []string) {
		t.Helper()
		d := e.must(200, token, "POST", base+":test", req)
		var names []string
		for _, n := range d["policies"].([]any) {
			names = append(names, n.(string))
		}
		return d["allowed"].(bool), names
	}
	// A user in News (departments ["news"]), a news asset: allowed by both.
	ok, names := decide(viewerToken, map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "read", "resource": map[string]any{"department": "news", "size": 1000}})
	if !ok || !slices.Equal(names, []string{"big files", "departments"}) {
		t.Errorf("news asset: %v %v", ok, names)
	}
	// A sport asset, small: denied, and each policy says why.
	ok, names = decide(viewerToken, map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "read", "resource": map[string]any{"department": "sport", "size": 1}})
	if ok || len(names) != 0 {
		t.Errorf("sport asset: %v %v", ok, names)
	}
	explain := func(req map[string]any) string {
		t.Helper()
		var parts []string
		for _, it := range e.must(200, viewerToken, "POST", base+":test", req)["explanation"].([]any) {
			m := it.(map[string]any)
			part := m["policy"].(string) + "=" + m["result"].(string)
			if m["error"] != nil {
				part += "(" + m["error"].(string) + ")"
			}
			parts = append(parts, part)
		}
		return strings.Join(parts, " ")
	}
	if got := explain(map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "read", "resource": map[string]any{"department": "sport", "size": 1}}); got != "big files=denied departments=denied" {
		t.Errorf("sport asset explanation: %q", got)
	}
	// A resource without size: big files cannot be evaluated, departments allows.
	if got := explain(map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "read", "resource": map[string]any{"department": "news"}}); !strings.HasPrefix(got, "big files=error(") || !strings.HasSuffix(got, " departments=allowed") {
		t.Errorf("news asset without size: explanation %q, want big files in error and departments allowed", got)
	}
	// Another action: no policy covers it, and the explanation is empty.
	ok, _ = decide(adminToken, map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "delete", "resource": map[string]any{"department": "news"}})
	if ok {
		t.Error("delete allowed")
	}
	if got := explain(map[string]any{"subject": map[string]any{"user_id": user}, "resource_type": "asset",
		"action": "delete", "resource": map[string]any{"department": "news"}}); got != "" {
		t.Errorf("delete explanation: %q, want none", got)
	}
	// The service account is in Admins: admin is true.
	ok, names = decide(adminToken, map[string]any{"subject": map[string]any{"client_id": "robot"}, "resource_type": "asset",
		"action": "read", "resource": map[string]any{"department": "sport"}})
	if !ok || !slices.Equal(names, []string{"departments"}) {
		t.Errorf("robot: %v %v", ok, names)
	}

	fieldNamed(t, problem(t, e.do(viewerToken, "POST", base+":test", map[string]any{"subject": map[string]any{"user_id": "nobody"},
		"resource_type": "asset", "action": "read"}), http.StatusBadRequest), "subject.user_id")
	fieldNamed(t, problem(t, e.do(viewerToken, "POST", base+":test", map[string]any{"subject": map[string]any{},
		"resource_type": "asset", "action": "read"}), http.StatusBadRequest), "subject")
	fieldNamed(t, problem(t, e.do(viewerToken, "POST", base+":test", map[string]any{"subject": map[string]any{"client_id": "robot"},
		"resource_type": "asset", "action": "read", "resource": []int{1}}), http.StatusBadRequest), "resource")
	// The route is exact: the colon is not a parameter.
	problem(t, e.do(viewerToken, "POST", base+":tests", map[string]any{}), http.StatusNotFound)
}
