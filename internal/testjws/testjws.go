package testjws

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// Sign signs claims as a compact JWS with key under kid, with header typ
// typ when typ is not empty.
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return SignRaw(t, alg, key, kid, typ, payload)
}

// SignRaw is Sign for any payload, a JSON object or not.
func SignRaw(t testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sg.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// SignedBytes is what a compact JWS's signature covers, decoded: its
// header and payload. Decoded, because go-jose verifies the signature over
// its own encoding of the decoded parts, so a part written with other
// unused low bits in its last base64url character verifies too: a
// different string, the same signed bytes. Anything that is not three
// decodable parts is returned as is.
func SignedBytes(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok
	}
	h, herr := base64.RawURLEncoding.DecodeString(parts[0])
	p, perr := base64.RawURLEncoding.DecodeString(parts[1])
	if herr != nil || perr != nil {
		return tok
	}
	return string(h) + "." + string(p)
}

// SameBytesOtherEncoding returns tok with the last base64url character of
// its header or payload replaced by each other one that decodes to the
// same bytes: seeds for the case SignedBytes allows.
func SameBytesOtherEncoding(tok string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []string
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	for i := range 2 {
		want, _ := base64.RawURLEncoding.DecodeString(parts[i])
		for _, c := range alphabet {
			q := append([]string(nil), parts...)
			q[i] = q[i][:len(q[i])-1] + string(c)
			if got, err := base64.RawURLEncoding.DecodeString(q[i]); err == nil && q[i] != parts[i] && string(got) == string(want) {
				out = append(out, strings.Join(q, "."))
			}
		}
	}
	return out
}
