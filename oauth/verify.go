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

// AccessClaims are the claims of a Ward access token that introspection,
// revocation, userinfo, policy distribution and the admin API read.
type AccessClaims struct {
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
	// Permissions are an API key's (kind api_key).
	Permissions []string `json:"permissions"`
	// SupportReason and SupportSince are a support token's (kind
	// support, IssueSupportToken): the reason given, and when the org's
	// support access was switched on (Unix microseconds).
	SupportReason string `json:"support_reason"`
	SupportSince  int64  `json:"support_since"`
}

// ErrInvalidToken is what every refusal of a token wraps: it is not an
// access token of the realm, or no longer a live one. Any other error of
// VerifyAccessToken is a failure to check it (the database is down).
var ErrInvalidToken = errors.New("invalid access token")

var (
	errTokenInvalid  = fmt.Errorf("%w: not an access token of this realm", ErrInvalidToken)
	errTokenExpired  = fmt.Errorf("%w: expired", ErrInvalidToken)
	errTokenRevoked  = fmt.Errorf("%w: revoked", ErrInvalidToken)
	errTokenInactive = fmt.Errorf("%w: its client, user or API key is disabled or gone", ErrInvalidToken)
)

var tokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// verifySigned checks what the token itself proves: a single signature by
// one of the realm's keys (kid and alg matching the key), typ at+jwt, the
// realm's issuer, and the claims an access token must have. It does not check
// expiry or state.
func (p *provider) verifySigned(token string) (*AccessClaims, error) {
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
	var cl AccessClaims
	if err := tok.Claims(key.pub, &cl); err != nil {
		return nil, errTokenInvalid
	}
	if cl.Issuer != p.issuer || cl.ID == "" || cl.ClientID == "" || cl.Subject == "" || cl.Expiry == nil {
		return nil, errTokenInvalid
	}
	return &cl, nil
}

// verifySignedCached is verifySigned, remembered per provider by the
// token's hash (verified.go): a token introspected again skips the
// signature check and the claims' parsing, which are most of an
// introspection's cost and give the same answer for the same bytes under the
// same keys. The caller gets its own copy of the claims.
func (p *provider) verifySignedCached(token string) (*AccessClaims, error) {
	if token == "" || len(token) > 16<<10 {
		return nil, errTokenInvalid
	}
	sum := tokenHash(token)
	if cl, ok := p.verified.get(sum); ok {
		return cl, nil
	}
	cl, err := p.verifySigned(token)
	if err != nil {
		return nil, err
	}
	kept := *cl
	p.verified.put(sum, &kept)
	return cl, nil
}

// cachedClaims returns a copy of token's claims when verifySignedCached has
// checked it before, without checking anything itself.
func (p *provider) cachedClaims(token string) (*AccessClaims, bool) {
	if token == "" || len(token) > 16<<10 {
		return nil, false
	}
	return p.verified.get(tokenHash(token))
}

// isAccessTokenType accepts "at+jwt" and its full media type (RFC 9068 §4).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, accessTokenType) || strings.EqualFold(typ, "application/"+accessTokenType)
}

// VerifyAccessToken checks token as introspection does: a live access
// token of realm realmName (signature, issuer, expiry, revocation, its
// client and, for a user's token, its user still active), and returns its
// claims and its client. A refused token wraps ErrInvalidToken (an unknown
// realm is ErrRealmNotFound); anything else is a failure to check it.
//
// It uses the realm's cached provider without checking the realm's name
// against the database first (the console realm, for which the admin API
// calls it, cannot be deleted): a token of a deleted realm still fails,
// since its client is read by the cached realm's ID.
func (s *Server) VerifyAccessToken(ctx context.Context, realmName, token string) (*AccessClaims, *realm.Client, error) {
	p, err := s.providers.get(ctx, realmName)
	if err != nil {
		return nil, nil, err
	}
	return p.verifyActive(ctx, token)
}

