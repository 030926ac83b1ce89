package realm

import (
	"errors"
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzTextProblem: the check every string from outside passes through
// (JSON bodies, queries, forms, paths; oauth answers its refusal with 400
// invalid_request) accepts exactly valid UTF-8 without NUL, other C0
// controls or DEL (tab, line feed and carriage return only when
// multiline), and CheckValues and CheckPath agree with it, naming the bad
// parameter in a way that is itself acceptable text.
func FuzzTextProblem(f *testing.F) {
	for _, s := range []string{"", "alice", "zürich ☃", "a\tb", "a\nb\r\n", "\x00", "a\x01", "\x7f", "\xff", "\xed\xa0\x80",
		"\xc0\xaf", "\u2028", "\ufffd", "\U0010ffff", "\xf4\x90\x80\x80"} {
		f.Add(s, "name")
	}
	f.Add("ok", "bad\x00name")
	f.Add("ok", "\xffname")
	// Found by this fuzz test: FieldName passed DEL on (json.Marshal does
	// not escape it).
	f.Add("", "\x7f")
	f.Fuzz(func(t *testing.T, s, name string) {
		want := func(multiline bool) bool {
			if !utf8.ValidString(s) {
				return false
			}
			for _, r := range s {
				if (r < 0x20 || r == 0x7f) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
					return false
				}
			}
			return true
		}
		for _, ml := range []bool{false, true} {
			if got := TextProblem(s, ml) == ""; got != want(ml) {
				t.Fatalf("TextProblem(%q, multiline %v) accepts: %v, want %v", s, ml, got, want(ml))
			}
		}
		if p := FieldName(name); TextProblem(p, false) != "" {
			t.Fatalf("FieldName(%q) = %q, not acceptable text itself", name, p)
		}
		nameOK := TextProblem(name, false) == ""
		err := CheckValues(url.Values{name: {"fine", s}})
		var v *ValidationError
		switch {
		case nameOK && want(false):
			if err != nil {
				t.Fatalf("CheckValues(%q=%q): %v", name, s, err)
			}
		case !errors.As(err, &v) || len(v.Fields) != 1 || TextProblem(v.Fields[0].Field, false) != "":
			t.Fatalf("CheckValues(%q=%q): %v, want one error naming the parameter", name, s, err)
		case nameOK && v.Fields[0].Field != name:
			t.Fatalf("CheckValues(%q=%q) names %q", name, s, v.Fields[0].Field)
		}
		if nameOK {
			if err := CheckValues(url.Values{name: {s}}, name); (err == nil) != want(true) {
				t.Fatalf("CheckValues(%q=%q) multiline: %v", name, s, err)
			}
		}
		if err := CheckPath([]string{"realm", name}, []string{"acme", s}); (err == nil) != want(false) {
			t.Fatalf("CheckPath(%q=%q): %v", name, s, err)
		}
	})
}
