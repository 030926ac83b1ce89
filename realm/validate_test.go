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
	for _, public := range []bool{false, true} {
		for _, u := range ok {
			if msg := redirectURIProblem(u, public); msg != "" {
				t.Errorf("%q refused (public %v): %s", u, public, msg)
			}
		}
		for _, u := range append(bad, "myapp:/cb", "com.example.app:callback", "com.example.app:/cb#x", "https://*.example.com/cb") {
			if redirectURIProblem(u, public) == "" {
				t.Errorf("%q accepted (public %v)", u, public)
			}
		}
	}
	// Native apps (RFC 8252 §7.1): private-use schemes, for public
	// clients only.
	for _, u := range []string{"com.example.app:/callback", "com.example.app:/oauth2/cb?x=1", "com.example.app://callback"} {
		if msg := redirectURIProblem(u, true); msg != "" {
			t.Errorf("%q refused for a public client: %s", u, msg)
		}
		if msg := redirectURIProblem(u, false); !strings.Contains(msg, "public") {
			t.Errorf("%q for a confidential client: %q, want a refusal saying native apps are public clients", u, msg)
		}
	}
	for _, u := range []string{"https://app.example.com/*", "https://*.example.com/cb", "http://127.0.0.1:*/cb"} {
		if msg := redirectURIProblem(u, true); msg != "wildcards are not supported; list each URI" {
			t.Errorf("%q: %q, want the wildcard refusal", u, msg)
		}
	}
}

// TestRedirectURIRegistered (issue 19): exact comparison, except that a
// public client's loopback IP redirect URI matches on any port (RFC 8252
// §7.3); localhost and confidential clients stay exact.
func TestRedirectURIRegistered(t *testing.T) {
	public := &Client{Public: true, RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]:8080/cb", "http://localhost/cb",
		"com.example.app:/callback", "https://app.example.com/cb"}}
	confidential := &Client{RedirectURIs: public.RedirectURIs}
	for _, u := range []string{"http://127.0.0.1/callback", "http://127.0.0.1:51234/callback", "http://[::1]/cb", "http://[::1]:9/cb",
		"com.example.app:/callback", "https://app.example.com/cb", "http://localhost/cb"} {
		if !public.RedirectURIRegistered(u) {
			t.Errorf("public client: %q not matched", u)
		}
	}
	for _, u := range []string{"", "http://127.0.0.1:51234/other", "http://127.0.0.1:1/callback?x=1", "https://127.0.0.1:1/callback",
		"http://localhost:3000/cb", "http://127.0.0.2/callback", "https://app.example.com:444/cb", "http://u@127.0.0.1:5/callback",
		"com.example.app:/callback/", "http://127.0.0.1:5/callback#f"} {
		if public.RedirectURIRegistered(u) {
			t.Errorf("public client: %q matched", u)
		}
	}
	if confidential.RedirectURIRegistered("http://127.0.0.1:51234/callback") || !confidential.RedirectURIRegistered("http://127.0.0.1/callback") {
		t.Error("a confidential client's loopback redirect URI is not compared exactly")
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
		if redirectURIProblem(raw, true) == "" && redirectURIProblem(raw, false) != "" {
			// Only a public client's private-use scheme may differ.
			if u, err := url.Parse(raw); err != nil || !IsPrivateUseScheme(u.Scheme) || u.Fragment != "" || u.User != nil {
				t.Fatalf("accepted %q for a public client", raw)
			}
		}
		if redirectURIProblem(raw, false) != "" {
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
