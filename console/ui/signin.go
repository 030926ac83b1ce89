package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// A sign-in in progress (state, PKCE verifier, the page to return to) is
// kept in the browser, sealed with AES-256-GCM under the console's key
// (derived from the master key, so every node can open it), rather than on
// the server: anonymous visitors start sign-ins, and a store of them could
// be filled by anyone. The cookie's name carries a prefix of the state, so
// that several tabs can sign in at once without overwriting each other's
// cookie.

// pending is a sign-in in progress: what the callback must see again.
type pending struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Back     string    `json:"b"` // the console page to return to
	Expires  time.Time `json:"e"`
}

// sealer seals and opens pending sign-ins and stored sessions.
type sealer struct{ aead cipher.AEAD }

// newSealer uses key (32 bytes), or a random key when key is nil (then
// nothing sealed survives the process: tests, a single node).
func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// signInCookieName is the cookie of the sign-in whose state is state.
func signInCookieName(state string) string { return signInCookie + "_" + state[:12] }

// seal returns the cookie value for p. The cookie name is bound in as
// additional data, so a sealed value cannot be replayed under another
// sign-in's name.
func (s *sealer) seal(p pending) string {
	plain, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(s.sealBytes(plain, []byte(signInCookieName(p.State))))
}

// openSignIn returns the sign-in sealed in value under name, if it is
// intact and not expired.
func (s *sealer) openSignIn(name, value string, now time.Time) (pending, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return pending{}, false
	}
	plain, ok := s.open(raw, []byte(name))
	if !ok {
		return pending{}, false
	}
	var p pending
	if json.Unmarshal(plain, &p) != nil || !now.Before(p.Expires) {
		return pending{}, false
	}
	return p, true
}

// sealBytes encrypts plain, bound to ad: nonce || ciphertext.
func (s *sealer) sealBytes(plain, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, ad)
}

// open decrypts what sealBytes sealed with the same ad.
func (s *sealer) open(sealed, ad []byte) ([]byte, bool) {
	if len(sealed) < s.aead.NonceSize() {
		return nil, false
	}
	plain, err := s.aead.Open(nil, sealed[:s.aead.NonceSize()], sealed[s.aead.NonceSize():], ad)
	return plain, err == nil
}
