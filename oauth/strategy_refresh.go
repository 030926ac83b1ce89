package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// Refresh tokens (CONTRACT §4) are JWTs signed HS256 with the realm's
// refresh key (Keys.RefreshKey, derived from the master key), as Keycloak
// signs its own with the realm's HMAC key, with "typ":"Refresh" in the
// payload as Keycloak's adapters expect; clients treat them as opaque.
// Only Ward reads them, so no one needs a public key: an HMAC costs about a
// microsecond where an ES256 signature costs ~40 µs, a sixth of a refresh
// grant's CPU. An HS256 token never passes for an access token (those are
// ES256 or RS256 with a kid from the JWKS).
//
// What makes one valid is its row in refresh_tokens, found by jti: single
// use, rotated on every refresh, and revoked with its whole family when a
// used one comes back. The row also keeps the token's SHA-256, so a token
// is accepted only if it is exactly the one issued (no dependence on the
// signing key still being known, which matters for offline tokens that
// outlive a key, and for tokens signed ES256 before refresh keys existed).

// refreshTokenType is the payload's typ claim.
const refreshTokenType = "Refresh"

// offlineLifespan is how long an offline token lasts after its last use
// (Keycloak's offline session idle default).
const offlineLifespan = 30 * 24 * time.Hour

// errRefreshReused is a refresh token whose rotation lost to a concurrent
// use of the same token, or that was used already: its family is revoked.
var errRefreshReused = errors.New("refresh token already used")

// causedBy reports whether target is in err's chain, following both
// Unwrap and Cause: fosite's RFC6749Error keeps the storage error it wraps
// behind Cause only, where errors.Is does not look.
func causedBy(err, target error) bool {
	for err != nil {
		if errors.Is(err, target) {
			return true
		}
		if u := errors.Unwrap(err); u != nil {
			err = u
			continue
		}
		c, ok := err.(interface{ Cause() error })
		if !ok {
			return false
		}
		err = c.Cause()
	}
	return false
}

// refreshSignature is how fosite names a refresh token to the store: the
// jti and the token's hash, joined by a dot. The jti is read from the
// payload without verifying the signature; the hash comparison against the
// stored row is the check.
func refreshSignature(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 16<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var cl struct {
		ID string `json:"jti"`
	}
	if json.Unmarshal(payload, &cl) != nil || cl.ID == "" || strings.Contains(cl.ID, ".") {
		return ""
	}
	return tokenSignature(cl.ID, token)
}

// splitRefreshSignature returns the jti and token hash of a signature.
func splitRefreshSignature(sig string) (jti, hash string, ok bool) {
	jti, hash, ok = strings.Cut(sig, ".")
	return jti, hash, ok && jti != "" && hash != ""
}

// makeRefreshToken signs a new refresh token for req with the realm's
// refresh key and returns it with its signature.
func (p *provider) makeRefreshToken(_ context.Context, req fosite.Requester, now time.Time) (string, string, error) {
	us, ok := req.GetSession().(*userSession)
	if !ok {
		return "", "", fosite.ErrServerError.WithDebug("refresh tokens are for users' sessions only")
	}
	exp := us.GetExpiresAt(fosite.RefreshToken)
	if exp.IsZero() {
		return "", "", fosite.ErrServerError.WithDebug("refresh token without expiry")
	}
	jti := realm.NewID(now, nil)
	claims := fjwt.MapClaims{
		"typ": refreshTokenType, "jti": jti, "sub": us.UserID,
		"azp": req.GetClient().GetID(), "iss": p.issuer, "aud": p.issuer,
		"exp": exp.Unix(), "iat": now.Unix(), "scope": strings.Join(req.GetGrantedScopes(), " "),
	}
	if us.SessionID != "" {
		claims["sid"] = us.SessionID
	}
	token, err := signHS256(p.refreshKey, claims)
	if err != nil {
		return "", "", err
	}
	// The signature refreshSignature would find, without decoding the
	// payload just encoded.
	return token, tokenSignature(jti, token), nil
}

// hs256Header is a refresh token's JOSE header, base64url-encoded:
// {"alg":"HS256","typ":"JWT"}.
var hs256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// signHS256 returns the compact JWS of claims under key (RFC 7515, HS256
// per RFC 7518 §3.2), the claims encoded as json.Marshal would.
func signHS256(key []byte, claims fjwt.MapClaims) (string, error) {
	payload, err := appendJSON(make([]byte, 0, 512), map[string]any(claims))
	if err != nil {
		return "", fmt.Errorf("oauth: encode refresh token claims: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(hs256Header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	buf = append(buf, hs256Header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	m := hmac.New(sha256.New, key)
	m.Write(buf)
	var sum [sha256.Size]byte
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, m.Sum(sum[:0]))
	return string(buf), nil
}

// tokenSignature is the signature of a refresh token with this jti.
func tokenSignature(jti, token string) string {
	sum := sha256.Sum256([]byte(token))
	return jti + "." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// validateRefreshToken checks the refresh token's own lifetime; the row
// and hash were checked when it was read. now is the server's clock.
func validateRefreshToken(req fosite.Requester, now time.Time) error {
	exp := req.GetSession().GetExpiresAt(fosite.RefreshToken)
	if exp.IsZero() || !now.Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The refresh token has expired.")
	}
	return nil
}
