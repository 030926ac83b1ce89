package attributes

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/wardiam/ward/internal/testgeoip"
)

// tkEnv is a test realm that mints temporary keys (CONTRACT §6, issue 15)
// with its own signing key, a guard for it on a fake clock, and a resource
// server protected by the guard's net/http middleware.
type tkEnv struct {
	ti    *testIssuer
	g     *Guard
	clock *fakeClock
	srv   *httptest.Server

	mu  sync.Mutex
	log []DecisionRecord
}

func newTKEnv(t *testing.T, mod func(*Config)) *tkEnv {
	t.Helper()
	e := &tkEnv{}
	e.ti, e.g, e.clock = keyRealm(t, func(c *Config) {
		c.DecisionLog = func(_ context.Context, r DecisionRecord) { e.mu.Lock(); e.log = append(e.log, r); e.mu.Unlock() }
		if mod != nil {
			mod(c)
		}
	})
	e.srv = tkServer(t, e.g)
	return e
}

// tkServer protects GET (read) and DELETE (delete) /files/{id} and GET /me
// (authenticate only). The loader's resource path is the query's path
// parameter (absent without one), so tests can put a resource anywhere.
// The handlers answer the subject they were given as JSON.
func tkServer(t *testing.T, g *Guard) *httptest.Server {
	load := func(r *http.Request) (map[string]any, error) {
		res := map[string]any{"id": r.PathValue("id")}
		if q := r.URL.Query(); q.Has("path") {
			res["path"] = q.Get("path")
		}
		return res, nil
	}
	echoSubject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := SubjectFrom(r.Context())
		writeJSON(w, sub)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /files/{id}", g.HTTP("asset", "read", load, echoSubject))
	mux.Handle("DELETE /files/{id}", g.HTTP("asset", "delete", load, echoSubject))
	mux.Handle("GET /me", g.Authenticate(echoSubject))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// tkClaims are the claims Ward puts in a temporary key minted now from the
// template "uploader" (id tpl-1) by the API key key-1, for 20 minutes,
// with asset:read and no other rule.
func (e *tkEnv) tkClaims() map[string]any {
	now := e.clock.now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return map[string]any{
		"iss": e.ti.issuer, "sub": "tpl-1", "template": "uploader", "jti": hex.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(20 * time.Minute).Unix(), "api_key": "key-1",
		"permissions": []any{"asset:read"}, "dir_scope": []any{}, "ip_ranges": []any{}, "countries": []any{},
		"limit_per_minute": nil, "limit_per_source_ip_per_minute": nil,
	}
}

// mint signs a temporary key as Ward does, after mod changed its claims.
func (e *tkEnv) mint(t testing.TB, mod func(c map[string]any)) string {
	t.Helper()
	c := e.tkClaims()
	if mod != nil {
		mod(c)
	}
	return e.ti.keySigner.sign(t, "ward-tk+jwt", c)
}

// get is GET /files/f1 with the key in X-API-Key, the resource at path
// (none if path is ""), and more headers.
func (e *tkEnv) get(t *testing.T, key, path string, header ...string) answer {
	t.Helper()
	u := e.srv.URL + "/files/f1"
	if path != "" {
		u += "?path=" + path
	}
	return send(t, http.MethodGet, u, append([]string{"X-API-Key", key}, header...)...)
}

// from is the headers of a request relayed by a trusted proxy for addr.
func from(addr string) []string { return []string{"X-Forwarded-For", addr} }

var localProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func wantStatus(t *testing.T, what string, a answer, status int, detailHas string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d %s, want %d", what, a.status, a.body, status)
	}
	if !strings.Contains(detail(a), detailHas) {
		t.Fatalf("%s: detail %q lacks %q", what, detail(a), detailHas)
	}
	if status != http.StatusOK && a.ctype != "application/problem+json" {
		t.Fatalf("%s: content type %q", what, a.ctype)
	}
}

// TestTemporaryKeyAllowed: a key Ward minted works in X-API-Key, for the
// net/http middleware and the authenticate-only one, and the handler sees
// its claims with kind temporary_key; the decision log names the
// template; a key used again is not verified again.
func TestTemporaryKeyAllowed(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, nil)
	a := e.get(t, key, "/anything")
	wantStatus(t, "good key", a, http.StatusOK, "")
	var sub map[string]any
	if err := json.Unmarshal([]byte(a.body), &sub); err != nil {
		t.Fatal(err)
	}
	if sub["kind"] != KindTemporaryKey || sub["sub"] != "tpl-1" || sub["template"] != "uploader" || sub["api_key"] != "key-1" {
		t.Fatalf("subject %v", sub)
	}
	if a := send(t, http.MethodGet, e.srv.URL+"/me", "X-API-Key", key); a.status != http.StatusOK {
		t.Fatalf("authenticate only: %d %s", a.status, a.body)
	}
	e.mu.Lock()
	if len(e.log) != 1 || e.log[0].Subject != "tpl-1" || !e.log[0].Allowed || e.log[0].Action != "read" {
		t.Fatalf("decision log %+v", e.log)
	}
	e.mu.Unlock()

	// Used again, the key comes from the cache: the cached entry is the
	// one used (its claims changed here show through).
	k, ok := e.g.tempKeys.get(sumOf(key))
	if !ok || e.g.tempKeys.len() != 1 {
		t.Fatal("the key was not cached")
	}
	k.claims["template"] = "from-the-cache"
	s, err := e.g.temporaryKeySubject(context.Background(), key)
	if err != nil || s["template"] != "from-the-cache" || !IsTemporaryKey(s) {
		t.Fatalf("temporaryKeySubject: %v %v", s, err)
	}
	// What a caller gets is a copy.
	s["permissions"].([]any)[0] = "asset:delete"
	if p := k.claims["permissions"].([]any)[0]; p != "asset:read" {
		t.Fatalf("the cache was changed through a subject: %v", p)
	}
}

