package attributes

import (
	"sync"
	"time"
)

// tempKeyCache remembers verified temporary keys by the SHA-256 of the
// key, so that a key used again costs no signature check. Entries leave
// when their key expires or, when the cache is full, to make room (which
// costs the key one more signature check).
type tempKeyCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]*tempKey
	max     int
	now     func() time.Time
}

func newTempKeyCache(max int, now func() time.Time) *tempKeyCache {
	return &tempKeyCache{entries: map[[32]byte]*tempKey{}, max: max, now: now}
}

func (c *tempKeyCache) get(sum [32]byte) (*tempKey, bool) {
	c.mu.RLock()
	k, ok := c.entries[sum]
	c.mu.RUnlock()
	return k, ok
}

// put stores k, sweeping when full: expired keys first, then arbitrary
// ones down to three quarters, so a sweep runs once per max/4 new keys.
func (c *tempKeyCache) put(sum [32]byte, k *tempKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sum]; !ok && len(c.entries) >= c.max {
		now := c.now()
		for s, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, s)
			}
		}
		for s := range c.entries {
			if len(c.entries) <= c.max*3/4 {
				break
			}
			delete(c.entries, s)
		}
	}
	c.entries[sum] = k
}

func (c *tempKeyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
