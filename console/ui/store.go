package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Bounds of the session store. maxEntries bounds memory; maxPerOwner stops
// one account (signing in again and again) from filling the store and so
// pushing out everyone else's sessions.
const (
	maxEntries  = 10000
	maxPerOwner = 20
)

// session is a signed-in member's tokens, never sent to the browser.
type session struct {
	access  string
	refresh string
	idToken string
	csrf    string // bound to the session; every form carries it
	expires time.Time
}

// store keeps entries keyed by the SHA-256 of the cookie value, so that a
// map lookup never compares the secret itself. Each entry has an owner
// (the console account); when the owner or the whole store is at its bound
// the entry closest to expiry (the oldest sign-in) makes room: a new
// sign-in always succeeds, and no one can lock others out by filling the
// store.
type store[T any] struct {
	mu      sync.Mutex
	entries map[[32]byte]*entry[T]
}

type entry[T any] struct {
	v       T
	owner   string
	expires time.Time
}

func newStore[T any]() *store[T] { return &store[T]{entries: map[[32]byte]*entry[T]{}} }

// put stores v for owner under a new random key and returns the key.
func (s *store[T]) put(v T, owner string, expires, now time.Time) string {
	key := randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	var owned int
	var oldestOwned, oldest [32]byte
	var oldestOwnedAt, oldestAt time.Time
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
			continue
		}
		if oldestAt.IsZero() || e.expires.Before(oldestAt) {
			oldest, oldestAt = k, e.expires
		}
		if e.owner == owner {
			owned++
			if oldestOwnedAt.IsZero() || e.expires.Before(oldestOwnedAt) {
				oldestOwned, oldestOwnedAt = k, e.expires
			}
		}
	}
	switch {
	case owned >= maxPerOwner:
		delete(s.entries, oldestOwned)
	case len(s.entries) >= maxEntries:
		delete(s.entries, oldest)
	}
	s.entries[sha256.Sum256([]byte(key))] = &entry[T]{v: v, owner: owner, expires: expires}
	return key
}

func (s *store[T]) get(key string, now time.Time) (T, bool) {
	var zero T
	if key == "" {
		return zero, false
	}
	h := sha256.Sum256([]byte(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[h]
	if !ok {
		return zero, false
	}
	if !now.Before(e.expires) {
		delete(s.entries, h)
		return zero, false
	}
	return e.v, true
}

func (s *store[T]) remove(key string) {
	h := sha256.Sum256([]byte(key))
	s.mu.Lock()
	delete(s.entries, h)
	s.mu.Unlock()
}

// randomString is 256 random bits, URL-safe (43 characters).
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
