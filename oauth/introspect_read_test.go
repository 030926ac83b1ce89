package oauth_test

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// readCounter counts the reads an introspection can make, and passes
// realm.IntrospectionReader through (countingStore hides it).
type readCounter struct {
	realm.Store
	mu    sync.Mutex
	calls map[string]int
}

// countedLoginFixture is a login fixture on open's store with its reads
// counted.
func countedLoginFixture(t *testing.T, open func(testing.TB) realm.Store, opts ...oauthtest.Option) (*oauthtest.LoginFixture, *readCounter) {
	var rc *readCounter
	f := oauthtest.NewLoginFixture(t, func(t testing.TB) realm.Store {
		rc = &readCounter{Store: open(t), calls: map[string]int{}}
		return rc
	}, opts...)
	return f, rc
}

func (s *readCounter) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *readCounter) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.calls
	s.calls = map[string]int{}
	return old
}

func (s *readCounter) ReadIntrospection(ctx context.Context, realmID string, q realm.IntrospectionQuery) (*realm.IntrospectionRead, error) {
	s.count("ReadIntrospection")
	return s.Store.(realm.IntrospectionReader).ReadIntrospection(ctx, realmID, q)
}

func (s *readCounter) GetClientClaims(ctx context.Context, realmID, clientID string) (*realm.ClientClaims, error) {
	s.count("GetClientClaims")
	return s.Store.GetClientClaims(ctx, realmID, clientID)
}

func (s *readCounter) GetClient(ctx context.Context, realmID, clientID string) (*realm.Client, error) {
	s.count("GetClient")
	return s.Store.GetClient(ctx, realmID, clientID)
}

func (s *readCounter) GetUser(ctx context.Context, realmID, id string) (*realm.User, error) {
	s.count("GetUser")
	return s.Store.GetUser(ctx, realmID, id)
}

func (s *readCounter) IsTokenRevoked(ctx context.Context, realmID, jti string) (bool, error) {
	s.count("IsTokenRevoked")
	return s.Store.IsTokenRevoked(ctx, realmID, jti)
}

func (s *readCounter) GetRealmByName(ctx context.Context, name string) (*realm.Realm, error) {
	s.count("GetRealmByName")
	return s.Store.GetRealmByName(ctx, name)
}

// TestIntrospectionOneRead (issue 18): introspecting a token whose
// signature was checked before is one read of the store — the caller, the
// token's client, its user and its revocation together — for a service
// account's token, a user's token and a client's own token; a token seen
// for the first time has its signature checked only after the caller is
// authenticated, so it costs the separate reads; a wrong secret is refused
// after the one read, checking no signature. TestIntrospectionCacheStaysExact
// shows the answers stay exact on this path.
func TestIntrospectionOneRead(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f, rc := countedLoginFixture(t, open, func(c oauthtest.Configs) {
				// The realm's provider outlives the test, so that only the
				// introspections' own reads are counted.
				c.OAuth.ProviderTTL = time.Hour
			})
			env, ctx := f.Env, f.Env.System()
			_, rsSecret := env.NewClient(f.Realm.ID, "rs", nil)
			_, svcSecret, err := env.Service.CreateClient(ctx, "shop", realm.ClientInput{Name: "svc", ClientID: "svc", Kind: "service_account"})
			if err != nil {
				t.Fatal(err)
			}
			svcTok := env.MustToken("shop", "svc", svcSecret, nil)
			userTok := f.SignIn(t, oauthtest.Browser(t), "openid").AccessToken
			introspect := func(what, token, clientID, secret string, want map[string]int) {
				t.Helper()
				rc.reset()
				r := env.Introspect("shop", token, clientID, secret)
				if r.Status != http.StatusOK || r.Body["active"] != true {
					t.Fatalf("%s: %d %s, want 200 and active", what, r.Status, r.RawBody)
				}
				if got := rc.reset(); !maps.Equal(got, want) {
					t.Errorf("%s made %v, want %v", what, got, want)
				}
			}
			one := map[string]int{"ReadIntrospection": 1}
			// The first introspection at the realm finds its provider
			// (a realm read) and is not counted.
			if r := env.Introspect("shop", env.MustToken("shop", "rs", rsSecret, nil), "rs", rsSecret); r.Status != http.StatusOK {
				t.Fatalf("first introspection: %d %s", r.Status, r.RawBody)
			}

			introspect("a service account's new token", svcTok, "rs", rsSecret,
				map[string]int{"ReadIntrospection": 1, "IsTokenRevoked": 1, "GetClient": 1})
			introspect("a service account's token again", svcTok, "rs", rsSecret, one)
			introspect("a user's new token", userTok, "rs", rsSecret,
				map[string]int{"ReadIntrospection": 1, "IsTokenRevoked": 1, "GetClient": 1, "GetUser": 1})
			introspect("a user's token again", userTok, "rs", rsSecret, one)
			introspect("a client's own token", svcTok, "svc", svcSecret, one)

			rc.reset()
			oauthtest.WantOAuthError(t, env.Introspect("shop", svcTok, "rs", "wrong"), http.StatusUnauthorized, "invalid_client")
			if got := rc.reset(); !maps.Equal(got, one) {
				t.Errorf("a wrong secret made %v, want %v", got, one)
			}
		})
	}
}

func (s *readCounter) ReadRefreshGrant(ctx context.Context, realmID, tokenID, clientID string) (*realm.RefreshGrant, *realm.Client, error) {
	s.count("ReadRefreshGrant")
	return s.Store.(realm.RefreshGrantReader).ReadRefreshGrant(ctx, realmID, tokenID, clientID)
}

func (s *readCounter) GetRefreshGrant(ctx context.Context, realmID, tokenID string) (*realm.RefreshGrant, error) {
	s.count("GetRefreshGrant")
	return s.Store.GetRefreshGrant(ctx, realmID, tokenID)
}
