package oauth_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// exchangeFixture is a realm with a permission catalog, a service account
// that may name the audience "assets", and one API key.
type exchangeFixture struct {
	env       *oauthtest.Env
	realm     *oauthtest.Realm
	svc       *realm.Client
	svcSecret string
	key       *realm.NewAPIKeyResult
}

func newExchangeFixture(t *testing.T, env *oauthtest.Env, realmName string) *exchangeFixture {
	t.Helper()
	f := &exchangeFixture{env: env, realm: env.NewRealm(env.NewOrg("o-"+realmName).ID, realmName, true)}
	f.svc, f.svcSecret = env.NewClient(f.realm.ID, "resource-server", func(c *realm.Client) { c.Audience = []string{"assets"} })
	f.key = f.newKey(t, nil, "asset:read", "asset:write")
	return f
}

// newKey makes a key with perms, adding them to the catalog as needed.
func (f *exchangeFixture) newKey(t *testing.T, expires *time.Time, perms ...string) *realm.NewAPIKeyResult {
	t.Helper()
	ctx := f.env.System()
	for _, p := range perms {
		if _, err := f.env.Service.GetPermission(ctx, f.realm.Name, p); err == nil {
			continue
		}
		if _, err := f.env.Service.CreatePermission(ctx, f.realm.Name, realm.PermissionInput{Name: p, Description: p}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := f.env.Service.CreateAPIKey(ctx, f.realm.Name, realm.APIKeyInput{Description: "backup job", Permissions: perms, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func exchangeForm(key string, extra ...string) url.Values {
	form := url.Values{
		"grant_type":         {oauth.GrantTypeTokenExchange},
		"subject_token":      {key},
		"subject_token_type": {oauth.TokenTypeAPIKey},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return form
}

// exchange posts form to the realm's token endpoint as client id.
func (f *exchangeFixture) exchange(form url.Values, id, secret string) *oauthtest.Response {
	f.env.T.Helper()
	return f.env.Post("/realms/"+f.realm.Name+oauth.PathToken, form, id, secret)
}

func wantRefusedKey(t *testing.T, r *oauthtest.Response, description string) {
	t.Helper()
	oauthtest.WantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if r.Body["error_description"] != description {
		t.Fatalf("error_description %q, want %q", r.Body["error_description"], description)
	}
}

func TestTokenExchange(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			env := oauthtest.NewOn(t, open)
			t.Run("Token", func(t *testing.T) { testExchangeToken(t, newExchangeFixture(t, env, "tok")) })
			t.Run("Refusals", func(t *testing.T) { testExchangeRefusals(t, newExchangeFixture(t, env, "ref")) })
			t.Run("Clients", func(t *testing.T) { testExchangeClients(t, newExchangeFixture(t, env, "cli")) })
		})
	}
}

// testExchangeToken: the answer of RFC 8693 §2.2.1, and a token as CONTRACT
// §6 describes it, verified against the published JWKS.
func testExchangeToken(t *testing.T, f *exchangeFixture) {
	env := f.env
	r := f.exchange(exchangeForm(f.key.Key, "audience", "assets", "requested_token_type", "urn:ietf:params:oauth:token-type:access_token"), f.svc.ClientID, f.svcSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.RawBody)
	}
	if r.Body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || r.Body["token_type"] != "Bearer" {
		t.Fatalf("answer %s: want issued_token_type access_token and token_type Bearer", r.RawBody)
	}
	if _, ok := r.Body["refresh_token"]; ok {
		t.Fatalf("an exchange must not return a refresh token: %s", r.RawBody)
	}
	if in, _ := r.Body["expires_in"].(float64); in <= 0 || in > 60 {
		t.Fatalf("expires_in %v, want 1..60", r.Body["expires_in"])
	}
	tok, _ := r.Body["access_token"].(string)
	h, claims := env.VerifyWithJWKS(t, f.realm.Name, tok)
	if h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Fatalf("header alg %s typ %v, want ES256 at+jwt", h.Algorithm, h.ExtraHeaders["typ"])
	}
	if claims["kind"] != "api_key" || claims["sub"] != f.key.ID || claims["iss"] != f.realm.Issuer || claims["client_id"] != f.svc.ClientID {
		t.Fatalf("claims %v: want kind api_key, sub %s, iss %s, client_id %s", claims, f.key.ID, f.realm.Issuer, f.svc.ClientID)
	}
	if got := oauthtest.AnyStrings(claims["permissions"]); !slices.Equal(got, []string{"asset:read", "asset:write"}) {
		t.Fatalf("permissions %v", got)
	}
	if aud := claims["aud"]; fmt.Sprint(aud) != "[assets]" && aud != "assets" {
		t.Fatalf("aud %v, want assets", aud)
	}
	for _, absent := range []string{"groups", "attributes"} {
		if _, ok := claims[absent]; ok {
			t.Fatalf("claim %s present in an API key's token: %v", absent, claims)
		}
	}
	if life := claims["exp"].(float64) - claims["iat"].(float64); life <= 0 || life > 60 {
		t.Fatalf("token lives %v s, want at most 60", life)
	}

	// last_used_at, to the minute.
	k, err := env.Service.GetAPIKey(env.System(), f.realm.Name, f.key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(env.Now().UTC().Truncate(time.Minute)) && !k.LastUsedAt.Equal(env.Now().UTC().Truncate(time.Minute).Add(-time.Minute)) {
		t.Fatalf("last_used_at %v, want this minute (%v)", k.LastUsedAt, env.Now().UTC().Truncate(time.Minute))
	}
	if k.LastUsedAt.Second() != 0 || k.LastUsedAt.Nanosecond() != 0 {
		t.Fatalf("last_used_at %v is not kept to the minute", k.LastUsedAt)
	}

	// Introspection knows it, with its permissions; the client's default
	// audience is used when none is asked.
	checker, checkerSecret := env.NewClient(f.realm.ID, "checker", nil)
	in := env.Introspect(f.realm.Name, tok, checker.ClientID, checkerSecret)
	if in.Body["active"] != true || in.Body["kind"] != "api_key" || in.Body["sub"] != f.key.ID ||
		!slices.Equal(oauthtest.AnyStrings(in.Body["permissions"]), []string{"asset:read", "asset:write"}) {
		t.Fatalf("introspection %s", in.RawBody)
	}
	r = f.exchange(exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange without audience: %d %s", r.Status, r.RawBody)
	}
	if _, c := env.VerifyWithJWKS(t, f.realm.Name, r.Body["access_token"].(string)); fmt.Sprint(c["aud"]) != "[assets]" && c["aud"] != "assets" {
		t.Fatalf("aud without audience asked: %v, want the client's (assets)", c["aud"])
	}

	// A key that expires in 20 s gives a token that ends with it.
	soon := env.Now().Add(20 * time.Second)
	short := f.newKey(t, &soon, "asset:read")
	r = f.exchange(exchangeForm(short.Key), f.svc.ClientID, f.svcSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange of a key expiring soon: %d %s", r.Status, r.RawBody)
	}
	if _, c := env.VerifyWithJWKS(t, f.realm.Name, r.Body["access_token"].(string)); int64(c["exp"].(float64)) > soon.Unix() {
		t.Fatalf("token exp %v outlives the key (%d)", c["exp"], soon.Unix())
	}

	// Deactivation: the next exchange is refused and Ward's introspection
	// says inactive at once (resource servers have their minute).
	if _, err := env.Service.UpdateAPIKey(env.System(), f.realm.Name, f.key.ID, realm.APIKeyPatch{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	wantRefusedKey(t, f.exchange(exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret), "API key is deactivated")
	if in := env.Introspect(f.realm.Name, tok, checker.ClientID, checkerSecret); in.RawBody != `{"active":false}`+"\n" {
		t.Fatalf("a deactivated key's token introspects as %s, want inactive", in.RawBody)
	}
	// Reactivated, it works again.
	if _, err := env.Service.UpdateAPIKey(env.System(), f.realm.Name, f.key.ID, realm.APIKeyPatch{Active: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if r := f.exchange(exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret); r.Status != http.StatusOK {
		t.Fatalf("reactivated key: %d %s", r.Status, r.RawBody)
	}
}

func ptr[T any](v T) *T { return &v }

// testExchangeRefusals: each reason a key is refused, and malformed
// requests.
func testExchangeRefusals(t *testing.T, f *exchangeFixture) {
	env := f.env
	id, secret := f.svc.ClientID, f.svcSecret
	unknown, _, _ := realm.NewAPIKey(nil)
	wantRefusedKey(t, f.exchange(exchangeForm(unknown), id, secret), "API key is unknown")
	wantRefusedKey(t, f.exchange(exchangeForm("not-a-ward-key"), id, secret), "API key is unknown")
	wantRefusedKey(t, f.exchange(exchangeForm(f.key.Key+"x"), id, secret), "API key is unknown")

	later := env.Now().Add(time.Hour)
	expiring := f.newKey(t, &later, "asset:read")
	if r := f.exchange(exchangeForm(expiring.Key), id, secret); r.Status != http.StatusOK {
		t.Fatalf("key before its expiry: %d %s", r.Status, r.RawBody)
	}
	env.Advance(time.Hour)
	wantRefusedKey(t, f.exchange(exchangeForm(expiring.Key), id, secret), "API key has expired")

	// A key of another realm is unknown here, even to a good client.
	other := newExchangeFixture(t, env, "ref-other")
	wantRefusedKey(t, f.exchange(exchangeForm(other.key.Key), id, secret), "API key is unknown")

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no subject_token_type", func() url.Values { v := exchangeForm(f.key.Key); v.Del("subject_token_type"); return v }(), 400, "invalid_request"},
		{"access token type", exchangeForm(f.key.Key, "subject_token_type", "urn:ietf:params:oauth:token-type:access_token"), 400, "invalid_request"},
		{"no subject_token", exchangeForm(""), 400, "invalid_request"},
		{"actor_token", exchangeForm(f.key.Key, "actor_token", "x", "actor_token_type", oauth.TokenTypeAPIKey), 400, "invalid_request"},
		{"requested_token_type other than an access token", exchangeForm(f.key.Key, "requested_token_type", "urn:ietf:params:oauth:token-type:id_token"), 400, "invalid_request"},
		{"scope", exchangeForm(f.key.Key, "scope", "openid"), 400, "invalid_scope"},
		{"audience the client may not name", exchangeForm(f.key.Key, "audience", "billing"), 400, "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oauthtest.WantOAuthError(t, f.exchange(tc.form, id, secret), tc.status, tc.code)
		})
	}
	// The key never shows up in what the server logged.
	if strings.Contains(env.Logs.String(), f.key.Key) || strings.Contains(env.Logs.String(), expiring.Key) {
		t.Fatal("an API key appears in the server log")
	}
}

// testExchangeClients: only an active confidential client of the realm may
// exchange; a confidential application may, a public one may not.
func testExchangeClients(t *testing.T, f *exchangeFixture) {
	env := f.env
	form := exchangeForm(f.key.Key)

	app, appSecret := env.NewClient(f.realm.ID, "web-backend", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{"https://app.example/cb"}
	})
	if r := f.exchange(form, app.ClientID, appSecret); r.Status != http.StatusOK {
		t.Fatalf("confidential application: %d %s", r.Status, r.RawBody)
	}

	spa, _ := env.NewClient(f.realm.ID, "spa", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.Public = true
		c.SecretHash = nil
		c.RedirectURIs = []string{"https://app.example/cb"}
	})
	pub := exchangeForm(f.key.Key, "client_id", spa.ClientID)
	oauthtest.WantOAuthError(t, f.exchange(pub, "", ""), http.StatusBadRequest, "unauthorized_client")

	oauthtest.WantOAuthError(t, f.exchange(form, f.svc.ClientID, "wrong"), http.StatusUnauthorized, "invalid_client")
	// No credentials at all is malformed, as at every grant.
	oauthtest.WantOAuthError(t, f.exchange(form, "", ""), http.StatusBadRequest, "invalid_request")

	// A service account of another realm, with its right secret, is no
	// client here.
	other := newExchangeFixture(t, env, "cli-other")
	oauthtest.WantOAuthError(t, f.exchange(form, other.svc.ClientID, other.svcSecret), http.StatusUnauthorized, "invalid_client")

	off, offSecret := env.NewClient(f.realm.ID, "off", func(c *realm.Client) { c.Active = false })
	oauthtest.WantOAuthError(t, f.exchange(form, off.ClientID, offSecret), http.StatusUnauthorized, "invalid_client")
}

// TestTokenExchangeLimits: exchanges refused for unknown keys are limited
// per client (a resource server relays its callers' keys), and are not
// charged to the address, so they cannot stop that server's other grants;
// deactivated keys are not guesses and count for nothing. Bad client
// credentials still count per address.
func TestTokenExchangeLimits(t *testing.T) {
	env := oauthtest.New(t, func(c oauthtest.Configs) {
		c.OAuth.TokenRateLimit = oauth.RateLimit{Rate: 0.001, Burst: 3}
		c.OAuth.KeyExchangeRateLimit = oauth.RateLimit{Rate: 0.001, Burst: 5}
		c.OAuth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	f := newExchangeFixture(t, env, "lim")
	post := func(form url.Values, id, secret, from string) *oauthtest.Response {
		req, err := http.NewRequest(http.MethodPost, env.Base+"/realms/lim"+oauth.PathToken, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		req.SetBasicAuth(id, secret)
		return env.Do(req)
	}
	const server = "203.0.113.1" // the resource server's address
	// A deactivated key, many times over: neither budget is spent.
	old := f.newKey(t, nil, "asset:read")
	if _, err := env.Service.SetAPIKeysActive(env.System(), "lim", []string{old.ID}, false); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		wantRefusedKey(t, post(exchangeForm(old.Key), f.svc.ClientID, f.svcSecret, server), "API key is deactivated")
	}
	// Five unknown keys use up the client's budget, not the address's.
	for range 5 {
		guess, _, _ := realm.NewAPIKey(nil)
		wantRefusedKey(t, post(exchangeForm(guess), f.svc.ClientID, f.svcSecret, server), "API key is unknown")
	}
	r := post(exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret, server)
	oauthtest.WantOAuthError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q, want whole seconds", r.Header.Get("Retry-After"))
	}
	// The same address's other grants go on (its budget of 3 is whole:
	// neither the refusals nor the 429s above were charged to it).
	if tok := post(url.Values{"grant_type": {"client_credentials"}}, f.svc.ClientID, f.svcSecret, server); tok.Status != http.StatusOK {
		t.Fatalf("client_credentials from the same address: %d %s", tok.Status, tok.RawBody)
	}
	other, otherSecret := env.NewClient(f.realm.ID, "other", nil)
	if r := post(exchangeForm(f.key.Key), other.ClientID, otherSecret, server); r.Status != http.StatusOK {
		t.Fatalf("another client from the same address: %d %s", r.Status, r.RawBody)
	}
	// Bad client credentials are the address's: three, then 429.
	for range 3 {
		oauthtest.WantOAuthError(t, post(exchangeForm(f.key.Key), other.ClientID, "wrong", "198.51.100.7"), http.StatusUnauthorized, "invalid_client")
	}
	oauthtest.WantOAuthError(t, post(exchangeForm(f.key.Key), other.ClientID, otherSecret, "198.51.100.7"),
		http.StatusTooManyRequests, "too_many_requests")
}

func TestDiscoveryListsTokenExchange(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "disc", true)
	r := env.Get("/realms/" + rf.Name + "/.well-known/openid-configuration")
	if !slices.Contains(oauthtest.AnyStrings(r.Body["grant_types_supported"]), oauth.GrantTypeTokenExchange) {
		t.Fatalf("grant_types_supported %v lacks %s", r.Body["grant_types_supported"], oauth.GrantTypeTokenExchange)
	}
}

// countingStore counts the store reads and writes an exchange could make.
type countingStore struct {
	realm.Store
	mu    sync.Mutex
	calls map[string]int
}

func (s *countingStore) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *countingStore) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.calls
	s.calls = map[string]int{}
	return old
}

