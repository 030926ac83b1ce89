package attributes

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// API keys (CONTRACT §6, "Using a key"): a caller sends a Ward API key; the
// guard exchanges it at the realm's token endpoint (RFC 8693) for a short
// access token, verifies that token like any other, and keeps it per key
// until shortly before it expires, so that decisions stay offline.

const (
	apiKeyPrefix = "ward_"
	// Ward's keys carry at least 40 random base62 characters; 100 leaves
	// room for longer ones without letting arbitrary text through.
	apiKeyMinRandom = 40
	apiKeyMaxRandom = 100

	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAPIKey    = "urn:ward:params:oauth:token-type:api-key"

	// KindAPIKey is the kind claim of an access token Ward issues for an
	// API key.
	KindAPIKey = "api_key"
)

const (
	// maxKeyTokenLife caps how long the guard uses one exchanged token,
	// whatever the issuer says, so that a deactivated key is refused by
	// every guard within a minute (CONTRACT §6).
	maxKeyTokenLife = 60 * time.Second
	// keyRefreshMargin: a token is exchanged again when less than this
	// (or a quarter of its life, if more) remains, so that no request
	// carries a token about to expire and most requests never wait.
	keyRefreshMargin = 10 * time.Second
	// keyRefusalTTL is how long a refused key is answered from the cache:
	// a flood with a bad key costs the issuer one exchange per key per
	// few seconds, and a reactivated key works again as soon.
	keyRefusalTTL = 3 * time.Second
	// keyRetryAfter is how long a key whose exchange failed (issuer
	// unreachable, 5xx, misconfiguration) waits before the next attempt,
	// so that an outage is not made worse by every request retrying.
	keyRetryAfter = time.Second
	// keyExchangeTimeout bounds one exchange, which runs on its own
	// context (see exchangeKey).
	keyExchangeTimeout = 10 * time.Second
	// maxReasonLength bounds the issuer's description a 401 repeats.
	maxReasonLength = 200
)

// ErrKeyExchange is an API key exchange that gave no verdict on the key:
// the issuer unreachable or failing, the guard's client refused, or a
// token that does not verify. The middleware answers 503: the key may be
// good, so this is not the caller's fault, and nothing is allowed either.
var ErrKeyExchange = errors.New("attributes: API key exchange failed")

// KeyRefusedError is an API key the issuer refused (invalid_grant): an
// unknown, deactivated or expired key. Reason is the issuer's description,
// e.g. "API key is deactivated"; the middleware answers 401 with it.
// errors.Is(err, ErrInvalidToken) holds.
type KeyRefusedError struct {
	Reason string
}

func (e *KeyRefusedError) Error() string { return "attributes: API key refused: " + e.Reason }

// Is makes a refused key an invalid credential like a refused token.
func (e *KeyRefusedError) Is(target error) bool { return target == ErrInvalidToken }

// credentialKind is what a presented credential is, judged by its shape
// alone, before anything is verified or anyone is asked.
type credentialKind int

const (
	credMalformed credentialKind = iota
	credAccessToken
	credAPIKey
	credTemporaryKey
)

// classify tells credentials apart by shape: an API key is ward_ and base62
// in either header; anything else sent as Bearer is taken for an access
// token (its verification judges it, and its typ keeps temporary keys
// out); a compact JWS in X-API-Key is a temporary key; anything else in
// X-API-Key is malformed.
func classify(cred string, viaAPIKeyHeader bool) credentialKind {
	if strings.HasPrefix(cred, apiKeyPrefix) {
		if isAPIKeyShape(cred) {
			return credAPIKey
		}
		return credMalformed
	}
	if !viaAPIKeyHeader {
		return credAccessToken
	}
	if isTempKeyShape(cred) {
		return credTemporaryKey
	}
	return credMalformed
}

