package oauth_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestPublicClientRevokes (CONTRACT §4, RFC 7009 §2.1, issue 13): a public
// client names itself with client_id alone, as oidc-client-ts's
// revokeTokensOnSignout does, and revokes its own tokens; revoking a refresh
// token ends its family; another client's token answers 200 and stays
// valid.
func TestPublicClientRevokes(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			env := f.Env
			_, rsSecret := env.NewClient(f.Realm.ID, "rs", nil)
			active := func(token string) bool {
				t.Helper()
				r := env.Introspect("shop", token, "rs", rsSecret)
				if r.Status != http.StatusOK {
					t.Fatalf("introspect: %d %s", r.Status, r.RawBody)
				}
				return r.Body["active"] == true
			}
			revoke := func(form url.Values) *oauthtest.Response {
				t.Helper()
				return env.Post("/realms/shop"+oauth.PathRevoke, form, "", "")
			}
			wantOK := func(what string, r *oauthtest.Response) {
				t.Helper()
				if r.Status != http.StatusOK {
					t.Errorf("%s: %d %s, want 200", what, r.Status, r.RawBody)
				}
			}

			// Its own access token.
			tok := signInRefresh(t, f, f.Conf)
			wantOK("revoke own access token", revoke(url.Values{"token": {tok.AccessToken}, "client_id": {"web"}}))
			if active(tok.AccessToken) {
				t.Error("access token revoked by its public client is still active")
			}
			// Its own refresh token: the family ends.
			tok = signInRefresh(t, f, f.Conf)
			wantOK("revoke own refresh token", revoke(url.Values{"token": {tok.RefreshToken}, "client_id": {"web"},
				"token_type_hint": {"refresh_token"}}))
			_, err := refresh(f.Conf, tok.RefreshToken)
			oauthtest.WantRetrieveError(t, "refresh token revoked by its public client", err, "invalid_grant")
			if active(tok.RefreshToken) || active(tok.AccessToken) {
				t.Error("a token of the revoked family is still active")
			}

			// Another client's tokens: 200, and they stay valid.
			_, svcSecret := env.NewClient(f.Realm.ID, "svc", nil)
			svcTok := env.MustToken("shop", "svc", svcSecret, nil)
			wantOK("revoke another client's access token", revoke(url.Values{"token": {svcTok}, "client_id": {"web"}}))
			if !active(svcTok) {
				t.Error("a public client revoked another client's access token")
			}
			env.NewClient(f.Realm.ID, "other-app", func(c *realm.Client) {
				c.Kind, c.Public, c.SecretHash, c.RedirectURIs = realm.KindApplication, true, nil, []string{f.Redirect}
			})
			conf := *f.Conf
			conf.ClientID = "other-app"
			otherTok := signInRefresh(t, f, &conf)
			wantOK("revoke another client's refresh token", revoke(url.Values{"token": {otherTok.RefreshToken}, "client_id": {"web"}}))
			if _, err := refresh(&conf, otherTok.RefreshToken); err != nil {
				t.Errorf("another client's refresh token after a public client's revocation attempt: %v", err)
			}

			// Who the caller is still matters: an unknown client_id, or a
			// confidential client without its secret, is invalid_client;
			// no client_id at all is invalid_request, as at introspection.
			live := env.MustToken("shop", "svc", svcSecret, nil)
			for _, form := range []url.Values{
				{"token": {live}, "client_id": {"nope"}},
				{"token": {live}, "client_id": {"svc"}},
			} {
				oauthtest.WantOAuthError(t, revoke(form), http.StatusUnauthorized, "invalid_client")
			}
			oauthtest.WantOAuthError(t, revoke(url.Values{"token": {live}}), http.StatusBadRequest, "invalid_request")
			if !active(live) {
				t.Error("a refused revocation revoked the token")
			}
		})
	}
}
