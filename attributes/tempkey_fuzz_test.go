package attributes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/internal/testjws"
)

// FuzzTemporaryKey: whatever is sent in X-API-Key, the guard's temporary
// key check never panics, refuses with ErrInvalidToken (nothing here is
// deactivated), and accepts only a key the realm signed as a temporary key
// that is within its times and has well-formed rules: its header and
// claims exactly those of such a key. A modified key, a key signed by
// another key under the realm's kid, an access token, an expired key or
// one with a malformed rule is refused.
func FuzzTemporaryKey(f *testing.F) {
	ti := newTestIssuer(f, allPolicy)
	es := newECSigner(f, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	// The clock stands still, so what is valid stays valid while fuzzing.
	clock := &fakeClock{t: time.Now()}
	ti.keySigner, ti.clock = &es, clock.now
	e := &tkEnv{ti: ti, clock: clock}
	e.g = ti.guard(f, func(c *Config) { c.Clock = clock.now; c.KeyRefetchInterval = time.Hour })

	good := e.mint(f, nil)
	ruled := e.mint(f, func(c map[string]any) {
		c["dir_scope"] = []any{"/uploads/*", "/a/b"}
		c["ip_ranges"] = []any{"10.0.0.0/8", "::ffff:192.168.0.0/112", "2001:db8::/32"}
		c["countries"] = []any{"DE", "FR"}
		c["limit_per_minute"], c["limit_per_source_ip_per_minute"] = 60, 5
		c["permissions"] = []any{"asset:read", "asset:delete"}
	})
	accepted := map[string]bool{testjws.SignedBytes(good): true, testjws.SignedBytes(ruled): true}
	for _, k := range []string{good, ruled} {
		if s, err := e.g.temporaryKeySubject(context.Background(), k); err != nil || !IsTemporaryKey(s) {
			f.Fatalf("a genuine key: %v %v", s, err)
		}
	}
	impostor := newECSigner(f, es.kid)
	refused := []string{
		e.mint(f, func(c map[string]any) { c["exp"] = clock.now().Add(-time.Hour).Unix() }),
		e.mint(f, func(c map[string]any) { c["iat"] = clock.now().Add(time.Hour).Unix() }),
		e.mint(f, func(c map[string]any) { c["iss"] = "https://elsewhere.test/realms/acme" }),
		e.mint(f, func(c map[string]any) { c["permissions"] = []any{} }),
		e.mint(f, func(c map[string]any) { c["permissions"] = []any{"read"} }),
		e.mint(f, func(c map[string]any) { c["dir_scope"] = []any{"/a/*/b"} }),
		e.mint(f, func(c map[string]any) { c["ip_ranges"] = []any{"10.0.0.1"} }),
		e.mint(f, func(c map[string]any) { c["countries"] = []any{"de"} }),
		e.mint(f, func(c map[string]any) { c["limit_per_minute"] = 1.5 }),
		e.mint(f, func(c map[string]any) { delete(c, "api_key") }),
		impostor.sign(f, "ward-tk+jwt", e.tkClaims()),
		es.sign(f, "at+jwt", e.tkClaims()),
	}
	parts := strings.Split(good, ".")
	for _, k := range append(refused, good, ruled, "", ".", "..", "a.b.c", good+".", parts[0]+"."+parts[1]+".",
		parts[0]+".."+parts[2], strings.ToUpper(good), parts[0]+"."+parts[1]+"."+parts[2][:len(parts[2])-2],
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1","typ":"ward-tk+jwt"}`))+"."+parts[1]+".",
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1","typ":"ward-tk+jwt"}`))+"."+parts[1]+"."+parts[2],
		strings.Repeat("a", maxTempKeyLength-1)+".b.c") {
		f.Add(k)
	}
	for _, k := range testjws.SameBytesOtherEncoding(good) {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		s, err := e.g.temporaryKeySubject(context.Background(), key)
		if err != nil {
			if s != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%q: refused with subject %v and %v, want none and ErrInvalidToken", key, s, err)
			}
			return
		}
		if !accepted[testjws.SignedBytes(key)] || strings.Count(key, ".") != 2 {
			t.Fatalf("accepted a temporary key the realm did not sign as a valid one: %q (%v)", key, s)
		}
		if !IsTemporaryKey(s) || s["sub"] != "tpl-1" || s["api_key"] != "key-1" {
			t.Fatalf("%q: subject %v is not the one signed", key, s)
		}
	})
}

