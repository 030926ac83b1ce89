package oauth_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// TestThirdPartyCookiesPage: keycloak-js's third-party-cookie check gets
// "unsupported" at once, from a page any site may frame, whose only script
// is its own (nonce).
func TestThirdPartyCookiesPage(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("acme").ID, "shop", true)
	resp, err := http.Get(rf.Issuer + oauth.PathThirdPartyCookies)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `parent.postMessage("unsupported", "*")`) {
		t.Fatalf("step1.html: %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`<script nonce="([^"]+)">`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(csp, "script-src 'nonce-"+m[1]+"'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("step1.html CSP %q does not allow exactly its own script", csp)
	}
	if strings.Contains(csp, "frame-ancestors") || resp.Header.Get("X-Frame-Options") != "" {
		t.Errorf("step1.html may not be framed (CSP %q, X-Frame-Options %q); keycloak-js loads it in an iframe", csp, resp.Header.Get("X-Frame-Options"))
	}
}
