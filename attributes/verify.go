package attributes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken is the error every refused token wraps (errors.Is). Its
// text says why, for logs; the middleware does not tell the caller.
var ErrInvalidToken = errors.New("attributes: invalid token")

// ErrIntrospection is an introspection call that failed (the issuer did not
// answer): neither a yes nor a no about the token.
var ErrIntrospection = errors.New("attributes: token introspection failed")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// maxTokenLength bounds the tokens the guard looks at; Ward's access
// tokens, attributes included, are a few KiB.
const maxTokenLength = 64 << 10

// Verify checks an access token offline and returns its claims: a compact
// JWS whose header alg is in the allow-list and equal to the alg of the
// JWKS key named by kid, with typ at+jwt (RFC 9068), a valid signature, iss
// equal to the issuer, the audience among aud, an exp not past and nbf and
// iat not in the future (each with Config.Leeway). With Config.Introspect
// the issuer is then asked whether the token is still active.
//
// The claims are the token's JSON object decoded by encoding/json: JSON
// numbers are float64, arrays []any, objects map[string]any. Policies see
// them as CEL doubles, lists and maps.
func (g *Guard) Verify(ctx context.Context, token string) (map[string]any, error) {
	claims, err := g.verifyOffline(ctx, token)
	if err != nil {
		return nil, err
	}
	if g.cfg.Introspect {
		if err := g.introspect(ctx, token); err != nil {
			return nil, err
		}
	}
	return claims, nil
}

func (g *Guard) verifyOffline(ctx context.Context, token string) (map[string]any, error) {
	if err := checkShape(token); err != nil {
		return nil, err
	}
	// A token seen before with a good signature under a key still
	// published skips the signature check (most of a decision's cost); the
	// claims are checked against the clock every time.
	sum := sha256.Sum256([]byte(token))
	if e, ok := g.verified.get(sum); ok {
		if claims, err := g.reverify(e); !errors.Is(err, errKeyWithdrawn) {
			return claims, err
		}
	}
	e, claims, err := g.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	g.verified.put(sum, e)
	return claims, nil
}

// checkShape refuses what is not worth parsing.
func checkShape(token string) error {
	if token == "" {
		return invalid("empty token")
	}
	if len(token) > maxTokenLength {
		return invalid("token longer than %d bytes", maxTokenLength)
	}
	// Compact serialization only: the JSON serialization can carry several
	// signatures and unprotected headers, which access tokens never need.
	if strings.Count(token, ".") != 2 {
		return invalid("not a compact JWS")
	}
	return nil
}

// errKeyWithdrawn is a remembered token whose signing key the issuer no
// longer publishes: its signature has to be checked again (and fails
// unless the key comes back).
var errKeyWithdrawn = fmt.Errorf("%w: the signing key is no longer published", ErrInvalidToken)

