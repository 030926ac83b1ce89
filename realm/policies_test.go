package realm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// policyEnv is a realm "prod" with attributes admin (boolean) and
// departments (multi string), groups Admins and News, a user in News and a
// service account in Admins.
type policyEnv struct {
	*env
	admins, news *realm.Group
	user         *realm.UserView
	client       *realm.ClientView
}

func newPolicyEnv(t *testing.T, open opener) *policyEnv {
	e := newEnv(t, open)
	e.realm("prod")
	e.attr("prod", "admin", "boolean", false)
	e.attr("prod", "departments", "string", true)
	pe := &policyEnv{env: e}
	pe.admins = e.group("prod", "Admins", map[string]any{"admin": true})
	pe.news = e.group("prod", "News", map[string]any{"admin": false, "departments": []any{"news"}})
	pe.user = e.user("prod", "ann@example.com", []string{pe.news.ID}, pe.news.ID)
	c, _, err := e.svc.CreateClient(e.admin, "prod", realm.ClientInput{Name: "Robot", Kind: "service_account",
		ClientID: "robot", Groups: []string{pe.admins.ID}, PrimaryGroup: pe.admins.ID})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	pe.client = c
	return pe
}

const deptCondition = `subject.attributes.admin || resource.department in subject.attributes.departments`

func (e *policyEnv) policy(ctx context.Context, in realm.PolicyInput) *realm.Policy {
	e.t.Helper()
	p, err := e.svc.CreatePolicy(ctx, "prod", in)
	if err != nil {
		e.t.Fatalf("create policy %s: %v", in.Name, err)
	}
	return p
}

func fieldMessage(t *testing.T, err error, field string) string {
	t.Helper()
	var ve *realm.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	t.Fatalf("%v does not name %s", err, field)
	return ""
}

func TestPolicyCRUDAndEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newPolicyEnv(t, open)
		p := e.policy(e.admin, realm.PolicyInput{Name: " Department readers ", Description: "by department",
			ResourceType: "asset", Actions: []string{"read", "list"}, Condition: deptCondition})
		if p.Name != "Department readers" || p.ResourceType != "asset" || !slices.Equal(p.Actions, []string{"read", "list"}) {
			t.Fatalf("created %+v", p)
		}
		got, err := e.svc.GetPolicy(e.viewer, "prod", p.ID)
		if err != nil || got.Condition != deptCondition {
			t.Fatalf("GetPolicy = %+v, %v", got, err)
		}
		_, err = e.svc.CreatePolicy(e.owner, "prod", realm.PolicyInput{Name: "DEPARTMENT READERS", ResourceType: "asset",
			Actions: []string{"read"}, Condition: "true"})
		wantConflict(t, err, "name")

		up, err := e.svc.UpdatePolicy(e.owner, "prod", p.ID, realm.PolicyPatch{Actions: &[]string{"*"},
			Condition: ptr(`subject.attributes.admin`)})
		if err != nil || !slices.Equal(up.Actions, []string{"*"}) || up.Condition != "subject.attributes.admin" {
			t.Fatalf("UpdatePolicy = %+v, %v", up, err)
		}
		// A bad condition in a patch changes nothing.
		_, err = e.svc.UpdatePolicy(e.owner, "prod", p.ID, realm.PolicyPatch{Condition: ptr(`subject.attributes.nope`)})
		wantInvalid(t, err, "condition")
		got, _ = e.svc.GetPolicy(e.viewer, "prod", p.ID)
		if got.Condition != "subject.attributes.admin" {
			t.Fatalf("condition after a refused patch = %q", got.Condition)
		}

		page, err := e.svc.ListPolicies(e.viewer, "prod", realm.ListOptions{Query: "department"})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != p.ID {
			t.Fatalf("ListPolicies = %+v, %v", page, err)
		}
		if err := e.svc.DeletePolicy(e.admin, "prod", p.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.GetPolicy(e.viewer, "prod", p.ID)
		wantIs(t, err, realm.ErrNotFound)

		ev, err := e.svc.ListEvents(e.viewer, "prod", realm.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, x := range ev.Items {
			if strings.HasPrefix(string(x.Type), "policy.") {
				types = append(types, string(x.Type))
				if x.TargetID != p.ID {
					t.Errorf("%s targets %s", x.Type, x.TargetID)
				}
				if x.Type == "policy.updated" {
					ch, _ := x.Details["fields"].([]any)
					if len(ch) != 2 || ch[0] != "actions" || ch[1] != "condition" {
						t.Errorf("policy.updated details = %v", x.Details)
					}
				}
			}
		}
		// The test clock stands still, so the events' order is not defined.
		slices.Sort(types)
		if !slices.Equal(types, []string{"policy.created", "policy.deleted", "policy.updated"}) {
			t.Fatalf("policy events = %v", types)
		}
	})
}

