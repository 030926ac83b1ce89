package attributes

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Temporary keys (CONTRACT §6, "Security templates"; issue 15): Ward mints
// them from a security template for browsers and uploaders. A temporary
// key is a compact JWS signed with the realm's key (typ ward-tk+jwt), sent
// in X-API-Key, and checked here without asking Ward: signature and times,
// then the template's rules (permissions, dir_scope, ip_ranges,
// countries, per-minute limits). Only its minting API key's deactivation
// needs news from Ward, and that comes with the polled policy document.

const (
	// KindTemporaryKey is the kind of the subject a temporary key yields
	// (SubjectFrom).
	KindTemporaryKey = "temporary_key"

	// tempKeyType is the header typ Ward gives temporary keys; it keeps
	// them from passing for access tokens (at+jwt) and the other way round.
	tempKeyType = "ward-tk+jwt"
	// maxTempKeyLength bounds what is parsed as a temporary key: Ward's
	// are well under 2 KiB even with long scope lists.
	maxTempKeyLength = 8 << 10
	// maxPerMinute bounds the limits a key may carry, so the interval
	// between two requests (a minute / N) stays at least 60 ns.
	maxPerMinute = 1_000_000_000
	// tempKeyCacheSize bounds the verified temporary keys remembered: an
	// entry is a key's claims and parsed rules, one or two KiB.
	tempKeyCacheSize = 10_000

	reasonMinterDeactivated = "the API key that minted the temporary key is deactivated"
)

// IsTemporaryKey reports whether subject (from SubjectFrom) is a temporary key's: kind "temporary_key". Like an
// API key's, it is allowed what its permissions name (KeyAllows), and on
// resources within its dir_scope (ScopeAllows) only.
func IsTemporaryKey(subject map[string]any) bool {
	kind, _ := subject["kind"].(string)
	return kind == KindTemporaryKey
}

// base64URL marks the bytes of the base64url alphabet (a table: this runs
// over every byte of every key sent).
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// isTempKeyShape reports whether s looks like a compact JWS worth
// verifying as a temporary key: three non-empty base64url parts, bounded.
func isTempKeyShape(s string) bool {
	if len(s) > maxTempKeyLength {
		return false
	}
	dots, partLen := 0, 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; base64URL[c] {
			partLen++
			continue
		} else if c != '.' || partLen == 0 {
			return false
		}
		dots, partLen = dots+1, 0
	}
	return dots == 2 && partLen > 0
}

// tempKey is a verified temporary key: the claims as signed, and its rules
// parsed once so that a key used again costs no parsing.
type tempKey struct {
	sum [32]byte // SHA-256 of the key string: its cache key
	// id is the SHA-256 of its jti: the key its limits are counted by. Not
	// the string's hash: one signed key can be written as several strings
	// (an ECDSA signature's s or n-s, unused bits in base64url's last
	// character), each of which verifies, and each would get its own
	// budget.
	id     [32]byte
	kid    string
	key    *verificationKey
	claims map[string]any // never handed out; subject() copies

	apiKey     string
	issuedAt   int64     // iat, seconds since the epoch
	expires    time.Time // exp plus the leeway: of no use after
	ipRanges   []netip.Prefix
	countries  []string
	limit      int64 // requests per minute, 0 = none
	limitPerIP int64 // requests per minute per source address, 0 = none
}

// subject is what handlers and Decide see: the claims and kind.
func (k *tempKey) subject() map[string]any {
	s := cloneJSON(k.claims).(map[string]any)
	// Whatever the claims say, the kind is the credential's, so that a key
	// is never decided as something else.
	s["kind"] = KindTemporaryKey
	return s
}

func (g *Guard) temporaryKey(ctx context.Context, key string) (*tempKey, error) {
	if len(key) > maxTempKeyLength {
		return nil, invalid("not a temporary key")
	}
	sum := sha256.Sum256([]byte(key))
	k, ok := g.tempKeys.get(sum)
	// A key whose signing key the realm withdrew is checked afresh (and
	// fails unless the key comes back). A cached key had its shape checked
	// when it was verified; its hash stands for the very same string.
	if !ok || g.keys.current(k.kid) != k.key {
		if !isTempKeyShape(key) {
			return nil, invalid("not a temporary key")
		}
		var err error
		if k, err = g.verifyTempKey(ctx, key); err != nil {
			return nil, err
		}
		k.sum = sum
		g.tempKeys.put(sum, k)
	}
	if err := g.checkTimes(k.claims); err != nil {
		return nil, err
	}
	if g.deactivatedKey(k) {
		return nil, &KeyRefusedError{Reason: reasonMinterDeactivated}
	}
	return k, nil
}

