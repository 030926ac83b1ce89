package realm_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// Text from outside (issue 13): UTF-8 without control characters; tab and
// line breaks only in multi-line text.
func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		s         string
		multiline bool
		ok        bool
	}{
		{"Acme Vault", false, true},
		{"Zoë 東京 🙂", false, true},
		{"", false, true},
		{"a\x00b", false, false},
		{"a\x00b", true, false},
		{"a\x01b", false, false},
		{"a\x1fb", false, false},
		{"a\x7fb", false, false},
		{"a\nb", false, false},
		{"a\tb", false, false},
		{"a\r\nb", false, false},
		{"line one\nline two\r\n\tindented", true, true},
		{"a\x0bb", true, false}, // vertical tab is not a line break here
		{"a\xffb", false, false},
		{"a\xc3", true, false},             // truncated sequence
		{"\xed\xa0\x80", false, false},     // an encoded surrogate
		{"\u0085 and \u00a0", false, true}, // C1 and NBSP: valid, printable enough
	} {
		got := realm.TextProblem(tc.s, tc.multiline)
		if (got == "") != tc.ok {
			t.Errorf("TextProblem(%q, %v) = %q, want ok=%v", tc.s, tc.multiline, got, tc.ok)
		}
	}
}

func TestCheckValuesNamesEachBadParameter(t *testing.T) {
	if err := realm.CheckValues(url.Values{"q": {"acme"}, "limit": {"5"}, "description": {"a\nb"}}, "description"); err != nil {
		t.Fatalf("good values: %v", err)
	}
	if err := realm.CheckValues(nil); err != nil {
		t.Fatalf("no values: %v", err)
	}
	err := realm.CheckValues(url.Values{
		"q":           {"ok", "a\x00b"},
		"type":        {"\xff"},
		"fine":        {"x"},
		"description": {"a\nb"}, // not multi-line unless named
		"bad\x00name": {"x"},
	})
	var v *realm.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	var fields []string
	for _, f := range v.Fields {
		fields = append(fields, f.Field)
	}
	if got, want := strings.Join(fields, ","), `"bad\u0000name",description,q,type`; got != want {
		t.Errorf("fields = %s, want %s (sorted, bad name quoted)", got, want)
	}
	if err := realm.CheckPath([]string{"realm", "id"}, []string{"vault", "a\x00"}); err == nil || !strings.Contains(err.Error(), "id:") {
		t.Errorf("CheckPath = %v, want id named", err)
	}
	// Every OAuth request passes these checks: good input costs no
	// allocation.
	names, values := []string{"realm"}, []string{"vault"}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid profile"}}
	if n := testing.AllocsPerRun(100, func() {
		if realm.CheckPath(names, values) != nil || realm.CheckValues(form) != nil {
			t.Fatal("good input refused")
		}
	}); n != 0 {
		t.Errorf("checking good parameters allocates %v times", n)
	}
}

// Error amplification (issue 13 item 4): however many fields are bad, an
// answer lists the first MaxFieldErrors and one entry counting the rest.
func TestValidationErrorListsAtMostTwentyAndCountsTheRest(t *testing.T) {
	var v realm.ValidationError
	for range 120000 {
		v.Add("audience[1]", "is a duplicate")
	}
	if len(v.Fields) != realm.MaxFieldErrors {
		t.Fatalf("kept %d fields, want %d", len(v.Fields), realm.MaxFieldErrors)
	}
	listed := v.Listed()
	if len(listed) != 21 {
		t.Fatalf("listed %d, want 21", len(listed))
	}
	if last := listed[20]; last.Field != "" || last.Message != "and 119980 more errors" {
		t.Errorf("last entry = %+v", last)
	}
	if len(v.Error()) > 2000 {
		t.Errorf("Error() is %d bytes", len(v.Error()))
	}

	// Built by hand, past the bound: the same answer.
	built := realm.ValidationError{Fields: make([]realm.FieldError, 22)}
	if l := built.Listed(); len(l) != 21 || l[20].Message != "and 2 more errors" {
		t.Errorf("hand-built: %+v", l[20:])
	}
	one := realm.ValidationError{Fields: make([]realm.FieldError, 21)}
	if l := one.Listed(); l[20].Message != "and 1 more error" {
		t.Errorf("one more: %+v", l[20])
	}
	few := realm.ValidationError{}
	few.Add("name", "is required")
	if l := few.Listed(); len(l) != 1 {
		t.Errorf("one error listed as %+v", l)
	}
}

// A list's ?q= is text of at most 200 characters, on every list and both
// backends (SQLite refused a 50,000-character LIKE pattern and the
// refusal was taken for an outage).
func TestListQueryBounds(t *testing.T) { eachBackend(t, testListQueryBounds) }

func testListQueryBounds(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	lists := map[string]func(q string) error{
		"realms": func(q string) error { _, err := e.svc.ListRealms(e.viewer, realm.ListOptions{Query: q}); return err },
		"users": func(q string) error {
			_, err := e.svc.ListUsers(e.viewer, "shop", realm.ListOptions{Query: q})
			return err
		},
		"groups": func(q string) error {
			_, err := e.svc.ListGroups(e.viewer, "shop", realm.ListOptions{Query: q})
			return err
		},
		"clients": func(q string) error {
			_, err := e.svc.ListClients(e.viewer, "shop", realm.ListOptions{Query: q})
			return err
		},
		"policies": func(q string) error {
			_, err := e.svc.ListPolicies(e.viewer, "shop", realm.ListOptions{Query: q})
			return err
		},
		"members": func(q string) error { _, err := e.svc.ListMembers(e.viewer, realm.ListOptions{Query: q}); return err },
	}
	for name, list := range lists {
		if err := list(strings.Repeat("é", realm.MaxQueryLen)); err != nil {
			t.Errorf("%s: %d characters: %v", name, realm.MaxQueryLen, err)
		}
		for _, q := range []string{strings.Repeat("a", realm.MaxQueryLen+1), strings.Repeat("a", 50000), "a\x00b", "\xff"} {
			wantInvalid(t, list(q), "q")
		}
	}
}