// isAPIKeyShape reports whether s looks like a Ward API key: ward_ and
// 40 to 100 base62 characters. Only such strings are sent to the issuer.
func isAPIKeyShape(s string) bool {
	rest, ok := strings.CutPrefix(s, apiKeyPrefix)
	if !ok || len(rest) < apiKeyMinRandom || len(rest) > apiKeyMaxRandom {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// VerifyAPIKey authenticates an API key and returns the claims of the
// access token Ward issued for it: kind "api_key", sub the key's id,
// permissions the key's permissions ("resource_type:action"), plus iss,
// aud, exp, iat. The first call for a key exchanges it at the realm's
// token endpoint (as the guard's client); later calls reuse that token
// until shortly before it expires, re-checking its claims offline each
// time. Concurrent calls for a key share one exchange.
//
// Errors: ErrInvalidToken for a string that is not a Ward key (the issuer
// is not asked); *KeyRefusedError for a key the issuer refused (repeated
// from the cache for a few seconds); ErrKeyExchange when the issuer gave no
// verdict. The key itself is never kept, logged or put in an error.
func (g *Guard) VerifyAPIKey(ctx context.Context, key string) (map[string]any, error) {
	if !isAPIKeyShape(key) {
		return nil, invalid("not a Ward API key")
	}
	// The cache knows keys only by their hash: a memory dump of the guard
	// yields no usable key.
	sum := sha256.Sum256([]byte(key))
	seen := g.apiKeys.get(sum)
	if seen != nil && g.now().Before(seen.freshUntil) {
		if claims, err := g.keyClaims(seen); !errors.Is(err, errKeyTokenStale) {
			return claims, err
		}
	}
	e, err := g.apiKeys.do(ctx, sum, seen, func(old *keyEntry) *keyEntry { return g.exchangeKey(ctx, key, old) })
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	claims, err := g.keyClaims(e)
	if errors.Is(err, errKeyTokenStale) {
		// A token just issued that no longer verifies (its signing key
		// withdrawn at once): no verdict on the key.
		return nil, fmt.Errorf("%w: the issued token does not verify", ErrKeyExchange)
	}
	return claims, err
}

// errKeyTokenStale is a cached key token that can no longer be used: past
// its end, or it no longer verifies. The key is exchanged again.
var errKeyTokenStale = errors.New("attributes: cached API key token is stale")

// keyClaims is the outcome an entry stands for: the cached refusal or
// failure, or the token's claims checked again now.
func (g *Guard) keyClaims(e *keyEntry) (map[string]any, error) {
	if e.err != nil {
		return nil, e.err
	}
	if !g.now().Before(e.usableUntil) {
		return nil, errKeyTokenStale
	}
	claims, err := g.reverify(e.token)
	if err != nil {
		return nil, errKeyTokenStale
	}
	return claims, nil
}

// exchangeKey asks the issuer about key and returns the entry to cache: a
// token, a refusal, or a failure. When the issuer gives no verdict but the
// previous token (old) is still within its life, that token goes on serving
// until its end: the issuer vouched for the key that recently, and the
// one-minute bound on refusals still holds.
func (g *Guard) exchangeKey(ctx context.Context, key string, old *keyEntry) *keyEntry {
	tok, expiresIn, err := g.postExchange(ctx, key)
	now := g.now()
	var refused *KeyRefusedError
	if errors.As(err, &refused) {
		return &keyEntry{err: refused, freshUntil: now.Add(keyRefusalTTL)}
	}
	if err == nil {
		var e *keyEntry
		if e, err = g.keyEntryFor(ctx, tok, expiresIn, now); err == nil {
			return e
		}
	}
	g.report(err)
	if old != nil && old.err == nil && now.Before(old.usableUntil) {
		stale := *old
		stale.freshUntil = now.Add(keyRetryAfter)
		if stale.freshUntil.After(old.usableUntil) {
			stale.freshUntil = old.usableUntil
		}
		return &stale
	}
	return &keyEntry{err: err, freshUntil: now.Add(keyRetryAfter)}
}

// postExchange is the RFC 8693 request. Its errors wrap ErrKeyExchange or
// are a *KeyRefusedError, and never contain the key.
func (g *Guard) postExchange(ctx context.Context, key string) (token string, expiresIn time.Duration, err error) {
	// Not on the request's context: the exchange serves every caller
	// waiting for this key, and one of them hanging up must not fail the
	// others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyExchangeTimeout)
	defer cancel()
	form := url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {key},
		"subject_token_type": {tokenTypeAPIKey},
		"audience":           {g.cfg.Audience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	g.clientAuth(req)
	resp, err := g.client.Do(req)
	if err != nil {
		// A *url.Error names the token endpoint, not the form: no key.
		return "", 0, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken      string `json:"access_token"`
		ExpiresIn        int64  `json:"expires_in"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body)
	switch {
	case resp.StatusCode == http.StatusBadRequest && body.Error == "invalid_grant":
		return "", 0, &KeyRefusedError{Reason: refusalReason(body.ErrorDescription, key)}
	case resp.StatusCode == http.StatusOK && decodeErr == nil && body.AccessToken != "":
		return body.AccessToken, time.Duration(body.ExpiresIn) * time.Second, nil
	case body.Error != "":
		// invalid_client, unauthorized_client, invalid_target, …: the
		// guard's configuration, not the key, is at fault.
		return "", 0, fmt.Errorf("%w: the token endpoint answered %s (%.40q)", ErrKeyExchange, resp.Status, body.Error)
	default:
		return "", 0, fmt.Errorf("%w: the token endpoint answered %s", ErrKeyExchange, resp.Status)
	}
}

// refusalReason is the issuer's description made fit to repeat to the
// caller: printable, bounded, and without the key should the issuer ever
// quote it.
func refusalReason(desc, key string) string {
	desc = strings.ReplaceAll(desc, key, "[key]")
	desc = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, desc)
	if r := []rune(desc); len(r) > maxReasonLength {
		desc = string(r[:maxReasonLength])
	}
	if strings.TrimSpace(desc) == "" {
		return "the issuer refused the API key"
	}
	return desc
}

// keyEntryFor verifies an issued token exactly as an access token sent by
// a caller (signature against the JWKS, typ, iss, aud, exp, nbf, iat), and
// requires it to be a key's token: kind "api_key" with a sub.
func (g *Guard) keyEntryFor(ctx context.Context, tok string, expiresIn time.Duration, now time.Time) (*keyEntry, error) {
	v, claims, err := g.verifySignature(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("%w: the issued token does not verify: %v", ErrKeyExchange, err)
	}
	if kind, _ := claims["kind"].(string); kind != KindAPIKey {
		return nil, fmt.Errorf("%w: the issued token's kind is %.40q, not %q", ErrKeyExchange, kind, KindAPIKey)
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, fmt.Errorf("%w: the issued token has no sub", ErrKeyExchange)
	}
	// expires_in is relative, so it does not depend on the two clocks
	// agreeing; exp is the fallback.
	life := expiresIn
	if life <= 0 {
		exp, _ := numericDate(claims["exp"])
		life = exp.Sub(now)
	}
	life = min(life, maxKeyTokenLife)
	if life <= 0 {
		return nil, fmt.Errorf("%w: the issued token has already expired", ErrKeyExchange)
	}
	margin := min(max(keyRefreshMargin, life/4), life/2)
	return &keyEntry{token: v, usableUntil: now.Add(life), freshUntil: now.Add(life - margin)}, nil
}

// IsAPIKey reports whether subject (claims from SubjectFrom, Verify or
// VerifyAPIKey) is an API key's: kind "api_key". Such a subject is decided
// by its permissions alone, not by realm policies or resource ACLs.
func IsAPIKey(subject map[string]any) bool {
	kind, _ := subject["kind"].(string)
	return kind == KindAPIKey
}

// KeyAllows reports whether subject is an API key or a temporary key whose
// permissions include "resourceType:action". It is false for any other
// subject (people and service accounts are decided by policies: use
// Decide), so a handler filtering a list for a key can ask it once instead
// of per item (for a temporary key, with ScopeAllows per item).
func KeyAllows(subject map[string]any, resourceType, action string) bool {
	if !IsAPIKey(subject) && !IsTemporaryKey(subject) || resourceType == "" || action == "" ||
		strings.Contains(resourceType, ":") || strings.Contains(action, ":") {
		return false
	}
	switch ps := subject["permissions"].(type) {
	case []any:
		for _, p := range ps {
			if s, ok := p.(string); ok && isPermission(s, resourceType, action) {
				return true
			}
		}
	case []string:
		for _, s := range ps {
			if isPermission(s, resourceType, action) {
				return true
			}
		}
	}
	return false
}

// isPermission is p == resourceType+":"+action without building the string
// (this runs on every decision for a key).
func isPermission(p, resourceType, action string) bool {
	n := len(resourceType)
	return len(p) == n+1+len(action) && p[:n] == resourceType && p[n] == ':' && p[n+1:] == action
}