// FuzzTempKeyClaims: whatever claims a signed temporary key carries, the
// rules are parsed without panicking, a refusal wraps ErrInvalidToken, and
// a key accepted has rules the guard can enforce: sub and jti set, at
// least one resource_type:action permission, dir_scope patterns, masked
// CIDR ranges, upper-case country codes and limits from 1 to
// maxPerMinute (0: none). Parsing the same claims twice gives the same.
func FuzzTempKeyClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://ward.test/realms/acme","sub":"tpl-1","template":"uploader","jti":"0a1b","iat":1700000000,"exp":1700001200,` +
			`"api_key":"key-1","permissions":["asset:read"],"dir_scope":[],"ip_ranges":[],"countries":[],"limit_per_minute":null,"limit_per_source_ip_per_minute":null}`,
		`{"sub":"t","template":"","jti":"j","iat":1,"api_key":"","permissions":["a:b","c:d"],"dir_scope":["/uploads/*","/a/b","/.x*"],` +
			`"ip_ranges":["10.1.2.3/8","::ffff:192.168.0.0/112","2001:db8::1/32"],"countries":["DE","FR"],"limit_per_minute":60,"limit_per_source_ip_per_minute":1000000000}`,
		`{"sub":"t","template":"x","jti":"j","iat":1.5,"api_key":"k","permissions":["a:b"],"limit_per_minute":1e9}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"],"limit_per_minute":1000000001}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"],"limit_per_minute":0.5}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:"]}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":":b"}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"],"dir_scope":["/a/../b"]}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"],"ip_ranges":["1.2.3.4/33"]}`,
		`{"sub":"t","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"],"countries":["D"]}`,
		`{"sub":"","template":"x","jti":"j","iat":1,"api_key":"k","permissions":["a:b"]}`,
		`{"sub":"t","template":null,"jti":"j","iat":"1","api_key":"k","permissions":[1]}`,
		`{}`, `{"permissions":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		// Decoded as verifyJWS decodes a verified payload.
		var c map[string]any
		if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&c); err != nil || c == nil {
			return
		}
		k, err := parseTempKey(c)
		if err != nil {
			if k != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%s: refused with %+v and %v, want nothing and ErrInvalidToken", payload, k, err)
			}
			return
		}
		if s, _ := c["sub"].(string); s == "" {
			t.Fatalf("%s: accepted without sub", payload)
		}
		if s, _ := c["jti"].(string); s == "" {
			t.Fatalf("%s: accepted without jti", payload)
		}
		perms, _ := c["permissions"].([]any)
		if len(perms) == 0 {
			t.Fatalf("%s: accepted without permissions", payload)
		}
		for _, p := range perms {
			s, _ := p.(string)
			if rt, action, ok := strings.Cut(s, ":"); !ok || rt == "" || action == "" {
				t.Fatalf("%s: accepted permission %q", payload, s)
			}
		}
		if ds, ok := c["dir_scope"].([]any); ok {
			for _, p := range ds {
				if s, _ := p.(string); !isScopePattern(s) {
					t.Fatalf("%s: accepted dir_scope %q", payload, s)
				}
			}
		}
		for _, p := range k.ipRanges {
			if !p.IsValid() || p != p.Masked() || (p.Addr().Is4In6() && p.Bits() >= 96) {
				t.Fatalf("%s: range %v is not a masked, unmapped CIDR range", payload, p)
			}
		}
		if n := len(k.ipRanges); n > 0 && !inRanges(k.ipRanges, k.ipRanges[n-1].Addr()) {
			t.Fatalf("%s: a range's own address is outside the ranges", payload)
		}
		if inRanges(k.ipRanges, netip.Addr{}) {
			t.Fatalf("%s: an unreadable address is inside the ranges", payload)
		}
		for _, cc := range k.countries {
			if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
				t.Fatalf("%s: accepted country %q", payload, cc)
			}
		}
		for _, l := range []int64{k.limit, k.limitPerIP} {
			if l < 0 || l > maxPerMinute {
				t.Fatalf("%s: limit %d", payload, l)
			}
		}
		again, err := parseTempKey(c)
		if err != nil || !reflect.DeepEqual(k, again) {
			t.Fatalf("%s: parsed twice differently: %+v, %+v %v", payload, k, again, err)
		}
	})
}
