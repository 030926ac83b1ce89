package oauth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardiam/ward/realm"
)

// Signing algorithms a realm may hold keys for.
const (
	AlgES256 = realm.AlgES256
	AlgRS256 = realm.AlgRS256
)

// rsaBits: RSA 2048 is what OIDC relying parties universally accept; larger
// keys cost sign time on every ID token for no practical gain here.
const rsaBits = 2048

// gcmNonceSize is the standard 96-bit AES-GCM nonce.
const gcmNonceSize = 12

// Keys makes realm signing keys and opens them again. Private keys are
// encrypted with AES-256-GCM under the master key; the realm ID and kid are
// the additional data, so a ciphertext copied onto another key row or realm
// does not decrypt. It implements realm.KeyMaker.
type Keys struct {
	aead   cipher.AEAD
	random io.Reader
	clock  func() time.Time
	// refreshRoot is the master key's HKDF subkey that refresh tokens'
	// per-realm HMAC keys come from (RefreshKey).
	refreshRoot []byte
}

var _ realm.KeyMaker = (*Keys)(nil)

// NewKeys builds a Keys from the 32-byte master key. random defaults to
// crypto/rand and clock to time.Now.
func NewKeys(masterKey []byte, random io.Reader, clock func() time.Time) (*Keys, error) {
	if len(masterKey) != 32 {
		return nil, fmt.Errorf("oauth: master key must be 32 bytes, got %d", len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("oauth: master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("oauth: master key: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	if clock == nil {
		clock = time.Now
	}
	root, err := hkdf.Key(sha256.New, masterKey, nil, refreshKeyInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("oauth: master key: %w", err)
	}
	return &Keys{aead: aead, random: random, clock: clock, refreshRoot: root}, nil
}

// refreshKeyInfo labels the master key's subkey for refresh tokens, so it
// is unrelated to the key that encrypts the signing keys.
const refreshKeyInfo = "ward refresh-token HMAC keys"

// RefreshKey is realmID's HS256 key for refresh tokens (strategy_refresh.go):
// the same on every node with the same master key, different per realm,
// never stored.
func (k *Keys) RefreshKey(realmID string) []byte {
	m := hmac.New(sha256.New, k.refreshRoot)
	m.Write([]byte(realmID))
	return m.Sum(nil)
}

// NewSigningKey generates a key for realmID ("ES256" or "RS256"), active,
// with its private part encrypted and its public JWK as JSON. The caller
// stores it.
func (k *Keys) NewSigningKey(ctx context.Context, realmID, alg string) (*realm.SigningKey, error) {
	if realmID == "" {
		return nil, errors.New("oauth: signing key needs a realm ID")
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), k.random)
	case AlgRS256:
		priv, err = rsa.GenerateKey(k.random, rsaBits)
	default:
		return nil, fmt.Errorf("oauth: unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: generate %s key: %w", alg, err)
	}
	kid, err := k.newKID()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode private key: %w", err)
	}
	sealed, err := k.seal(realmID, kid, der)
	clear(der)
	if err != nil {
		return nil, err
	}
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("oauth: encode public key: %w", err)
	}
	return &realm.SigningKey{
		ID:               kid,
		RealmID:          realmID,
		Algorithm:        alg,
		EncryptedPrivate: sealed,
		PublicJWK:        pub,
		Active:           true,
		CreatedAt:        k.clock().UTC(),
	}, nil
}

// newKID is 128 random bits: unguessable and unique without coordination
// between nodes.
func (k *Keys) newKID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(k.random, b[:]); err != nil {
		return "", fmt.Errorf("oauth: random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func additionalData(realmID, kid string) []byte {
	// The NUL separator keeps ("ab","c") and ("a","bc") apart.
	return []byte(realmID + "\x00" + kid)
}

// seal encrypts plaintext as nonce || ciphertext.
func (k *Keys) seal(realmID, kid string, plaintext []byte) ([]byte, error) {
	out := make([]byte, gcmNonceSize, gcmNonceSize+len(plaintext)+k.aead.Overhead())
	if _, err := io.ReadFull(k.random, out); err != nil {
		return nil, fmt.Errorf("oauth: random source: %w", err)
	}
	return k.aead.Seal(out, out[:gcmNonceSize], plaintext, additionalData(realmID, kid)), nil
}

// errKeyDecrypt hides why a key did not open: the wrong master key and a
// tampered row look the same to an attacker and to the logs.
var errKeyDecrypt = errors.New("oauth: signing key does not decrypt (wrong master key or damaged row)")

// PrivateKey decrypts a stored key and checks it matches its algorithm.
func (k *Keys) PrivateKey(sk *realm.SigningKey) (crypto.Signer, error) {
	if len(sk.EncryptedPrivate) < gcmNonceSize+k.aead.Overhead() {
		return nil, errKeyDecrypt
	}
	nonce, ct := sk.EncryptedPrivate[:gcmNonceSize], sk.EncryptedPrivate[gcmNonceSize:]
	der, err := k.aead.Open(nil, nonce, ct, additionalData(sk.RealmID, sk.ID))
	if err != nil {
		return nil, errKeyDecrypt
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("oauth: parse signing key: %w", err)
	}
	switch p := parsed.(type) {
	case *ecdsa.PrivateKey:
		if sk.Algorithm != AlgES256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oauth: key %s is not a P-256 key", sk.ID)
		}
		return p, nil
	case *rsa.PrivateKey:
		if sk.Algorithm != AlgRS256 {
			return nil, fmt.Errorf("oauth: key %s is not an RSA key", sk.ID)
		}
		return p, nil
	}
	return nil, fmt.Errorf("oauth: key %s has unsupported type %T", sk.ID, parsed)
}

// PublicKey parses a stored public JWK and checks it names the key.
func PublicKey(sk *realm.SigningKey) (*jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(sk.PublicJWK); err != nil {
		return nil, fmt.Errorf("oauth: parse public key %s: %w", sk.ID, err)
	}
	if jwk.KeyID != sk.ID || jwk.Algorithm != sk.Algorithm || !jwk.IsPublic() {
		return nil, fmt.Errorf("oauth: public key %s does not match its row", sk.ID)
	}
	return &jwk, nil
}