func (s *countingStore) GetClientClaims(ctx context.Context, realmID, clientID string) (*realm.ClientClaims, error) {
	s.count("GetClientClaims")
	return s.Store.GetClientClaims(ctx, realmID, clientID)
}

func (s *countingStore) GetClient(ctx context.Context, realmID, clientID string) (*realm.Client, error) {
	s.count("GetClient")
	return s.Store.GetClient(ctx, realmID, clientID)
}

func (s *countingStore) GetClientWithAPIKey(ctx context.Context, realmID, clientID string, hash []byte) (*realm.ClientClaims, *realm.APIKey, error) {
	s.count("GetClientWithAPIKey")
	return s.Store.GetClientWithAPIKey(ctx, realmID, clientID, hash)
}

func (s *countingStore) GetAPIKeyByHash(ctx context.Context, realmID string, hash []byte) (*realm.APIKey, error) {
	s.count("GetAPIKeyByHash")
	return s.Store.GetAPIKeyByHash(ctx, realmID, hash)
}

func (s *countingStore) GetAPIKey(ctx context.Context, realmID, id string) (*realm.APIKey, error) {
	s.count("GetAPIKey")
	return s.Store.GetAPIKey(ctx, realmID, id)
}

func (s *countingStore) TouchAPIKey(ctx context.Context, realmID, id string, minute time.Time) error {
	s.count("TouchAPIKey")
	return s.Store.TouchAPIKey(ctx, realmID, id, minute)
}

