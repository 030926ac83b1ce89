package oauth

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestPlainFormMatchesParseForm: readPlainForm gives net/http's ParseForm
// result — PostForm, Form and whether the body is refused — for bodies
// with and without escapes, semicolons, empty pairs, repeated keys, a key
// without '=' or an empty key, and past the pair count it splits itself.
func TestPlainFormMatchesParseForm(t *testing.T) {
	bodies := []string{
		"", "&", "&&", "=", "a", "a=", "=b", "a=1&a=2", "a=1&&b=2&", "grant_type=client_credentials",
		"token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln&token_type_hint=access_token",
		"a=x%20y", "a=x+y", "a=%zz", "a=1;b=2", "a=%", "k%3D=v", "a=b=c", "é=ü",
		strings.Repeat("a=1&", plainFormMaxPairs+5),
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab=&;%+2Fx0é "
	for range 3000 {
		var b strings.Builder
		for range r.IntN(24) {
			b.WriteString(string([]rune(alphabet)[r.IntN(len([]rune(alphabet)))]))
		}
		bodies = append(bodies, b.String())
	}
	for _, body := range bodies {
		fast := formRequest(body)
		if err := readPlainForm(fast); err == errNotPlainForm {
			t.Fatalf("%q: not read as a plain form", body)
		} else {
			std := formRequest(body)
			stdErr := std.ParseForm()
			if (err == nil) != (stdErr == nil) {
				t.Errorf("%q: error %v, ParseForm's %v", body, err, stdErr)
				continue
			}
			if err == nil && (!reflect.DeepEqual(fast.PostForm, std.PostForm) || !reflect.DeepEqual(fast.Form, std.Form)) {
				t.Errorf("%q: PostForm %v Form %v, ParseForm's %v %v", body, fast.PostForm, fast.Form, std.PostForm, std.Form)
			}
		}
	}

	// What it leaves to ParseForm, having read nothing.
	for name, req := range map[string]*http.Request{
		"query string": httptest.NewRequest(http.MethodPost, "/?a=1", strings.NewReader("b=2")),
		"GET":          httptest.NewRequest(http.MethodGet, "/", nil),
		"chunked":      httptest.NewRequest(http.MethodPost, "/", strings.NewReader("b=2")),
		"charset":      httptest.NewRequest(http.MethodPost, "/", strings.NewReader("b=2")),
		"too long":     httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", maxFormBytes+1))),
	} {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		switch name {
		case "chunked":
			req.ContentLength = -1
		case "charset":
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		}
		if err := readPlainForm(req); err != errNotPlainForm {
			t.Errorf("%s: %v, want errNotPlainForm", name, err)
		}
		if err := req.ParseForm(); name != "GET" && name != "too long" && (err != nil || req.PostForm.Get("b") != "2") {
			t.Errorf("%s: the body was consumed: %v %v", name, err, req.PostForm)
		}
	}
}

// formRequest is a urlencoded POST of body with its length.
func formRequest(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
