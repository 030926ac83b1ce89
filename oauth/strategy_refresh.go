package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// Refresh tokens (CONTRACT §4) are JWTs signed with the realm's ES256 key,
// with "typ":"Refresh" in the payload as Keycloak's adapters expect;
// clients treat them as opaque. What makes one valid is its row in
// refresh_tokens, found by jti: single use, rotated on every refresh, and
// revoked with its whole family when a used one comes back. The row also
// keeps the token's SHA-256, so a token is accepted only if it is exactly
// the one issued (no dependence on the signing key still being known, which
// matters for offline tokens that outlive a key).

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
// ES256 key (through the same cheap signer as access tokens) and returns it
// with its signature.
func (p *provider) makeRefreshToken(ctx context.Context, req fosite.Requester, now time.Time) (string, string, error) {
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
	header := &fjwt.Headers{Extra: map[string]any{"typ": "JWT", "kid": p.signers[AlgES256].kid}}
	token, _, err := p.es256.Generate(ctx, claims, header)
	if err != nil {
		return "", "", err
	}
	// The signature refreshSignature would find, without decoding the
	// payload just encoded.
	return token, tokenSignature(jti, token), nil
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
