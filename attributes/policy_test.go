package attributes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testDefs = []Definition{{Name: "admin", Type: Boolean}, {Name: "departments", Type: String, Multi: true}}

func mustCompile(t *testing.T, p Policy) *CompiledPolicy {
	t.Helper()
	cp, err := CompilePolicy(p, testDefs)
	if err != nil {
		t.Fatalf("compile %q: %v", p.Condition, err)
	}
	return cp
}

// TestEvaluate: the contract's example policy; deny by default; only
// policies for the resource type and action apply; the decision names the
// policies that allowed.
func TestEvaluate(t *testing.T) {
	dept := mustCompile(t, Policy{Name: "department", ResourceType: "asset", Actions: []string{"read", "write"},
		Condition: `subject.attributes.admin || resource.department in subject.attributes.departments`})
	all := mustCompile(t, Policy{Name: "admins-everything", ResourceType: "asset", Actions: []string{"*"},
		Condition: `has(subject.attributes.admin) && subject.attributes.admin == true`})
	other := mustCompile(t, Policy{Name: "other-type", ResourceType: "ledger", Actions: []string{"read"}, Condition: `true`})
	policies := []*CompiledPolicy{dept, all, other}
	news := map[string]any{"attributes": map[string]any{"admin": false, "departments": []any{"news"}}}
	admin := map[string]any{"attributes": map[string]any{"admin": true, "departments": []any{}}}
	for _, c := range []struct {
		name     string
		subject  map[string]any
		resource map[string]any
		action   string
		allowed  []string
	}{
		{"own department", news, map[string]any{"department": "news"}, "read", []string{"department"}},
		{"other department", news, map[string]any{"department": "finance"}, "read", nil},
		{"action not covered", news, map[string]any{"department": "news"}, "delete", nil},
		{"admin", admin, map[string]any{"department": "finance"}, "read", []string{"admins-everything", "department"}},
		{"admin, any action", admin, map[string]any{"department": "finance"}, "delete", []string{"admins-everything"}},
		{"no subject", nil, map[string]any{"department": "news"}, "read", nil},
	} {
		d := Evaluate(policies, Request{Subject: c.subject, ResourceType: "asset", Action: c.action, Resource: c.resource})
		if d.Allowed != (len(c.allowed) > 0) || strings.Join(d.Policies, ",") != strings.Join(c.allowed, ",") {
			t.Errorf("%s: %+v, want allowed by %v", c.name, d, c.allowed)
		}
	}
	if d := Evaluate(nil, Request{ResourceType: "asset", Action: "read"}); d.Allowed {
		t.Error("no policies allowed something")
	}
}

// TestCompilePolicyErrors: bad conditions are refused with a position.
func TestCompilePolicyErrors(t *testing.T) {
	for _, c := range []struct {
		cond       string
		line, col  int
		msgContain string
	}{
		{"subject.attributes.admin ||", 1, 28, ""},
		{"subject.attributes.admn", 1, 19, `no attribute "admn"`},
		{"true &&\n  subject.attributes.nope == 1", 2, 21, `no attribute "nope"`},
		{`"a string"`, 1, 1, "must be a boolean"},
		{"unknown_var == 1", 1, 1, "undeclared reference"},
		{`subject.attributes["nope"] == true`, 1, 19, `no attribute "nope"`},
		{`subject["attributes"].nope == true`, 1, 22, `no attribute "nope"`},
	} {
		_, err := CompilePolicy(Policy{Name: "p", ResourceType: "asset", Actions: []string{"read"}, Condition: c.cond}, testDefs)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v, want a CompileError", c.cond, err)
			continue
		}
		if ce.Line != c.line || ce.Column != c.col || !strings.Contains(ce.Message, c.msgContain) {
			t.Errorf("%q: %+v, want line %d column %d containing %q", c.cond, ce, c.line, c.col, c.msgContain)
		}
	}
	// Without definitions any attribute name compiles (the Guard's case).
	if _, err := CompilePolicy(Policy{Condition: "subject.attributes.anything == 1"}, nil); err != nil {
		t.Errorf("without definitions: %v", err)
	}
}

