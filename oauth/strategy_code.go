package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// codeLifespan is how long an authorization code lasts (Keycloak: 1 min).
const codeLifespan = time.Minute

// oidcKey is the SHA-256 of a code: how codes are named in storage (the
// OpenID Connect request is keyed by the code itself in fosite's
// interface).
func oidcKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// codeStrategy makes authorization codes: 256 random bits, stored by their
// SHA-256. Unlike fosite's HMAC strategy it needs no secret shared by every
// node; the code's lifetime is checked from the stored session.
type codeStrategy struct {
	*oauth2.DefaultJWTStrategy
	p     *provider
	clock func() time.Time
}

func (codeStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return oidcKey(token)
}

func (codeStrategy) GenerateAuthorizeCode(context.Context, fosite.Requester) (string, string, error) {
	code := randomToken()
	return code, oidcKey(code), nil
}

func (c codeStrategy) ValidateAuthorizeCode(_ context.Context, req fosite.Requester, _ string) error {
	exp := req.GetSession().GetExpiresAt(fosite.AuthorizeCode)
	if exp.IsZero() || !c.clock().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The authorization code has expired.")
	}
	return nil
}

// Refresh tokens: see strategy_refresh.go.
func (codeStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return refreshSignature(token)
}

func (c codeStrategy) GenerateRefreshToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	return c.p.makeRefreshToken(ctx, req, c.clock())
}

func (c codeStrategy) ValidateRefreshToken(_ context.Context, req fosite.Requester, _ string) error {
	return validateRefreshToken(req, c.clock())
}

// randomToken is 256 random bits, base64url: codes, CSRF tokens, nonces.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oauth: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