// TestTemporaryKeyRefused: everything that is not a good key of this
// realm is a 401 with WWW-Authenticate, saying no more than needed.
func TestTemporaryKeyRefused(t *testing.T) {
	e := newTKEnv(t, nil)
	other := newECSigner(t, "k2")                  // not published
	impostor := newECSigner(t, e.ti.keySigner.kid) // published kid, other key
	good := e.mint(t, nil)
	parts := strings.Split(good, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[10] ^= 1 // another signature, still well encoded
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))},
		(&jose.SignerOptions{}).WithType("ward-tk+jwt").WithHeader("kid", e.ti.keySigner.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(e.tkClaims())
	hsJWS, _ := hs.Sign(payload)
	hsKey, _ := hsJWS.CompactSerialize()

	const bad = "malformed, forged or not from this realm"
	for name, key := range map[string]string{
		"forged signature":     parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
		"other payload":        parts[0] + "." + strings.Split(e.mint(t, func(c map[string]any) { c["permissions"] = []any{"asset:delete"} }), ".")[1] + "." + parts[2],
		"unknown key":          other.sign(t, "ward-tk+jwt", e.tkClaims()),
		"impostor key":         impostor.sign(t, "ward-tk+jwt", e.tkClaims()),
		"HS256":                hsKey,
		"other issuer":         e.mint(t, func(c map[string]any) { c["iss"] = "https://evil.example/realms/acme" }),
		"typ at+jwt":           e.ti.keySigner.sign(t, "at+jwt", e.tkClaims()),
		"typ JWT":              e.ti.keySigner.sign(t, "JWT", e.tkClaims()),
		"no typ":               e.ti.keySigner.sign(t, "", e.tkClaims()),
		"an access token":      e.ti.keySigner.sign(t, "at+jwt", e.ti.claims("svc", nil)),
		"not yet valid":        e.mint(t, func(c map[string]any) { c["nbf"] = e.clock.now().Add(time.Hour).Unix() }),
		"issued in the future": e.mint(t, func(c map[string]any) { c["iat"] = e.clock.now().Add(time.Hour).Unix() }),
		"no exp":               e.mint(t, func(c map[string]any) { delete(c, "exp") }),
		"no iat":               e.mint(t, func(c map[string]any) { delete(c, "iat") }),
		"no sub":               e.mint(t, func(c map[string]any) { delete(c, "sub") }),
		"no jti":               e.mint(t, func(c map[string]any) { c["jti"] = "" }),
		"no template":          e.mint(t, func(c map[string]any) { delete(c, "template") }),
		"no api_key":           e.mint(t, func(c map[string]any) { delete(c, "api_key") }),
		"no permissions":       e.mint(t, func(c map[string]any) { c["permissions"] = []any{} }),
		"permissions a string": e.mint(t, func(c map[string]any) { c["permissions"] = "asset:read" }),
		"permission a number":  e.mint(t, func(c map[string]any) { c["permissions"] = []any{"asset:read", 7} }),
		"permission unshaped":  e.mint(t, func(c map[string]any) { c["permissions"] = []any{"asset"} }),
		"relative dir_scope":   e.mint(t, func(c map[string]any) { c["dir_scope"] = []any{"marketing/*"} }),
		"dir_scope inner *":    e.mint(t, func(c map[string]any) { c["dir_scope"] = []any{"/*/x"} }),
		"dir_scope with ..":    e.mint(t, func(c map[string]any) { c["dir_scope"] = []any{"/a/../*"} }),
		"dir_scope an object":  e.mint(t, func(c map[string]any) { c["dir_scope"] = map[string]any{} }),
		"ip_ranges not CIDR":   e.mint(t, func(c map[string]any) { c["ip_ranges"] = []any{"203.0.113.0"} }),
		"country lower case":   e.mint(t, func(c map[string]any) { c["countries"] = []any{"de"} }),
		"country alpha-3":      e.mint(t, func(c map[string]any) { c["countries"] = []any{"DEU"} }),
		"limit zero":           e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 0 }),
		"limit fractional":     e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 1.5 }),
		"limit a string":       e.mint(t, func(c map[string]any) { c["limit_per_source_ip_per_minute"] = "5" }),
		"limit huge":           e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 1e12 }),
	} {
		a := e.get(t, key, "/x")
		wantStatus(t, name, a, http.StatusUnauthorized, bad)
		if !strings.Contains(a.wwwAuth, `error="invalid_token"`) {
			t.Fatalf("%s: WWW-Authenticate %q", name, a.wwwAuth)
		}
		if _, err := e.g.temporaryKeySubject(context.Background(), key); err == nil {
			t.Fatalf("%s: temporaryKeySubject accepted it", name)
		}
	}
	// The good key itself still works: the refusals above were its
	// changes, not the setup.
	wantStatus(t, "good key", e.get(t, good, "/x"), http.StatusOK, "")
	// Not a JWS at all in X-API-Key: malformed, as before issue 15.
	wantStatus(t, "garbage", e.get(t, "a.b", "/x"), http.StatusUnauthorized, "not a Ward API key")
}

