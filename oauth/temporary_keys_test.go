package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// mintFixture is an exchange fixture with a security template "uploader"
// (asset:create and asset:read under /marketing/*).
type mintFixture struct {
	*exchangeFixture
	tmpl *realm.SecurityTemplate
}

func newMintFixture(t *testing.T, env *oauthtest.Env, realmName string) *mintFixture {
	t.Helper()
	f := &mintFixture{exchangeFixture: newExchangeFixture(t, env, realmName)}
	f.key = f.newKey(t, nil, "asset:create", "asset:read", "asset:delete")
	tmpl, err := env.Service.CreateSecurityTemplate(env.System(), realmName, realm.SecurityTemplateInput{
		Name: "uploader", Description: "widget uploads", Permissions: []string{"asset:read", "asset:create"},
		TTLSeconds: ptr(1200), LimitPerMinute: ptr(60), DirScope: []string{"/marketing/*"},
		IPRanges: []string{"203.0.113.0/24", "2001:db8::/32"}, Countries: []string{"de", "FR"}})
	if err != nil {
		t.Fatal(err)
	}
	f.tmpl = tmpl
	return f
}

// mint posts body to the realm's temporary-keys endpoint with key.
func (f *mintFixture) mint(key, body string, header ...string) *oauthtest.Response {
	f.env.T.Helper()
	req, err := http.NewRequest(http.MethodPost, f.env.Base+"/realms/"+f.realm.Name+"/temporary-keys", strings.NewReader(body))
	if err != nil {
		f.env.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.env.Do(req)
}

// wantProblem fails unless r is a problem document of status whose detail
// contains detail and, when field is set, whose errors name it.
func wantProblem(t *testing.T, r *oauthtest.Response, status int, detail, field string) {
	t.Helper()
	if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("got %d %s %s, want %d problem+json", r.Status, r.Header.Get("Content-Type"), r.RawBody, status)
	}
	if got, _ := r.Body["status"].(float64); int(got) != status {
		t.Fatalf("problem status %v, want %d: %s", r.Body["status"], status, r.RawBody)
	}
	if d, _ := r.Body["detail"].(string); !strings.Contains(d, detail) {
		t.Fatalf("detail %q, want it to contain %q", d, detail)
	}
	if field == "" {
		return
	}
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	t.Fatalf("errors %v do not name %s", r.Body["errors"], field)
}

func TestTemporaryKeys(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			env := oauthtest.NewOn(t, open)
			t.Run("Mint", func(t *testing.T) { testMint(t, newMintFixture(t, env, "mint")) })
			t.Run("Refusals", func(t *testing.T) { testMintRefusals(t, newMintFixture(t, env, "refuse")) })
			t.Run("NotAnAccessToken", func(t *testing.T) { testTemporaryKeyNotAccessToken(t, newMintFixture(t, env, "notat")) })
			t.Run("PolicyDocument", func(t *testing.T) { testDeactivatedKeysListed(t, newMintFixture(t, env, "doc")) })
		})
	}
}

