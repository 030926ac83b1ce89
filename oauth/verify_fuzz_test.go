package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardiam/ward/internal/testjws"
)

// fuzzIssuer is the issuer of the tokens FuzzVerifyAccessToken signs.
const fuzzIssuer = "https://ward.test/realms/acme"

// FuzzVerifyAccessToken: whatever the string, the access-token check that
// introspection, userinfo and the admin API start with (verifySigned)
// never panics, refuses with ErrInvalidToken, and accepts only what the
// realm's keys signed as an access token: its header and claims exactly
// those of a genuine token (the encoding may differ, not the signed
// bytes). logout's ID token hint check accepts only the
// genuine ID token, never an access or refresh token.
func FuzzVerifyAccessToken(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	p := &provider{issuer: fuzzIssuer, verifiers: map[string]*verifyKey{
		"ec1": {alg: AlgES256, pub: &ec.PublicKey},
		"rs1": {alg: AlgRS256, pub: &rk.PublicKey},
	}}
	exp := time.Now().Add(time.Hour).Unix()
	access := map[string]any{"iss": fuzzIssuer, "sub": "u1", "aud": "assets", "exp": exp, "iat": exp - 3600,
		"jti": "j1", "client_id": "app", "scope": "openid", "kind": "user", "groups": []string{"news"},
		"attributes": map[string]any{"region": "eu"}}
	esTok := testjws.Sign(f, jose.ES256, ec, "ec1", "at+jwt", access)
	rsTok := testjws.Sign(f, jose.RS256, rk, "rs1", "application/at+jwt", access)
	idTok := testjws.Sign(f, jose.ES256, ec, "ec1", "JWT", map[string]any{"iss": fuzzIssuer, "sub": "u1", "aud": "app", "azp": "app", "exp": exp})
	refresh := map[string]any{"iss": fuzzIssuer, "sub": "u1", "aud": fuzzIssuer, "azp": "app", "exp": exp, "jti": "r1", "typ": "Refresh"}
	refreshTok := testjws.Sign(f, jose.ES256, ec, "ec1", "JWT", refresh)
	genuineAccess := map[string]bool{testjws.SignedBytes(esTok): true, testjws.SignedBytes(rsTok): true}
	for _, tok := range []string{esTok, rsTok} {
		if cl, err := p.verifySigned(tok); err != nil || cl.ID != "j1" || cl.Attributes["region"] != "eu" {
			f.Fatalf("a genuine access token: %+v %v", cl, err)
		}
	}
	a := &Authorizer{p: p}
	if _, ok := a.VerifyIDTokenHint(idTok); !ok {
		f.Fatal("the genuine ID token is refused")
	}

	parts := strings.Split(esTok, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		esTok, rsTok, idTok, refreshTok, "", ".", "..", "a.b.c", esTok + ".", parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2], strings.Replace(esTok, ".", "..", 1),
		// Algorithm confusion: none, HS256 keyed with nothing, RS256 under the EC kid.
		b64([]byte(`{"alg":"none","kid":"ec1","typ":"at+jwt"}`)) + "." + parts[1] + ".",
		b64([]byte(`{"alg":"HS256","kid":"ec1","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256","kid":"ec1","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"ES256","kid":"nope","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2],
		// The JSON serialization, and a signature over other claims.
		`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		parts[0] + "." + b64([]byte(`{"iss":"`+fuzzIssuer+`","sub":"admin","jti":"j1","client_id":"app","exp":9999999999}`)) + "." + parts[2],
		strings.Repeat("a", 16<<10+1),
	} {
		f.Add(s)
	}
	for _, s := range testjws.SameBytesOtherEncoding(esTok) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := p.verifySigned(tok)
		switch {
		case err != nil:
			if cl != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%q: refused with claims %+v and %v, want no claims and ErrInvalidToken", tok, cl, err)
			}
		case !genuineAccess[testjws.SignedBytes(tok)] || strings.Count(tok, ".") != 2:
			t.Fatalf("accepted an access token the realm did not sign: %q (%+v)", tok, cl)
		case cl.ID != "j1" || cl.Subject != "u1" || cl.Issuer != fuzzIssuer:
			t.Fatalf("%q: claims %+v are not the ones signed", tok, cl)
		}
		if h, ok := a.VerifyIDTokenHint(tok); ok && (testjws.SignedBytes(tok) != testjws.SignedBytes(idTok) || strings.Count(tok, ".") != 2 || h.Subject != "u1") {
			t.Fatalf("accepted an ID token hint the realm did not sign as one: %q (%+v)", tok, h)
		}
	})
}