// reverify is the check of a token whose signature checked out before: the
// key must still be published and the claims must still hold now. The
// claims returned are a copy the caller may change.
func (g *Guard) reverify(e verifiedEntry) (map[string]any, error) {
	if g.keys.current(e.kid) != e.key {
		return nil, errKeyWithdrawn
	}
	claims := cloneJSON(e.claims).(map[string]any)
	if err := g.checkClaims(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// verifySignature is the full check of a token: shape, header, signature
// against the JWKS, claims. It returns what reverify needs to check the
// token again without its signature, and the claims.
func (g *Guard) verifySignature(ctx context.Context, token string) (verifiedEntry, map[string]any, error) {
	if err := checkShape(token); err != nil {
		return verifiedEntry{}, nil, err
	}
	kid, key, claims, err := g.verifyJWS(ctx, token, "at+jwt")
	if err != nil {
		return verifiedEntry{}, nil, err
	}
	if err := g.checkClaims(claims); err != nil {
		return verifiedEntry{}, nil, err
	}
	exp, _ := numericDate(claims["exp"])
	e := verifiedEntry{kid: kid, key: key, claims: cloneJSON(claims).(map[string]any), until: exp.Add(g.leeway)}
	return e, claims, nil
}

// verifyJWS checks a compact JWS signed by the realm: one signature, an
// allowed algorithm equal to that of the JWKS key its kid names, no crit,
// header typ equal to typ (or application/typ, any case), and a JSON
// object as payload. It returns the key that verified it and the claims,
// which the caller still has to check. Access tokens (at+jwt) and
// temporary keys (ward-tk+jwt) share it; the typ keeps one from passing
// for the other.
func (g *Guard) verifyJWS(ctx context.Context, token, typ string) (string, *verificationKey, map[string]any, error) {
	jws, err := jose.ParseSignedCompact(token, g.algList)
	if err != nil {
		return "", nil, nil, invalid("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return "", nil, nil, invalid("not exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if !g.algs[h.Algorithm] {
		return "", nil, nil, invalid("algorithm %q not allowed", h.Algorithm)
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return "", nil, nil, invalid("critical header extensions are not supported")
	}
	got, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(got); t != typ && t != "application/"+typ {
		return "", nil, nil, invalid("typ %q is not %s", got, typ)
	}
	if h.KeyID == "" {
		return "", nil, nil, invalid("no kid")
	}
	key, ok := g.keys.get(ctx, h.KeyID)
	if !ok {
		return "", nil, nil, invalid("unknown kid %q", h.KeyID)
	}
	// The key decides the algorithm, not the token: a header may not make
	// an RSA key verify PS256 when the key is for RS256.
	if key.alg != h.Algorithm {
		return "", nil, nil, invalid("algorithm %q does not match the key's %q", h.Algorithm, key.alg)
	}
	payload, err := jws.Verify(key.key)
	if err != nil {
		return "", nil, nil, invalid("signature: %v", err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return "", nil, nil, invalid("claims are not a JSON object")
	}
	if dec.More() {
		return "", nil, nil, invalid("trailing data after the claims")
	}
	return h.KeyID, key, claims, nil
}

// verifiedCacheSize bounds the verified-token cache: a few MiB at most.
const verifiedCacheSize = 4096

// verifiedCache remembers tokens whose signature checked out, by SHA-256
// of the token. Entries leave when their token expires or, when the cache
// is full, to make room.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]verifiedEntry
	now     func() time.Time
}

type verifiedEntry struct {
	kid    string
	key    *verificationKey
	claims map[string]any
	until  time.Time
}

func newVerifiedCache(now func() time.Time) *verifiedCache {
	return &verifiedCache{entries: map[[32]byte]verifiedEntry{}, now: now}
}

func (c *verifiedCache) get(sum [32]byte) (verifiedEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[sum]
	c.mu.RUnlock()
	return e, ok
}

func (c *verifiedCache) put(sum [32]byte, e verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedCacheSize {
		now := c.now()
		for k, v := range c.entries {
			if now.After(v.until) {
				delete(c.entries, k)
			}
		}
		// Still full: drop arbitrary entries (map order) down to 3/4.
		for k := range c.entries {
			if len(c.entries) < verifiedCacheSize*3/4 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = e
}

// cloneJSON deep-copies a value as encoding/json decodes it, so that a
// handler changing the claims it was given cannot change the cache.
func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = cloneJSON(vv)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, vv := range x {
			l[i] = cloneJSON(vv)
		}
		return l
	default:
		return v
	}
}

func (g *Guard) checkClaims(c map[string]any) error {
	if iss, _ := c["iss"].(string); iss != g.cfg.Issuer {
		return invalid("iss %q is not the issuer", iss)
	}
	if !hasAudience(c["aud"], g.cfg.Audience) {
		return invalid("audience %q not in aud", g.cfg.Audience)
	}
	return g.checkTimes(c)
}

// errExpired is a credential past its exp (with the leeway): the one
// refusal worth telling a caller apart, since the cure is a new one.
var errExpired = fmt.Errorf("%w: expired", ErrInvalidToken)

// checkTimes checks exp (required), nbf and iat against the guard's clock,
// each with the leeway.
func (g *Guard) checkTimes(c map[string]any) error {
	now := g.now()
	exp, ok := numericDate(c["exp"])
	if !ok {
		return invalid("exp missing or not a number")
	}
	if !now.Before(exp.Add(g.leeway)) {
		return errExpired
	}
	if v, present := c["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok {
			return invalid("nbf is not a number")
		}
		if now.Add(g.leeway).Before(nbf) {
			return invalid("not valid yet (nbf)")
		}
	}
	if v, present := c["iat"]; present {
		iat, ok := numericDate(v)
		if !ok {
			return invalid("iat is not a number")
		}
		if now.Add(g.leeway).Before(iat) {
			return invalid("issued in the future (iat)")
		}
	}
	return nil
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly
// fractional).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// introspect asks the issuer (RFC 7662) whether token is still active: a
// user or client deactivated since the token was issued is refused at once.
func (g *Guard) introspect(ctx context.Context, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.discovery.IntrospectionEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	g.clientAuth(req)
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", ErrIntrospection, resp.Status)
	}
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body); err != nil {
		return fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	if !body.Active {
		return invalid("the issuer says the token is not active")
	}
	return nil
}
