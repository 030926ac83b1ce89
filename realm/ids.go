package realm

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"io"
	"strings"
	"sync"
	"time"
)

// idEncoding is lowercase Crockford-like base32 without padding; its
// alphabet is in ASCII order, so IDs sort by creation time.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// lastID is the most recent ID this process made. IDs made in the same
// millisecond follow it (its 80 low bits plus a random step), so that the
// event log, pagers and anything else ordered by ID keep this process's
// creation order even within one millisecond. IDs from different nodes
// in one millisecond still sort at random among themselves.
var lastID struct {
	sync.Mutex
	millis uint64
	hi     uint16 // bits 64..79 of the random part
	lo     uint64 // bits 0..63
}

// NewID returns a 26-character ID: 48 bits of milliseconds then 80 bits
// that are random, or for a second ID in the same millisecond, the
// previous one's plus a random step of 1 to 2^32. IDs made later sort
// later, which keyset pagination and the event log rely on.
func NewID(now time.Time, random io.Reader) string {
	if random == nil {
		random = rand.Reader
	}
	var r [10]byte
	if _, err := io.ReadFull(random, r[:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	millis := uint64(now.UnixMilli()) & (1<<48 - 1)
	hi, lo := binary.BigEndian.Uint16(r[:2]), binary.BigEndian.Uint64(r[2:])
	lastID.Lock()
	if millis == lastID.millis {
		step := uint64(binary.BigEndian.Uint32(r[6:])) + 1
		nlo := lastID.lo + step
		nhi := lastID.hi
		if nlo < lastID.lo {
			nhi++
		}
		// Past the top of the 80 bits (never in practice) the ID is
		// simply random: still unique, only out of order.
		if nhi >= lastID.hi {
			hi, lo = nhi, nlo
		}
	}
	lastID.millis, lastID.hi, lastID.lo = millis, hi, lo
	lastID.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], millis<<16|uint64(hi))
	binary.BigEndian.PutUint64(b[8:], lo)
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}
