package login_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth/oauthtest"
)

// Under an https public URL the CSRF cookie carries the __Host- prefix
// (Secure, Path=/), so a sibling subdomain or a plain-http answer cannot
// plant one; the form's token must match that cookie, not a plain one.
func TestCSRFCookieUnderHTTPS(t *testing.T) {
	env := oauthtest.New(t, func(c oauthtest.Configs) {
		c.OAuth.PublicURL = "https://iam.example.test"
		c.Login.PublicURL = "https://iam.example.test"
	})
	o := env.NewOrg("acme")
	env.NewRealm(o.ID, "shop", true)

	resp, err := http.Get(env.Base + "/realms/shop/login-actions/reset-password")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-ward_csrf" {
			csrf = c
		}
	}
	if csrf == nil || !csrf.Secure || csrf.Path != "/" || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie %+v, want __Host-ward_csrf, Secure, Path=/, HttpOnly, SameSite=Strict", csrf)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(string(body))
	if m == nil || m[1] != csrf.Value {
		t.Fatalf("form token does not match the cookie")
	}

	// A plain-named cookie with the same value is not accepted.
	form := url.Values{"csrf_token": {m[1]}, "email": {"a@example.test"}}
	req, _ := http.NewRequest("POST", env.Base+"/realms/shop/login-actions/reset-password", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "ward_csrf", Value: m[1]})
	planted, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	planted.Body.Close()
	if planted.StatusCode != http.StatusForbidden {
		t.Fatalf("planted plain cookie = %d, want 403", planted.StatusCode)
	}
	req, _ = http.NewRequest("POST", env.Base+"/realms/shop/login-actions/reset-password", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Host-ward_csrf", Value: m[1]})
	ok, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	if ok.StatusCode != http.StatusOK {
		t.Fatalf("matching __Host- cookie = %d, want 200", ok.StatusCode)
	}
}
