package attributes

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// asymmetricAlgs are the JWS algorithms a guard may be configured to
// accept. HMAC algorithms are absent on purpose: with a public JWKS an HMAC
// "key" is public too (the classic HS256-with-the-public-key forgery).
var asymmetricAlgs = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// verificationKey is one usable public key of the issuer's JWKS.
type verificationKey struct {
	alg string
	key any // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
}

// keySet caches the issuer's signing keys by kid. A token with an unknown
// kid makes it fetch the JWKS again (the issuer rotated its keys), at most
// once per minInterval so that a stream of forged kids cannot turn the
// guard into a load generator against the issuer; concurrent callers wait
// for one fetch rather than each making their own.
type keySet struct {
	client      *http.Client
	uri         string
	algs        map[string]bool
	minInterval time.Duration
	now         func() time.Time

	keys atomic.Pointer[map[string]*verificationKey]

	fetchMu   sync.Mutex // serializes fetches; guards lastFetch
	lastFetch time.Time
	fetches   atomic.Int64 // for tests and metrics
}

func newKeySet(client *http.Client, uri string, algs map[string]bool, minInterval time.Duration, now func() time.Time) *keySet {
	ks := &keySet{client: client, uri: uri, algs: algs, minInterval: minInterval, now: now}
	empty := map[string]*verificationKey{}
	ks.keys.Store(&empty)
	return ks
}

// load fetches the JWKS unconditionally.
func (ks *keySet) load(ctx context.Context) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	return ks.fetchLocked(ctx)
}

func (ks *keySet) fetchLocked(ctx context.Context) error {
	ks.lastFetch = ks.now()
	ks.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.uri, nil)
	if err != nil {
		return fmt.Errorf("attributes: JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return fmt.Errorf("attributes: JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("attributes: JWKS: GET %s: %s", ks.uri, resp.Status)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&raw); err != nil {
		return fmt.Errorf("attributes: JWKS: %w", err)
	}
	prev := *ks.keys.Load()
	keys := make(map[string]*verificationKey, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		// Keys go-jose cannot read (unknown kty, bad parameters) are
		// skipped: one odd key must not hide the others.
		if err := json.Unmarshal(r, &k); err != nil || k.KeyID == "" || !k.Valid() {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if vk, ok := ks.usable(k); ok {
			// An unchanged key keeps its identity: the caches remember
			// tokens by the key that verified them, and a refetch (every
			// keyMaxAge, or forced by unknown kids) must not make them
			// check every signature and exchange every API key again.
			if old := prev[k.KeyID]; old != nil && old.alg == vk.alg && sameKey(old.key, vk.key) {
				vk = old
			}
			keys[k.KeyID] = vk
		}
	}
	ks.keys.Store(&keys)
	return nil
}

// usable turns a JWK into a verification key when its type and algorithm
// are ones the guard accepts. A key without alg gets the algorithm its type
// implies (RS256 for RSA), so a header can never pick a weaker one.
func (ks *keySet) usable(k jose.JSONWebKey) (*verificationKey, bool) {
	pub := k.Public()
	alg := k.Algorithm
	switch key := pub.Key.(type) {
	case *ecdsa.PublicKey:
		want := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[key.Curve]
		if alg == "" {
			alg = want
		}
		if alg != want {
			return nil, false
		}
	case *rsa.PublicKey:
		if alg == "" {
			alg = "RS256"
		}
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") || key.N.BitLen() < 2048 {
			return nil, false
		}
	case ed25519.PublicKey:
		if alg == "" {
			alg = "EdDSA"
		}
		if alg != "EdDSA" {
			return nil, false
		}
	default:
		// Symmetric keys and anything else: never a verification key.
		return nil, false
	}
	if !ks.algs[alg] {
		return nil, false
	}
	return &verificationKey{alg: alg, key: pub.Key}, true
}

// sameKey reports whether two public keys are the same key.
func sameKey(a, b any) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// jwksFetchTimeout bounds a JWKS fetch started by a request.
const jwksFetchTimeout = 10 * time.Second

// keyMaxAge is how long a fetched JWKS is trusted without another fetch:
// a key the issuer withdrew (rotated out after a compromise) stops
// verifying within this long even when no token with a new kid arrives.
const keyMaxAge = 10 * time.Minute

// refreshIfOld fetches the JWKS again when the last fetch is older than
// keyMaxAge; a failure keeps the keys in force.
func (ks *keySet) refreshIfOld(ctx context.Context) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	if ks.now().Sub(ks.lastFetch) < keyMaxAge {
		return nil
	}
	return ks.fetchLocked(ctx)
}

// current is the key now published under kid, without fetching.
func (ks *keySet) current(kid string) *verificationKey {
	return (*ks.keys.Load())[kid]
}

// get returns the key for kid, fetching the JWKS again when kid is unknown
// and the last fetch is older than minInterval.
func (ks *keySet) get(ctx context.Context, kid string) (*verificationKey, bool) {
	if k, ok := (*ks.keys.Load())[kid]; ok {
		return k, true
	}
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	// Another caller may have fetched while we waited.
	if k, ok := (*ks.keys.Load())[kid]; ok {
		return k, true
	}
	if ks.now().Sub(ks.lastFetch) < ks.minInterval {
		return nil, false
	}
	// Not on the request's context: a caller that sends a made-up kid and
	// hangs up must not cancel the fetch, which would keep the real new
	// key unknown for minInterval.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	if err := ks.fetchLocked(fctx); err != nil {
		return nil, false
	}
	k, ok := (*ks.keys.Load())[kid]
	return k, ok
}
