package realm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/attributes"
)

// fuzzDefs are attribute definitions of every type, single and multi.
var fuzzDefs = []attributes.Definition{
	{Name: "admin", Type: attributes.Boolean}, {Name: "departments", Type: attributes.String, Multi: true},
	{Name: "region", Type: attributes.String}, {Name: "level", Type: attributes.Integer},
	{Name: "score", Type: attributes.Number}, {Name: "hired", Type: attributes.Date},
	{Name: "levels", Type: attributes.Integer, Multi: true},
}

// FuzzPolicyCondition: the admin API's check of a policy condition (the
// CEL compile, strict for a new condition and lenient for one kept) never
// panics and answers at most one field error, on "condition", with a
// message; what passes the strict check passes the lenient one; and a
// condition that passes compiles and evaluates without panicking, on a
// subject with every attribute and on an empty one, to a decision that
// allows only through this policy and names it when it fails.
func FuzzPolicyCondition(f *testing.F) {
	for _, s := range []string{
		"true", "subject.attributes.admin", "resource.department in subject.attributes.departments",
		`subject.attributes.region == "eu" && subject.attributes.level >= 3`, "subject.attributes.score > 2.5",
		`subject.attributes.hired < timestamp("2020-01-01T00:00:00Z")`, "subject.attributes.levels.exists(l, l > 2)",
		`request.ip.startsWith("10.")`, `action == "read" || resource.owner == subject.sub`, "[1,2,3].all(x, x > 0)",
		"subject.attributes.level == \"3\"", "subject.attributes.nope", "1", "((", "", " \n\t", "subject['a'][0]",
		"[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, resource.s + resource.s)).size() > 0",
		"size(resource.s) > 1 ? true : false", "resource.x / 0 == 1", "int(resource.y) == 1", "dyn(1) == dyn(1.0)",
		"a\nb", "true\x00", "\"\xff\"", strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300),
	} {
		f.Add(s)
	}
	subjects := []map[string]any{
		{"sub": "u1", "attributes": map[string]any{"admin": true, "departments": []any{"news", "sport"}, "region": "eu",
			"level": int64(4), "score": 3.5, "hired": "2019-05-01T00:00:00Z", "levels": []any{int64(1), int64(3)}}},
		{},
	}
	resource := map[string]any{"department": "news", "owner": "u1", "s": "abc", "x": int64(1), "y": "1"}
	f.Fuzz(func(t *testing.T, cond string) {
		pol := attributes.Policy{Name: "f", ResourceType: "asset", Actions: []string{"read"}, Condition: cond}
		check := func(strict bool) bool {
			v := &ValidationError{}
			checkCondition(v, pol, fuzzDefs, strict)
			switch {
			case len(v.Fields) == 0:
				return true
			case len(v.Fields) != 1 || v.Fields[0].Field != "condition" || v.Fields[0].Message == "":
				t.Fatalf("%q (strict %v): %+v, want one error on condition", cond, strict, v.Fields)
			}
			return false
		}
		strictOK, lenientOK := check(true), check(false)
		if strictOK && !lenientOK {
			t.Fatalf("%q passes the strict check and fails the lenient one", cond)
		}
		if !lenientOK {
			return
		}
		p, err := attributes.CompilePolicy(pol, fuzzDefs)
		if err != nil {
			var ce *attributes.CompileError
			t.Fatalf("%q passed the check and does not compile: %v (CompileError %v)", cond, err, errors.As(err, &ce))
		}
		for _, s := range subjects {
			d := attributes.Evaluate([]*attributes.CompiledPolicy{p},
				attributes.Request{Subject: s, ResourceType: "asset", Action: "read", Resource: resource})
			switch {
			case d.Allowed && (!slices.Equal(d.Policies, []string{"f"}) || len(d.Errors) != 0):
				t.Fatalf("%q: allowed with %+v", cond, d)
			case !d.Allowed && (len(d.Policies) != 0 || len(d.Errors) > 1 || (len(d.Errors) == 1 && d.Errors[0].Policy != "f")):
				t.Fatalf("%q: refused with %+v", cond, d)
			}
			// Another resource type or action: the policy does not apply.
			if d := attributes.Evaluate([]*attributes.CompiledPolicy{p},
				attributes.Request{Subject: s, ResourceType: "asset", Action: "write", Resource: resource}); d.Allowed || len(d.Errors) != 0 {
				t.Fatalf("%q: a policy for read decided a write: %+v", cond, d)
			}
		}
	})
}