// verifyTempKey is the full check of a temporary key not seen before.
func (g *Guard) verifyTempKey(ctx context.Context, key string) (*tempKey, error) {
	kid, vk, claims, err := g.verifyJWS(ctx, key, tempKeyType)
	if err != nil {
		return nil, err
	}
	if iss, _ := claims["iss"].(string); iss != g.cfg.Issuer {
		return nil, invalid("iss %q is not the issuer", iss)
	}
	if err := g.checkTimes(claims); err != nil {
		return nil, err
	}
	k, err := parseTempKey(claims)
	if err != nil {
		return nil, err
	}
	exp, _ := numericDate(claims["exp"])
	k.kid, k.key, k.claims, k.expires = kid, vk, claims, exp.Add(g.leeway)
	jti, _ := claims["jti"].(string)
	k.id = sha256.Sum256([]byte(jti))
	return k, nil
}

// parseTempKey checks that the claims a temporary key must have are there
// and well typed, and parses its rules. Anything malformed refuses the
// key: a rule the guard cannot read is a rule it cannot enforce.
func parseTempKey(c map[string]any) (*tempKey, error) {
	for _, name := range []string{"sub", "jti"} {
		if s, _ := c[name].(string); s == "" {
			return nil, invalid("%s missing or not a string", name)
		}
	}
	if _, ok := c["template"].(string); !ok {
		return nil, invalid("template missing or not a string")
	}
	apiKey, ok := c["api_key"].(string)
	if !ok {
		return nil, invalid("api_key missing or not a string")
	}
	iat, ok := numericDate(c["iat"])
	if !ok {
		return nil, invalid("iat missing or not a number")
	}
	k := &tempKey{apiKey: apiKey, issuedAt: iat.Unix()}
	perms, err := stringList(c, "permissions")
	if err != nil {
		return nil, err
	}
	if len(perms) == 0 {
		return nil, invalid("permissions missing or empty")
	}
	for _, p := range perms {
		if rt, action, ok := strings.Cut(p, ":"); !ok || rt == "" || action == "" {
			return nil, invalid("permission %.80q is not resource_type:action", p)
		}
	}
	scope, err := stringList(c, "dir_scope")
	if err != nil {
		return nil, err
	}
	for _, p := range scope {
		if !isScopePattern(p) {
			return nil, invalid("dir_scope pattern %.80q is not an absolute path with * only at its end", p)
		}
	}
	if k.ipRanges, err = parseIPRanges(c); err != nil {
		return nil, err
	}
	if k.countries, err = stringList(c, "countries"); err != nil {
		return nil, err
	}
	for _, cc := range k.countries {
		if !isCountryCode(cc) {
			return nil, invalid("country %.20q is not an upper-case ISO 3166-1 alpha-2 code", cc)
		}
	}
	if k.limit, err = perMinute(c, "limit_per_minute"); err != nil {
		return nil, err
	}
	if k.limitPerIP, err = perMinute(c, "limit_per_source_ip_per_minute"); err != nil {
		return nil, err
	}
	return k, nil
}

// stringList reads an optional array of strings: absent or null is empty
// (Ward may leave empty rules out), anything else but strings is an error.
func stringList(c map[string]any, name string) ([]string, error) {
	switch v := c[name].(type) {
	case nil:
		return nil, nil
	case []any:
		l := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, invalid("%s[%d] is not a string", name, i)
			}
			l[i] = s
		}
		return l, nil
	default:
		return nil, invalid("%s is not an array", name)
	}
}

func parseIPRanges(c map[string]any) ([]netip.Prefix, error) {
	ranges, err := stringList(c, "ip_ranges")
	if err != nil {
		return nil, err
	}
	prefixes := make([]netip.Prefix, 0, len(ranges))
	for i, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, invalid("ip_ranges[%d] %.60q is not a CIDR range", i, r)
		}
		// Client addresses are compared unmapped, so an IPv4-mapped range
		// is taken as the IPv4 range it means.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// perMinute reads an optional per-minute limit: absent or null is none; a
// number must be a whole one from 1 to maxPerMinute.
func perMinute(c map[string]any, name string) (int64, error) {
	switch v := c[name].(type) {
	case nil:
		return 0, nil
	case float64:
		if v >= 1 && v <= maxPerMinute && v == math.Trunc(v) {
			return int64(v), nil
		}
	}
	return 0, invalid("%s is neither null nor a whole number from 1 to %d", name, maxPerMinute)
}

