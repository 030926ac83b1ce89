package console

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAttributeValueAndClaimsBounds: through the admin API, a list of more
// than 200 values or a string value of more than 256 characters is a 400
// naming the attribute or the list item; values a member's token could not
// carry with its other groups are a 409 naming attributes, and so is
// adding a subject to a group that would take its token over the bound.
// The answers match docs/openapi.yaml.
func TestAttributeValueAndClaimsBounds(t *testing.T) {
	e := newEnv(t)
	base := "/admin/v1/realms/prod"
	e.must(201, adminToken, "POST", "/admin/v1/realms", map[string]any{"name": "prod"})
	e.must(201, adminToken, "POST", base+"/attributes", map[string]any{"name": "tags", "type": "string", "multi": true})
	tags := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%03d", prefix, i) + strings.Repeat("x", 246)
		}
		return out
	}

	p := problem(t, e.do(adminToken, "POST", base+"/groups", map[string]any{"name": "Huge",
		"attributes": map[string]any{"tags": make([]string, 100_000)}}), http.StatusBadRequest)
	fieldNamed(t, p, "attributes.tags")
	p = problem(t, e.do(adminToken, "POST", base+"/groups", map[string]any{"name": "Long",
		"attributes": map[string]any{"tags": []string{"a", "b", "c", strings.Repeat("x", 100_000)}}}), http.StatusBadRequest)
	fieldNamed(t, p, "attributes.tags[3]")
	p = problem(t, e.do(adminToken, "POST", base+"/groups", map[string]any{"name": "Alone",
		"attributes": map[string]any{"tags": tags("z", 40)}}), http.StatusBadRequest)
	fieldNamed(t, p, "attributes")

	a := e.must(201, adminToken, "POST", base+"/groups", map[string]any{"name": "A",
		"attributes": map[string]any{"tags": tags("a", 20)}})["id"].(string)
	b := e.must(201, adminToken, "POST", base+"/groups", map[string]any{"name": "B",
		"attributes": map[string]any{"tags": tags("b", 20)}})["id"].(string)
	c := e.must(201, adminToken, "POST", base+"/groups", map[string]any{"name": "C"})["id"].(string)
	fieldNamed(t, problem(t, e.do(adminToken, "POST", base+"/users", map[string]any{"email": "both@example.com",
		"first_name": "B", "last_name": "Oth", "groups": []string{a, b}, "send_set_password_email": false}),
		http.StatusBadRequest), "groups")
	u := e.must(201, adminToken, "POST", base+"/users", map[string]any{"email": "ann@example.com",
		"first_name": "Ann", "last_name": "Lee", "groups": []string{a, c}, "send_set_password_email": false})["id"].(string)
	fieldNamed(t, problem(t, e.do(adminToken, "PUT", base+"/users/"+u+"/groups/"+b, nil), http.StatusConflict), "groups")
	e.must(201, adminToken, "POST", base+"/clients", map[string]any{"name": "Robot", "kind": "service_account",
		"client_id": "robot", "groups": []string{a}})
	fieldNamed(t, problem(t, e.do(adminToken, "PUT", base+"/clients/robot/groups/"+b, nil), http.StatusConflict), "groups")
	p = problem(t, e.do(adminToken, "PATCH", base+"/groups/"+c, map[string]any{"attributes": map[string]any{"tags": tags("c", 20)}}),
		http.StatusConflict)
	fieldNamed(t, p, "attributes")
	if !strings.Contains(p.Detail, "user "+u) {
		t.Errorf("conflict does not name the member: %q", p.Detail)
	}
}

// TestPolicyConditionTypesAndCost: a condition comparing a string
// attribute with a number, or an integer one with a string, is a 400
// naming condition with the line and column; so is one that always costs
// more than the evaluation limit. Valid typed conditions are accepted and
// decide through policies:test with the token's JSON numbers.
func TestPolicyConditionTypesAndCost(t *testing.T) {
	e := newEnv(t)
	user := policyRealm(t, e)
	realmBase := "/admin/v1/realms/prod"
	base := realmBase + "/policies"
	e.must(201, adminToken, "POST", realmBase+"/attributes", map[string]any{"name": "region", "type": "string"})
	e.must(201, adminToken, "POST", realmBase+"/attributes", map[string]any{"name": "clearance", "type": "integer"})
	g := e.must(201, adminToken, "POST", realmBase+"/groups", map[string]any{"name": "Cleared",
		"attributes": map[string]any{"clearance": 3, "region": "eu"}})["id"].(string)
	e.must(200, adminToken, "PUT", realmBase+"/users/"+user+"/groups/"+g, nil)

	literal := "[" + strings.TrimSuffix(strings.Repeat("1,", 25), ",") + "]"
	for _, c := range []struct{ cond, want string }{
		{`subject.attributes.region > 5`, "line 1, column 27: "},
		{"true &&\n  subject.attributes.clearance == \"high\"", "line 2, column 32: "},
		{literal + ".map(x, " + literal + ".map(y, " + literal + ".map(z, x + y + z))).size() > 0", "the condition costs at least"},
	} {
		p := problem(t, e.do(adminToken, "POST", base, map[string]any{"name": "bad", "resource_type": "asset",
			"actions": []string{"read"}, "condition": c.cond}), http.StatusBadRequest)
		fieldNamed(t, p, "condition")
		if msg := p.Errors[0].Message; !strings.HasPrefix(msg, c.want) {
			t.Errorf("%q: condition message %q, want prefix %q", c.cond, msg, c.want)
		}
	}
	id := e.must(201, adminToken, "POST", base, map[string]any{"name": "cleared", "resource_type": "asset",
		"actions": []string{"read"}, "condition": `has(subject.attributes.clearance) && subject.attributes.clearance >= 3 && subject.attributes.region == "eu"`})["id"].(string)
	fieldNamed(t, problem(t, e.do(adminToken, "PATCH", base+"/"+id, map[string]any{"condition": `subject.attributes.clearance == "3"`}),
		http.StatusBadRequest), "condition")
	d := e.must(200, viewerToken, "POST", base+":test", map[string]any{"subject": map[string]any{"user_id": user},
		"resource_type": "asset", "action": "read"})
	if d["allowed"] != true {
		t.Errorf("policies:test with a typed condition = %v", d)
	}
}
