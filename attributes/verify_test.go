package attributes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardiam/ward/internal/testjws"
)

// TestVerifyClaimsShape: the claims come back as encoding/json decodes
// them (numbers float64, arrays []any, objects map[string]any), as
// documented, and policies compare those numbers with CEL integers.
func TestVerifyClaimsShape(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "level", ResourceType: "asset", Actions: []string{"read"},
		Condition: `subject.attributes.level >= 3 && 3 in subject.attributes.levels`})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(t, nil)
	c := ti.claims("svc", map[string]any{"level": 3, "levels": []any{1, 3}})
	claims, err := g.Verify(context.Background(), es.sign(t, "at+jwt", c))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["exp"].(float64); !ok {
		t.Errorf("exp is %T, want float64", claims["exp"])
	}
	attrs, ok := claims["attributes"].(map[string]any)
	if !ok {
		t.Fatalf("attributes is %T", claims["attributes"])
	}
	if _, ok := attrs["levels"].([]any); !ok {
		t.Errorf("levels is %T", attrs["levels"])
	}
	d, err := g.Decide(context.Background(), claims, "asset", "read", nil)
	if err != nil || !d.Allowed {
		t.Errorf("float64 claims against integer literals: %+v %v", d, err)
	}
}

// TestVerifyEdges: boundary cases of the time and audience checks.
func TestVerifyEdges(t *testing.T) {
	ti := newTestIssuer(t)
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	now := time.Unix(1_900_000_000, 0)
	g := ti.guard(t, func(c *Config) { c.Clock = func() time.Time { return now }; c.Leeway = -1 })
	base := func() map[string]any {
		return map[string]any{"iss": ti.issuer, "aud": testAudience, "sub": "s", "exp": now.Unix() + 60}
	}
	for _, c := range []struct {
		name string
		mod  func(map[string]any)
		ok   bool
	}{
		{"plain", func(map[string]any) {}, true},
		{"exp now (no leeway)", func(m map[string]any) { m["exp"] = now.Unix() }, false},
		{"exp fractional, a moment ahead", func(m map[string]any) { m["exp"] = float64(now.Unix()) + 0.5 }, true},
		{"exp huge", func(m map[string]any) { m["exp"] = 1e300 }, false},
		{"exp negative", func(m map[string]any) { m["exp"] = -5 }, false},
		{"nbf now", func(m map[string]any) { m["nbf"] = now.Unix() }, true},
		{"nbf a second ahead", func(m map[string]any) { m["nbf"] = now.Unix() + 1 }, false},
		{"nbf a string", func(m map[string]any) { m["nbf"] = "0" }, false},
		{"iat a second ahead", func(m map[string]any) { m["iat"] = now.Unix() + 1 }, false},
		{"aud array with a non-string", func(m map[string]any) { m["aud"] = []any{1, testAudience} }, true},
		{"aud an object", func(m map[string]any) { m["aud"] = map[string]any{testAudience: true} }, false},
		{"aud differing in case", func(m map[string]any) { m["aud"] = "Assets" }, false},
		{"iss with a trailing slash", func(m map[string]any) { m["iss"] = ti.issuer + "/" }, false},
		{"iss missing", func(m map[string]any) { delete(m, "iss") }, false},
	} {
		m := base()
		c.mod(m)
		_, err := g.Verify(context.Background(), es.sign(t, "at+jwt", m))
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// Claims that are not an object, or trail data.
	for _, payload := range []string{`[1,2]`, `null`, `"x"`, `{"iss":"a"} {}`} {
		tok := signRaw(t, es, payload)
		if _, err := g.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("payload %s: %v", payload, err)
		}
	}
}

// signRaw signs an arbitrary payload (not necessarily a JSON object).
func signRaw(t testing.TB, s signer, payload string) string {
	t.Helper()
	return testjws.SignRaw(t, jose.SignatureAlgorithm(s.alg), s.key, s.kid, "at+jwt", []byte(payload))
}

// FuzzVerifyToken: whatever the bearer string, Verify never panics and
// never accepts anything but the one genuine token (up to the encoding of
// its parts): the header and claims of an accepted token are exactly those
// the issuer signed.
func FuzzVerifyToken(f *testing.F) {
	ti := newTestIssuer(f)
	es := newECSigner(f, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(f, func(c *Config) { c.KeyRefetchInterval = time.Hour })
	valid := es.sign(f, "at+jwt", ti.claims("svc", map[string]any{"admin": true}))
	if _, err := g.Verify(context.Background(), valid); err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add("")
	f.Add("..")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(valid + ".")
	f.Add(strings.ToUpper(valid))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"k1"}`)) + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"k1"}`)) + "." + parts[1] + "." + parts[2])
	f.Add(`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`)
	for _, s := range testjws.SameBytesOtherEncoding(valid) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := g.Verify(context.Background(), tok)
		if err != nil {
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		// Compared decoded: a part re-encoded with other unused low bits
		// is the same signed bytes (signedBytes).
		if strings.Count(tok, ".") != 2 || testjws.SignedBytes(tok) != testjws.SignedBytes(valid) {
			t.Fatalf("accepted a token the issuer did not sign: %q", tok)
		}
	})
}