// TestTemporaryKeyExpired: expiry is checked on every use with the
// guard's clock (and its leeway), the cached key included.
func TestTemporaryKeyExpired(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, func(c map[string]any) { c["exp"] = e.clock.now().Add(time.Minute).Unix() })
	wantStatus(t, "fresh", e.get(t, key, "/x"), http.StatusOK, "")
	e.clock.advance(time.Minute + 29*time.Second) // within the 30 s leeway
	wantStatus(t, "within the leeway", e.get(t, key, "/x"), http.StatusOK, "")
	e.clock.advance(time.Second)
	wantStatus(t, "expired", e.get(t, key, "/x"), http.StatusUnauthorized, "the temporary key has expired")
	// Never seen, already expired: the same answer after its signature.
	late := e.mint(t, func(c map[string]any) {
		c["iat"] = e.clock.now().Add(-time.Hour).Unix()
		c["exp"] = e.clock.now().Add(-time.Minute).Unix()
	})
	wantStatus(t, "expired at first sight", e.get(t, late, "/x"), http.StatusUnauthorized, "the temporary key has expired")
}

// TestTemporaryKeyAsBearer: a temporary key is not an access token: sent
// as Bearer it fails like any token of another typ, and an access token
// does not pass for a temporary key either.
func TestTemporaryKeyAsBearer(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, nil)
	a := send(t, http.MethodGet, e.srv.URL+"/files/f1?path=/x", "Authorization", "Bearer "+key)
	wantStatus(t, "as Bearer", a, http.StatusUnauthorized, "access token")
	if _, err := e.g.Verify(context.Background(), key); err == nil {
		t.Fatal("Verify accepted a temporary key")
	}
	// The same claims with an audience and typ at+jwt would be a token;
	// as ward-tk+jwt with an aud it still is no access token.
	c := e.tkClaims()
	c["aud"] = testAudience
	withAud := e.ti.keySigner.sign(t, "ward-tk+jwt", c)
	if _, err := e.g.Verify(context.Background(), withAud); err == nil {
		t.Fatal("Verify accepted a temporary key with an aud")
	}
	wantStatus(t, "X-API-Key and Bearer", send(t, http.MethodGet, e.srv.URL+"/files/f1?path=/x",
		"X-API-Key", key, "Authorization", "Bearer "+key), http.StatusUnauthorized, "not both")
}

// TestTemporaryKeyPermissions: a key may do what its permissions name,
// whatever the realm's policies allow (allPolicy allows everything).
func TestTemporaryKeyPermissions(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, nil)
	wantStatus(t, "read", e.get(t, key, "/x"), http.StatusOK, "")
	a := send(t, http.MethodDelete, e.srv.URL+"/files/f1?path=/x", "X-API-Key", key)
	wantStatus(t, "delete", a, http.StatusForbidden, "the temporary key lacks the permission asset:delete")
	both := e.mint(t, func(c map[string]any) { c["permissions"] = []any{"asset:read", "asset:delete"} })
	a = send(t, http.MethodDelete, e.srv.URL+"/files/f1?path=/x", "X-API-Key", both)
	wantStatus(t, "delete with the permission", a, http.StatusOK, "")
}

// TestTemporaryKeyDirScope: dir_scope against the resource's path: "*"
// matches any rest, a pattern without it only itself, and paths that are
// not clean absolute paths are outside every scope.
func TestTemporaryKeyDirScope(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, func(c map[string]any) { c["dir_scope"] = []any{"/marketing/*", "/press/kit.zip"} })
	for path, ok := range map[string]bool{
		"/marketing/a/b.png":        true,
		"/marketing/x":              true,
		"/marketing/":               true,
		"/marketing/..x":            true,
		"/press/kit.zip":            true,
		"/marketing":                false,
		"/marketingx":               false,
		"/marketingx/a":             false,
		"/marketing/../finance/a":   false,
		"/marketing/a/../../etc":    false,
		"/marketing/./a":            false,
		"/marketing/..":             false,
		"/marketing//a":             false,
		"//marketing/a":             false,
		"marketing/a":               false,
		"/press/kit.zip2":           false,
		"/press/":                   false,
		"/finance/q3.xlsx":          false,
		"/marketing%2F..%2Ffinance": false, // the query decodes it: /marketing/../finance
	} {
		a := e.get(t, key, path)
		if ok {
			wantStatus(t, path, a, http.StatusOK, "")
		} else {
			wantStatus(t, path, a, http.StatusForbidden, "the asset's path is outside the temporary key's dir_scope")
		}
	}
	// No path from the loader: outside a non-empty scope, and of no
	// matter to a key without one.
	wantStatus(t, "no path", e.get(t, key, ""), http.StatusForbidden, "outside the temporary key's dir_scope")
	wantStatus(t, "no path, no scope", e.get(t, e.mint(t, nil), ""), http.StatusOK, "")
	// Scope absent altogether is no scope.
	wantStatus(t, "scope absent", e.get(t, e.mint(t, func(c map[string]any) { delete(c, "dir_scope") }), "/x"), http.StatusOK, "")
	// A non-string path is no path.
	sub, err := e.g.temporaryKeySubject(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.g.Decide(context.Background(), sub, "asset", "read", map[string]any{"path": []any{"/marketing/a"}})
	if d.Allowed {
		t.Fatal("a list as path was allowed")
	}
}

