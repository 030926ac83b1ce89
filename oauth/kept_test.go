package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestIntrospectionCacheStaysExact (issue 18): introspection remembers a
// token's verified signature and claims by the token's hash, and keeps its
// reads between requests (kept.go), and still answers
// active=false at once, on the next request, when the token is revoked,
// its client or user deactivated (and reactivated: the tokens_valid_after
// cutoff), or it expires — each while the token is in the cache and its
// read kept. A rotated secret of the introspecting client is refused at
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
				// And until its read is kept: the first poll of the realm's
				// epoch runs beside the requests.
				untilKept(t, what, func() uint64 { return oauth.KeptIntrospectionsUsed(env.OAuth) }, func() {
					if !introspect(what+" (kept)", token) {
						t.Fatalf("live %s token inactive when kept", what)
					}
				})
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

			// A caller unknown when a resource server first tries it works
			// as soon as it is registered (a read that found no caller is
			// not kept).
			for range 3 {
				oauthtest.WantOAuthError(t, env.Introspect("shop", tok, "late", "not-yet"), http.StatusUnauthorized, "invalid_client")
				time.Sleep(60 * time.Millisecond)
			}
			lateSecret := newService("late")
			if r := env.Introspect("shop", tok, "late", lateSecret); r.Status != http.StatusOK || r.Body["active"] != true {
				t.Errorf("a caller registered after a first try: %d %s, want 200 and active", r.Status, r.RawBody)
			}

			// Expiry on the server's clock: access tokens live 5 minutes.
			env.Advance(5*time.Minute + time.Second)
			if introspect("expired", tok) {
				t.Error("a cached expired token is active")
			}
		})
	}
}

