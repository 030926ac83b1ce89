package attributes

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// defaultAPIKeyCacheSize bounds the API key cache when Config does not:
// an entry is a token's claims, about a KiB, so some 10 MiB at most.
const defaultAPIKeyCacheSize = 10_000

// keyEntry is what the guard knows about one API key: either a verified
// token (err nil) or an outcome to repeat (a refusal or a failure).
type keyEntry struct {
	token verifiedEntry
	// usableUntil is the end of the token's life as the guard counts it.
	usableUntil time.Time
	// freshUntil is when the issuer is asked again: before the token's
	// end, or when a repeated refusal or failure runs out.
	freshUntil time.Time
	err        error
}

// expired reports whether the entry is of no more use at now.
func (e *keyEntry) expired(now time.Time) bool {
	if e.err != nil {
		return !now.Before(e.freshUntil)
	}
	return !now.Before(e.usableUntil)
}

// keyCache holds API key entries by the SHA-256 of the key, at most max of
// them, and runs at most one exchange per key at a time.
type keyCache struct {
	now func() time.Time
	max int

	mu      sync.RWMutex
	entries map[[32]byte]*keyEntry
	flights map[[32]byte]*keyFlight

	// joined counts callers that waited for another's exchange (tests
	// use it to see that concurrent callers really overlapped).
	joined atomic.Int64
}

// keyFlight is an exchange in progress; done closes when entry is set.
type keyFlight struct {
	done  chan struct{}
	entry *keyEntry
}

func newKeyCache(max int, now func() time.Time) *keyCache {
	if max <= 0 {
		max = defaultAPIKeyCacheSize
	}
	return &keyCache{now: now, max: max, entries: map[[32]byte]*keyEntry{}, flights: map[[32]byte]*keyFlight{}}
}

func (c *keyCache) get(sum [32]byte) *keyEntry {
	c.mu.RLock()
	e := c.entries[sum]
	c.mu.RUnlock()
	return e
}

// errNoOutcome is an exchange that ended without an entry (it panicked).
var errNoOutcome = errors.New("the exchange ended without an outcome")

// do returns a fresh entry for sum, calling exchange (with the entry it
// replaces, possibly nil) unless someone else already did or is doing so.
// seen is the entry the caller found stale (or nil): a different fresh
// entry means another caller's exchange finished meanwhile, and is taken
// as it is; finding seen itself still there means exchange anew.
func (c *keyCache) do(ctx context.Context, sum [32]byte, seen *keyEntry, exchange func(old *keyEntry) *keyEntry) (*keyEntry, error) {
	c.mu.Lock()
	if cur := c.entries[sum]; cur != nil && cur != seen && c.now().Before(cur.freshUntil) {
		c.mu.Unlock()
		return cur, nil
	}
	if f := c.flights[sum]; f != nil {
		c.mu.Unlock()
		c.joined.Add(1)
		select {
		case <-f.done:
			if f.entry == nil {
				return nil, errNoOutcome
			}
			return f.entry, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &keyFlight{done: make(chan struct{})}
	c.flights[sum] = f
	old := c.entries[sum]
	c.mu.Unlock()
	// Whatever happens in exchange, the flight ends: waiters must not hang.
	defer func() {
		c.mu.Lock()
		if f.entry != nil {
			c.storeLocked(sum, f.entry)
		}
		delete(c.flights, sum)
		c.mu.Unlock()
		close(f.done)
	}()
	f.entry = exchange(old)
	return f.entry, nil
}

// storeLocked puts e under sum, making room first when the cache is full:
// entries of no more use go, then arbitrary ones down to three quarters,
// so that the sweep runs once per max/4 new keys rather than once per key.
// Losing a live entry only costs its key one more exchange.
func (c *keyCache) storeLocked(sum [32]byte, e *keyEntry) {
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		now := c.now()
		for k, v := range c.entries {
			if v.expired(now) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) <= c.max*3/4 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = e
}

// len is the number of entries (tests).
func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