// deactivatedKey reports whether the last policy document listed the API
// key id among the deactivated ones.
func (g *Guard) deactivatedKey(k *tempKey) bool {
	d := g.deactivated.Load()
	if d == nil {
		return false
	}
	if d.issuedUntil > 0 && k.issuedAt <= d.issuedUntil {
		return true
	}
	_, ok := d.ids[k.apiKey]
	return k.apiKey != "" && ok
}

// deactivatedMinters is what the last policy document said of deactivated
// API keys: their ids, and, when Ward had more than it lists, a time up to
// which every temporary key is refused (the keys left out were deactivated
// no later than that, so what they minted was issued before it).
type deactivatedMinters struct {
	ids         map[string]struct{}
	issuedUntil int64 // seconds since the epoch; 0: none
}

// setDeactivated replaces the deactivated API key ids and cut-off (from a
// policy document answered 200; absent means none).
func (g *Guard) setDeactivated(ids []string, issuedUntil int64) {
	d := &deactivatedMinters{ids: make(map[string]struct{}, len(ids)), issuedUntil: issuedUntil}
	for _, id := range ids {
		if id != "" {
			d.ids[id] = struct{}{}
		}
	}
	g.deactivated.Store(d)
}

// authenticateTempKey is the middleware's check of a temporary key, once
// per request, in the order of its answers: the key itself (401), where
// the caller is (403), the per-minute limits (429). The resource and its
// path are Decide's.
func (g *Guard) authenticateTempKey(ctx context.Context, key string) (map[string]any, *problem) {
	k, err := g.temporaryKey(ctx, key)
	var refused *KeyRefusedError
	switch {
	case errors.As(err, &refused):
		return nil, g.invalidCredential(refused.Reason)
	case errors.Is(err, errExpired):
		return nil, g.invalidCredential("the temporary key has expired")
	case err != nil:
		return nil, g.invalidCredential("the temporary key is malformed, forged or not from this realm")
	}
	ip, _ := ctx.Value(ipKey{}).(string)
	addr, _ := netip.ParseAddr(ip)
	addr = addr.Unmap().WithZone("")
	// The allow lists before the limits: a refused request spends nothing.
	if !g.networkAllows(ctx, nil) {
		p := networkRefused()
		minter, _ := k.claims["api_key"].(string)
		p.refused = &refusedCaller{kind: KindTemporaryKey, subject: minter}
		return nil, p
	}
	if p := g.checkWhere(k, addr); p != nil {
		return nil, p
	}
	if wait, perAddr := g.limits.take(k, addr, g.now()); wait > 0 {
		return nil, tooManyRequests(k, wait, perAddr)
	}
	return k.subject(), nil
}

// checkWhere enforces ip_ranges and countries against the client address
// (request.ip: the peer, or what trusted proxies forwarded). An address the
// guard cannot read is outside every range and country.
func (g *Guard) checkWhere(k *tempKey, addr netip.Addr) *problem {
	if len(k.ipRanges) > 0 && !inRanges(k.ipRanges, addr) {
		return forbidden("the client address is outside the temporary key's ip_ranges")
	}
	if len(k.countries) == 0 {
		return nil
	}
	country, err := g.geo.country(addr)
	switch {
	case errors.Is(err, errNoGeoIP):
		return forbidden("the temporary key is limited to countries and this server cannot check countries (no GeoIP database)")
	case err != nil || country == "":
		return forbidden("the client's country could not be determined, and the temporary key is limited to countries")
	}
	for _, c := range k.countries {
		if c == country {
			return nil
		}
	}
	return forbidden(fmt.Sprintf("the client's country (%s) is not among the temporary key's countries", country))
}

func inRanges(ranges []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range ranges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func forbidden(detail string) *problem {
	return &problem{Type: "urn:ward:problem:forbidden", Title: "Forbidden", Status: http.StatusForbidden, Detail: detail}
}

func tooManyRequests(k *tempKey, wait time.Duration, perAddr bool) *problem {
	detail := fmt.Sprintf("the temporary key's limit of %d requests per minute is used up", k.limit)
	if perAddr {
		detail = fmt.Sprintf("the temporary key's limit of %d requests per minute from one address is used up", k.limitPerIP)
	}
	return &problem{Type: "urn:ward:problem:too-many-requests", Title: "Too Many Requests", Status: http.StatusTooManyRequests,
		Detail: detail, retryAfter: retryAfterSeconds(wait)}
}

// retryAfterSeconds is a wait as Retry-After: whole seconds, rounded up,
// at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
