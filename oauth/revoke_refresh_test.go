package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestRevokeRefreshToken (RFC 7009): the client a refresh token was issued
// to can revoke it, which ends its family; another client's attempt is
// answered 200 and changes nothing.
func TestRevokeRefreshToken(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	_, secret := f.Env.NewClient(f.Realm.ID, "backend", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{f.Redirect}
	})
	_, otherSecret := f.Env.NewClient(f.Realm.ID, "other-app", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{f.Redirect}
	})
	conf := *f.Conf
	conf.ClientID, conf.ClientSecret = "backend", secret
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	signIn := func() *oauth2.Token {
		verifier := oauth2.GenerateVerifier()
		loc := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier), oidc.Nonce(oauthtest.RandomString(t))))
		tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
		}
		return tok
	}
	revoke := func(token, id, secret string) {
		t.Helper()
		r := f.Env.Post("/realms/shop/protocol/openid-connect/revoke",
			url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}, id, secret)
		if r.Status != http.StatusOK {
			t.Fatalf("revoke by %s = %d %s", id, r.Status, r.RawBody)
		}
	}

	tok := signIn()
	// Another client cannot revoke it.
	revoke(tok.RefreshToken, "other-app", otherSecret)
	tok2, err := refresh(&conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after another client's revocation attempt: %v", err)
	}
	// Its own client can; the family ends.
	revoke(tok2.RefreshToken, "backend", secret)
	_, err = refresh(&conf, tok2.RefreshToken)
	oauthtest.WantRetrieveError(t, "revoked refresh token", err, "invalid_grant")
	_, introSecret := f.Env.NewClient(f.Realm.ID, "rs", nil)
	if r := f.Env.Introspect("shop", tok2.AccessToken, "rs", introSecret); r.Body["active"] != false {
		t.Errorf("access token of a revoked family: %s, want inactive", r.RawBody)
	}
	// Another family is untouched.
	if _, err := refresh(&conf, signIn().RefreshToken); err != nil {
		t.Errorf("refresh of another family: %v", err)
	}
}
