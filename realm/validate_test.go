package realm

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedirectURIProblem(t *testing.T) {
	ok := []string{
		"https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://localhost/cb",
		"http://LOCALHOST:3000/cb", "http://127.0.0.1:9/cb", "http://127.8.9.1/cb", "http://[::1]:8080/cb",
	}
	bad := []string{
		"", "/cb", "cb", "https://", "http://app.example.com/cb", "https://app.example.com/cb#x",
		"https://app.example.com/cb#", "ftp://app.example.com/", "javascript:alert(1)",
		"https://user:pw@app.example.com/cb", "http://localhost.evil.com/cb", "http://10.0.0.1/cb",
		"https://app.example.com/" + strings.Repeat("a", 2000),
	}
	for _, u := range ok {
		if msg := redirectURIProblem(u); msg != "" {
			t.Errorf("%q refused: %s", u, msg)
		}
	}
	for _, u := range bad {
		if redirectURIProblem(u) == "" {
			t.Errorf("%q accepted", u)
		}
	}
}

func TestOriginProblem(t *testing.T) {
	for _, o := range []string{"https://app.example.com", "http://localhost:3000", "https://a.b:8443", "HTTPS://App.Example.com:443"} {
		if msg := originProblem(o); msg != "" {
			t.Errorf("%q refused: %s", o, msg)
		}
	}
	for _, o := range []string{"", "*", "null", "https://a.com/", "https://a.com/x", "a.com", "https://a.com?x", "https://a.com#x", "ftp://a.com", "https://u@a.com", "https://a.com:0", "https://a.com:65536", "https://:443"} {
		if originProblem(o) == "" {
			t.Errorf("%q accepted", o)
		}
	}
}

func TestCheckEmail(t *testing.T) {
	for _, e := range []string{"a@b.c", "Ann.Lee+x@Example.com", "a@localhost"} {
		v := &ValidationError{}
		if checkEmail(v, "email", e); v.OrNil() != nil {
			t.Errorf("%q refused: %v", e, v)
		}
	}
	for _, e := range []string{"", "a", "a@", "@b", "Ann <a@b.c>", "<a@b.c>", "a@b.c, d@e.f", " a@b.c", strings.Repeat("a", 250) + "@b.cd"} {
		v := &ValidationError{}
		if checkEmail(v, "email", e); v.OrNil() == nil {
			t.Errorf("%q accepted", e)
		}
	}
}

func TestNewClientID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newClientID(nil)
		if !clientIDPattern.MatchString(id) || len(id) != 16 || strings.ToLower(id) != id {
			t.Fatalf("generated client_id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate client_id %q", id)
		}
		seen[id] = true
	}
}

// FuzzRedirectURI: whatever is accepted is an absolute https URL, or http on
// a loopback host, without fragment or user info.
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://localhost:1/x", "http://127.0.0.1/", "https://a#b", "//x", "http://[::1]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if redirectURIProblem(raw) != "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			t.Fatalf("accepted %q with scheme %q host %q", raw, u.Scheme, u.Hostname())
		}
	})
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/cb?x=1":  "http://127.0.0.1:8080",
		"HTTPS://App.Example.com:443/a": "https://app.example.com",
		"http://example.com:80":         "http://example.com",
		"https://example.com:80":        "https://example.com:80",
		"https://example.com:8443":      "https://example.com:8443",
		"https://example.com:0443":      "https://example.com",
		"http://[::1]:3000/cb":          "http://[::1]:3000",
		"http://[::1]:80":               "http://[::1]",
		"com.example.app:/callback":     "",
		"https://user@example.com/cb":   "",
		"https://example.com:70000":     "",
		"https:///cb":                   "",
		"not a url":                     "",
	} {
		if got := OriginOf(in); got != want {
			t.Errorf("OriginOf(%q) = %q, want %q", in, got, want)
		}
	}
}
