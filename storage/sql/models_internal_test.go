package sql

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeStringList: the string-list fast path decodes exactly what
// encoding/json decodes, and leaves every other shape to it.
func TestDecodeStringList(t *testing.T) {
	for _, s := range []string{
		`["assets"]`, `["a","b","c"]`, `[""]`, `["",""]`, `["https://app.example/cb?x=1&y=<2>"]`,
		`["a\"b"]`, `["a\\b"]`, `["\u00e9"]`, `["é"]`, "[\"\xff\"]", `[ "a" ]`, `["a",]`, `["a""b"]`,
		`["a",1]`, `[null]`, `["a"`, `"a"]`, `["a\nb"]`, `["a,b","c"]`, `["a","b"`, `[]`,
	} {
		var got, want []string
		gotErr := decodeJSON(s, &got)
		wantErr := json.Unmarshal([]byte(s), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: error %v, encoding/json %v", s, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, encoding/json %#v", s, got, want)
		}
	}
	if _, ok := plainStringList(`["a\\b"]`); ok {
		t.Error("an escaped string took the fast path")
	}
	if l, ok := plainStringList(`["a","b"]`); !ok || len(l) != 2 {
		t.Errorf("a plain list did not take the fast path: %v %v", l, ok)
	}
}