func (s *countingStore) GetRealmByName(ctx context.Context, name string) (*realm.Realm, error) {
	s.count("GetRealmByName")
	return s.Store.GetRealmByName(ctx, name)
}

// TestTokenExchangeOneQuery: an exchange reads its client and its key in
// one query, and writes last_used_at once a minute.
func TestTokenExchangeOneQuery(t *testing.T) {
	var cs *countingStore
	env := oauthtest.NewOn(t, func(t testing.TB) realm.Store {
		cs = &countingStore{Store: oauthtest.OpenSQLite(t), calls: map[string]int{}}
		return cs
	}, func(c oauthtest.Configs) {
		// The realm's cached provider outlives the test's minute, so that
		// only the exchange's own reads are counted.
		c.OAuth.ProviderTTL = time.Hour
	})
	f := newExchangeFixture(t, env, "one")
	exchange := func() {
		t.Helper()
		if r := f.exchange(exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret); r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.RawBody)
		}
	}
	exchange() // builds the realm's provider and records the first use
	cs.reset()
	for range 3 {
		exchange()
	}
	if got := cs.reset(); !maps.Equal(got, map[string]int{"GetClientWithAPIKey": 3}) {
		t.Fatalf("three exchanges within the minute made %v, want exactly 3 GetClientWithAPIKey", got)
	}
	env.Advance(time.Minute)
	exchange()
	if got := cs.reset(); !maps.Equal(got, map[string]int{"GetClientWithAPIKey": 1, "TouchAPIKey": 1}) {
		t.Fatalf("the first exchange of a new minute made %v, want one read and one TouchAPIKey", got)
	}
	// A string that is not shaped like a key costs the client's read only.
	wantRefusedKey(t, f.exchange(exchangeForm("ward_short"), f.svc.ClientID, f.svcSecret), "API key is unknown")
	if got := cs.reset(); !maps.Equal(got, map[string]int{"GetClientClaims": 1}) {
		t.Fatalf("a malformed key made %v, want only the client's read", got)
	}
}