// TestScopeAllows: the exported helper for handlers filtering lists.
func TestScopeAllows(t *testing.T) {
	tk := map[string]any{"kind": KindTemporaryKey, "dir_scope": []any{"/a/*", "/b"}}
	typed := map[string]any{"kind": KindTemporaryKey, "dir_scope": []string{"/a/*"}}
	for _, c := range []struct {
		subject map[string]any
		path    string
		want    bool
	}{
		{tk, "/a/x/y", true},
		{tk, "/b", true},
		{tk, "/b/c", false},
		{tk, "/a", false},
		{tk, "/a/x/../../b", false},
		{typed, "/a/x", true},
		{typed, "/ab", false},
		{map[string]any{"kind": KindTemporaryKey, "dir_scope": "/a/*"}, "/a/x", false},
		{map[string]any{"kind": KindTemporaryKey, "dir_scope": []any{}}, "anything", true},
		{map[string]any{"kind": KindTemporaryKey}, "", true},
		{map[string]any{"kind": KindAPIKey, "dir_scope": []any{"/a/*"}}, "/z", true},
		{map[string]any{"sub": "alice"}, "/z", true},
	} {
		if got := ScopeAllows(c.subject, c.path); got != c.want {
			t.Errorf("ScopeAllows(%v, %q) = %v", c.subject, c.path, got)
		}
	}
	for p, want := range map[string]bool{
		"/": true, "/*": true, "/a/*": true, "/a*": true, "/a/.*": true, "/a/b": true, "/a/b/": true,
		"": false, "*": false, "a/*": false, "/a/*/b": false, "/a/**": false, "/a/../*": false, "/./a": false, "//a/*": false,
	} {
		if got := isScopePattern(p); got != want {
			t.Errorf("isScopePattern(%q) = %v", p, got)
		}
	}
}

// TestTemporaryKeyIPRanges: the client address (the peer, or what a
// trusted proxy forwarded) must be in ip_ranges, IPv4 or IPv6; a header
// from an untrusted peer changes nothing.
func TestTemporaryKeyIPRanges(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	key := e.mint(t, func(c map[string]any) { c["ip_ranges"] = []any{"203.0.113.0/24", "2001:db8::/32"} })
	const outside = "the client address is outside the temporary key's ip_ranges"
	for addr, ok := range map[string]bool{
		"203.0.113.9":        true,
		"::ffff:203.0.113.9": true,
		"2001:db8::1":        true,
		"2001:db8:ffff::1":   true,
		"198.51.100.1":       false,
		"203.0.114.1":        false,
		"2001:db9::1":        false,
		"::1":                false,
	} {
		if a := e.get(t, key, "/x", from(addr)...); ok {
			wantStatus(t, addr, a, http.StatusOK, "")
		} else {
			wantStatus(t, addr, a, http.StatusForbidden, outside)
		}
	}
	// A client claiming an address before our proxy's: the proxy's own
	// entry (the rightmost untrusted one) is what counts.
	wantStatus(t, "claimed hop", e.get(t, key, "/x", "X-Forwarded-For", "203.0.113.9, 198.51.100.1"), http.StatusForbidden, outside)
	// Straight from 127.0.0.1 (no proxy header): outside.
	wantStatus(t, "peer", e.get(t, key, "/x"), http.StatusForbidden, outside)
	// A key without ranges is used from anywhere.
	wantStatus(t, "no ranges", e.get(t, e.mint(t, nil), "/x", from("198.51.100.1")...), http.StatusOK, "")

	// The same key at a guard that trusts no proxy: the header is the
	// caller's claim and is ignored.
	g2 := e.ti.guard(t, func(c *Config) { c.Clock = e.clock.now })
	srv2 := tkServer(t, g2)
	a := send(t, http.MethodGet, srv2.URL+"/files/f1?path=/x", "X-API-Key", key, "X-Forwarded-For", "203.0.113.9")
	wantStatus(t, "spoofed header", a, http.StatusForbidden, outside)
	// And one whose ranges hold the real peer lets it in.
	local := e.mint(t, func(c map[string]any) { c["ip_ranges"] = []any{"127.0.0.0/8"} })
	a = send(t, http.MethodGet, srv2.URL+"/files/f1?path=/x", "X-API-Key", local, "X-Forwarded-For", "198.51.100.1")
	wantStatus(t, "real peer", a, http.StatusOK, "")
}

