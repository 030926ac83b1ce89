package oauth

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// maxVerifiedTokens bounds each provider's verified-token cache. A provider
// lives for ProviderTTL (30 s by default), so this is how many distinct
// access tokens of one realm a node introspects within that time without
// checking a signature twice; beyond it, entries are dropped at random. An
// entry is the token's claims (under 1 KiB for a token with attributes), so
// a busy realm holds at most a few MiB.
const maxVerifiedTokens = 4096

// verifiedTokens remembers the claims of access tokens whose signature,
// header and issuer checked out against this provider's keys, keyed by the
// SHA-256 of the token (never the token itself). That part of a token's
// check is immutable: the same bytes verify the same way under the same
// keys, and the cache dies with the provider when the keys change. Nothing
// that can end a token early (expiry, revocation, its client, user or key)
// is cached here: verifyActive checks those on every request, from reads
// kept only while nothing they hold can have changed (kept.go).
type verifiedTokens struct {
	m    sync.Map // [sha256.Size]byte → *AccessClaims
	size atomic.Int64
	mu   sync.Mutex // serialises eviction
}

func tokenHash(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns a copy of the remembered claims, so that a caller changing
// them changes nothing here.
func (v *verifiedTokens) get(sum [sha256.Size]byte) (*AccessClaims, bool) {
	e, ok := v.m.Load(sum)
	if !ok {
		return nil, false
	}
	cl := *e.(*AccessClaims)
	return &cl, true
}

// put remembers cl (which the cache then owns) for sum, dropping an
// arbitrary entry when full.
func (v *verifiedTokens) put(sum [sha256.Size]byte, cl *AccessClaims) {
	if v.size.Load() >= maxVerifiedTokens {
		v.mu.Lock()
		for v.size.Load() >= maxVerifiedTokens {
			// sync.Map's Range order is not specified; dropping the first
			// entry it visits is as good as random here.
			v.m.Range(func(k, _ any) bool {
				if _, loaded := v.m.LoadAndDelete(k); loaded {
					v.size.Add(-1)
				}
				return false
			})
		}
		v.mu.Unlock()
	}
	if _, loaded := v.m.LoadOrStore(sum, cl); !loaded {
		v.size.Add(1)
	}
}

// len is the number of remembered tokens.
func (v *verifiedTokens) len() int { return int(v.size.Load()) }
