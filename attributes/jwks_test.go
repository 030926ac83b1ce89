package attributes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer serves a JWKS the test can change.
type jwksServer struct {
	mu   sync.Mutex
	keys []jose.JSONWebKey
	raw  []json.RawMessage
}

func (s *jwksServer) set(keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.raw = keys, nil
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw != nil {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.raw})
		return
	}
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
}

func ecJWK(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

// TestKeySetReviewFixes: a JWKS fetch started by a request survives the
// request's cancellation (a caller hanging up cannot keep a new key
// unknown); the JWKS is fetched again once it is old, so a withdrawn key
// stops verifying; an RSA key with a one-letter alg is ignored, not a
// panic.
func TestKeySetReviewFixes(t *testing.T) {
	srv := &jwksServer{}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ks := newKeySet(hs.Client(), hs.URL, map[string]bool{"ES256": true, "RS256": true}, 10*time.Second, clock)

	old := ecJWK(t, "old")
	srv.set(old)
	if err := ks.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A request with a made-up kid whose context is already cancelled
	// still completes the fetch, so the real new key is known at once.
	fresh := ecJWK(t, "new")
	srv.set(old, fresh)
	advance(11 * time.Second)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := ks.get(cancelled, "made-up"); ok {
		t.Fatal("a made-up kid was found")
	}
	if _, ok := ks.get(context.Background(), "new"); !ok {
		t.Fatal("the new key is unknown after a cancelled request's fetch")
	}

	// The issuer withdraws the old key; an old JWKS is fetched again.
	srv.set(fresh)
	if err := ks.refreshIfOld(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.current("old") == nil {
		t.Fatal("a fresh JWKS was fetched again before keyMaxAge")
	}
	advance(keyMaxAge + time.Second)
	if err := ks.refreshIfOld(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.current("old") != nil || ks.current("new") == nil {
		t.Error("the withdrawn key still verifies after keyMaxAge")
	}

	// An RSA key with alg "R" is skipped, the others kept.
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := json.Marshal(jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "odd", Algorithm: "RS256", Use: "sig"})
	var m map[string]any
	_ = json.Unmarshal(bad, &m)
	m["alg"] = "R"
	bad, _ = json.Marshal(m)
	good, _ := json.Marshal(fresh)
	srv.mu.Lock()
	srv.raw = []json.RawMessage{bad, good}
	srv.mu.Unlock()
	if err := ks.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.current("odd") != nil || ks.current("new") == nil {
		t.Error("an RSA key with alg R was taken, or the good key lost")
	}
}

// TestKeySetKeepsUnchangedKeys: a refetch keeps the identity of keys that
// did not change (the caches remember tokens by key identity), and gives
// a kid whose key material or alg changed a new one.
func TestKeySetKeepsUnchangedKeys(t *testing.T) {
	srv := &jwksServer{}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ks := newKeySet(hs.Client(), hs.URL, map[string]bool{"ES256": true, "RS256": true}, 10*time.Second, time.Now)
	a, b := ecJWK(t, "a"), ecJWK(t, "b")
	srv.set(a, b)
	if err := ks.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ka, kb := ks.current("a"), ks.current("b")
	replaced := ecJWK(t, "b") // same kid, another key
	srv.set(a, replaced)
	if err := ks.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.current("a") != ka {
		t.Error("an unchanged key got a new identity on refetch")
	}
	if k := ks.current("b"); k == nil || k == kb {
		t.Error("a kid whose key changed kept the old key")
	}
}
