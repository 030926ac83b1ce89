package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardiam/ward/internal/testjws"
)

// FuzzRefreshSignature: the refresh-token parser (which names a presented
// token to the store, before any row is read) never panics, and for any
// string it either refuses (empty) or names it by the jti in its payload
// and the SHA-256 of the exact string: so a token changed in any byte,
// however it decodes, names another row's hash and is never taken for the
// one issued.
func FuzzRefreshSignature(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	issued := testjws.Sign(f, jose.ES256, ec, "ec1", "JWT", map[string]any{"typ": refreshTokenType, "jti": "01jxyz", "sub": "u1",
		"azp": "app", "iss": fuzzIssuer, "aud": fuzzIssuer, "exp": exp, "iat": exp - 60, "scope": "openid offline_access", "sid": "s1"})
	parts := strings.Split(issued, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		issued, "", "..", "a.b.c", issued + ".", parts[0] + "." + parts[1] + ".", "x." + parts[1] + ".y",
		"x." + b64([]byte(`{"jti":"a.b"}`)) + ".y", "x." + b64([]byte(`{"jti":""}`)) + ".y", "x." + b64([]byte(`{"jti":7}`)) + ".y",
		"x." + b64([]byte(`[]`)) + ".y", "x." + b64([]byte(`{"jti":"j"} {}`)) + ".y", "x." + parts[1] + "=.y",
		"x." + b64([]byte(`{"jti":"\u0000\ud800"}`)) + ".y", "x." + b64([]byte(strings.Repeat(" ", 16<<10))) + ".y",
	} {
		f.Add(s)
	}
	for _, s := range testjws.SameBytesOtherEncoding(issued) {
		f.Add(s)
	}
	_, issuedHash, ok := splitRefreshSignature(refreshSignature(issued))
	if !ok {
		f.Fatal("the issued token has no signature")
	}
	f.Fuzz(func(t *testing.T, tok string) {
		sig := refreshSignature(tok)
		if sig == "" {
			return
		}
		jti, hash, ok := splitRefreshSignature(sig)
		if !ok || strings.Contains(jti, ".") {
			t.Fatalf("%q: signature %q does not split into jti and hash", tok, sig)
		}
		sum := sha256.Sum256([]byte(tok))
		if hash != b64(sum[:]) {
			t.Fatalf("%q: hash %q is not the token's SHA-256", tok, hash)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || len(tok) > 16<<10 {
			t.Fatalf("%q: accepted a token that is not three parts of at most 16 KiB", tok)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		var cl struct {
			ID string `json:"jti"`
		}
		if err != nil || json.Unmarshal(payload, &cl) != nil || cl.ID != jti {
			t.Fatalf("%q: jti %q is not the payload's (%s)", tok, jti, payload)
		}
		if tok != issued && hash == issuedHash {
			t.Fatalf("%q: named by the issued token's hash", tok)
		}
	})
}