// TestIntrospectionSeesOtherNodes (issue 18, CONTRACT §8): a change made
// by another node on the same database — a token revoked, the token's
// client deactivated, the introspecting client's secret replaced, a
// group's attribute value — is in force in this node's introspection and
// grants within 1 s, although this node answered from a kept read just
// before and learns of the change only by polling the realm's epoch.
func TestIntrospectionSeesOtherNodes(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"SQLite": sqltest.SQLiteDSN, "Postgres": sqltest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			shared := dsn(t)
			env := oauthtest.NewOn(t, func(tb testing.TB) realm.Store { return sqltest.OpenDSN(tb, shared) })
			other := sqltest.OpenDSN(t, shared)
			rf := env.NewRealm(env.NewOrg("o").ID, "shop", true)
			_, rsSecret := env.NewClient(rf.ID, "rs", nil)
			introspect := func(token string) *oauthtest.Response {
				return env.Introspect("shop", token, "rs", rsSecret)
			}
			active := func(what, token string) bool {
				t.Helper()
				r := introspect(token)
				if r.Status != http.StatusOK {
					t.Fatalf("introspect %s: %d %s", what, r.Status, r.RawBody)
				}
				return r.Body["active"] == true
			}
			kept := func(what, token string) {
				t.Helper()
				untilKept(t, what, func() uint64 { return oauth.KeptIntrospectionsUsed(env.OAuth) }, func() {
					if !active(what, token) {
						t.Fatalf("live %s token inactive", what)
					}
				})
			}
			// within polls until done says the change is in force, failing
			// after CONTRACT §8's second.
			within := func(what string, done func() bool) {
				t.Helper()
				deadline := time.Now().Add(time.Second)
				for !done() {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not in force on this node 1 s after the other node's change", what)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			svc, svcSecret := env.NewClient(rf.ID, "svc", nil)

			tok := env.MustToken("shop", "svc", svcSecret, nil)
			kept("to be revoked", tok)
			jti, _ := oauthtest.JWTPayload(t, tok)["jti"].(string)
			if err := other.RevokeToken(env.Ctx, rf.ID, jti, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			within("revocation", func() bool { return !active("revoked", tok) })

			tok = env.MustToken("shop", "svc", svcSecret, nil)
			kept("of a client to be deactivated", tok)
			c, err := other.GetClient(env.Ctx, rf.ID, svc.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			c.Active = false
			if err := other.UpdateClient(env.Ctx, c); err != nil {
				t.Fatal(err)
			}
			within("client deactivation", func() bool { return !active("of a deactivated client", tok) })

			tok = env.MustToken("shop", "rs", rsSecret, nil)
			kept("of a caller whose secret is replaced", tok)
			rs, err := other.GetClient(env.Ctx, rf.ID, "rs")
			if err != nil {
				t.Fatal(err)
			}
			rs.SecretHash = realm.HashSecret("a-new-secret-nobody-here-knows")
			if err := other.UpdateClient(env.Ctx, rs); err != nil {
				t.Fatal(err)
			}
			within("secret replaced", func() bool { return introspect(tok).Status == http.StatusUnauthorized })

			// A grant's client is kept too: a group's attribute value
			// changed by the other node reaches this node's tokens.
			env.NewAttribute(rf.ID, "level", attributes.Integer, false)
			g := env.NewGroup(rf.ID, "Traders", map[string]any{"level": int64(1)})
			_, memberSecret := env.NewClient(rf.ID, "member", func(c *realm.Client) { c.Groups, c.PrimaryGroup = []string{g.ID}, g.ID })
			level := func() any {
				_, cl := env.VerifyWithJWKS(t, "shop", env.MustToken("shop", "member", memberSecret, nil))
				return cl["attributes"].(map[string]any)["level"]
			}
			untilKept(t, "member's grants", func() uint64 { return oauth.KeptClientsUsed(env.OAuth) }, func() {
				if l := level(); l != float64(1) {
					t.Fatalf("level = %v, want 1", l)
				}
			})
			g.Attributes = map[string]any{"level": int64(7)}
			if err := other.UpdateGroup(env.Ctx, g); err != nil {
				t.Fatal(err)
			}
			within("group attribute value", func() bool { return level() == float64(7) })
		})
	}
}

// TestIntrospectionKeptReadsFailClosed: when the database goes away, an
// introspection answered from a kept read a moment before is soon answered
// 503 temporarily_unavailable (the poll of the realm's epoch fails, so no
// kept read is used), never active from memory for long.
func TestIntrospectionKeptReadsFailClosed(t *testing.T) {
	var store interface{ Close() error }
	env := oauthtest.NewOn(t, func(tb testing.TB) realm.Store {
		s := sqltest.Open(tb)
		store = s
		return s
	})
	rf := env.NewRealm(env.NewOrg("o").ID, "shop", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	tok := env.MustToken("shop", c.ClientID, secret, nil)
	untilKept(t, "live token", func() uint64 { return oauth.KeptIntrospectionsUsed(env.OAuth) }, func() {
		if r := env.Introspect("shop", tok, c.ClientID, secret); r.Status != http.StatusOK || r.Body["active"] != true {
			t.Fatalf("live token: %d %s", r.Status, r.RawBody)
		}
	})
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		r := env.Introspect("shop", tok, c.ClientID, secret)
		if r.Status == http.StatusServiceUnavailable {
			oauthtest.WantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
			break
		}
		if r.Status != http.StatusOK || r.Body["active"] != true {
			t.Fatalf("with the database closed: %d %s, want 200 active (kept) or 503", r.Status, r.RawBody)
		}
		if time.Now().After(deadline) {
			t.Fatal("introspection still answered from memory 1 s after the database closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// untilKept repeats req until counter moves (a request was answered from a
// kept read: the realm's epoch is polled beside the requests), failing
// after 200 tries 5 ms apart.
func untilKept(t testing.TB, what string, counter func() uint64, req func()) {
	t.Helper()
	used := counter()
	for i := 0; counter() == used; i++ {
		if i == 200 {
			t.Fatalf("%s: no request answered from a kept read after %d tries", what, i)
		}
		req()
		time.Sleep(5 * time.Millisecond)
	}
}