// TestCheckPolicy: writing a policy type-checks subject.attributes.NAME
// against the definitions' types (with the position of the mistake) and
// refuses a condition that always costs more than the limit; what passes
// still evaluates as CompilePolicy has it, with the token's JSON numbers.
func TestCheckPolicy(t *testing.T) {
	defs := []Definition{{Name: "region", Type: String}, {Name: "clearance", Type: Integer},
		{Name: "score", Type: Number}, {Name: "since", Type: Date}, {Name: "admin", Type: Boolean},
		{Name: "departments", Type: String, Multi: true}}
	literal := "[" + strings.TrimSuffix(strings.Repeat("1,", 25), ",") + "]"
	for _, c := range []struct {
		cond       string
		line, col  int
		msgContain string
	}{
		{`subject.attributes.region > 5`, 1, 27, "'_>_' applied to '(string, int)'"},
		{`subject.attributes.clearance == "high"`, 1, 30, "'_==_' applied to '(int, string)'"},
		{"resource.public ||\n  subject.attributes.admin == \"yes\"", 2, 28, "(bool, string)"},
		{`subject.attributes.departments == "news"`, 1, 32, "(list(string), string)"},
		{`subject.attributes.region`, 1, 1, "must be a boolean, not string"},
		{`subject.attributes.regoin == "eu"`, 1, 19, `no attribute "regoin"`},
		{literal + ".map(x, " + literal + ".map(y, " + literal + ".map(z, x + y + z))).size() > 0", 0, 0,
			"over the limit of 10000: every evaluation would fail"},
	} {
		p := Policy{Name: "p", ResourceType: "asset", Actions: []string{"read"}, Condition: c.cond}
		err := CheckPolicy(p, defs)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v, want a CompileError", c.cond, err)
			continue
		}
		if ce.Line != c.line || ce.Column != c.col || !strings.Contains(ce.Message, c.msgContain) {
			t.Errorf("%q: %+v, want line %d column %d containing %q", c.cond, ce, c.line, c.col, c.msgContain)
		}
		if c.line > 0 && !strings.HasPrefix(ce.Error(), fmt.Sprintf("line %d, column %d: ", c.line, c.col)) {
			t.Errorf("%q: message %q does not start with the position", c.cond, ce.Error())
		}
	}
	// The Guard compiles what an older Ward stored: the same conditions
	// (but the undefined name, checked only with definitions) still load.
	if _, err := CompilePolicy(Policy{Condition: `subject.attributes.region > 5`}, nil); err != nil {
		t.Errorf("the evaluation path refused an old condition: %v", err)
	}
	if _, err := CompilePolicy(Policy{Condition: `subject.attributes.region > 5`}, defs); err != nil {
		t.Errorf("the evaluation path with definitions refused an old condition: %v", err)
	}

	ok := []string{
		`subject.attributes.clearance >= 3 && subject.attributes.clearance == 3`,
		`subject.attributes.clearance > 2.5 && subject.attributes.score > 1 && subject.attributes.score == 1.5 + 0.5`,
		`has(subject.attributes.region) && subject.attributes.region == "eu"`,
		`subject.attributes["region"] == "eu" || "news" in subject.attributes.departments`,
		`subject.attributes.since <= "2026-01-01" && subject.attributes.admin`,
		`subject.sub == resource.owner || resource.items.all(x, resource.items.all(y, x != y))`,
		literal + ".all(x, x > 0)",
	}
	subject := map[string]any{"sub": "u1", "attributes": map[string]any{"region": "eu", "clearance": float64(3),
		"score": float64(2), "since": "2025-06-01", "admin": true, "departments": []any{"news"}}}
	for _, cond := range ok {
		p := Policy{Name: "p", ResourceType: "asset", Actions: []string{"read"}, Condition: cond}
		if err := CheckPolicy(p, defs); err != nil {
			t.Errorf("%q: %v", cond, err)
			continue
		}
		cp, err := CompilePolicy(p, defs)
		if err != nil {
			t.Fatal(err)
		}
		d := Evaluate([]*CompiledPolicy{cp}, Request{Subject: subject, ResourceType: "asset", Action: "read",
			Resource: map[string]any{"owner": "u2", "items": []any{}}})
		if !d.Allowed {
			t.Errorf("%q with the token's JSON values: %+v, want allowed", cond, d)
		}
	}
	// An absent attribute still fails closed at run time.
	absent := mustCompile(t, Policy{Name: "p", ResourceType: "asset", Actions: []string{"read"}, Condition: `subject.attributes.admin == true`})
	if d := Evaluate([]*CompiledPolicy{absent}, Request{Subject: map[string]any{"attributes": map[string]any{}},
		ResourceType: "asset", Action: "read"}); d.Allowed || len(d.Errors) != 1 {
		t.Errorf("absent attribute: %+v, want an error and no permission", d)
	}
}