// TestTemporaryKeyCountries: the client's country from the GeoIP database
// must be among countries; an address the database does not place is
// refused, and so is every key with countries at a guard without a
// database.
func TestTemporaryKeyCountries(t *testing.T) {
	db := testgeoip.WriteCountryDB(t, t.TempDir())
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy; c.GeoIPDatabase = db })
	de := e.mint(t, func(c map[string]any) { c["countries"] = []any{"DE"} })
	for addr, want := range map[string]struct {
		status int
		detail string
	}{
		"203.0.113.9":  {200, ""},
		"2001:db8::9":  {200, ""},
		"198.51.100.1": {403, "the client's country (FR) is not among the temporary key's countries"},
		"192.0.2.1":    {403, "the client's country could not be determined"},
		"100.64.0.1":   {403, "the client's country could not be determined"},
	} {
		wantStatus(t, addr, e.get(t, de, "/x", from(addr)...), want.status, want.detail)
	}
	deFR := e.mint(t, func(c map[string]any) { c["countries"] = []any{"DE", "FR"} })
	wantStatus(t, "DE or FR from FR", e.get(t, deFR, "/x", from("198.51.100.1")...), http.StatusOK, "")
	// Both rules: the range first.
	both := e.mint(t, func(c map[string]any) { c["countries"] = []any{"FR"}; c["ip_ranges"] = []any{"203.0.113.0/24"} })
	wantStatus(t, "range and country", e.get(t, both, "/x", from("198.51.100.1")...), http.StatusForbidden, "ip_ranges")
	wantStatus(t, "range, not country", e.get(t, both, "/x", from("203.0.113.9")...), http.StatusForbidden, "(DE) is not among")

	// Without a database: countries fail closed; keys without them work.
	noDB := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	de2 := noDB.mint(t, func(c map[string]any) { c["countries"] = []any{"DE"} })
	wantStatus(t, "no database", noDB.get(t, de2, "/x", from("203.0.113.9")...), http.StatusForbidden, "this server cannot check countries")
	wantStatus(t, "no countries, no database", noDB.get(t, noDB.mint(t, nil), "/x", from("203.0.113.9")...), http.StatusOK, "")

	// An already open database works as well.
	r, err := maxminddb.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	g3 := e.ti.guard(t, func(c *Config) { c.Clock = e.clock.now; c.GeoIP = r })
	if c, err := g3.geo.country(netip.MustParseAddr("198.51.100.7")); err != nil || c != "FR" {
		t.Fatalf("open reader: %q %v", c, err)
	}
	// The guard did not close what it did not open; it closes its own,
	// after which countries fail closed.
	g3.Close()
	if !r.Lookup(netip.MustParseAddr("198.51.100.7")).Found() {
		t.Fatal("the guard closed a database it was given")
	}
	e.g.Close()
	if _, err := e.g.geo.country(netip.MustParseAddr("203.0.113.9")); err != errNoGeoIP {
		t.Fatalf("after Close: %v", err)
	}
}

// TestGeoIPConfig: a database that cannot be opened fails NewGuard, as
// does naming two.
func TestGeoIPConfig(t *testing.T) {
	ti := newTestIssuer(t, allPolicy)
	ctx := context.Background()
	bad := filepath.Join(t.TempDir(), "not.mmdb")
	if err := os.WriteFile(bad, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"missing file": {GeoIPDatabase: filepath.Join(t.TempDir(), "absent.mmdb")},
		"not mmdb":     {GeoIPDatabase: bad},
		"both":         {GeoIPDatabase: bad, GeoIP: &maxminddb.Reader{}},
	} {
		cfg.Issuer, cfg.Audience, cfg.Client = ti.issuer, testAudience, ClientCredentials{ID: testClientID, Secret: testClientSecret}
		if g, err := NewGuard(ctx, cfg); err == nil {
			g.Close()
			t.Errorf("%s: NewGuard succeeded", name)
		} else if !strings.Contains(err.Error(), "GeoIP") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func retryAfter(t *testing.T, e *tkEnv, key string, header ...string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/files/f1?path=/x", nil)
	req.Header.Set("X-API-Key", key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	return resp.Header.Get("Retry-After")
}

// TestTemporaryKeyLimitPerMinute: limit_per_minute N is a bucket of N
// refilled at N per minute: the (N+1)th request within the minute is a
// 429 whose Retry-After is when one request fits again, exactly; refused
// requests spend nothing.
func TestTemporaryKeyLimitPerMinute(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 3 })
	for range 3 {
		wantStatus(t, "within the limit", e.get(t, key, "/x"), http.StatusOK, "")
	}
	a := e.get(t, key, "/x")
	wantStatus(t, "over", a, http.StatusTooManyRequests, "the temporary key's limit of 3 requests per minute is used up")
	if !strings.Contains(a.body, "urn:ward:problem:too-many-requests") {
		t.Fatalf("problem %s", a.body)
	}
	if ra := retryAfter(t, e, key); ra != "20" {
		t.Fatalf("Retry-After %q, want 20 (a request per 20 s)", ra)
	}
	e.clock.advance(19 * time.Second)
	if ra := retryAfter(t, e, key); ra != "1" {
		t.Fatalf("Retry-After %q after 19 s, want 1", ra)
	}
	e.clock.advance(time.Second)
	wantStatus(t, "after Retry-After", e.get(t, key, "/x"), http.StatusOK, "")
	if ra := retryAfter(t, e, key); ra != "20" {
		t.Fatalf("Retry-After %q, want 20 again", ra)
	}
	// A minute idle fills the bucket: three again.
	e.clock.advance(time.Minute)
	for range 3 {
		wantStatus(t, "refilled", e.get(t, key, "/x"), http.StatusOK, "")
	}
	wantStatus(t, "over again", e.get(t, key, "/x"), http.StatusTooManyRequests, "")
	// Another key of the same template has its own bucket.
	wantStatus(t, "other key", e.get(t, e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 3 }), "/x"), http.StatusOK, "")
	// The key is checked before its limits: an expired key is a 401,
	// never a 429.
	expired := e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 1; c["exp"] = e.clock.now().Add(-time.Hour).Unix() })
	wantStatus(t, "expired, limited", e.get(t, expired, "/x"), http.StatusUnauthorized, "expired")
}

