package oauth

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzAppendJSON: for any strings, integers and booleans in the shapes a
// token's claims have (and a few it hands to json.Marshal), the claims
// encoder writes exactly json.Marshal's bytes, and they decode back to the
// strings given (invalid UTF-8 aside, which both turn into U+FFFD).
func FuzzAppendJSON(f *testing.F) {
	f.Add("sub", "svc", int64(1700000000), true)
	f.Add("attributes", "zürich ☃", int64(-5), false)
	f.Add("a<b", "<script>&amp;</script>", int64(0), true)
	f.Add("q\"uote", "back\\slash\ttab\nnl\x01\x7f", int64(1<<62), false)
	f.Add("", "\xff\xfe", int64(-1<<63), true)
	f.Add("\u2028", "\u2029\x00", int64(42), false)
	f.Fuzz(func(t *testing.T, k, s string, n int64, b bool) {
		claims := map[string]any{
			k: s, "iat": n, "flag": b, "aud": []string{s, k}, "none": []string(nil),
			"attributes": map[string]any{k: []any{s, n, b, map[string]any{s: k}}, "i": int(n)},
			"other":      []any{json.Number("1.5"), nil, float64(n)},
		}
		for _, v := range []any{claims, s, n, b, []string{k, s}, []any{s, n}} {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendJSON([]byte("x"), v)
			if err != nil {
				t.Fatalf("appendJSON(%#v): %v", v, err)
			}
			if string(got) != "x"+string(want) {
				t.Fatalf("appendJSON(%#v)\n got %s\nwant %s", v, got[1:], want)
			}
		}
		var back string
		enc, _ := appendJSON(nil, s)
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("%s does not decode: %v", enc, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q encoded as %s decodes to %q", s, enc, back)
		}
	})
}