// TestVerifyCache: a token verified before skips the signature check but
// not the clock (it expires in the cache too), callers cannot change the
// cached claims, and a key withdrawn from the JWKS withdraws its cached
// tokens.
func TestVerifyCache(t *testing.T) {
	ti := newTestIssuer(t)
	k1 := newECSigner(t, "k1")
	ti.addKey(k1.kid, k1.alg, k1.public())
	now := time.Now()
	g := ti.guard(t, func(c *Config) { c.Clock = func() time.Time { return now } })
	ctx := context.Background()
	tok := k1.sign(t, "at+jwt", ti.claims("svc", map[string]any{"departments": []any{"news"}}))
	first, err := g.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.verified.get(sha256.Sum256([]byte(tok))); !ok {
		t.Fatal("a verified token is not cached")
	}
	first["sub"] = "admin"
	first["attributes"].(map[string]any)["departments"].([]any)[0] = "finance"
	// The claims of a cache hit too.
	for range 2 {
		again, err := g.Verify(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if again["sub"] != "svc" || again["attributes"].(map[string]any)["departments"].([]any)[0] != "news" {
			t.Fatalf("a caller changed the cached claims: %v", again)
		}
		again["sub"] = "admin"
		again["attributes"].(map[string]any)["departments"].([]any)[0] = "finance"
	}

	// The key is withdrawn (rotation without overlap): the cached token
	// goes with it once the guard sees the new JWKS.
	k2 := newECSigner(t, "k2")
	ti.mu.Lock()
	ti.jwks = nil
	ti.mu.Unlock()
	ti.addKey(k2.kid, k2.alg, k2.public())
	now = now.Add(11 * time.Second)
	if _, err := g.Verify(ctx, k2.sign(t, "at+jwt", ti.claims("svc", nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("cached token of a withdrawn key: %v", err)
	}

	// Expiry applies to cached tokens.
	tok2 := k2.sign(t, "at+jwt", ti.claims("svc", nil))
	if _, err := g.Verify(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := g.Verify(ctx, tok2); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("cached expired token: %v", err)
	}
}

// TestVerifiedCacheBounded: the cache never grows past its size.
func TestVerifiedCacheBounded(t *testing.T) {
	now := time.Now()
	c := newVerifiedCache(func() time.Time { return now })
	for i := range verifiedCacheSize * 3 {
		c.put(sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)}), verifiedEntry{until: now.Add(time.Minute)})
		if len(c.entries) > verifiedCacheSize {
			t.Fatalf("%d entries after %d puts", len(c.entries), i+1)
		}
	}
}

// TestJWKSOddKeys: keys the guard cannot or must not use (symmetric, weak
// RSA, an alg its type cannot have, encryption keys, an algorithm outside
// the allow-list, an unknown kty) are ignored without hiding the good one.
func TestJWKSOddKeys(t *testing.T) {
	ti := newTestIssuer(t)
	good := newECSigner(t, "good")
	ti.addKey(good.kid, good.alg, good.public())
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	misfit := newECSigner(t, "misfit")
	enc := newECSigner(t, "enc")
	ti.mu.Lock()
	ti.jwks = append(ti.jwks,
		jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"},
		jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "weak", Algorithm: "RS256"},
		jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "p384", Algorithm: "ES384"},
		jose.JSONWebKey{Key: misfit.public(), KeyID: "misfit", Algorithm: "RS256"},
		jose.JSONWebKey{Key: enc.public(), KeyID: "enc", Algorithm: "ES256", Use: "enc"},
	)
	ti.mu.Unlock()
	g := ti.guard(t, nil)
	keys := *g.keys.keys.Load()
	if len(keys) != 1 || keys["good"] == nil {
		t.Fatalf("usable keys: %v", keys)
	}
	ctx := context.Background()
	c := ti.claims("svc", nil)
	if _, err := g.Verify(ctx, good.sign(t, "at+jwt", c)); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"weak RSA":           signer{kid: "weak", alg: "RS256", key: weak}.sign(t, "at+jwt", c),
		"ES384 not allowed":  signer{kid: "p384", alg: "ES384", key: p384}.sign(t, "at+jwt", c),
		"EC key claiming RS": signer{kid: "misfit", alg: "ES256", key: misfit.key}.sign(t, "at+jwt", c),
		"encryption key":     signer{kid: "enc", alg: "ES256", key: enc.key}.sign(t, "at+jwt", c),
		"HMAC with oct key":  signer{kid: "oct", alg: "HS256", key: []byte("0123456789abcdef0123456789abcdef")}.sign(t, "at+jwt", c),
	} {
		if _, err := g.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestJWKSUnknownKeyType: a key go-jose cannot parse is skipped.
func TestJWKSUnknownKeyType(t *testing.T) {
	good := newECSigner(t, "good")
	goodJWK, _ := json.Marshal(jose.JSONWebKey{Key: good.public(), KeyID: "good", Algorithm: "ES256"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[{"kty":"XYZ","kid":"odd"},{"kty":"EC","kid":"broken","crv":"P-256","x":"AA"},` + string(goodJWK) + `]}`))
	}))
	defer srv.Close()
	ks := newKeySet(srv.Client(), srv.URL, map[string]bool{"ES256": true}, time.Second, time.Now)
	if err := ks.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := *ks.keys.Load(); len(keys) != 1 || keys["good"] == nil {
		t.Errorf("keys: %v", keys)
	}
}
