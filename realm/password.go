package realm

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password hashing parameters (CONTRACT §4: argon2id, ≥ 19 MiB, t = 2; the
// OWASP minimum). They are written into each hash, so raising them later
// leaves old hashes verifiable.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16

	// MinPasswordLength and MaxPasswordLength bound what users may choose;
	// the maximum keeps one hash from being an easy way to burn CPU.
	MinPasswordLength = 10
	MaxPasswordLength = 1024
)

// HashPassword returns the argon2id hash of password in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	salt := make([]byte, argonSaltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("realm: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC hash, comparing
// in constant time. A malformed hash never matches.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem == 0 || t == 0 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Passwords runs argon2id (HashPassword, VerifyPassword) with at most a
// fixed number of computations at once. Each takes ~19 MiB and a core for
// tens of milliseconds: running more at once than there are cores makes
// every one slower (they contend for caches and memory bandwidth, and the
// scheduler splits the cores between them) and lets a burst of sign-ins
// hold hundreds of MiB. Callers beyond the limit queue.
type Passwords struct {
	slots    chan struct{}
	verified atomic.Uint64 // Verify calls, for Verifications
}

// NewPasswords returns a Passwords allowing slots computations at once
// (GOMAXPROCS when slots < 1).
func NewPasswords(slots int) *Passwords {
	if slots < 1 {
		slots = runtime.GOMAXPROCS(0)
	}
	return &Passwords{slots: make(chan struct{}, slots)}
}

// Hash is HashPassword inside a slot.
func (p *Passwords) Hash(password string, random io.Reader) (string, error) {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	return HashPassword(password, random)
}

// Verify is VerifyPassword inside a slot.
func (p *Passwords) Verify(hash, password string) bool {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	p.verified.Add(1)
	return VerifyPassword(hash, password)
}

// Verifications counts the Verify calls so far. Sign-in promises the same
// work for an unknown email as for a wrong password (CONTRACT §4); the
// tests prove it by counting verifications rather than timing them.
func (p *Passwords) Verifications() uint64 { return p.verified.Load() }

// checkNewPassword validates a chosen password and its confirmation.
func checkNewPassword(v *ValidationError, password, confirm string) {
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLength:
		v.Add("password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	case n > MaxPasswordLength:
		v.Add("password", fmt.Sprintf("must be at most %d characters", MaxPasswordLength))
	case password != confirm:
		v.Add("password_confirm", "does not match the password")
	}
}
