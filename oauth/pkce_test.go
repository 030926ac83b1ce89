package oauth_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestMissingCodeVerifier (issue 13, RFC 7636 §4.6): redeeming a code
// issued with a code_challenge without any code_verifier is a failed
// verification of the grant, invalid_grant (400), for public and
// confidential clients alike, as a wrong verifier is; neither consumes the
// code, which the right verifier then redeems.
func TestMissingCodeVerifier(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	_, secret := f.Env.NewClient(f.Realm.ID, "backend", func(c *realm.Client) {
		c.Kind, c.RedirectURIs = realm.KindApplication, []string{f.Redirect}
	})
	for _, tc := range []struct{ id, secret string }{{"web", ""}, {"backend", secret}} {
		conf := *f.Conf
		conf.ClientID = tc.id
		verifier := oauth2.GenerateVerifier()
		code := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
		redeem := func(extra url.Values) *oauthtest.Response {
			t.Helper()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.Redirect}}
			for k, v := range extra {
				form[k] = v
			}
			if tc.secret == "" { // a public client names itself in the form
				form.Set("client_id", tc.id)
				return f.Env.Post("/realms/shop"+oauth.PathToken, form, "", "")
			}
			return f.Env.Post("/realms/shop"+oauth.PathToken, form, tc.id, tc.secret)
		}
		oauthtest.WantOAuthError(t, redeem(nil), http.StatusBadRequest, "invalid_grant")
		oauthtest.WantOAuthError(t, redeem(url.Values{"code_verifier": {""}}), http.StatusBadRequest, "invalid_grant")
		oauthtest.WantOAuthError(t, redeem(url.Values{"code_verifier": {oauth2.GenerateVerifier()}}), http.StatusBadRequest, "invalid_grant")
		if r := redeem(url.Values{"code_verifier": {verifier}}); r.Status != http.StatusOK || r.Body["access_token"] == nil {
			t.Errorf("%s: the right verifier after refused attempts: %d %s", tc.id, r.Status, r.RawBody)
		}
	}
}
