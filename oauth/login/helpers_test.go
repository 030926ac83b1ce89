package login_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// Helpers of the login tests that oauthtest does not offer: the server,
// the login fixture, the browser and its pages, and signing in are
// oauthtest's.

// Internals of package login the tests use (export_test.go), under the
// tests' own names: many tests call their login page "login", which hides
// the package there.
const (
	loginFailed        = login.LoginFailed
	loginCancelled     = login.LoginCancelled
	loginLockThreshold = login.LoginLockThreshold
	loginFailureTTL    = login.LoginFailureTTL
	sessionCookie      = login.SessionCookie
)

// accountKey is the key of an email's login failure row.
var accountKey = login.AccountKey

// noIPLimit lifts the per-IP login limit so account tests are not cut
// short by it.
func noIPLimit(c oauthtest.Configs) {
	c.Login.LoginRateLimit = oauth.RateLimit{Rate: 1000, Burst: 1000}
}

// cancelLogin presses Cancel on the login form on p, with whatever the
// user had typed.
func cancelLogin(t testing.TB, f *oauthtest.LoginFixture, b *http.Client, p *oauthtest.Page, csrf, email, password string) *oauthtest.Page {
	t.Helper()
	cm, am := oauthtest.CSRFField.FindStringSubmatch(p.Body), oauthtest.FormAction.FindStringSubmatch(p.Body)
	if cm == nil || am == nil || !strings.Contains(p.Body, `name="cancel" value="1"`) {
		t.Fatalf("no login form with a Cancel button in page (%d): %s", p.Status, p.Body)
	}
	if csrf == "" {
		csrf = cm[1]
	}
	return oauthtest.Fetch(t, b, http.MethodPost, f.Env.Base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}, "cancel": {"1"}})
}

var loginError = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// tryLogin opens a fresh login page in b and submits email and password;
// it returns the answer's status and its error message ("" on success).
func tryLogin(t *testing.T, f *oauthtest.LoginFixture, b *http.Client, email, password string) (int, string) {
	t.Helper()
	login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if login.Status != http.StatusOK {
		t.Fatalf("login page: %d %s", login.Status, login.Body)
	}
	p := f.SubmitLogin(t, b, login, email, password)
	if p.Status == http.StatusSeeOther {
		return p.Status, ""
	}
	m := loginError.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("login answer %d without an error: %s", p.Status, p.Body)
	}
	return p.Status, m[1]
}

// asksPassword says whether the browser, sent to authorize, gets the login
// form (200) rather than a code (303).
func asksPassword(t *testing.T, f *oauthtest.LoginFixture, b *http.Client) bool {
	t.Helper()
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	switch p.Status {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	}
	t.Fatalf("authorize: %d %s", p.Status, p.Body)
	return false
}

var (
	logoutForm   = regexp.MustCompile(`<form method="post" action="([^"]+)">((?:\s*<input type="hidden"[^>]*>)*)`)
	hiddenFields = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// confirmForm reads the "Sign out?" form: where it posts and its fields.
func confirmForm(t testing.TB, body string) (string, url.Values) {
	t.Helper()
	m := logoutForm.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "Sign out?") {
		return "", nil
	}
	fields := url.Values{}
	for _, h := range hiddenFields.FindAllStringSubmatch(m[2], -1) {
		fields.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// logout sends a logout request; when Ward asks "Sign out?" it presses the
// button. It returns the final answer and whether it was asked.
func logout(t testing.TB, f *oauthtest.LoginFixture, b *http.Client, method string, q url.Values) (*oauthtest.Page, bool) {
	t.Helper()
	var p *oauthtest.Page
	if method == http.MethodGet {
		p = oauthtest.Fetch(t, b, method, f.Realm.Issuer+oauth.PathLogout+"?"+q.Encode(), nil)
	} else {
		p = oauthtest.Fetch(t, b, method, f.Realm.Issuer+oauth.PathLogout, q)
	}
	action, fields := confirmForm(t, p.Body)
	if p.Status != http.StatusOK || fields == nil {
		return p, false
	}
	return oauthtest.Fetch(t, b, http.MethodPost, f.Env.Base+action, fields), true
}

var (
	wmMessage = regexp.MustCompile(`var message = (\{.*\});`)
	wmOrigin  = regexp.MustCompile(`var origin = ("[^"\n]*");`)
	wmNonce   = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

// webMessage is what a web_message page would post: its target origin and
// message, read from the page's script.
type webMessage struct {
	origin   string
	typ      string
	response map[string]string
}

// readWebMessage checks the page's headers and returns what it posts.
func readWebMessage(t *testing.T, p *oauthtest.Page) webMessage {
	t.Helper()
	if p.Status != http.StatusOK {
		t.Fatalf("web_message page: %d, want 200: %s", p.Status, p.Body)
	}
	checkWebMessageHeaders(t, p)
	om, mm := wmOrigin.FindStringSubmatch(p.Body), wmMessage.FindStringSubmatch(p.Body)
	if om == nil || mm == nil {
		t.Fatalf("web_message page without origin and message:\n%s", p.Body)
	}
	var wm webMessage
	if err := json.Unmarshal([]byte(om[1]), &wm.origin); err != nil {
		t.Fatalf("origin %s: %v", om[1], err)
	}
	var msg struct {
		Type     string            `json:"type"`
		Response map[string]string `json:"response"`
	}
	if err := json.Unmarshal([]byte(mm[1]), &msg); err != nil {
		t.Fatalf("message %s: %v", mm[1], err)
	}
	wm.typ, wm.response = msg.Type, msg.Response
	if !strings.Contains(p.Body, "opener.postMessage(message, origin)") || strings.Contains(p.Body, `"*"`) {
		t.Errorf("web_message page does not post to the origin variable alone:\n%s", p.Body)
	}
	return wm
}

// checkWebMessageHeaders: only the page's own nonce-tagged script runs, it
// cannot be framed, cached or leak a Referer.
func checkWebMessageHeaders(t *testing.T, p *oauthtest.Page) {
	t.Helper()
	csp := p.Header.Get("Content-Security-Policy")
	if nm := wmNonce.FindStringSubmatch(p.Body); nm != nil {
		if !strings.Contains(csp, "script-src 'nonce-"+nm[1]+"'") {
			t.Errorf("CSP %q does not allow exactly the page's script nonce %s", csp, nm[1])
		}
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows unsafe script", csp)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := p.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}