// TestTemporaryKeyLimitPerSourceIP: limit_per_source_ip_per_minute counts
// per client address (an IPv6 /64 as one), beside the key's own limit.
func TestTemporaryKeyLimitPerSourceIP(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	key := e.mint(t, func(c map[string]any) { c["limit_per_source_ip_per_minute"] = 2 })
	const perAddr = "the temporary key's limit of 2 requests per minute from one address is used up"
	for range 2 {
		wantStatus(t, "A", e.get(t, key, "/x", from("203.0.113.1")...), http.StatusOK, "")
	}
	wantStatus(t, "A over", e.get(t, key, "/x", from("203.0.113.1")...), http.StatusTooManyRequests, perAddr)
	if ra := retryAfter(t, e, key, from("203.0.113.1")...); ra != "30" {
		t.Fatalf("Retry-After %q, want 30", ra)
	}
	wantStatus(t, "B", e.get(t, key, "/x", from("203.0.113.2")...), http.StatusOK, "")
	wantStatus(t, "v6 C", e.get(t, key, "/x", from("2001:db8::1")...), http.StatusOK, "")
	wantStatus(t, "v6 C again", e.get(t, key, "/x", from("2001:db8::1")...), http.StatusOK, "")
	wantStatus(t, "v6 C's /64", e.get(t, key, "/x", from("2001:db8::2")...), http.StatusTooManyRequests, perAddr)
	wantStatus(t, "v6 another /64", e.get(t, key, "/x", from("2001:db8:0:1::1")...), http.StatusOK, "")

	// Both limits: per address 2, per key 3. A refused request spends
	// from neither bucket.
	both := e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 3; c["limit_per_source_ip_per_minute"] = 2 })
	wantStatus(t, "both A1", e.get(t, both, "/x", from("203.0.113.1")...), http.StatusOK, "")
	wantStatus(t, "both A2", e.get(t, both, "/x", from("203.0.113.1")...), http.StatusOK, "")
	for range 5 {
		wantStatus(t, "both A3", e.get(t, both, "/x", from("203.0.113.1")...), http.StatusTooManyRequests, perAddr)
	}
	wantStatus(t, "both B1", e.get(t, both, "/x", from("203.0.113.2")...), http.StatusOK, "")
	wantStatus(t, "both B2", e.get(t, both, "/x", from("203.0.113.2")...), http.StatusTooManyRequests,
		"the temporary key's limit of 3 requests per minute is used up")
}

// TestTemporaryKeyMinterDeactivated: once the policy document lists the
// minting API key as deactivated, its temporary keys are refused; when the
// list no longer names it, they work again. A 304 keeps the list.
func TestTemporaryKeyMinterDeactivated(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, nil)
	other := e.mint(t, func(c map[string]any) { c["api_key"] = "key-2" })
	console := e.mint(t, func(c map[string]any) { c["api_key"] = "" })
	wantStatus(t, "active", e.get(t, key, "/x"), http.StatusOK, "")

	e.ti.set(func(ti *testIssuer) { ti.deactivated = []string{"key-1", ""}; ti.version++ })
	wantStatus(t, "before the poll", e.get(t, key, "/x"), http.StatusOK, "")
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := e.get(t, key, "/x")
	wantStatus(t, "deactivated", a, http.StatusUnauthorized, "the API key that minted the temporary key is deactivated")
	if !strings.Contains(a.wwwAuth, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", a.wwwAuth)
	}
	wantStatus(t, "another key's", e.get(t, other, "/x"), http.StatusOK, "")
	wantStatus(t, "minted in the console", e.get(t, console, "/x"), http.StatusOK, "")

	// Unchanged document: 304, still refused.
	before := e.ti.notModified.Load()
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.ti.notModified.Load() != before+1 {
		t.Fatal("the second poll was not a 304")
	}
	wantStatus(t, "after a 304", e.get(t, key, "/x"), http.StatusUnauthorized, "deactivated")

	e.ti.set(func(ti *testIssuer) { ti.deactivated = nil; ti.version++ })
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "reactivated", e.get(t, key, "/x"), http.StatusOK, "")
}

