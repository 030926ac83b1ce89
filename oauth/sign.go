package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	fjwt "github.com/ory/fosite/token/jwt"
)

// es256Signer signs fosite's access tokens with ES256 straight through
// crypto/ecdsa: the compact JWS is built with encoding/json and base64 in
// one buffer. fosite's DefaultSigner goes through go-jose v3, which builds a
// signer, a header map and a reflective JSON encoding per token; on the
// token endpoint that is as much CPU as the rest of the request's own code.
// Verification (Validate, Decode) stays with the embedded DefaultSigner.
type es256Signer struct {
	*fjwt.DefaultSigner
	key *ecdsa.PrivateKey
}

var _ fjwt.Signer = (*es256Signer)(nil)

// newSigner returns the signer for a realm's ES256 key.
func newSigner(priv any) fjwt.Signer {
	def := &fjwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) {
		// fosite signs with go-jose v3, which takes the raw key.
		return priv, nil
	}}
	if k, ok := priv.(*ecdsa.PrivateKey); ok && k.Curve.Params().BitSize == 256 {
		return &es256Signer{DefaultSigner: def, key: k}
	}
	return def
}

// Generate returns the signed token and its signature part, as fosite's
// Signer does.
func (s *es256Signer) Generate(_ context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error) {
	if header == nil || claims == nil {
		return "", "", errors.New("oauth: token header or claims missing")
	}
	h := header.ToMap()
	if _, ok := h["typ"]; !ok {
		h["typ"] = "JWT" // as fosite does
	}
	h["alg"] = AlgES256
	hb, err := json.Marshal(h)
	if err != nil {
		return "", "", fmt.Errorf("oauth: encode token header: %w", err)
	}
	cb, err := json.Marshal(map[string]any(claims))
	if err != nil {
		return "", "", fmt.Errorf("oauth: encode token claims: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.EncodedLen(len(hb))+enc.EncodedLen(len(cb))+enc.EncodedLen(64)+2)
	buf = enc.AppendEncode(buf, hb)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, cb)
	digest := sha256.Sum256(buf)
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", "", fmt.Errorf("oauth: sign token: %w", err)
	}
	// RFC 7518 §3.4: R and S as 32-byte big-endian integers, concatenated.
	var sig [64]byte
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	buf = append(buf, '.')
	at := len(buf)
	buf = enc.AppendEncode(buf, sig[:])
	token := string(buf)
	return token, token[at:], nil
}
