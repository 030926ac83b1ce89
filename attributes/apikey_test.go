package attributes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// fakeClock is the time for both the guard and the test issuer, moved by
// the test: cache lifetimes are tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newAPIKey is a fresh key string of Ward's shape: ward_ and 43 base62.
func newAPIKey(t testing.TB) string {
	b := make([]byte, 43)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return "ward_" + string(b)
}

// addAPIKey makes key known to the realm as id with permissions.
func (ti *testIssuer) addAPIKey(key, id string, permissions ...string) {
	ti.mu.Lock()
	ti.apiKeys[key] = &testAPIKey{id: id, permissions: permissions, active: true}
	ti.mu.Unlock()
}

func (ti *testIssuer) setKey(key string, f func(*testAPIKey)) {
	ti.mu.Lock()
	f(ti.apiKeys[key])
	ti.mu.Unlock()
}

func (ti *testIssuer) set(f func(*testIssuer)) {
	ti.mu.Lock()
	f(ti)
	ti.mu.Unlock()
}

// allPolicy allows every asset action to everyone: a key must still be
// held to its permissions.
var allPolicy = Policy{Name: "all", ResourceType: "asset", Actions: []string{"*"}, Condition: "true"}

// keyRealm is a test realm that exchanges API keys, on a fake clock, and a
// guard for it.
func keyRealm(t *testing.T, mod func(*Config)) (*testIssuer, *Guard, *fakeClock) {
	t.Helper()
	ti := newTestIssuer(t, allPolicy)
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	clock := &fakeClock{t: time.Now()}
	ti.keySigner, ti.clock = &es, clock.now
	g := ti.guard(t, func(c *Config) {
		c.Clock = clock.now
		if mod != nil {
			mod(c)
		}
	})
	return ti, g, clock
}

