package oauth

import (
	"context"
	"errors"
	"time"

	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// KindSupport is the kind claim of a support token (CONTRACT §7).
const KindSupport = "support"

// SupportToken is a signed support token and when it ends.
type SupportToken struct {
	Token     string
	ExpiresAt time.Time
	Org       string // the org's slug
}

// IssueSupportToken signs an admin API token with role support for the org
// with this slug (`ward support-token`): realm.Service.GrantSupport checks
// and records it (ctx must carry realm.System), and the console realm's
// ES256 key signs it as an access token of the ward-console client with
// audience the console issuer, so the admin API's authentication verifies
// it like any console token and then checks the org's support access on
// every call. Errors are GrantSupport's.
func (s *Server) IssueSupportToken(ctx context.Context, orgSlug, reason string, ttl time.Duration) (*SupportToken, error) {
	// The signing key first: the grant records support.token_issued, which
	// must not name a token that then cannot be signed.
	p, err := s.providers.current(ctx, realm.ConsoleRealm)
	if err != nil {
		return nil, err
	}
	signer := p.signers[AlgES256]
	if signer == nil {
		return nil, errors.New("oauth: the console realm has no ES256 signing key")
	}
	g, err := s.service.GrantSupport(ctx, orgSlug, reason, ttl)
	if err != nil {
		return nil, err
	}
	claims := fjwt.MapClaims{
		"iss":            p.issuer,
		"sub":            KindSupport,
		"aud":            []string{p.issuer},
		"jti":            g.ID,
		"iat":            g.IssuedAt.Unix(),
		"exp":            g.ExpiresAt.Unix(),
		"client_id":      realm.ConsoleClientID,
		"kind":           KindSupport,
		"org":            g.Org.Slug,
		"org_id":         g.Org.ID,
		"role":           string(realm.RoleSupport),
		"support_reason": g.Reason,
		"support_since":  g.EnabledAt.UnixMicro(),
	}
	header := &fjwt.Headers{Extra: map[string]any{"typ": accessTokenType, "kid": signer.kid}}
	tok, _, err := p.es256.Generate(ctx, claims, header)
	if err != nil {
		return nil, err
	}
	return &SupportToken{Token: tok, ExpiresAt: g.ExpiresAt.UTC(), Org: g.Org.Slug}, nil
}
