package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestIntrospectionCacheStaysExact (issue 18): introspection remembers a
// token's verified signature and claims by the token's hash, and still
// answers active=false at once, on the next request, when the token is
// revoked, its client or user deactivated (and reactivated: the
// tokens_valid_after cutoff), or it expires — each while the token is in
// the cache. A rotated secret of the introspecting client is refused at
// once.
func TestIntrospectionCacheStaysExact(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			env, ctx := f.Env, f.Env.System()
			_, rsSecret := env.NewClient(f.Realm.ID, "rs", nil)
			introspect := func(what, token string) bool {
				t.Helper()
				r := env.Introspect("shop", token, "rs", rsSecret)
				if r.Status != http.StatusOK {
					t.Fatalf("introspect %s: %d %s", what, r.Status, r.RawBody)
				}
				return r.Body["active"] == true
			}
			cached := func() int {
				t.Helper()
				n, err := oauth.VerifiedTokens(env.Ctx, env.OAuth, "shop")
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			// liveAndCached introspects token twice, wanting it active and
			// remembered, so that what follows meets a cached token.
			liveAndCached := func(what, token string) {
				t.Helper()
				before := cached()
				if !introspect(what, token) {
					t.Fatalf("live %s token inactive", what)
				}
				if got := cached(); got != before+1 {
					t.Fatalf("%s: %d tokens cached after its first introspection, want %d", what, got, before+1)
				}
				if !introspect(what+" (cached)", token) {
					t.Fatalf("live %s token inactive when cached", what)
				}
				if got := cached(); got != before+1 {
					t.Fatalf("%s: %d tokens cached after its second introspection, want %d", what, got, before+1)
				}
			}
			setClient := func(clientID string, on bool) {
				t.Helper()
				if _, err := env.Service.UpdateClient(ctx, "shop", clientID, realm.ClientPatch{Active: &on}); err != nil {
					t.Fatal(err)
				}
			}
			setUser := func(on bool) {
				t.Helper()
				if _, err := env.Service.UpdateUser(ctx, "shop", f.User.ID, realm.UserPatch{Active: &on}); err != nil {
					t.Fatal(err)
				}
			}
			newService := func(clientID string) string {
				t.Helper()
				_, secret, err := env.Service.CreateClient(ctx, "shop", realm.ClientInput{Name: clientID, ClientID: clientID, Kind: "service_account"})
				if err != nil {
					t.Fatal(err)
				}
				return secret
			}

			// Revocation.
			revSecret := newService("revoked")
			tok := env.MustToken("shop", "revoked", revSecret, nil)
			liveAndCached("to be revoked", tok)
			if r := env.Post("/realms/shop"+oauth.PathRevoke, url.Values{"token": {tok}}, "revoked", revSecret); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.RawBody)
			}
			if introspect("revoked", tok) {
				t.Error("a revoked token that was cached is active")
			}

			// The client deactivated, then reactivated (its
			// tokens_valid_after then ends the token on its own).
			svcSecret := newService("svc")
			tok = env.MustToken("shop", "svc", svcSecret, nil)
			liveAndCached("service account", tok)
			setClient("svc", false)
			if introspect("token of a deactivated client", tok) {
				t.Error("a cached token of a deactivated client is active")
			}
			setClient("svc", true)
			if introspect("token of a reactivated client", tok) {
				t.Error("a cached token issued before its client's deactivation is active after the reactivation")
			}
			// Nor when the client asks about its own token (its row is
			// then the caller's, read once).
			if r := env.Introspect("shop", tok, "svc", svcSecret); r.Status != http.StatusOK || r.Body["active"] != false {
				t.Errorf("the reactivated client's own old token: %d %s, want 200 and inactive", r.Status, r.RawBody)
			}
			if r := env.Introspect("shop", env.MustToken("shop", "rs", rsSecret, nil), "rs", rsSecret); r.Status != http.StatusOK || r.Body["active"] != true {
				t.Errorf("a client's own live token: %d %s, want 200 and active", r.Status, r.RawBody)
			}

			// The user deactivated, then reactivated.
			userTok := f.SignIn(t, oauthtest.Browser(t), "openid").AccessToken
			liveAndCached("user", userTok)
			setUser(false)
			if introspect("token of a deactivated user", userTok) {
				t.Error("a cached token of a deactivated user is active")
			}
			setUser(true)
			if introspect("token of a reactivated user", userTok) {
				t.Error("a cached token issued before its user's deactivation is active after the reactivation")
			}

			// The introspecting client's secret rotated without grace: the
			// old secret is refused at once, the new one works.
			_, newSecret, err := env.Service.RotateClientSecret(ctx, "shop", "rs", 0)
			if err != nil {
				t.Fatal(err)
			}
			expSecret := newService("expiring")
			tok = env.MustToken("shop", "expiring", expSecret, nil)
			oauthtest.WantOAuthError(t, env.Introspect("shop", tok, "rs", rsSecret), http.StatusUnauthorized, "invalid_client")
			rsSecret = newSecret
			liveAndCached("to expire", tok)

			// Expiry on the server's clock: access tokens live 5 minutes.
			env.Advance(5*time.Minute + time.Second)
			if introspect("expired", tok) {
				t.Error("a cached expired token is active")
			}
		})
	}
}
