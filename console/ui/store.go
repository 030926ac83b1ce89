package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// maxEntries bounds each in-memory map, so that anonymous requests (every
// GET /console without a cookie starts a sign-in) cannot grow it without
// limit.
const maxEntries = 10000

// pending is a sign-in in progress: what the callback must see again.
type pending struct {
	state    string
	verifier string
	expires  time.Time
	back     string // the console page to return to
}

// session is a signed-in member's tokens, never sent to the browser.
type session struct {
	access  string
	refresh string
	idToken string
	csrf    string // bound to the session; every form carries it
	expires time.Time
}

// store keeps entries keyed by the SHA-256 of the cookie value, so that a
// map lookup never compares the secret itself.
type store[T any] struct {
	mu      sync.Mutex
	entries map[[32]byte]*entry[T]
}

type entry[T any] struct {
	v       T
	expires time.Time
}

func newStore[T any]() *store[T] { return &store[T]{entries: map[[32]byte]*entry[T]{}} }

// put stores v under a new random key and returns the key; false when the
// store is full of live entries.
func (s *store[T]) put(v T, expires, now time.Time) (string, bool) {
	key := randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= maxEntries {
		for k, e := range s.entries {
			if !now.Before(e.expires) {
				delete(s.entries, k)
			}
		}
		if len(s.entries) >= maxEntries {
			return "", false
		}
	}
	s.entries[sha256.Sum256([]byte(key))] = &entry[T]{v: v, expires: expires}
	return key, true
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

// take returns and removes the entry: a sign-in state is used once.
func (s *store[T]) take(key string, now time.Time) (T, bool) {
	v, ok := s.get(key, now)
	if ok {
		s.remove(key)
	}
	return v, ok
}

func (s *store[T]) remove(key string) {
	h := sha256.Sum256([]byte(key))
	s.mu.Lock()
	delete(s.entries, h)
	s.mu.Unlock()
}

// randomString is 256 random bits, URL-safe.
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