// TestRateLimiterBounded: however many keys and addresses spend, each map
// holds at most its capacity, and the buckets dropped first are those
// that are full again or whose key expired (dropping them changes no
// answer).
func TestRateLimiterBounded(t *testing.T) {
	const capacity = 100
	l := newRateLimiter(capacity)
	now := time.Unix(1_700_000_000, 0)
	keyN := func(i int) *tempKey {
		k := &tempKey{limit: 5, limitPerIP: 5, expires: now.Add(time.Hour)}
		k.id[0], k.id[1] = byte(i), byte(i>>8)
		return k
	}
	// A key that keeps spending, and stays over its limit throughout.
	hot := keyN(60_000)
	hot.limit, hot.limitPerIP = 1, 1
	addr := netip.MustParseAddr("203.0.113.1")
	if w, _ := l.take(hot, addr, now); w != 0 {
		t.Fatal("first request refused")
	}
	for i := range 1000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		if w, _ := l.take(keyN(i), netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), at); w != 0 {
			t.Fatalf("key %d refused", i)
		}
		if pk, pa := l.sizes(); pk > capacity || pa > capacity {
			t.Fatalf("after %d keys: %d and %d buckets, over %d", i+1, pk, pa, capacity)
		}
	}
	// Full buckets go first. Two minutes on, every bucket is full again;
	// the hot key spends its one request of the minute, then many keys of
	// 1,000 a minute spend one each, 20 ms apart: each of their buckets is
	// full again 60 ms later, so every sweep finds room among them and
	// never needs to drop the hot key's (random drops, some 40 sweeps of a
	// quarter each, would all but surely hit it).
	later := now.Add(2 * time.Minute)
	if w, _ := l.take(hot, addr, later); w != 0 {
		t.Fatal("the hot key was refused after two minutes")
	}
	if w, _ := l.take(hot, addr, later); w == 0 {
		t.Fatal("the hot key's second request in a minute was allowed")
	}
	for i := range 1000 {
		k := keyN(2000 + i)
		k.limit, k.limitPerIP = 1000, 1000
		if w, _ := l.take(k, addr, later.Add(time.Duration(i)*20*time.Millisecond)); w != 0 {
			t.Fatalf("key %d refused", i)
		}
	}
	if w, _ := l.take(hot, addr, later.Add(20*time.Second)); w == 0 {
		t.Fatal("the hot key's bucket was dropped while others were full")
	}
	// No limits, no buckets.
	free := keyN(70_000)
	free.limit, free.limitPerIP = 0, 0
	l2 := newRateLimiter(capacity)
	l2.take(free, addr, now)
	if pk, pa := l2.sizes(); pk+pa != 0 {
		t.Fatal("a key without limits got buckets")
	}
}

// TestTemporaryKeyBucketsBoundedGuard: the same through the middleware:
// many limited keys, all spending within the same instant (no bucket full
// again, so the sweep has to drop live ones), do not grow the guard's
// buckets beyond their cap.
func TestTemporaryKeyBucketsBoundedGuard(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	const capacity = 20
	e.g.limits = newRateLimiter(capacity)
	for i := range 3 * capacity {
		key := e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 10; c["limit_per_source_ip_per_minute"] = 10 })
		wantStatus(t, "key", e.get(t, key, "/x", from(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String())...), http.StatusOK, "")
	}
	if pk, pa := e.g.limits.sizes(); pk > capacity || pa > capacity || pk == 0 || pa == 0 {
		t.Fatalf("%d and %d buckets, cap %d", pk, pa, capacity)
	}
}

