package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// Bad text at the OAuth endpoints (issue 13 item 1), for anonymous callers
// on both databases: a client_id with a NUL answered 503 on PostgreSQL
// (the lookup failed and was taken for an outage). Every form field, query
// parameter and Basic credential must be UTF-8 without control
// characters: 400 invalid_request naming it.

func TestBadTextSQLite(t *testing.T)   { testBadText(t, oauthtest.NewOn(t, oauthtest.OpenSQLite)) }
func TestBadTextPostgres(t *testing.T) { testBadText(t, oauthtest.NewOn(t, oauthtest.OpenPostgres)) }

func testBadText(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("acme").ID, "shop", true)
	_, secret := env.NewClient(rf.ID, "svc", nil)
	token := env.MustToken("shop", "svc", secret, nil)
	base := "/realms/shop"

	badRequest := func(t *testing.T, r *oauthtest.Response, field string) {
		t.Helper()
		oauthtest.WantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		if desc, _ := r.Body["error_description"].(string); !strings.Contains(desc, field) {
			t.Errorf("error_description %q does not name %s", desc, field)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
	}
	cc := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}

	t.Run("token: client_id in the form", func(t *testing.T) {
		r := env.Post(base+oauth.PathToken, cc(url.Values{"client_id": {"sv\x00c"}, "client_secret": {secret}}), "", "")
		badRequest(t, r, "client_id")
	})
	t.Run("token: client_id in Basic, form-encoded", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathToken, cc(nil), "sv\x00c", secret), "client_id")
	})
	t.Run("token: client_id in Basic, raw", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, env.Base+base+oauth.PathToken, strings.NewReader(cc(nil).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("sv\x00c", secret)
		badRequest(t, env.Do(req), "client_id")
	})
	t.Run("token: secret with a control character", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathToken, cc(nil), "svc", secret+"\x01"), "client_secret")
	})
	t.Run("token: scope with a line break", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathToken, cc(url.Values{"scope": {"a\nb"}}), "svc", secret), "scope")
	})
	t.Run("token: invalid UTF-8 in audience", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathToken, cc(url.Values{"audience": {"\xff"}}), "svc", secret), "audience")
	})
	t.Run("token: query parameter", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathToken+"?x=%00", cc(nil), "svc", secret), "x")
	})
	t.Run("introspection", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathIntrospect, url.Values{"token": {token + "\x00"}}, "svc", secret), "token")
	})
	t.Run("revocation", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathRevoke, url.Values{"token": {"\x00"}, "client_id": {"svc"}}, "", ""), "token")
	})
	t.Run("userinfo form", func(t *testing.T) {
		badRequest(t, env.Post(base+oauth.PathUserinfo, url.Values{"access_token": {"a\x00"}}, "", ""), "access_token")
	})
	t.Run("userinfo query", func(t *testing.T) {
		badRequest(t, env.Get(base+oauth.PathUserinfo+"?x=%00"), "x")
	})
	t.Run("discovery query", func(t *testing.T) {
		badRequest(t, env.Get(base+oauth.PathDiscovery+"?x=%1b"), "x")
	})
	t.Run("realm name", func(t *testing.T) {
		badRequest(t, env.Post("/realms/sh%00op"+oauth.PathToken, cc(nil), "svc", secret), "realm")
	})

	// Acceptable text still works, non-ASCII included.
	if r := env.Grant("shop", "svc", secret, url.Values{"scope": {""}}); r.Status != http.StatusOK {
		t.Fatalf("a good grant: %d %s", r.Status, r.RawBody)
	}
	oauthtest.WantOAuthError(t, env.Post(base+oauth.PathToken, cc(nil), "své", secret), http.StatusUnauthorized, "invalid_client")
	if logs := env.Logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "unavailable") {
		t.Errorf("bad input was logged as Ward's own failure:\n%s", logs)
	}
}
