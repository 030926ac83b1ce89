package console

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// fuzzRequest is a request body type with every shape the admin API's
// bodies have: plain strings, a multiline one (condition), lists, a free
// map of attribute values (numbers stay json.Number), a pointer and
// integers. It has no Optional fields, so that what it decodes to can be
// encoded back and decoded again (the round trip below).
type fuzzRequest struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Condition   string         `json:"condition"`
	Actions     []string       `json:"actions"`
	Attributes  map[string]any `json:"attributes"`
	Scopes      *[]string      `json:"default_scopes"`
	Priority    int            `json:"idp_primary_priority"`
	Public      bool           `json:"public"`
}

// decodeBody runs decodeJSON on body as an admin API request with a JSON
// content type, and the problem the API would answer for its error.
func decodeBody(body []byte, dst any) (Problem, error) {
	req := httptest.NewRequest(http.MethodPost, "/admin/realms/acme/policies", bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, "application/json")
	c := echo.New().NewContext(req, httptest.NewRecorder())
	err := decodeJSON(c, dst)
	if err == nil {
		return Problem{}, nil
	}
	a := &API{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return a.problemFor(err, c), err
}

// FuzzDecodeJSON: whatever the body, the admin API's decoder answers a 400
// (malformed request or field validation, CONTRACT §2) or accepts it, never
// a 5xx-class internal error; what it accepts is valid UTF-8 with no NUL or
// control characters in any string or key (tab and line breaks only in
// description and condition), no U+FFFD that the body did not carry, no
// top-level key twice; and what it decoded, encoded again, decodes to the
// same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"read-own","description":"line one\nline two","condition":"subject.attributes.admin\n|| true","actions":["read","write"]}`,
		`{"name":"g","attributes":{"region":"eu","level":12345678901234567890,"tags":["a","b"],"nested":{"k":[1.5,true,null]}}}`,
		`{"name":"c","default_scopes":["profile","email"],"idp_primary_priority":3,"public":true}`,
		`{"name":"c","default_scopes":null}`,
		`{}`, `null`, ``, ` `, `[]`, `"x"`, `1`, `{}{}`, `{} x`, `{"name":`, `{"name":"a"`,
		`{"name":"a","name":"b"}`, `{"nope":1}`, `{"name":1}`, `{"priority":"x"}`, `{"idp_primary_priority":1e400}`,
		`{"name":"\u0000"}`, `{"name":"a\tb"}`, `{"description":"a\tb"}`, `{"name":"\ud800"}`, `{"name":"\ud83d\ude00"}`,
		`{"name":"\ufffd"}`, "{\"name\":\"\xff\"}", "{\"name\":\"\xef\xbf\xbd\"}", `{"attributes":{"a\u0001":1}}`,
		`{"attributes":{"k":"\u007f"}}`, `{"actions":["\u2028"]}`, `{"attributes":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`,
		`{"attributes":{"a":1,"a":2}}`, `{"name":"x"}` + "\x00", "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst fuzzRequest
		p, err := decodeBody(body, &dst)
		if err != nil {
			// Every refusal of a body is the client's: 400, malformed or
			// validation, and nothing the server logs as its own failure.
			if p.Status != http.StatusBadRequest || (p.Type != typeMalformed && p.Type != typeValidation) {
				t.Fatalf("body %q: %v answers %d %s, want 400 malformed-request or validation", body, err, p.Status, p.Type)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8: %q", body)
		}
		checkDecodedText(t, body, reflect.ValueOf(dst), "")
		checkTopLevelKeysOnce(t, body)

		// Round trip: encoded again, the value decodes to itself.
		again, merr := json.Marshal(dst)
		if merr != nil {
			t.Fatalf("body %q decoded to a value json cannot encode: %v", body, merr)
		}
		var dst2 fuzzRequest
		if p, err := decodeBody(again, &dst2); err != nil {
			t.Fatalf("body %q decoded and encoded as %s is refused: %v (%d)", body, again, err, p.Status)
		}
		if !reflect.DeepEqual(dst, dst2) {
			t.Fatalf("round trip of %q changed the value:\n%#v\n%#v", body, dst, dst2)
		}
	})
}

// checkDecodedText walks a decoded value: every string and map key must be
// acceptable text (realm.TextProblem; multiline only for the top-level
// description and condition), and a U+FFFD must have been in the body,
// raw or escaped, not made by decoding from bad bytes or a lone surrogate.
func checkDecodedText(t *testing.T, body []byte, v reflect.Value, path string) {
	t.Helper()
	text := func(s, where string, multiline bool) {
		if p := realm.TextProblem(s, multiline); p != "" {
			t.Fatalf("body %q: accepted %s %q, which %s", body, where, s, p)
		}
		if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(body, []byte("\xef\xbf\xbd")) &&
			!bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			t.Fatalf("body %q: %s %q has a U+FFFD the body did not send", body, where, s)
		}
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			checkDecodedText(t, body, v.Elem(), path)
		}
	case reflect.String:
		text(v.String(), "the value of "+path, path == "description" || path == "condition")
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			checkDecodedText(t, body, v.Index(i), path+"[]")
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			text(k.String(), "the key in "+path, false)
			checkDecodedText(t, body, v.MapIndex(k), path+"."+k.String())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			checkDecodedText(t, body, v.Field(i), name)
		}
	}
}

// checkTopLevelKeysOnce fails when an accepted body's object names a key
// twice: encoding/json would silently keep the last one.
func checkTopLevelKeysOnce(t *testing.T, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("accepted a body that is not a JSON object: %q", body)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("accepted body %q: %v", body, err)
		}
		key := tok.(string)
		if seen[key] {
			t.Fatalf("accepted body %q, which names %q twice", body, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("accepted body %q: %v", body, err)
		}
	}
}
