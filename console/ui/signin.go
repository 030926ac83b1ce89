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
// kept in the browser, sealed with AES-256-GCM under a key that lives only
// in this process, rather than in server memory: anonymous visitors start
// sign-ins, and a store of them could be filled by anyone. The cookie's
// name carries a prefix of the state, so that several tabs can sign in at
// once without overwriting each other's cookie. A restart voids sign-ins
// in progress (the visitor starts again).

// pending is a sign-in in progress: what the callback must see again.
type pending struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Back     string    `json:"b"` // the console page to return to
	Expires  time.Time `json:"e"`
}

// sealer seals and opens pending sign-ins.
type sealer struct{ aead cipher.AEAD }

func newSealer() (*sealer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
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
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(signInCookieName(p.State))))
}

// open returns the sign-in sealed in value under name, if it is intact
// and not expired.
func (s *sealer) open(name, value string, now time.Time) (pending, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return pending{}, false
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return pending{}, false
	}
	var p pending
	if json.Unmarshal(plain, &p) != nil || !now.Before(p.Expires) {
		return pending{}, false
	}
	return p, true
}
