package attributes

import (
	"net/netip"
	"sync"
	"time"
)

// Per-minute limits of temporary keys (limit_per_minute,
// limit_per_source_ip_per_minute). Each is a token bucket holding N
// requests and refilled at N per minute, counted per Guard process.
//
// A bucket is kept in its GCRA form: one time, the "theoretical arrival
// time" (tat) at which the bucket would be full again. A request adds a
// minute/N to it; the request fits while tat stays within a minute of now.
// This is the same bucket as a token count plus a timestamp, but exact
// in integer nanoseconds (Retry-After does not drift by rounding), and a
// bucket whose tat has passed is full: forgetting it changes nothing.

// rateBuckets bounds the buckets of each kind (per key, per key and
// address): some 100 bytes each, about 10 MiB per kind at most.
const rateBuckets = 100_000

// bucket is one token bucket in GCRA form, times in Unix nanoseconds.
type bucket struct {
	tat     int64 // full again at this time; full already when tat <= now
	expires int64 // the key's end: the bucket is of no use after it
}

// addrBucket names a key's bucket for one source.
type addrBucket struct {
	key  [32]byte
	addr netip.Addr
}

// rateLimiter holds the buckets. One mutex: a take is a few map
// operations, far below what a decision costs otherwise.
type rateLimiter struct {
	mu       sync.Mutex
	capacity int
	perKey   map[[32]byte]bucket
	perAddr  map[addrBucket]bucket
}

func newRateLimiter(capacity int) *rateLimiter {
	return &rateLimiter{capacity: capacity, perKey: map[[32]byte]bucket{}, perAddr: map[addrBucket]bucket{}}
}

// take spends one request of k's limits from addr at now. It answers 0
// when the request fits every limit the key has, and spends from each;
// otherwise how long until it would fit, whether the per-address limit is
// the one that decides that, and spends from none (a refused request
// costs nothing, so a caller over one limit does not drain the other).
func (l *rateLimiter) take(k *tempKey, addr netip.Addr, now time.Time) (wait time.Duration, perAddr bool) {
	if k.limit == 0 && k.limitPerIP == 0 {
		return 0, false
	}
	t := now.UnixNano()
	ak := addrBucket{key: k.id, addr: sourceOf(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	var kb, ab bucket
	var kWait, aWait time.Duration
	if k.limit > 0 {
		kb, kWait = spend(l.perKey[k.id], t, k.limit)
	}
	if k.limitPerIP > 0 {
		ab, aWait = spend(l.perAddr[ak], t, k.limitPerIP)
	}
	if kWait > 0 || aWait > 0 {
		return max(kWait, aWait), aWait > kWait
	}
	exp := k.expires.UnixNano()
	if k.limit > 0 {
		kb.expires = exp
		store(l.perKey, k.id, kb, t, l.capacity)
	}
	if k.limitPerIP > 0 {
		ab.expires = exp
		store(l.perAddr, ak, ab, t, l.capacity)
	}
	return 0, false
}

// spend is one request against a bucket of n per minute: the bucket after
// it, or the bucket unchanged and the wait until the request would fit.
func spend(b bucket, now, n int64) (bucket, time.Duration) {
	interval := int64(time.Minute) / n
	tat := max(b.tat, now) + interval
	if over := tat - now - n*interval; over > 0 {
		return b, time.Duration(over)
	}
	b.tat = tat
	return b, 0
}

// sourceOf is the source a per-address limit counts: the IPv4 address, or
// the IPv6 /64. One host usually holds a whole /64 and can pick any
// address in it, so counting single IPv6 addresses would limit nothing.
func sourceOf(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

// store puts b under k, making room first when m is full. Buckets that
// are full again or whose key has expired go first: dropping them changes
// no answer. If that is not enough (more than capacity keys or sources
// spending at once), arbitrary buckets go down to three quarters, which
// hands their owners a fresh minute: a bounded leniency traded for
// bounded memory, since refusing new buckets instead would let anyone who
// fills the map lock out every other caller. Sweeping to three quarters
// makes it run once per capacity/4 new buckets, not once per bucket.
func store[K comparable](m map[K]bucket, k K, b bucket, now int64, capacity int) {
	if _, ok := m[k]; !ok && len(m) >= capacity {
		for key, v := range m {
			if v.tat <= now || v.expires <= now {
				delete(m, key)
			}
		}
		for key := range m {
			if len(m) <= capacity*3/4 {
				break
			}
			delete(m, key)
		}
	}
	m[k] = b
}

// sizes is the number of buckets of each kind (tests).
func (l *rateLimiter) sizes() (perKey, perAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.perKey), len(l.perAddr)
}
