package realm

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"time"
)

// NewSecret returns a 256-bit random secret (base64url, 43 characters) and
// its SHA-256 hash. Only the hash is stored; the secret is shown once.
// SHA-256 rather than a password hash: the secret has full entropy, so a slow
// hash adds no safety and would cap token throughput.
func NewSecret(random io.Reader) (secret string, hash []byte) {
	if random == nil {
		random = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		panic("realm: random source failed: " + err.Error())
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SecretMatches compares in constant time.
func SecretMatches(hash []byte, secret string) bool {
	if len(hash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hash, HashSecret(secret)) == 1
}

// CheckSecret reports whether secret is the client's current secret, or its
// previous one while the rotation grace lasts.
func (c *Client) CheckSecret(secret string, now time.Time) bool {
	current := SecretMatches(c.SecretHash, secret)
	previous := c.PreviousSecretExpiresAt != nil && now.Before(*c.PreviousSecretExpiresAt) &&
		SecretMatches(c.PreviousSecretHash, secret)
	return current || previous
}