// testMint: the answer and the key CONTRACT §6 describes, verified against
// the realm's published JWKS.
func testMint(t *testing.T, f *mintFixture) {
	env := f.env
	defer env.Freeze()() // exact exp and expires_at from "now"
	r := f.mint(f.key.Key, `{"template":"uploader"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("mint: %d %s", r.Status, r.RawBody)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	if r.Body["template"] != "uploader" || !slices.Equal(oauthtest.AnyStrings(r.Body["permissions"]), []string{"asset:create", "asset:read"}) {
		t.Fatalf("answer %s: want template uploader, permissions [asset:create asset:read]", r.RawBody)
	}
	now := env.Now().Truncate(time.Second)
	exp, err := time.Parse(time.RFC3339, r.Body["expires_at"].(string))
	if err != nil || !exp.Equal(now.Add(1200*time.Second)) {
		t.Fatalf("expires_at %v (%v), want %v", r.Body["expires_at"], err, now.Add(1200*time.Second))
	}
	key, _ := r.Body["key"].(string)
	h, claims := env.VerifyWithJWKS(t, f.realm.Name, key)
	if h.Algorithm != "ES256" || h.ExtraHeaders["typ"] != oauth.TemporaryKeyType {
		t.Fatalf("header alg %s typ %v, want ES256 %s", h.Algorithm, h.ExtraHeaders["typ"], oauth.TemporaryKeyType)
	}
	want := map[string]any{
		"iss": f.realm.Issuer, "sub": f.tmpl.ID, "template": "uploader", "api_key": f.key.ID,
		"iat": float64(now.Unix()), "exp": float64(now.Unix() + 1200),
		"limit_per_minute": float64(60), "limit_per_source_ip_per_minute": nil,
	}
	for k, v := range want {
		if got, ok := claims[k]; !ok || got != v {
			t.Errorf("claim %s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for k, v := range map[string][]string{
		"permissions": {"asset:create", "asset:read"}, "dir_scope": {"/marketing/*"},
		"ip_ranges": {"203.0.113.0/24", "2001:db8::/32"}, "countries": {"DE", "FR"},
	} {
		if got := oauthtest.AnyStrings(claims[k]); !slices.Equal(got, v) {
			t.Errorf("claim %s = %v, want %v", k, got, v)
		}
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Errorf("no jti in %v", claims)
	}
	if _, ok := claims["aud"]; ok {
		t.Errorf("a temporary key has no audience: %v", claims)
	}
	// Two mints are two keys.
	if again := f.mint(f.key.Key, `{"template":"uploader"}`); again.Body["key"] == key {
		t.Fatal("two mints gave the same key")
	}
	// A shorter life on request; minting is a use of the API key.
	r = f.mint(f.key.Key, `{"template":"uploader","ttl_seconds":60}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("mint with ttl 60: %d %s", r.Status, r.RawBody)
	}
	if _, c := env.VerifyWithJWKS(t, f.realm.Name, r.Body["key"].(string)); c["exp"] != float64(now.Unix()+60) {
		t.Fatalf("exp %v, want %d", c["exp"], now.Unix()+60)
	}
	k, err := env.Service.GetAPIKey(env.System(), f.realm.Name, f.key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if minute := env.Now().UTC().Truncate(time.Minute); k.LastUsedAt == nil || !k.LastUsedAt.Equal(minute) {
		t.Fatalf("last_used_at %v, want %v", k.LastUsedAt, minute)
	}
	// A key that expires sooner than the template's TTL caps the
	// temporary key.
	soon := env.Now().Add(5 * time.Minute).Truncate(time.Second)
	short := f.newKey(t, &soon, "asset:create", "asset:read")
	r = f.mint(short.Key, `{"template":"uploader"}`)
	if r.Status != http.StatusCreated || r.Body["expires_at"] != soon.UTC().Format(time.RFC3339) {
		t.Fatalf("mint with a key expiring at %v: %d %s", soon, r.Status, r.RawBody)
	}
}

func testMintRefusals(t *testing.T, f *mintFixture) {
	env := f.env
	wantUnauth := func(r *oauthtest.Response, detail string) {
		t.Helper()
		wantProblem(t, r, http.StatusUnauthorized, detail, "")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("401 without WWW-Authenticate: %v", r.Header)
		}
	}
	wantUnauth(f.mint("", `{"template":"uploader"}`), "X-API-Key")
	wantUnauth(f.mint("ward_short", `{"template":"uploader"}`), realm.APIKeyUnknown)
	guess, _, _ := realm.NewAPIKey(nil)
	wantUnauth(f.mint(guess, `{"template":"uploader"}`), realm.APIKeyUnknown)
	// A key of another realm is unknown here.
	other := newMintFixture(t, env, "other-"+f.realm.Name)
	wantUnauth(f.mint(other.key.Key, `{"template":"uploader"}`), realm.APIKeyUnknown)

	gone := f.newKey(t, nil, "asset:create", "asset:read")
	if _, err := env.Service.SetAPIKeysActive(env.System(), f.realm.Name, []string{gone.ID}, false); err != nil {
		t.Fatal(err)
	}
	wantUnauth(f.mint(gone.Key, `{"template":"uploader"}`), realm.APIKeyDeactivated)
	soon := env.Now().Add(time.Minute)
	expiring := f.newKey(t, &soon, "asset:create", "asset:read")
	env.Advance(2 * time.Minute)
	wantUnauth(f.mint(expiring.Key, `{"template":"uploader"}`), realm.APIKeyExpired)

	weak := f.newKey(t, nil, "asset:read")
	wantProblem(t, f.mint(weak.Key, `{"template":"uploader"}`), http.StatusForbidden, "asset:create", "")
	wantProblem(t, f.mint(f.key.Key, `{"template":"nope"}`), http.StatusNotFound, `"nope"`, "template")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader","ttl_seconds":1201}`), http.StatusBadRequest, "", "ttl_seconds")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader","ttl_seconds":0}`), http.StatusBadRequest, "", "ttl_seconds")
	wantProblem(t, f.mint(f.key.Key, `{}`), http.StatusBadRequest, "", "template")
	wantProblem(t, f.mint(f.key.Key, `{"template":"a\u0000b"}`), http.StatusBadRequest, "", "template")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader","scope":"x"}`), http.StatusBadRequest, "no other field", "")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader"`), http.StatusBadRequest, "JSON", "")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader","ttl_seconds":"60"}`), http.StatusBadRequest, "", "ttl_seconds")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader","ttl_seconds":1.5}`), http.StatusBadRequest, "", "ttl_seconds")
	wantProblem(t, f.mint(f.key.Key, `{"template":7}`), http.StatusBadRequest, "", "template")
	wantProblem(t, f.mint(f.key.Key, `["uploader"]`), http.StatusBadRequest, "JSON", "")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader"}`+strings.Repeat(" ", 5000)), http.StatusRequestEntityTooLarge, "", "")
	wantProblem(t, f.mint(f.key.Key, `{"template":"uploader"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "", "")

	req, _ := http.NewRequest(http.MethodPost, env.Base+"/realms/no-such-realm/temporary-keys", strings.NewReader(`{"template":"uploader"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", f.key.Key)
	wantProblem(t, env.Do(req), http.StatusNotFound, "realm", "")
}

// testTemporaryKeyNotAccessToken: a temporary key is refused wherever Ward
// expects an access token or an API key (CONTRACT §6, issue 15 bad input).
func testTemporaryKeyNotAccessToken(t *testing.T, f *mintFixture) {
	env := f.env
	r := f.mint(f.key.Key, `{"template":"uploader"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("mint: %d %s", r.Status, r.RawBody)
	}
	tk := r.Body["key"].(string)
	for _, path := range []string{oauth.PathUserinfo, "/policies"} {
		req, _ := http.NewRequest(http.MethodGet, env.Base+"/realms/"+f.realm.Name+path, nil)
		req.Header.Set("Authorization", "Bearer "+tk)
		if r := env.Do(req); r.Status != http.StatusUnauthorized || r.Body["error"] != "invalid_token" {
			t.Fatalf("%s with a temporary key as Bearer: %d %s, want 401 invalid_token", path, r.Status, r.RawBody)
		}
	}
	in := env.Introspect(f.realm.Name, tk, f.svc.ClientID, f.svcSecret)
	if in.Status != http.StatusOK || in.Body["active"] != false {
		t.Fatalf("introspection of a temporary key: %d %s, want active false", in.Status, in.RawBody)
	}
	wantRefusedKey(t, f.exchange(exchangeForm(tk), f.svc.ClientID, f.svcSecret), realm.APIKeyUnknown)
	// Nor does a temporary key mint another.
	wantProblem(t, f.mint(tk, `{"template":"uploader"}`), http.StatusUnauthorized, realm.APIKeyUnknown, "")
}

// testDeactivatedKeysListed: the policy document names deactivated keys
// while a key they minted may be alive, and then no more.
func testDeactivatedKeysListed(t *testing.T, f *mintFixture) {
	env := f.env
	listed := func() []string {
		t.Helper()
		tok := env.MustToken(f.realm.Name, f.svc.ClientID, f.svcSecret, nil)
		req, _ := http.NewRequest(http.MethodGet, env.Base+"/realms/"+f.realm.Name+"/policies", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r := env.Do(req)
		if r.Status != http.StatusOK {
			t.Fatalf("policies: %d %s", r.Status, r.RawBody)
		}
		var doc struct {
			Deactivated *[]string `json:"deactivated_api_keys"`
		}
		if err := json.Unmarshal([]byte(r.RawBody), &doc); err != nil || doc.Deactivated == nil {
			t.Fatalf("policy document %s: want deactivated_api_keys as a list (%v)", r.RawBody, err)
		}
		return *doc.Deactivated
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("deactivated_api_keys %v, want []", got)
	}
	a, b := f.newKey(t, nil, "asset:read"), f.newKey(t, nil, "asset:read")
	if _, err := env.Service.SetAPIKeysActive(env.System(), f.realm.Name, []string{b.ID, a.ID}, false); err != nil {
		t.Fatal(err)
	}
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if got := listed(); !slices.Equal(got, want) {
		t.Fatalf("deactivated_api_keys %v, want %v", got, want)
	}
	// Reactivated: no longer listed.
	if _, err := env.Service.SetAPIKeysActive(env.System(), f.realm.Name, []string{a.ID}, true); err != nil {
		t.Fatal(err)
	}
	if got := listed(); !slices.Equal(got, []string{b.ID}) {
		t.Fatalf("after reactivating %s: %v, want [%s]", a.ID, got, b.ID)
	}
	// Once every key b could have minted has expired, b is dropped. (Asked
	// of the service the endpoint serves: an access token issued now would
	// carry fosite's wall-clock exp, already past on the advanced clock.)
	env.Advance(realm.DeactivatedKeysWindow - time.Second)
	if got, err := env.Service.DeactivatedAPIKeys(env.Ctx, f.realm.ID); err != nil || !slices.Equal(got.IDs, []string{b.ID}) || got.MintedUntil != nil {
		t.Fatalf("a second before the window ends: %v, %v; want [%s]", got, err, b.ID)
	}
	env.Advance(2 * time.Second)
	if got, err := env.Service.DeactivatedAPIKeys(env.Ctx, f.realm.ID); err != nil || len(got.IDs) != 0 {
		t.Fatalf("after the window: %v, %v; want none", got, err)
	}
}

func TestTemporaryKeyMintLimit(t *testing.T) {
	env := oauthtest.New(t, func(c oauthtest.Configs) {
		c.OAuth.MintRateLimit = oauth.RateLimit{Rate: 0.001, Burst: 3}
		c.OAuth.TokenRateLimit = oauth.RateLimit{Rate: 0.001, Burst: 4}
	})
	f := newMintFixture(t, env, "lim")
	for i := range 3 {
		if r := f.mint(f.key.Key, `{"template":"uploader"}`); r.Status != http.StatusCreated {
			t.Fatalf("mint %d: %d %s", i, r.Status, r.RawBody)
		}
	}
	r := f.mint(f.key.Key, `{"template":"uploader"}`)
	wantProblem(t, r, http.StatusTooManyRequests, "API key", "")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q, want whole seconds", r.Header.Get("Retry-After"))
	}
	// Another key of the realm has its own budget.
	other := f.newKey(t, nil, "asset:create", "asset:read")
	if r := f.mint(other.Key, `{"template":"uploader"}`); r.Status != http.StatusCreated {
		t.Fatalf("another key: %d %s", r.Status, r.RawBody)
	}
	// Unknown keys are charged to the address: four, then 429 even for a
	// good key from there.
	for range 4 {
		guess, _, _ := realm.NewAPIKey(nil)
		wantProblem(t, f.mint(guess, `{"template":"uploader"}`), http.StatusUnauthorized, realm.APIKeyUnknown, "")
	}
	wantProblem(t, f.mint(other.Key, `{"template":"uploader"}`), http.StatusTooManyRequests, "address", "")
}

// TestTemporaryKeyStoreDown: with the database away a mint is a 503
// problem that says when to come back, as every other 503 of Ward's.
func TestTemporaryKeyStoreDown(t *testing.T) {
	env := oauthtest.New(t)
	f := newMintFixture(t, env, "down")
	if r := f.mint(f.key.Key, `{"template":"uploader"}`); r.Status != http.StatusCreated {
		t.Fatalf("mint before: %d %s", r.Status, r.RawBody)
	}
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	r := f.mint(f.key.Key, `{"template":"uploader"}`)
	wantProblem(t, r, http.StatusServiceUnavailable, "right now", "")
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
	}
}

// TestMintTestKey: the console's test key is minted for an admin of the
// realm's org only, lives at most ten minutes, names no API key, and its
// audit event names the key's jti (never the key).
func TestMintTestKey(t *testing.T) {
	env := oauthtest.New(t)
	f := newMintFixture(t, env, "console-mint")
	org := f.realm.OrgID
	as := func(role realm.Role) context.Context {
		return realm.WithPrincipal(env.Ctx, realm.Principal{OrgID: org, Role: role, ActorType: "member", ActorID: "m-" + string(role)})
	}
	if _, err := env.OAuth.MintTestKey(as(realm.RoleViewer), f.realm.Name, "uploader"); !errors.Is(err, realm.ErrForbidden) {
		t.Fatalf("a viewer minting: %v, want forbidden", err)
	}
	other := realm.WithPrincipal(env.Ctx, realm.Principal{OrgID: env.NewOrg("elsewhere").ID, Role: realm.RoleOwner, ActorType: "member", ActorID: "x"})
	if _, err := env.OAuth.MintTestKey(other, f.realm.Name, "uploader"); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("another org's owner minting: %v, want not found", err)
	}
	if _, err := env.OAuth.MintTestKey(as(realm.RoleAdmin), f.realm.Name, "nope"); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("an unknown template: %v, want not found", err)
	}
	thaw := env.Freeze()
	defer thaw()
	k, err := env.OAuth.MintTestKey(as(realm.RoleAdmin), f.realm.Name, "uploader")
	if err != nil {
		t.Fatal(err)
	}
	_, claims := env.VerifyWithJWKS(t, f.realm.Name, k.Key)
	now := env.Now().Truncate(time.Second)
	if claims["api_key"] != "" || claims["exp"] != float64(now.Unix()+600) || !k.ExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("test key claims %v, expires_at %v: want api_key \"\" and exp in 10 minutes", claims, k.ExpiresAt)
	}
	events, err := env.Service.ListEvents(as(realm.RoleAdmin), f.realm.Name, realm.EventFilter{Type: realm.EventSecurityTemplateTestKeyMinted})
	if err != nil || len(events.Items) != 1 {
		t.Fatalf("events %v, %v: want one test_key_minted", events.Items, err)
	}
	e := events.Items[0]
	if e.Details["jti"] != claims["jti"] || e.TargetID != f.tmpl.ID || e.ActorID != "m-admin" {
		t.Fatalf("event %+v: want jti %v, target %s, actor m-admin", e, claims["jti"], f.tmpl.ID)
	}
	if strings.Contains(fmt.Sprint(e.Details), k.Key) {
		t.Fatal("the event holds the key")
	}
}
