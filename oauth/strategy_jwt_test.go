package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	fjwt "github.com/ory/fosite/token/jwt"
)

// TestES256SignerMakesStandardJWS: tokens from the direct signer verify with
// an independent library (go-jose v4) and with fosite's own validation, carry
// the header fosite would write, and differ in signature each time (ECDSA
// is randomized).
func TestES256SignerMakesStandardJWS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := newSigner(key).(*es256Signer)
	if !ok {
		t.Fatal("a P-256 key does not get the direct signer")
	}
	claims := fjwt.MapClaims{"sub": "svc", "aud": []string{"assets"}, "exp": int64(4102444800), "attributes": map[string]any{"a<b": true}}
	tok, sig, err := s.Generate(context.Background(), claims, &fjwt.Headers{Extra: map[string]any{"kid": "k1", "typ": "at+jwt", "alg": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(tok, "."); len(parts) != 3 || parts[2] != sig {
		t.Fatalf("signature part %q of %q", sig, tok)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	if h.Algorithm != "ES256" || h.KeyID != "k1" || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("header alg %q kid %q typ %v", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType])
	}
	var got map[string]any
	if err := parsed.Claims(&key.PublicKey, &got); err != nil {
		t.Fatalf("go-jose v4 does not verify it: %v", err)
	}
	if got["sub"] != "svc" || got["attributes"].(map[string]any)["a<b"] != true {
		t.Errorf("claims = %v", got)
	}
	if _, err := s.Validate(context.Background(), tok); err != nil {
		t.Errorf("fosite's validation refuses it: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := parsed.Claims(&other.PublicKey, &got); err == nil {
		t.Error("verified with another key")
	}
	tok2, _, err := s.Generate(context.Background(), claims, &fjwt.Headers{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := josejwt.ParseSigned(tok2, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Headers[0].ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("default typ = %v, want JWT as fosite writes", p2.Headers[0].ExtraHeaders[jose.HeaderType])
	}
	if tok2 == tok {
		t.Error("two signatures of different headers are equal")
	}
}

// TestES256SignerHeaderPerKey: the header encoded once per typ and kid is
// the one the token needs, also when the kid changes (a new realm key) and
// back, and with headers that carry more than typ and kid.
func TestES256SignerHeaderPerKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(key).(*es256Signer)
	claims := fjwt.MapClaims{"sub": "svc"}
	for _, h := range []map[string]any{
		{"kid": "k1", "typ": "at+jwt"},
		{"kid": "k1", "typ": "at+jwt"},
		{"kid": "k2", "typ": "at+jwt"},
		{"kid": "k2", "typ": "JWT"},
		{"kid": "k1", "typ": "at+jwt", "cty": "x"},
		{"kid": "k1", "typ": "at+jwt"},
	} {
		tok, _, err := s.Generate(context.Background(), claims, &fjwt.Headers{Extra: h})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		got := parsed.Headers[0]
		if got.KeyID != h["kid"] || got.ExtraHeaders[jose.HeaderType] != h["typ"] || got.Algorithm != "ES256" {
			t.Errorf("header for %v: kid %q typ %v alg %q", h, got.KeyID, got.ExtraHeaders[jose.HeaderType], got.Algorithm)
		}
		if cty, want := got.ExtraHeaders["cty"], h["cty"]; cty != want {
			t.Errorf("header for %v: cty %v", h, cty)
		}
		var c map[string]any
		if err := parsed.Claims(&key.PublicKey, &c); err != nil || c["sub"] != "svc" {
			t.Errorf("claims %v, %v", c, err)
		}
	}
}
