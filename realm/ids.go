package realm

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"io"
	"strings"
	"time"
)

// idEncoding is lowercase Crockford-like base32 without padding; its
// alphabet is in ASCII order, so IDs sort by creation time.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a 26-character ID: 48 bits of milliseconds then 80 random
// bits. IDs made later sort later, which keyset pagination relies on.
func NewID(now time.Time, random io.Reader) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if random == nil {
		random = rand.Reader
	}
	if _, err := io.ReadFull(random, b[6:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}