func TestPolicyValidation(t *testing.T) {
	e := newPolicyEnv(t, sqltest.Open)
	before := e.rows()
	_, err := e.svc.CreatePolicy(e.admin, "prod", realm.PolicyInput{Name: " ", ResourceType: "Asset!",
		Actions: []string{"read", "Read", "read"}, Condition: "resource.x ==", Description: strings.Repeat("d", 2001)})
	wantInvalid(t, err, "name", "resource_type", "actions[1]", "actions[2]", "condition", "description")
	_, err = e.svc.CreatePolicy(e.admin, "prod", realm.PolicyInput{Name: "n", ResourceType: "asset", Condition: "true"})
	wantInvalid(t, err, "actions")
	_, err = e.svc.CreatePolicy(e.admin, "prod", realm.PolicyInput{Name: "n", ResourceType: "asset", Actions: []string{"read"}})
	wantInvalid(t, err, "condition")
	e.sameRows(before)
}

// TestPolicyCompileErrorsHavePositions: the 400 names the condition with
// the line and column of the mistake.
func TestPolicyCompileErrorsHavePositions(t *testing.T) {
	e := newPolicyEnv(t, sqltest.Open)
	cases := []struct{ cond, want string }{
		{"subject.attributes.admin ||\n  subject.attributes.departmnts.size() > 0", `line 2, column 21: the realm has no attribute "departmnts"`},
		{"resource.owner == ", "line 1, column "},
		{`"a" + 1`, "line 1, column "},
		{`resource.name`, ""}, // dyn: allowed, evaluated at run time
		{`1 + 2`, "line 1, column 1: the condition must be a boolean"},
	}
	for _, c := range cases {
		_, err := e.svc.CreatePolicy(e.admin, "prod", realm.PolicyInput{Name: "p" + c.cond, ResourceType: "asset",
			Actions: []string{"read"}, Condition: c.cond})
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.cond, err)
			}
			continue
		}
		if msg := fieldMessage(t, err, "condition"); !strings.HasPrefix(msg, c.want) {
			t.Errorf("%q: condition message %q, want prefix %q", c.cond, msg, c.want)
		}
	}
}

func TestPolicyRolesAndIsolation(t *testing.T) {
	e := newPolicyEnv(t, sqltest.Open)
	in := realm.PolicyInput{Name: "all", ResourceType: "asset", Actions: []string{"*"}, Condition: "true"}
	_, err := e.svc.CreatePolicy(e.viewer, "prod", in)
	wantIs(t, err, realm.ErrForbidden)
	p := e.policy(e.admin, in)
	_, err = e.svc.UpdatePolicy(e.viewer, "prod", p.ID, realm.PolicyPatch{Name: ptr("x")})
	wantIs(t, err, realm.ErrForbidden)
	wantIs(t, e.svc.DeletePolicy(e.viewer, "prod", p.ID), realm.ErrForbidden)
	// Viewers may read and ask for a decision.
	if _, err := e.svc.ListPolicies(e.viewer, "prod", realm.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "read"}); err != nil {
		t.Fatal(err)
	}

	// Another realm of the same org does not see the policy by ID.
	e.realm("dev")
	_, err = e.svc.GetPolicy(e.admin, "dev", p.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.UpdatePolicy(e.admin, "dev", p.ID, realm.PolicyPatch{Name: ptr("x")})
	wantIs(t, err, realm.ErrNotFound)
	wantIs(t, e.svc.DeletePolicy(e.admin, "dev", p.ID), realm.ErrNotFound)
	// The same name is free in another realm; conditions compile against
	// that realm's definitions (dev has no "admin").
	_, err = e.svc.CreatePolicy(e.admin, "dev", realm.PolicyInput{Name: "all", ResourceType: "asset",
		Actions: []string{"read"}, Condition: "subject.attributes.admin"})
	wantInvalid(t, err, "condition")
	if _, err := e.svc.CreatePolicy(e.admin, "dev", in); err != nil {
		t.Fatal(err)
	}
	// Another org does not see the realm at all.
	other := e.secondOrg("globex")
	_, err = e.svc.ListPolicies(other, "prod", realm.ListOptions{})
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.TestPolicies(other, "prod", realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "read"})
	wantIs(t, err, realm.ErrNotFound)
}

func TestPolicyTestDecisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newPolicyEnv(t, open)
		e.policy(e.admin, realm.PolicyInput{Name: "departments", ResourceType: "asset", Actions: []string{"read"}, Condition: deptCondition})
		e.policy(e.admin, realm.PolicyInput{Name: "users read", ResourceType: "asset", Actions: []string{"read"},
			Condition: `subject.kind == "user" && subject.email.endsWith("@example.com") && "News" in subject.groups`})
		e.policy(e.admin, realm.PolicyInput{Name: "robots", ResourceType: "asset", Actions: []string{"*"},
			Condition: `subject.kind == "service_account" && subject.client_id == "robot" && subject.sub == "robot"`})
		e.policy(e.admin, realm.PolicyInput{Name: "stall", ResourceType: "asset", Actions: []string{"delete"},
			Condition: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, a+b+c+d > 0))))`})

		ask := func(in realm.PolicyTestInput) *realm.PolicyTestResult {
			t.Helper()
			res, err := e.svc.TestPolicies(e.viewer, "prod", in)
			if err != nil {
				t.Fatalf("TestPolicies(%+v): %v", in, err)
			}
			return res
		}
		res := ask(realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "read",
			Resource: map[string]any{"department": "news"}})
		if !res.Allowed || !slices.Equal(res.Policies, []string{"departments", "users read"}) {
			t.Errorf("user, news asset = %+v", res)
		}
		res = ask(realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "write",
			Resource: map[string]any{"department": "news"}})
		if res.Allowed || len(res.Policies) != 0 {
			t.Errorf("user, write = %+v", res)
		}
		res = ask(realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "read",
			Resource: map[string]any{"department": "sport"}})
		if !slices.Equal(res.Policies, []string{"users read"}) {
			t.Errorf("user, sport asset = %+v", res)
		}
		// The robot is in Admins (admin true): departments and robots allow.
		res = ask(realm.PolicyTestInput{ClientID: "robot", ResourceType: "asset", Action: "read",
			Resource: map[string]any{"department": "sport"}})
		if !res.Allowed || !slices.Equal(res.Policies, []string{"departments", "robots"}) {
			t.Errorf("robot = %+v", res)
		}
		res = ask(realm.PolicyTestInput{ClientID: "robot", ResourceType: "document", Action: "read"})
		if res.Allowed {
			t.Errorf("robot, other resource type = %+v", res)
		}
		// The cost limit stops the nested loops: that policy allows nothing.
		res = ask(realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "delete"})
		if res.Allowed || len(res.Errors) != 1 || res.Errors[0].Policy != "stall" {
			t.Errorf("cost limit = %+v", res)
		}

		_, err := e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{UserID: "nobody", ResourceType: "asset", Action: "read"})
		wantInvalid(t, err, "subject.user_id")
		_, err = e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{ClientID: "nobody", ResourceType: "asset", Action: "read"})
		wantInvalid(t, err, "subject.client_id")
		_, err = e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{ResourceType: "", Action: "Read!"})
		wantInvalid(t, err, "subject", "resource_type", "action")
		_, err = e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{UserID: e.user.ID, ClientID: "robot", ResourceType: "asset", Action: "read"})
		wantInvalid(t, err, "subject")
	})
}

// TestDeleteAttributeUsedByPolicy: an attribute a policy's condition names
// cannot be deleted (409 naming the policies); once no policy uses it, it
// can.
func TestDeleteAttributeUsedByPolicy(t *testing.T) {
	e := newPolicyEnv(t, sqltest.Open)
	e.attr("prod", "level", "integer", false)
	p := e.policy(e.admin, realm.PolicyInput{Name: "Levels", ResourceType: "asset", Actions: []string{"read"},
		Condition: `has(subject.attributes.level) && subject.attributes.level > 2`})
	e.policy(e.admin, realm.PolicyInput{Name: "Other", ResourceType: "asset", Actions: []string{"read"}, Condition: `true`})
	err := e.svc.DeleteAttribute(e.admin, "prod", "level")
	wantConflict(t, err, "name")
	if !strings.Contains(err.Error(), `"Levels"`) || strings.Contains(err.Error(), `"Other"`) {
		t.Fatalf("conflict = %v, want it to name Levels only", err)
	}
	if _, err := e.svc.UpdatePolicy(e.admin, "prod", p.ID, realm.PolicyPatch{Condition: ptr("true")}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteAttribute(e.admin, "prod", "level"); err != nil {
		t.Fatalf("delete unused attribute: %v", err)
	}
}

func TestDistributedPolicies(t *testing.T) {
	e := newPolicyEnv(t, sqltest.Open)
	e.policy(e.admin, realm.PolicyInput{Name: "b", ResourceType: "asset", Actions: []string{"read"}, Condition: deptCondition})
	e.policy(e.admin, realm.PolicyInput{Name: "a", Description: "first", ResourceType: "asset", Actions: []string{"*"}, Condition: "true"})
	r, err := e.store.GetRealmByName(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.DistributedPolicies(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a" || got[0].Description != "first" || got[1].Condition != deptCondition {
		t.Fatalf("DistributedPolicies = %+v", got)
	}
}

// TestPolicyTypesAndCost: a new condition is type-checked against the
// realm's attribute types (400 naming condition, with the position) and
// refused when it always costs more than the evaluation limit; a stored
// condition that no longer type-checks still evaluates as before and its
// policy can still be renamed, but not given another such condition.
func TestPolicyTypesAndCost(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newPolicyEnv(t, open)
		e.attr("prod", "region", "string", false)
		e.attr("prod", "clearance", "integer", false)
		cleared := e.group("prod", "Cleared", map[string]any{"clearance": 3, "region": "eu"})
		if _, err := e.svc.AddUserToGroup(e.admin, "prod", e.user.ID, cleared.ID); err != nil {
			t.Fatal(err)
		}
		before := e.rows()
		literal := "[" + strings.TrimSuffix(strings.Repeat("1,", 25), ",") + "]"
		for _, c := range []struct{ cond, want string }{
			{`subject.attributes.region > 5`, "line 1, column 27: found no matching overload for '_>_' applied to '(string, int)'"},
			{`subject.attributes.clearance == "high"`, "line 1, column 30: found no matching overload for '_==_' applied to '(int, string)'"},
			{literal + ".map(x, " + literal + ".map(y, " + literal + ".map(z, x + y + z))).size() > 0",
				"the condition costs at least "},
		} {
			_, err := e.svc.CreatePolicy(e.admin, "prod", realm.PolicyInput{Name: "p", ResourceType: "asset",
				Actions: []string{"read"}, Condition: c.cond})
			wantInvalid(t, err, "condition")
			if msg := fieldMessage(t, err, "condition"); !strings.HasPrefix(msg, c.want) {
				t.Errorf("%q: condition message %q, want prefix %q", c.cond, msg, c.want)
			}
		}
		e.sameRows(before)

		ok := e.policy(e.admin, realm.PolicyInput{Name: "cleared", ResourceType: "asset", Actions: []string{"read"},
			Condition: `has(subject.attributes.clearance) && subject.attributes.clearance >= 3 && subject.attributes.region == "eu"`})
		_, err := e.svc.UpdatePolicy(e.admin, "prod", ok.ID, realm.PolicyPatch{Condition: ptr(`subject.attributes.region > 5`)})
		if msg := fieldMessage(t, err, "condition"); !strings.HasPrefix(msg, "line 1, column 27: ") {
			t.Errorf("PATCH condition message %q", msg)
		}
		res, err := e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "read"})
		if err != nil || !res.Allowed || !slices.Equal(res.Policies, []string{"cleared"}) {
			t.Fatalf("typed policy through policies:test = %+v, %v", res, err)
		}

		// A policy stored before type checking, straight in the store.
		r, err := e.store.GetRealmByName(context.Background(), "prod")
		if err != nil {
			t.Fatal(err)
		}
		old := &realm.Policy{ID: realm.NewID(e.now, nil), RealmID: r.ID, Name: "old", ResourceType: "asset",
			Actions: []string{"write"}, Condition: `subject.attributes.clearance == "3" || subject.attributes.region == "eu"`,
			CreatedAt: e.now, UpdatedAt: e.now}
		if err := e.store.CreatePolicy(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		res, err = e.svc.TestPolicies(e.viewer, "prod", realm.PolicyTestInput{UserID: e.user.ID, ResourceType: "asset", Action: "write"})
		if err != nil || !res.Allowed || !slices.Equal(res.Policies, []string{"old"}) {
			t.Fatalf("old policy evaluation = %+v, %v", res, err)
		}
		if _, err := e.svc.UpdatePolicy(e.admin, "prod", old.ID, realm.PolicyPatch{Name: ptr("older")}); err != nil {
			t.Errorf("renaming a stored policy: %v", err)
		}
		_, err = e.svc.UpdatePolicy(e.admin, "prod", old.ID, realm.PolicyPatch{Condition: ptr(`subject.attributes.clearance == "4"`)})
		wantInvalid(t, err, "condition")
		if got, err := e.svc.DistributedPolicies(context.Background(), r.ID); err != nil || len(got) != 2 {
			t.Errorf("distributed = %+v, %v; want both policies", got, err)
		}
	})
}