// keyServer protects GET (read) and DELETE (delete) /assets/{id} and
// GET /me (authenticate only) with the net/http middleware; the handlers
// answer the subject they were given as JSON.
func keyServer(t *testing.T, g *Guard) *httptest.Server {
	load := func(r *http.Request) (map[string]any, error) {
		if r.PathValue("id") != "a1" {
			return nil, ErrNotFound
		}
		return map[string]any{"id": "a1", "department": "news"}, nil
	}
	echoSubject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := SubjectFrom(r.Context())
		writeJSON(w, sub)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /assets/{id}", g.HTTP("asset", "read", load, echoSubject))
	mux.Handle("DELETE /assets/{id}", g.HTTP("asset", "delete", load, echoSubject))
	mux.Handle("GET /me", g.Authenticate(echoSubject))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request with the given headers.
func send(t *testing.T, method, url string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Content-Type")}
}

func withKey(t *testing.T, method, url, key string) answer {
	t.Helper()
	return send(t, method, url, "X-API-Key", key)
}

func detail(a answer) string {
	var p struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal([]byte(a.body), &p)
	return p.Detail
}

// TestAPIKeyShape: which strings are Ward keys, and how a credential is
// told apart by shape and header.
func TestAPIKeyShape(t *testing.T) {
	r40, r100 := strings.Repeat("aZ09", 10), strings.Repeat("Ab3De", 20)
	for s, want := range map[string]bool{
		"ward_" + r40:               true,
		"ward_" + r100:              true,
		"ward_" + r40[:39]:          false,
		"ward_" + r100 + "x":        false,
		"ward_" + r40[:39] + "-":    false,
		"ward_" + r40[:39] + "_":    false,
		"ward_" + r40[:39] + "é":    false,
		"ward_" + r40[:39] + " ":    false,
		"ward_" + r40[:39] + "\x00": false,
		"Ward_" + r40:               false,
		"ward-" + r40:               false,
		" ward_" + r40:              false,
		"ward_":                     false,
		"":                          false,
		r40 + r40:                   false,
	} {
		if got := isAPIKeyShape(s); got != want {
			t.Errorf("isAPIKeyShape(%q) = %v, want %v", s, got, want)
		}
	}
	for _, c := range []struct {
		cred   string
		header bool
		want   credentialKind
	}{
		{"ward_" + r40, true, credAPIKey},
		{"ward_" + r40, false, credAPIKey},
		{"ward_short", false, credMalformed},
		{"ward_short", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9.e30.sig", false, credAccessToken},
		// A compact JWS in X-API-Key is a temporary key (issue 15); as
		// Bearer it stays an access token, which its typ then fails.
		{"eyJhbGciOiJFUzI1NiJ9.e30.sig", true, credTemporaryKey},
		{"eyJhbGciOiJFUzI1NiJ9.e30.", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9..sig", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9.e30.sig.x", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9.e30.s+g", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9.e30.s=", true, credMalformed},
		{"eyJhbGciOiJFUzI1NiJ9.e30." + strings.Repeat("A", 8<<10), true, credMalformed},
		{"garbage", false, credAccessToken},
		{"garbage", true, credMalformed},
		{"", true, credMalformed},
	} {
		if got := classify(c.cred, c.header); got != c.want {
			t.Errorf("classify(%q, X-API-Key %v) = %v, want %v", c.cred, c.header, got, c.want)
		}
	}
}

// TestGuardAPIKeyHTTP: a key works in X-API-Key and as Bearer, the handler
// sees the key's claims, the key is held to its permissions whatever the
// policies say, one exchange serves many requests, and malformed keys are
// refused without asking Ward.
func TestGuardAPIKeyHTTP(t *testing.T) {
	var reports []string
	var mu sync.Mutex
	ti, g, _ := keyRealm(t, func(c *Config) {
		c.OnError = func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() }
	})
	srv := keyServer(t, g)
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read", "report:read")

	a := withKey(t, "GET", srv.URL+"/assets/a1", key)
	if a.status != 200 {
		t.Fatalf("X-API-Key: %d %s", a.status, a.body)
	}
	var sub map[string]any
	if err := json.Unmarshal([]byte(a.body), &sub); err != nil {
		t.Fatal(err)
	}
	if sub["kind"] != "api_key" || sub["sub"] != "key-1" || fmt.Sprint(sub["permissions"]) != "[asset:read report:read]" ||
		sub["aud"] != testAudience || sub["iss"] != ti.issuer || sub["groups"] != nil || sub["attributes"] != nil {
		t.Errorf("the handler's subject: %v", sub)
	}
	ti.mu.Lock()
	form := ti.lastExchange
	ti.mu.Unlock()
	if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || form.Get("subject_token") != key ||
		form.Get("subject_token_type") != "urn:ward:params:oauth:token-type:api-key" || form.Get("audience") != testAudience {
		t.Errorf("the exchange request: %v", form)
	}
	if a := send(t, "GET", srv.URL+"/assets/a1", "Authorization", "Bearer "+key); a.status != 200 {
		t.Errorf("Authorization: Bearer ward_…: %d %s", a.status, a.body)
	}
	if a := withKey(t, "GET", srv.URL+"/me", key); a.status != 200 || !strings.Contains(a.body, `"sub":"key-1"`) {
		t.Errorf("authenticate only: %d %s", a.status, a.body)
	}
	// The realm's policy allows every action; the key holds no
	// asset:delete.
	a = withKey(t, "DELETE", srv.URL+"/assets/a1", key)
	checkProblem(t, "missing permission", a, 403)
	if d := detail(a); d != "the API key lacks the permission asset:delete" {
		t.Errorf("403 detail %q", d)
	}
	checkProblem(t, "unknown asset", withKey(t, "GET", srv.URL+"/assets/zz", key), 404)
	if n := ti.exchanges.Load(); n != 1 {
		t.Errorf("%d exchanges for five requests with one key, want 1", n)
	}

	// An ordinary token goes on being decided by the policies.
	es := *ti.keySigner
	tok := es.sign(t, "at+jwt", ti.claims("svc", map[string]any{}))
	if a := get(t, srv.URL+"/assets/a1", tok); a.status != 200 {
		t.Errorf("access token: %d %s", a.status, a.body)
	}
	if a := send(t, "DELETE", srv.URL+"/assets/a1", "Authorization", "Bearer "+tok); a.status != 200 {
		t.Errorf("access token, delete: %d %s", a.status, a.body)
	}

	// Not Ward keys: refused without a call to Ward.
	before := ti.exchanges.Load()
	for name, h := range map[string][]string{
		"39 characters":             {"X-API-Key", key[:len("ward_")+39]},
		"101 characters":            {"X-API-Key", "ward_" + strings.Repeat("a", 101)},
		"a dash":                    {"X-API-Key", key[:20] + "-" + key[21:]},
		"the prefix alone":          {"X-API-Key", "ward_"},
		"empty X-API-Key":           {"X-API-Key", ""},
		"another prefix":            {"X-API-Key", "Ward_" + key[5:]},
		"an access token as key":    {"X-API-Key", tok},
		"Bearer ward_ too short":    {"Authorization", "Bearer ward_abc"},
		"Bearer ward_ odd chars":    {"Authorization", "Bearer " + key[:30] + "/" + key[31:]},
		"two X-API-Key headers":     {"X-API-Key", key, "X-API-Key", key},
		"X-API-Key and a token":     {"X-API-Key", key, "Authorization", "Bearer " + tok},
		"X-API-Key and Bearer key":  {"X-API-Key", key, "Authorization", "Bearer " + key},
		"Basic with the key inside": {"Authorization", "Basic " + key},
	} {
		a := send(t, "GET", srv.URL+"/assets/a1", h...)
		checkProblem(t, name, a, 401)
		if a.wwwAuth != `Bearer realm="assets", error="invalid_token"` {
			t.Errorf("%s: WWW-Authenticate %q", name, a.wwwAuth)
		}
		if strings.Contains(a.body, key[5:25]) {
			t.Errorf("%s: the answer quotes the key: %s", name, a.body)
		}
	}
	if n := ti.exchanges.Load(); n != before {
		t.Errorf("malformed keys caused %d exchanges", n-before)
	}
	a = withKey(t, "GET", srv.URL+"/assets/a1", "ward_short")
	if d := detail(a); d != "the API key is not a Ward API key" {
		t.Errorf("malformed key detail %q", d)
	}
	a = send(t, "GET", srv.URL+"/assets/a1")
	checkProblem(t, "no credential", a, 401)
	if a.wwwAuth != `Bearer realm="assets"` {
		t.Errorf("no credential: WWW-Authenticate %q", a.wwwAuth)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 0 {
		t.Errorf("reported: %q", reports)
	}
}

// TestGuardAPIKeyRefused: an unknown, deactivated or expired key is a 401
// whose detail repeats Ward's reason, never the key.
func TestGuardAPIKeyRefused(t *testing.T) {
	ti, g, _ := keyRealm(t, nil)
	srv := keyServer(t, g)
	deactivated, expired, unknown := newAPIKey(t), newAPIKey(t), newAPIKey(t)
	ti.addAPIKey(deactivated, "key-d", "asset:read")
	ti.setKey(deactivated, func(k *testAPIKey) { k.active = false })
	ti.addAPIKey(expired, "key-e", "asset:read")
	ti.setKey(expired, func(k *testAPIKey) { k.expired = true })
	for key, want := range map[string]string{
		unknown:     "the API key was refused: API key is unknown",
		deactivated: "the API key was refused: API key is deactivated",
		expired:     "the API key was refused: API key has expired",
	} {
		for _, h := range [][]string{{"X-API-Key", key}, {"Authorization", "Bearer " + key}} {
			a := send(t, "GET", srv.URL+"/assets/a1", h...)
			checkProblem(t, want, a, 401)
			if d := detail(a); d != want {
				t.Errorf("detail %q, want %q", d, want)
			}
			if a.wwwAuth != `Bearer realm="assets", error="invalid_token"` {
				t.Errorf("%s: WWW-Authenticate %q", want, a.wwwAuth)
			}
			if strings.Contains(a.body, key) || strings.Contains(a.body, key[5:20]) {
				t.Errorf("the answer quotes the key: %s", a.body)
			}
		}
		_, err := g.VerifyAPIKey(context.Background(), key)
		var refused *KeyRefusedError
		if !errors.As(err, &refused) || !errors.Is(err, ErrInvalidToken) || strings.Contains(err.Error(), key) {
			t.Errorf("VerifyAPIKey: %v", err)
		}
	}
	// Each key was asked about once: the refusals are repeated from the
	// cache (the clock has not moved).
	if n := ti.exchanges.Load(); n != 3 {
		t.Errorf("%d exchanges for 9 refusals of 3 keys, want 3", n)
	}
	if _, err := g.VerifyAPIKey(context.Background(), "ward_nope"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyAPIKey of a malformed key: %v", err)
	}
}

// TestGuardAPIKeySingleFlight: many concurrent first requests for a key
// share one exchange.
func TestGuardAPIKeySingleFlight(t *testing.T) {
	ti, g, _ := keyRealm(t, nil)
	srv := keyServer(t, g)
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read")
	gate := make(chan struct{})
	ti.set(func(ti *testIssuer) { ti.exchangeGate = gate })

	const n = 32
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not withKey: t.Fatal belongs to the test's goroutine.
			req, _ := http.NewRequest("GET", srv.URL+"/assets/a1", nil)
			req.Header.Set("X-API-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	// Hold the exchange until every other request waits for it, so the
	// requests really overlap.
	deadline := time.Now().Add(10 * time.Second)
	for g.apiKeys.joined.Load() < n-1 {
		if time.Now().After(deadline) {
			close(gate)
			t.Fatalf("only %d requests joined the exchange in flight (%d exchanges)", g.apiKeys.joined.Load(), ti.exchanges.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("a concurrent first request: %d", s)
		}
	}
	if got := ti.exchanges.Load(); got != 1 {
		t.Errorf("%d concurrent first requests made %d exchanges, want 1", n, got)
	}
	if got := g.apiKeys.len(); got != 1 {
		t.Errorf("%d cache entries, want 1", got)
	}
}

// TestGuardAPIKeyRefresh: the token is used until a quarter of its life (or
// 10 s) remains, then exchanged again; a key deactivated at Ward is
// refused at the next exchange, within the token's minute; a refusal is
// repeated for a few seconds only.
func TestGuardAPIKeyRefresh(t *testing.T) {
	ti, g, clock := keyRealm(t, nil)
	srv := keyServer(t, g)
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read")
	ok := func(when string) {
		t.Helper()
		if a := withKey(t, "GET", srv.URL+"/assets/a1", key); a.status != 200 {
			t.Fatalf("%s: %d %s", when, a.status, a.body)
		}
	}
	exchanges := func(want int64, when string) {
		t.Helper()
		if n := ti.exchanges.Load(); n != want {
			t.Fatalf("%s: %d exchanges, want %d", when, n, want)
		}
	}

	ok("first")
	exchanges(1, "first request")
	clock.advance(44 * time.Second)
	ok("at 44 s")
	exchanges(1, "at 44 s of a 60 s token")
	clock.advance(time.Second)
	ok("at 45 s")
	exchanges(2, "at 45 s (a quarter of its life left)")

	// Deactivated right after an exchange: answered from the cache until
	// the next exchange, then refused.
	ti.setKey(key, func(k *testAPIKey) { k.active = false })
	var refusedAfter time.Duration
	for s := 1; s <= 60; s++ {
		clock.advance(time.Second)
		a := withKey(t, "GET", srv.URL+"/assets/a1", key)
		if a.status == 200 {
			continue
		}
		checkProblem(t, "deactivated", a, 401)
		if d := detail(a); !strings.Contains(d, "deactivated") {
			t.Errorf("detail %q does not say deactivated", d)
		}
		refusedAfter = time.Duration(s) * time.Second
		break
	}
	if refusedAfter != 45*time.Second {
		t.Fatalf("a deactivated key was refused after %v, want 45 s (at the refresh, within the 60 s token)", refusedAfter)
	}
	exchanges(3, "the refusing exchange")

	// The refusal is repeated from the cache for 3 s, no longer.
	clock.advance(2 * time.Second)
	checkProblem(t, "refusal repeated", withKey(t, "GET", srv.URL+"/assets/a1", key), 401)
	exchanges(3, "2 s after the refusal")
	clock.advance(time.Second)
	ti.setKey(key, func(k *testAPIKey) { k.active = true })
	ok("reactivated, 3 s after the refusal")
	exchanges(4, "3 s after the refusal")
}

// TestGuardAPIKeyLifetimes: a short token is refreshed at half its life
// (not on every request); a long one is used for at most a minute.
func TestGuardAPIKeyLifetimes(t *testing.T) {
	for _, c := range []struct {
		life, noRefreshAt, refreshAt time.Duration
	}{
		{8 * time.Second, 3 * time.Second, 4 * time.Second},   // margin 10 s capped at half
		{20 * time.Second, 9 * time.Second, 10 * time.Second}, // margin 10 s
		{5 * time.Minute, 44 * time.Second, 45 * time.Second}, // capped at 60 s, quarter left
	} {
		t.Run(c.life.String(), func(t *testing.T) {
			ti, g, clock := keyRealm(t, nil)
			ti.set(func(ti *testIssuer) { ti.keyLife = c.life })
			key := newAPIKey(t)
			ti.addAPIKey(key, "key-1", "asset:read")
			ctx := context.Background()
			if _, err := g.VerifyAPIKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			clock.advance(c.noRefreshAt)
			if _, err := g.VerifyAPIKey(ctx, key); err != nil || ti.exchanges.Load() != 1 {
				t.Fatalf("at %v: %v, %d exchanges, want 1", c.noRefreshAt, err, ti.exchanges.Load())
			}
			clock.advance(c.refreshAt - c.noRefreshAt)
			if _, err := g.VerifyAPIKey(ctx, key); err != nil || ti.exchanges.Load() != 2 {
				t.Fatalf("at %v: %v, %d exchanges, want 2", c.refreshAt, err, ti.exchanges.Load())
			}
		})
	}
}

// TestGuardAPIKeyIssuerFailure: when Ward gives no verdict the guard fails
// closed with 503 (not 401), backs off for a second, serves a token it
// already holds until that token's end, and never reports the key.
func TestGuardAPIKeyIssuerFailure(t *testing.T) {
	var reports []string
	var mu sync.Mutex
	ti, g, clock := keyRealm(t, func(c *Config) {
		c.OnError = func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() }
	})
	srv := keyServer(t, g)
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read")
	status := func() int { return withKey(t, "GET", srv.URL+"/assets/a1", key).status }

	ti.set(func(ti *testIssuer) { ti.exchangeFail = &oauthFailure{500, "server_error"} })
	a := withKey(t, "GET", srv.URL+"/assets/a1", key)
	checkProblem(t, "Ward answers 500", a, 503)
	if d := detail(a); d != "the API key could not be checked with the issuer" {
		t.Errorf("503 detail %q", d)
	}
	if s := status(); s != 503 || ti.exchanges.Load() != 1 {
		t.Errorf("right after a failure: %d, %d exchanges, want 503 and 1 (backing off)", s, ti.exchanges.Load())
	}
	clock.advance(time.Second)
	if s := status(); s != 503 || ti.exchanges.Load() != 2 {
		t.Errorf("a second later: %d, %d exchanges, want 503 and 2", s, ti.exchanges.Load())
	}
	ti.set(func(ti *testIssuer) { ti.exchangeFail = nil })
	clock.advance(time.Second)
	if s := status(); s != 200 || ti.exchanges.Load() != 3 {
		t.Fatalf("Ward back: %d, %d exchanges", s, ti.exchanges.Load())
	}

	// Ward fails at the refresh: the token in hand serves to its end.
	ti.set(func(ti *testIssuer) { ti.exchangeFail = &oauthFailure{503, "temporarily_unavailable"} })
	clock.advance(50 * time.Second)
	if s := status(); s != 200 || ti.exchanges.Load() != 4 {
		t.Errorf("refresh failed, token still valid: %d, %d exchanges, want 200 and 4", s, ti.exchanges.Load())
	}
	clock.advance(10 * time.Second)
	if s := status(); s != 503 || ti.exchanges.Load() != 5 {
		t.Errorf("refresh failed, token at its end: %d, %d exchanges, want 503 and 5", s, ti.exchanges.Load())
	}

	// The guard's own client refused, or a token that is not a key's: the
	// configuration is wrong, not the key.
	for name, set := range map[string]func(*testIssuer){
		"invalid_client":         func(ti *testIssuer) { ti.exchangeFail = &oauthFailure{401, "invalid_client"} },
		"unauthorized_client":    func(ti *testIssuer) { ti.exchangeFail = &oauthFailure{400, "unauthorized_client"} },
		"a service account kind": func(ti *testIssuer) { ti.exchangeFail, ti.keyKind = nil, "service_account" },
	} {
		ti.set(set)
		clock.advance(2 * time.Second)
		checkProblem(t, name, withKey(t, "GET", srv.URL+"/assets/a1", key), 503)
	}
	ti.set(func(ti *testIssuer) { ti.keyKind = "api_key" })

	// Ward unreachable.
	ti.srv.Close()
	clock.advance(2 * time.Second)
	checkProblem(t, "Ward down", withKey(t, "GET", srv.URL+"/assets/a1", key), 503)
	if _, err := g.VerifyAPIKey(context.Background(), key); !errors.Is(err, ErrKeyExchange) {
		t.Errorf("VerifyAPIKey with Ward down: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reports) < 6 {
		t.Errorf("%d failures reported, want one per failed exchange: %q", len(reports), reports)
	}
	for _, r := range reports {
		if strings.Contains(r, key) || strings.Contains(r, key[5:20]) {
			t.Errorf("a report quotes the key: %s", r)
		}
	}
}

// TestGuardAPIKeyCacheBounded: the cache never holds more keys than
// configured, refusals included; a forgotten key is exchanged again.
func TestGuardAPIKeyCacheBounded(t *testing.T) {
	ti, g, _ := keyRealm(t, func(c *Config) { c.APIKeyCacheSize = 4 })
	ctx := context.Background()
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = newAPIKey(t)
		ti.addAPIKey(keys[i], fmt.Sprintf("key-%d", i), "asset:read")
	}
	for round := range 2 {
		for i, k := range keys {
			claims, err := g.VerifyAPIKey(ctx, k)
			if err != nil || claims["sub"] != fmt.Sprintf("key-%d", i) {
				t.Fatalf("round %d key %d: %v %v", round, i, claims, err)
			}
			if n := g.apiKeys.len(); n > 4 {
				t.Fatalf("round %d key %d: %d entries, bound 4", round, i, n)
			}
		}
	}
	// The second round found at most 4 of 10 keys cached.
	if n := ti.exchanges.Load(); n < 16 || n > 20 {
		t.Errorf("%d exchanges for two rounds of 10 keys in a cache of 4, want 16 to 20", n)
	}
	// The key used last is cached.
	n := ti.exchanges.Load()
	if _, err := g.VerifyAPIKey(ctx, keys[9]); err != nil || ti.exchanges.Load() != n {
		t.Errorf("the last key was not cached: %v", err)
	}
	for range 10 {
		if _, err := g.VerifyAPIKey(ctx, newAPIKey(t)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown key: %v", err)
		}
		if n := g.apiKeys.len(); n > 4 {
			t.Fatalf("%d entries after refusals, bound 4", n)
		}
	}
}

// TestGuardAPIKeyEcho: the echo middlewares accept keys the same way.
func TestGuardAPIKeyEcho(t *testing.T) {
	ti, g, _ := keyRealm(t, nil)
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read")
	e := echo.New()
	load := func(c echo.Context) (map[string]any, error) { return map[string]any{"id": c.Param("id")}, nil }
	hello := func(c echo.Context) error {
		sub, _ := SubjectFrom(c.Request().Context())
		return c.String(200, fmt.Sprintf("%s %s", sub["kind"], sub["sub"]))
	}
	e.GET("/assets/:id", hello, g.Echo("asset", "read", load))
	e.PATCH("/assets/:id", hello, g.Echo("asset", "write", load))
	e.GET("/me", hello, g.EchoAuthenticate())
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	if a := withKey(t, "GET", srv.URL+"/assets/a1", key); a.status != 200 || a.body != "api_key key-1" {
		t.Errorf("read: %d %q", a.status, a.body)
	}
	if a := send(t, "GET", srv.URL+"/me", "Authorization", "Bearer "+key); a.status != 200 || a.body != "api_key key-1" {
		t.Errorf("authenticate only: %d %q", a.status, a.body)
	}
	checkProblem(t, "write without the permission", withKey(t, "PATCH", srv.URL+"/assets/a1", key), 403)
	checkProblem(t, "malformed", withKey(t, "GET", srv.URL+"/assets/a1", "ward_x"), 401)
	a := withKey(t, "GET", srv.URL+"/me", newAPIKey(t))
	checkProblem(t, "unknown", a, 401)
	if d := detail(a); d != "the API key was refused: API key is unknown" {
		t.Errorf("unknown key detail %q", d)
	}
	if n := ti.exchanges.Load(); n != 2 {
		t.Errorf("%d exchanges, want 2 (one per well-shaped key)", n)
	}
}

// TestDecideAPIKey: a key's subject is decided by its permissions alone;
// KeyAllows is false for anyone else.
func TestDecideAPIKey(t *testing.T) {
	_, g, _ := keyRealm(t, nil)
	ctx := context.Background()
	key := map[string]any{"kind": "api_key", "sub": "key-1", "permissions": []any{"asset:read", "report:write"}}
	person := map[string]any{"kind": "user", "sub": "u1", "permissions": []any{"asset:read"}}
	for _, c := range []struct {
		subject      map[string]any
		rt, action   string
		want, policy bool
	}{
		{key, "asset", "read", true, false},
		{key, "report", "write", true, false},
		{key, "asset", "write", false, false}, // the "all" policy does not count for keys
		{key, "report", "read", false, false},
		{person, "asset", "write", true, true}, // people are decided by policies
		{person, "report", "read", false, false},
	} {
		d, err := g.Decide(ctx, c.subject, c.rt, c.action, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != c.want || (len(d.Policies) > 0) != c.policy {
			t.Errorf("%s %s:%s: %+v, want allowed %v", c.subject["sub"], c.rt, c.action, d, c.want)
		}
	}
	for i, c := range []struct {
		subject    map[string]any
		rt, action string
		want       bool
	}{
		{key, "asset", "read", true},
		{map[string]any{"kind": "api_key", "permissions": []string{"asset:read"}}, "asset", "read", true},
		{person, "asset", "read", false},
		{nil, "asset", "read", false},
		{map[string]any{"kind": "api_key", "permissions": "asset:read"}, "asset", "read", false},
		{map[string]any{"kind": "api_key", "permissions": []any{1, nil, []any{"asset:read"}}}, "asset", "read", false},
		{map[string]any{"kind": "api_key", "permissions": []any{"asset:read:x"}}, "asset", "read:x", false},
		{map[string]any{"kind": "api_key", "permissions": []any{"asset:read:x"}}, "asset:read", "x", false},
		{map[string]any{"kind": "api_key", "permissions": []any{":"}}, "", "", false},
		{map[string]any{"kind": "api_key", "permissions": []any{"asset:reader"}}, "asset", "read", false},
		{map[string]any{"kind": "api_key", "permissions": []any{"Asset:read"}}, "asset", "read", false},
	} {
		if got := KeyAllows(c.subject, c.rt, c.action); got != c.want {
			t.Errorf("%d: KeyAllows(%v, %q, %q) = %v", i, c.subject, c.rt, c.action, got)
		}
	}
	if !IsAPIKey(key) || IsAPIKey(person) || IsAPIKey(nil) {
		t.Error("IsAPIKey")
	}
}

// TestGuardAPIKeySigningKeyWithdrawn: a JWKS refetch that keeps the
// signing key keeps the cached token; a cached key token whose signing key
// Ward withdrew stops being used at once, and the key is exchanged again
// for a token under the new key.
func TestGuardAPIKeySigningKeyWithdrawn(t *testing.T) {
	ti, g, _ := keyRealm(t, nil)
	ctx := context.Background()
	key := newAPIKey(t)
	ti.addAPIKey(key, "key-1", "asset:read")
	if _, err := g.VerifyAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	// A refetch of an unchanged JWKS changes nothing.
	if err := g.keys.load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.VerifyAPIKey(ctx, key); err != nil || ti.exchanges.Load() != 1 {
		t.Fatalf("after refetching an unchanged JWKS: %v, %d exchanges, want 1", err, ti.exchanges.Load())
	}
	k2 := newECSigner(t, "k2")
	ti.set(func(ti *testIssuer) {
		ti.jwks = nil
		ti.keySigner = &k2
	})
	ti.addKey(k2.kid, k2.alg, k2.public())
	if err := g.keys.load(ctx); err != nil {
		t.Fatal(err)
	}
	if claims, err := g.VerifyAPIKey(ctx, key); err != nil || claims["sub"] != "key-1" {
		t.Fatalf("after the signing key was withdrawn: %v %v", claims, err)
	}
	if n := ti.exchanges.Load(); n != 2 {
		t.Errorf("%d exchanges, want 2", n)
	}
}