// TestDecideTemporaryKey: Decide on a temporary key's subject directly,
// as a handler deciding per item would.
func TestDecideTemporaryKey(t *testing.T) {
	e := newTKEnv(t, nil)
	key := e.mint(t, func(c map[string]any) {
		c["permissions"] = []any{"asset:read", "report:write"}
		c["dir_scope"] = []any{"/m/*"}
	})
	sub, err := e.g.temporaryKeySubject(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if IsAPIKey(sub) || !IsTemporaryKey(sub) {
		t.Fatal("kind")
	}
	for _, c := range []struct {
		rt, action, path string
		want             bool
	}{
		{"asset", "read", "/m/a", true},
		{"report", "write", "/m/a", true},
		{"asset", "write", "/m/a", false},
		{"asset", "read", "/n/a", false},
		{"asset:read", "", "/m/a", false},
	} {
		d, err := e.g.Decide(context.Background(), sub, c.rt, c.action, map[string]any{"path": c.path})
		if err != nil || d.Allowed != c.want || len(d.Policies) != 0 {
			t.Errorf("%s:%s on %s: %+v %v", c.rt, c.action, c.path, d, err)
		}
		if KeyAllows(sub, c.rt, c.action) != (c.want || c.path == "/n/a") {
			t.Errorf("KeyAllows %s:%s", c.rt, c.action)
		}
	}
	// A kind claim inside the key does not make it something else.
	forged := e.mint(t, func(c map[string]any) { c["kind"] = "api_key" })
	s, err := e.g.temporaryKeySubject(context.Background(), forged)
	if err != nil || !IsTemporaryKey(s) {
		t.Fatalf("%v %v", s, err)
	}
}

func sumOf(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// TestTemporaryKeySigningKeyWithdrawn: a cached key whose signing key the
// realm no longer publishes is verified again, and refused.
func TestTemporaryKeySigningKeyWithdrawn(t *testing.T) {
	e := newTKEnv(t, nil)
	ctx := context.Background()
	key := e.mint(t, nil)
	wantStatus(t, "published", e.get(t, key, "/x"), http.StatusOK, "")
	k2 := newECSigner(t, "k2")
	e.ti.set(func(ti *testIssuer) { ti.jwks = nil })
	e.ti.addKey(k2.kid, k2.alg, k2.public())
	if err := e.g.keys.load(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "withdrawn", e.get(t, key, "/x"), http.StatusUnauthorized, "malformed, forged or not from this realm")
	// Keys signed with the new key work.
	e.ti.set(func(ti *testIssuer) { ti.keySigner = &k2 })
	wantStatus(t, "new key", e.get(t, e.mint(t, nil), "/x"), http.StatusOK, "")
}

// TestTemporaryKeyLimitsOneKeyManyStrings: one signed key written as other
// strings that verify just the same (the ECDSA signature's s as n−s, the
// unused bits of the signature's last base64url character set) shares the
// key's budget: limits count the key (its jti), not the string.
func TestTemporaryKeyLimitsOneKeyManyStrings(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	key := e.mint(t, func(c map[string]any) { c["limit_per_minute"] = 3; c["limit_per_source_ip_per_minute"] = 3 })
	dot := strings.LastIndexByte(key, '.')
	sig, err := base64.RawURLEncoding.DecodeString(key[dot+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature %q: %v", key[dot+1:], err)
	}
	// s → n−s: the other signature of the same message.
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	flipped := append([]byte{}, sig...)
	s.FillBytes(flipped[32:])
	negated := key[:dot+1] + base64.RawURLEncoding.EncodeToString(flipped)
	// 64 bytes are 86 base64url characters holding 516 bits: the last
	// character's 4 low bits are unused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, key[len(key)-1])
	padded := key[:len(key)-1] + string(alphabet[last|1])
	if padded == key || negated == key {
		t.Fatal("the re-encodings are the key itself")
	}
	for _, k := range []string{key, negated, padded} {
		wantStatus(t, "within the limit", e.get(t, k, "/x", from("203.0.113.1")...), http.StatusOK, "")
	}
	for i, k := range []string{key, negated, padded} {
		wantStatus(t, fmt.Sprintf("form %d over the limit", i), e.get(t, k, "/x", from("203.0.113.2")...), http.StatusTooManyRequests, "")
	}
}

// TestTemporaryKeyUnreadableForwardedAddress: when the trusted proxy
// forwards something that is not an address, the client is unknown, and an
// unknown client is inside no range, not even the proxy's own network.
func TestTemporaryKeyUnreadableForwardedAddress(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	key := e.mint(t, func(c map[string]any) { c["ip_ranges"] = []string{"127.0.0.0/8"} })
	wantStatus(t, "the proxy itself", e.get(t, key, "/x"), http.StatusOK, "")
	for _, hop := range []string{"203.0.113.1:8080", "unknown", "203.0.113.1, [::1]:443"} {
		wantStatus(t, "forwarded "+hop, e.get(t, key, "/x", from(hop)...), http.StatusForbidden, "ip_ranges")
	}
}

// TestTemporaryKeyIssuedUntil: when Ward has more deactivated keys than it
// lists, its cut-off refuses every temporary key issued at or before it,
// whichever key minted it (fail closed); later keys are judged by the list.
func TestTemporaryKeyIssuedUntil(t *testing.T) {
	e := newTKEnv(t, nil)
	now := e.clock.now().Unix()
	early := e.mint(t, func(c map[string]any) { c["api_key"] = "key-9"; c["iat"] = now - 10 })
	edge := e.mint(t, func(c map[string]any) { c["api_key"] = ""; c["iat"] = now - 5 })
	late := e.mint(t, func(c map[string]any) { c["api_key"] = "key-9"; c["iat"] = now - 4 })
	listed := e.mint(t, func(c map[string]any) { c["api_key"] = "key-1"; c["iat"] = now - 1 })
	e.ti.set(func(ti *testIssuer) { ti.deactivated = []string{"key-1"}; ti.issuedUntil = now - 5; ti.version++ })
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "issued before the cut-off", e.get(t, early, "/x"), http.StatusUnauthorized, "deactivated")
	wantStatus(t, "issued at the cut-off", e.get(t, edge, "/x"), http.StatusUnauthorized, "deactivated")
	wantStatus(t, "issued after the cut-off", e.get(t, late, "/x"), http.StatusOK, "")
	wantStatus(t, "listed", e.get(t, listed, "/x"), http.StatusUnauthorized, "deactivated")
	e.ti.set(func(ti *testIssuer) { ti.deactivated = nil; ti.issuedUntil = 0; ti.version++ })
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "no cut-off", e.get(t, early, "/x"), http.StatusOK, "")
}

// temporaryKeySubject is the part of the middleware's check that needs no
// request, for tests: it checks a temporary key offline and returns its
// subject: the key's claims (iss, sub = the template's id, template, jti,
// iat, exp, api_key, permissions, dir_scope, ip_ranges, countries,
// limit_per_minute, limit_per_source_ip_per_minute) with kind
// "temporary_key". The key must be a compact JWS with header typ
// ward-tk+jwt, signed by a key of the realm's JWKS with an allowed
// algorithm, iss the issuer, exp not past, nbf and iat not in the future
// (with Config.Leeway), and well-formed rules; its minting API key must not
// be among the deactivated keys of the last policy document. A key seen
// before skips the signature check, not the times.
//
// The rules that depend on the request (ip_ranges, countries, the
// per-minute limits) are the middleware's (authenticateTempKey), which is
// why this is not exported: a resource server calling it by hand would
// enforce none of them. Errors wrap ErrInvalidToken; a deactivated minting
// key is a *KeyRefusedError.
func (g *Guard) temporaryKeySubject(ctx context.Context, key string) (map[string]any, error) {
	k, err := g.temporaryKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return k.subject(), nil
}
