package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// Bad text on the sign-in pages (issue 13 item 1), on both databases: the
// authorization page answered a NUL client_id with a 503 page on
// PostgreSQL. Every query parameter and form field must be UTF-8 without
// control characters; otherwise the answer is the error page with 400,
// naming the parameter, and never a redirect to a redirect_uri.

func TestBadTextPagesSQLite(t *testing.T) { testBadTextPages(t, oauthtest.OpenSQLite) }
func TestBadTextPagesPostgres(t *testing.T) {
	testBadTextPages(t, oauthtest.OpenPostgres)
}

func testBadTextPages(t *testing.T, open func(testing.TB) realm.Store) {
	f := oauthtest.NewLoginFixture(t, open)
	b := oauthtest.Browser(t)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	page := func(t *testing.T, p *oauthtest.Page, field string) {
		t.Helper()
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Fatalf("%d Location %v, want a 400 page: %s", p.Status, p.Location, p.Body)
		}
		if !strings.Contains(p.Body, "Bad request") || !strings.Contains(p.Body, "parameter "+field+" must") {
			t.Errorf("the page does not name %s: %s", field, p.Body)
		}
	}
	authURL := func(param, value string) string {
		return f.Conf.AuthCodeURL(oauthtest.RandomString(t), challenge, oauth2.SetAuthURLParam(param, value))
	}

	t.Run("authorize: client_id", func(t *testing.T) {
		conf := *f.Conf
		conf.ClientID = "we\x00b"
		page(t, oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL("state", challenge), nil), "client_id")
	})
	t.Run("authorize: state, with a registered redirect_uri", func(t *testing.T) {
		page(t, oauthtest.Fetch(t, b, http.MethodGet, authURL("state", "s\x00"), nil), "state")
	})
	t.Run("authorize: redirect_uri", func(t *testing.T) {
		page(t, oauthtest.Fetch(t, b, http.MethodGet, authURL("redirect_uri", f.Redirect+"\x00"), nil), "redirect_uri")
	})
	t.Run("authorize: nonce with invalid UTF-8, posted", func(t *testing.T) {
		u, _ := url.Parse(authURL("nonce", "\xff"))
		page(t, oauthtest.Fetch(t, b, http.MethodPost, f.Realm.Issuer+oauth.PathAuth, u.Query()), "nonce")
	})
	t.Run("login form: email", func(t *testing.T) {
		login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), challenge), nil)
		if login.Status != http.StatusOK {
			t.Fatalf("login page: %d", login.Status)
		}
		page(t, f.SubmitLogin(t, b, login, f.User.Email+"\x00", oauthtest.Password), "email")
	})
	t.Run("set-password link", func(t *testing.T) {
		page(t, oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+"/login-actions/set-password?token=%00", nil), "token")
	})
	t.Run("set-password form", func(t *testing.T) {
		p := oauthtest.Fetch(t, b, http.MethodPost, f.Realm.Issuer+"/login-actions/set-password",
			url.Values{"token": {"t\x00"}, "password": {"long enough password"}, "password_confirm": {"long enough password"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "parameter token must") {
			t.Fatalf("%d: %s", p.Status, p.Body)
		}
	})
	t.Run("reset form", func(t *testing.T) {
		p := oauthtest.Fetch(t, b, http.MethodPost, f.Realm.Issuer+"/login-actions/reset-password", url.Values{"email": {"a\x00@example.com"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "parameter email must") {
			t.Fatalf("%d: %s", p.Status, p.Body)
		}
	})
	t.Run("logout", func(t *testing.T) {
		page(t, oauthtest.Fetch(t, b, http.MethodGet, f.Realm.Issuer+oauth.PathLogout+"?id_token_hint=%00", nil), "id_token_hint")
	})
	t.Run("realm in the path", func(t *testing.T) {
		page(t, oauthtest.Fetch(t, b, http.MethodGet, f.Env.Base+"/realms/sh%00op/login-actions/reset-password", nil), "realm")
	})

	// The pages still work, and nothing was Ward's own failure.
	f.SignIn(t, oauthtest.Browser(t), "openid")
	if logs := f.Env.Logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("bad input was logged as Ward's own failure:\n%s", logs)
	}
}
