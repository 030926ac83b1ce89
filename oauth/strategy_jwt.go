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
	"sync"
	"sync/atomic"

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
	// headers are the last headers encoded, one slot per typ in use: a
	// grant signs an access token (typ at+jwt) and a refresh or ID token
	// (typ JWT) in turn, which a single slot would miss every time.
	headers [headerSlots]atomic.Pointer[encodedHeader]
	nextHdr atomic.Uint32
}

// headerSlots is how many encoded headers a signer keeps.
const headerSlots = 4

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
	hb, err := s.header(header)
	if err != nil {
		return "", "", err
	}
	sc := scratchPool.Get().(*scratch)
	defer func() {
		if cap(sc.json) <= maxScratch && cap(sc.token) <= maxScratch {
			scratchPool.Put(sc)
		}
	}()
	// The claims are encoded as json.Marshal would, into a reused buffer.
	if sc.json, err = appendJSON(sc.json[:0], map[string]any(claims)); err != nil {
		return "", "", fmt.Errorf("oauth: encode token claims: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := append(sc.token[:0], hb...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sc.json)
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
	sc.token = buf
	token := string(buf) // the one allocation the token needs
	return token, token[at:], nil
}

// scratch is a grant's reusable encoding space; tokens are a few hundred
// bytes, so buffers that grew past maxScratch are not kept.
type scratch struct{ json, token []byte }

const maxScratch = 64 << 10

var scratchPool = sync.Pool{New: func() any {
	return &scratch{json: make([]byte, 0, 1024), token: make([]byte, 0, 2048)}
}}

// encodedHeader is a header's base64url JSON for one typ and kid: the same
// for every token a realm's key signs, so it is encoded once.
type encodedHeader struct {
	typ, kid string
	b64      []byte
}

// header returns the base64url-encoded JWS header for header: typ "JWT"
// unless given (as fosite does), alg ES256. Headers of only typ and kid,
// every token's case, come from the last ones encoded when equal.
func (s *es256Signer) header(header fjwt.Mapper) ([]byte, error) {
	var typ, kid string
	cacheable := false
	if hd, ok := header.(*fjwt.Headers); ok && len(hd.Extra) == 2 {
		var ok1, ok2 bool
		typ, ok1 = hd.Extra["typ"].(string)
		kid, ok2 = hd.Extra["kid"].(string)
		cacheable = ok1 && ok2
		if cacheable {
			for i := range s.headers {
				if c := s.headers[i].Load(); c != nil && c.typ == typ && c.kid == kid {
					return c.b64, nil
				}
			}
		}
	}
	h := header.ToMap()
	if _, ok := h["typ"]; !ok {
		h["typ"] = "JWT" // as fosite does
	}
	h["alg"] = AlgES256
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode token header: %w", err)
	}
	b64 := base64.RawURLEncoding.AppendEncode(nil, hb)
	if cacheable {
		s.headers[s.nextHdr.Add(1)%headerSlots].Store(&encodedHeader{typ: typ, kid: kid, b64: b64})
	}
	return b64, nil
}