// verifyActive is verifySigned plus everything that can end a token early:
// expiry, revocation, and its client being disabled or gone. It returns the
// client row too.
func (p *provider) verifyActive(ctx context.Context, token string) (*AccessClaims, *realm.Client, error) {
	s := p.s
	// An introspection has read the rows below already, in this request
	// (introspect_read.go); anything else reads them here.
	pre, _ := ctx.Value(introspectionKey{}).(*introspectionRead)
	pre = pre.forRequest(p.realm.ID, token)
	var (
		cl  *AccessClaims
		err error
	)
	if pre != nil {
		cl = pre.claims
	} else if cl, err = p.verifySignedCached(token); err != nil {
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
	var revoked bool
	if pre != nil && pre.q.JTI == cl.ID {
		revoked = pre.r.Revoked
	} else if revoked, err = s.store.IsTokenRevoked(ctx, p.realm.ID, cl.ID); err != nil {
		return nil, nil, fmt.Errorf("oauth: revocation check: %w", err)
	}
	if revoked {
		return nil, nil, errTokenRevoked
	}
	c, err := p.tokenClient(ctx, cl.ClientID, pre)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, errTokenInactive
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: client check: %w", err)
	}
	// A token issued before its client's (or user's) last deactivation
	// stays dead after a reactivation.
	iat := time.Time{}
	if cl.IssuedAt != nil {
		iat = cl.IssuedAt.Time()
	}
	if !c.Active || c.RealmID != p.realm.ID || realm.IssuedBeforeCutoff(c.TokensValidAfter, iat) {
		return nil, nil, errTokenInactive
	}
	if cl.Kind == KindAPIKey {
		// Ward refuses a deactivated or expired key's token at once
		// (CONTRACT §6); only offline resource servers wait out its minute.
		k, err := s.store.GetAPIKey(ctx, p.realm.ID, cl.Subject)
		if errors.Is(err, realm.ErrNotFound) || (err == nil && k.Usable(now) != "") {
			return nil, nil, errTokenInactive
		}
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: API key check: %w", err)
		}
	}
	if cl.Kind == KindSupport {
		// A support token lives only while its org allows support access
		// (CONTRACT §7): introspection says so as the admin API does.
		err := s.service.SupportAllowed(ctx, cl.OrgID, time.UnixMicro(cl.SupportSince))
		if errors.Is(err, realm.ErrSupportAccessOff) {
			// Both: a token rejection, and why (the admin API says it).
			return nil, nil, fmt.Errorf("%w: %w", errTokenInactive, err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: support access check: %w", err)
		}
	}
	if cl.Kind == "user" {
		// A user deactivated or deleted since: the token ends with them.
		u, err := p.tokenUser(ctx, cl.Subject, pre)
		if errors.Is(err, realm.ErrNotFound) || (err == nil && (!u.Active || realm.IssuedBeforeCutoff(u.TokensValidAfter, iat))) {
			return nil, nil, errTokenInactive
		}
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: user check: %w", err)
		}
	}
	return cl, c, nil
}

// callerKey carries the introspecting client's row, read by this request's
// client authentication, to verifyActive.
type callerKey struct{}

// tokenClient reads the token's client, or takes the caller's row when a
// client introspects its own token, or the row the introspection read
// (pre): read by this very request, either is as current as a second read
// would be.
func (p *provider) tokenClient(ctx context.Context, clientID string, pre *introspectionRead) (*realm.Client, error) {
	if c, ok := ctx.Value(callerKey{}).(*realm.Client); ok && c.ClientID == clientID && c.RealmID == p.realm.ID {
		return c, nil
	}
	if pre != nil && pre.q.TokenClientID == clientID {
		if pre.r.TokenClient == nil {
			return nil, realm.ErrNotFound
		}
		return pre.r.TokenClient, nil
	}
	return p.s.store.GetClient(ctx, p.realm.ID, clientID)
}

// tokenUser reads the token's user, or takes the row the introspection
// read (pre) in this request.
func (p *provider) tokenUser(ctx context.Context, userID string, pre *introspectionRead) (*realm.User, error) {
	if pre != nil && pre.q.UserID == userID {
		if pre.r.User == nil {
			return nil, realm.ErrNotFound
		}
		return pre.r.User, nil
	}
	return p.s.store.GetUser(ctx, p.realm.ID, userID)
}

// isTokenRejection tells a token that is simply not good (answer inactive or
// 401) from a failure of ours (storage down: answer 5xx, never "active").
func isTokenRejection(err error) bool { return errors.Is(err, ErrInvalidToken) }

// IDTokenHint is what RP-initiated logout reads from an ID token.
type IDTokenHint struct {
	Issuer   string       `json:"iss"`
	Subject  string       `json:"sub"`
	Audience jwt.Audience `json:"aud"`
	AZP      string       `json:"azp"`
	// Type is set on our refresh tokens ("Refresh"), never on ID tokens.
	Type string `json:"typ"`
}

// VerifyIDTokenHint checks that raw is an ID token signed by one of the
// realm's keys for its issuer (logout's id_token_hint). Expiry is not
// checked: the spec allows an expired hint.
func (a *Authorizer) VerifyIDTokenHint(raw string) (*IDTokenHint, bool) {
	p := a.p
	if raw == "" || len(raw) > 16<<10 {
		return nil, false
	}
	tok, err := jwt.ParseSigned(raw, tokenAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	h := tok.Headers[0]
	key, ok := p.verifiers[h.KeyID]
	if !ok || key.alg != h.Algorithm {
		return nil, false
	}
	// An access token (typ at+jwt) is not an ID token.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); isAccessTokenType(typ) {
		return nil, false
	}
	var cl IDTokenHint
	if err := tok.Claims(key.pub, &cl); err != nil || cl.Issuer != p.issuer || cl.Subject == "" || len(cl.Audience) == 0 || cl.Type != "" {
		return nil, false
	}
	return &cl, true
}
