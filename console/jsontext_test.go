package console

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// TestCheckJSONText: the walker names the path of each bad string or
// repeated key, and passes what encoding/json reads faithfully.
func TestCheckJSONText(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":"ok","list":["a","b"],"nested":{"k":[{"x":"y"}]}}`: "",
		`{"a":"\\ud800"}`:                 "", // an escaped backslash, then text
		`{"a":"\ud83d\ude00"}`:            "", // a surrogate pair
		`{"a":"\ufffd"}`:                  "", // U+FFFD itself, escaped
		"{\"a\":\"\xef\xbf\xbd\"}":        "", // and raw
		`{"description":"a\r\n\tb"}`:      "",
		`{"condition":"a\nb"}`:            "",
		`{"x":{"description":"a\nb"}}`:    "x.description", // only top-level fields span lines
		`{"a":"\ud800"}`:                  "a",
		`{"a":"x\udc00"}`:                 "a",
		`{"a":"\ud800\u0041"}`:            "a",
		`{"a":"\ud800\\u"}`:               "a",
		`{"a":["ok",{"b":["\u0000"]}]}`:   "a[1].b[0]",
		`{"a":1,"b":true,"c":null,"a":2}`: "a",
		`{"o":{"k":1},"p":{"k":1}}`:       "", // the same key in two objects
		`{"a\u0001":1}`:                   `"a\u0001"`,
		`{"m":{"a\u0000":"\u0000"}}`:      `m."a\u0000"`,
		"{\"a\":\"\xff\"}":                "a",
		`"top-level \u0000"`:              "",  // not an object: decoding says so
		`{"a":"\u0000"`:                   "a", // cut short: decoding says where
		`{"a":`:                           "",
	} {
		err := checkJSONText([]byte(body))
		var v *realm.ValidationError
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && !errors.As(err, &v):
			t.Errorf("%s: %v, want %s named", body, err, want)
		case want != "" && v.Fields[0].Field != want:
			t.Errorf("%s: named %q, want %q (%v)", body, v.Fields[0].Field, want, err)
		}
	}
	// One error per bad entry, bounded by realm.MaxFieldErrors.
	body := `{"a":[` + strings.Repeat(`"\u0000",`, 99) + `"\u0000"]}`
	var v *realm.ValidationError
	if !errors.As(checkJSONText([]byte(body)), &v) || len(v.Listed()) != 21 || v.Listed()[20].Message != "and 80 more errors" {
		t.Errorf("100 bad entries: %v", v)
	}
	// Nesting is bounded: 32 levels are fine, the 33rd is named and ends
	// the walk, so a 1 MiB body of "[" costs no more than a short one.
	nested := func(arrays int) string {
		return `{"a":` + strings.Repeat("[", arrays) + strings.Repeat("]", arrays) + `}`
	}
	if err := checkJSONText([]byte(nested(maxJSONDepth - 1))); err != nil {
		t.Errorf("%d levels: %v", maxJSONDepth, err)
	}
	deep := "a" + strings.Repeat("[0]", maxJSONDepth-1)
	for _, body := range []string{nested(maxJSONDepth), `{"a":` + strings.Repeat("[", 1<<20)} {
		v = nil
		if !errors.As(checkJSONText([]byte(body)), &v) || len(v.Fields) != 1 || v.Fields[0].Field != deep ||
			!strings.Contains(v.Fields[0].Message, "nested too deeply") {
			t.Errorf("%d bytes nested: %v, want one error naming %s", len(body), v, deep)
		}
	}
}
