package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardiam/ward/realm"
)

// accessClaims are the claims of a Ward access token that introspection,
// revocation and the admin API read.
type accessClaims struct {
	Issuer     string           `json:"iss"`
	Subject    string           `json:"sub"`
	Audience   jwt.Audience     `json:"aud"`
	Expiry     *jwt.NumericDate `json:"exp"`
	IssuedAt   *jwt.NumericDate `json:"iat"`
	ID         string           `json:"jti"`
	ClientID   string           `json:"client_id"`
	Scope      string           `json:"scope"`
	Kind       string           `json:"kind"`
	Groups     []string         `json:"groups"`
	Attributes map[string]any   `json:"attributes"`
	Org        string           `json:"org"`
	OrgID      string           `json:"org_id"`
	Role       string           `json:"role"`
}

var (
	errTokenInvalid  = errors.New("token is not a valid access token of this realm")
	errTokenExpired  = errors.New("token has expired")
	errTokenRevoked  = errors.New("token has been revoked")
	errTokenInactive = errors.New("token's client is disabled or gone")
)

var tokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// verifySigned checks what the token itself proves: a single signature by
// one of the realm's keys (kid and alg matching the key), typ at+jwt, the
// realm's issuer, and the claims an access token must have. It does not check
// expiry or state.
func (p *provider) verifySigned(token string) (*accessClaims, error) {
	if token == "" || len(token) > 16<<10 {
		return nil, errTokenInvalid
	}
	tok, err := jwt.ParseSigned(token, tokenAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errTokenInvalid
	}
	h := tok.Headers[0]
	key, ok := p.verifiers[h.KeyID]
	if !ok || key.alg != h.Algorithm {
		return nil, errTokenInvalid
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, errTokenInvalid
	}
	var cl accessClaims
	if err := tok.Claims(key.pub, &cl); err != nil {
		return nil, errTokenInvalid
	}
	if cl.Issuer != p.issuer || cl.ID == "" || cl.ClientID == "" || cl.Subject == "" || cl.Expiry == nil {
		return nil, errTokenInvalid
	}
	return &cl, nil
}

// isAccessTokenType accepts "at+jwt" and its full media type (RFC 9068 §4).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, accessTokenType) || strings.EqualFold(typ, "application/"+accessTokenType)
}

// verifyActive is verifySigned plus everything that can end a token early:
// expiry, revocation, and its client being disabled or gone. It returns the
// client row too.
func (s *Server) verifyActive(ctx context.Context, p *provider, token string) (*accessClaims, *realm.Client, error) {
	cl, err := p.verifySigned(token)
	if err != nil {
		return nil, nil, err
	}
	now := s.clock()
	if !now.Before(cl.Expiry.Time()) {
		return nil, nil, errTokenExpired
	}
	if cl.IssuedAt != nil && cl.IssuedAt.Time().After(now.Add(time.Minute)) {
		// Issued in the future beyond clock skew: not ours.
		return nil, nil, errTokenInvalid
	}
	revoked, err := s.store.IsTokenRevoked(ctx, p.realm.ID, cl.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: revocation check: %w", err)
	}
	if revoked {
		return nil, nil, errTokenRevoked
	}
	c, err := s.store.GetClient(ctx, p.realm.ID, cl.ClientID)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, errTokenInactive
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: client check: %w", err)
	}
	if !c.Active || c.RealmID != p.realm.ID {
		return nil, nil, errTokenInactive
	}
	if cl.Kind == "user" {
		// A user deactivated or deleted since: the token ends with them.
		u, err := s.store.GetUser(ctx, p.realm.ID, cl.Subject)
		if errors.Is(err, realm.ErrNotFound) || (err == nil && !u.Active) {
			return nil, nil, errTokenInactive
		}
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: user check: %w", err)
		}
	}
	return cl, c, nil
}

// isTokenRejection tells a token that is simply not good (answer inactive or
// 401) from a failure of ours (storage down: answer 5xx, never "active").
func isTokenRejection(err error) bool {
	return errors.Is(err, errTokenInvalid) || errors.Is(err, errTokenExpired) ||
		errors.Is(err, errTokenRevoked) || errors.Is(err, errTokenInactive)
}
