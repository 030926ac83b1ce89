package oauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

func TestKeysRoundTrip(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	k, err := NewKeys(master, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{AlgES256, AlgRS256} {
		sk, err := k.NewSigningKey(context.Background(), "realm-1", alg)
		if err != nil {
			t.Fatal(err)
		}
		if sk.ID == "" || sk.RealmID != "realm-1" || sk.Algorithm != alg || !sk.Active {
			t.Fatalf("key = %+v", sk)
		}
		priv, err := k.PrivateKey(sk)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		pub, err := PublicKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Use != "sig" || pub.KeyID != sk.ID {
			t.Errorf("public jwk = %+v", pub)
		}
		// The decrypted private key is the public key's partner.
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if !priv.Public().(equaler).Equal(pub.Key) {
			t.Errorf("%s: private and public keys differ", alg)
		}
		if bytes.Contains(sk.PublicJWK, []byte(`"d"`)) {
			t.Errorf("%s: public JWK holds private material", alg)
		}
		// Signing works with the decrypted key.
		digest := sha256.Sum256([]byte("x"))
		opts := crypto.SignerOpts(crypto.SHA256)
		if _, err := priv.Sign(rand.Reader, digest[:], opts); err != nil {
			t.Fatal(err)
		}

		// Wrong master key: refused.
		other, _ := NewKeys(bytes.Repeat([]byte{8}, 32), nil, time.Now)
		if _, err := other.PrivateKey(sk); err == nil {
			t.Errorf("%s: decrypted with the wrong master key", alg)
		}
		// Ciphertext moved to another realm or key id: refused.
		moved := *sk
		moved.RealmID = "realm-2"
		if _, err := k.PrivateKey(&moved); err == nil {
			t.Errorf("%s: decrypted under another realm", alg)
		}
		moved = *sk
		moved.ID = "other-kid"
		if _, err := k.PrivateKey(&moved); err == nil {
			t.Errorf("%s: decrypted under another kid", alg)
		}
		// Tampered ciphertext: refused.
		moved = *sk
		moved.EncryptedPrivate = bytes.Clone(sk.EncryptedPrivate)
		moved.EncryptedPrivate[len(moved.EncryptedPrivate)-1] ^= 1
		if _, err := k.PrivateKey(&moved); err == nil {
			t.Errorf("%s: decrypted a tampered key", alg)
		}
	}
	// Two keys never share a kid or nonce.
	a, _ := k.NewSigningKey(context.Background(), "r", AlgES256)
	b, _ := k.NewSigningKey(context.Background(), "r", AlgES256)
	if a.ID == b.ID || bytes.Equal(a.EncryptedPrivate[:12], b.EncryptedPrivate[:12]) {
		t.Error("kid or nonce repeated")
	}
}

func TestNewKeysRejectsBadInput(t *testing.T) {
	if _, err := NewKeys(make([]byte, 16), nil, nil); err == nil {
		t.Error("accepted a 16-byte master key")
	}
	k, _ := NewKeys(make([]byte, 32), nil, nil)
	if _, err := k.NewSigningKey(context.Background(), "r", "HS256"); err == nil {
		t.Error("made an HS256 key")
	}
	if _, err := k.NewSigningKey(context.Background(), "", AlgES256); err == nil {
		t.Error("made a key without realm")
	}
}

// TestRefreshKey: a realm's refresh key is the same on every node with the
// same master key (so any node's tokens are Ward's), differs per realm and
// per master key, and is not the master key itself.
func TestRefreshKey(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	a, err := NewKeys(master, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKeys(bytes.Clone(master), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeys(bytes.Repeat([]byte{8}, 32), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	k := a.RefreshKey("realm-1")
	if len(k) != sha256.Size {
		t.Fatalf("refresh key is %d bytes, want %d", len(k), sha256.Size)
	}
	if !bytes.Equal(k, b.RefreshKey("realm-1")) {
		t.Error("two nodes with one master key derive different refresh keys")
	}
	for name, k2 := range map[string][]byte{
		"another realm":      a.RefreshKey("realm-2"),
		"another master key": other.RefreshKey("realm-1"),
		"the master key":     master,
	} {
		if bytes.Equal(k, k2) {
			t.Errorf("refresh key equals %s's", name)
		}
	}
}