// TestPolicyCostLimit: a condition that loops too much fails and allows
// nothing.
func TestPolicyCostLimit(t *testing.T) {
	p := mustCompile(t, Policy{Name: "heavy", ResourceType: "asset", Actions: []string{"read"},
		Condition: `resource.items.all(x, resource.items.all(y, resource.items.all(z, x + y + z >= 0)))`})
	items := make([]any, 200)
	for i := range items {
		items[i] = i
	}
	d := Evaluate([]*CompiledPolicy{p}, Request{ResourceType: "asset", Action: "read", Resource: map[string]any{"items": items}})
	if d.Allowed || len(d.Errors) != 1 || !strings.Contains(d.Errors[0].Err.Error(), "cost") {
		t.Fatalf("heavy policy: %+v, want a cost-limit error and no permission", d)
	}
}

func FuzzCompilePolicy(f *testing.F) {
	for _, s := range []string{"true", "subject.attributes.admin", "resource.department in subject.attributes.departments",
		"[1,2,3].all(x, x > 0)", `request.ip.startsWith("10.")`, "((", "subject['a'][0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		pol := Policy{Name: "f", ResourceType: "asset", Actions: []string{"read"}, Condition: cond}
		var ce *CompileError
		if err := CheckPolicy(pol, testDefs); err != nil && !errors.As(err, &ce) {
			t.Fatalf("%q: CheckPolicy error %v is not a CompileError", cond, err)
		}
		p, err := CompilePolicy(pol, testDefs)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("%q: error %v is not a CompileError", cond, err)
			}
			return
		}
		// Whatever compiles evaluates without panicking and within the limit.
		Evaluate([]*CompiledPolicy{p}, Request{ResourceType: "asset", Action: "read",
			Subject: map[string]any{"attributes": map[string]any{"admin": true}}, Resource: map[string]any{}})
	})
}

// TestPolicyCostCountsConcatenation: joining large strings is charged by
// the size built, so a condition that concatenates a megabyte string in
// nested loops stops at the cost limit (and allows nothing) instead of
// allocating gigabytes.
func TestPolicyCostCountsConcatenation(t *testing.T) {
	p := mustCompile(t, Policy{Name: "concat", ResourceType: "asset", Actions: []string{"read"},
		Condition: `[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, resource.s + resource.s + resource.s + resource.s)).size() > 0`})
	big := strings.Repeat("x", 1<<20)
	d := Evaluate([]*CompiledPolicy{p}, Request{ResourceType: "asset", Action: "read", Resource: map[string]any{"s": big}})
	if d.Allowed || len(d.Errors) != 1 || !strings.Contains(d.Errors[0].Err.Error(), "cost") {
		t.Fatalf("concatenating a 1 MiB string 400 times: %+v, want a cost-limit error and no permission", d)
	}
	// Small strings stay cheap.
	ok := mustCompile(t, Policy{Name: "small", ResourceType: "asset", Actions: []string{"read"}, Condition: `resource.a + resource.b == "xy"`})
	if d := Evaluate([]*CompiledPolicy{ok}, Request{ResourceType: "asset", Action: "read", Resource: map[string]any{"a": "x", "b": "y"}}); !d.Allowed {
		t.Errorf("a small concatenation: %+v", d)
	}
}

// TestPolicyCache: the cache gives the same outcome as CompilePolicy,
// compiles a condition once per set of definitions, keeps each call's
// policy metadata, and starts over when full.
func TestPolicyCache(t *testing.T) {
	c := NewPolicyCache(2)
	p := Policy{Name: "a", ResourceType: "asset", Actions: []string{"read"}, Condition: "subject.attributes.admin"}
	first, err := c.Compile(p, testDefs)
	if err != nil {
		t.Fatal(err)
	}
	q := p
	q.Name = "b"
	second, err := c.Compile(q, []Definition{testDefs[1], testDefs[0]}) // same definitions, other order
	if err != nil {
		t.Fatal(err)
	}
	if second.program != first.program || second.Name != "b" || len(c.entries) != 1 {
		t.Errorf("the same condition and definitions compiled twice (%d entries) or lost its name %q", len(c.entries), second.Name)
	}
	if _, err := c.Compile(p, []Definition{testDefs[1]}); err == nil {
		t.Error("without the admin definition the condition still compiled from the cache")
	}
	var ce *CompileError
	if _, err := c.Compile(p, []Definition{testDefs[1]}); !errors.As(err, &ce) {
		t.Errorf("cached failure = %v, want the CompileError again", err)
	}
	if _, err := c.Compile(Policy{Condition: "true"}, nil); err != nil || len(c.entries) != 1 {
		t.Errorf("a full cache did not start over: %d entries, %v", len(c.entries), err)
	}
}
