package oauth

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// The API-key exchange (CONTRACT §6, RFC 8693): a resource server,
// authenticated as its own confidential client, trades the API key a caller
// sent it for a short access token that names the key and its permissions.
// It is a fosite TokenEndpointHandler beside fosite's own grants, so client
// authentication, the error answers and the token's signing are fosite's.

const (
	// GrantTypeTokenExchange is RFC 8693's grant type.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// TokenTypeAPIKey is the subject_token_type of a Ward API key.
	TokenTypeAPIKey = "urn:ward:params:oauth:token-type:api-key"
	// tokenTypeAccessToken is the issued_token_type of the answer (RFC 8693 §3).
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// KindAPIKey is the kind claim of a token obtained for an API key.
	KindAPIKey = "api_key"
	// maxAPIKeyTokenLife bounds the exchanged token: a deactivated key is
	// refused by resource servers within this time (CONTRACT §6).
	maxAPIKeyTokenLife = 60 * time.Second
)

// apiKeySession is the session of an exchange. Its own type keeps the
// token endpoint from treating it as a client_credentials session: the
// exchange handler has set its claims already.
type apiKeySession struct {
	oauth2.JWTSession
}

// tokenExchangeHandler is the exchange grant of one realm's provider.
type tokenExchangeHandler struct {
	p *provider
	*oauth2.HandleHelper
}

var _ fosite.TokenEndpointHandler = (*tokenExchangeHandler)(nil)

func (h *tokenExchangeHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h *tokenExchangeHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(GrantTypeTokenExchange)
}

// HandleTokenEndpointRequest runs after fosite has authenticated the client:
// it checks the client may exchange, finds the key by its hash and sets the
// token's claims.
func (h *tokenExchangeHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	p := h.p
	client := r.GetClient()
	if client.IsPublic() || !client.GetGrantTypes().Has(GrantTypeTokenExchange) {
		// A public client proves nothing about who it is, so it may not
		// turn keys into tokens.
		return fosite.ErrUnauthorizedClient.WithHint("Only a confidential client of the realm may exchange API keys.")
	}
	if len(r.GetRequestedScopes()) > 0 {
		return fosite.ErrInvalidScope.WithHint("An API key's token carries its permissions, not scopes; send no scope.")
	}
	// The realm's allow list, for the caller's address; a key is in no
	// group, so no group's list applies.
	if fc, ok := client.(*fositeClient); !ok || !networkAllows(ctx, fc.realmNetwork, nil) {
		p.s.networkRefusal(ctx, p, "client", client.GetID(), "token_exchange")
		return errNetworkRefused()
	}
	if err := p.config.GetAudienceStrategy(ctx)(client.GetAudience(), r.GetRequestedAudience()); err != nil {
		return err
	}
	form := r.GetRequestForm()
	for _, unsupported := range []string{"actor_token", "actor_token_type", "resource"} {
		if form.Get(unsupported) != "" {
			return fosite.ErrInvalidRequest.WithHintf("The parameter '%s' is not supported by this exchange.", unsupported)
		}
	}
	// Some RFC 8693 clients always name the type they want; an access
	// token is the only one issued.
	if rt := form.Get("requested_token_type"); rt != "" && rt != tokenTypeAccessToken {
		return fosite.ErrInvalidRequest.WithHint("requested_token_type may only be " + tokenTypeAccessToken + ".")
	}
	switch form.Get("subject_token_type") {
	case TokenTypeAPIKey:
	case "":
		return fosite.ErrInvalidRequest.WithHint("subject_token_type is required: " + TokenTypeAPIKey + ".")
	default:
		return fosite.ErrInvalidRequest.WithHint("subject_token_type must be " + TokenTypeAPIKey + ".")
	}
	secret := form.Get("subject_token")
	if secret == "" {
		return fosite.ErrInvalidRequest.WithHint("subject_token is required: the API key.")
	}

	now := p.s.clock()
	lookup, _ := ctx.Value(exchangeLookupKey{}).(*exchangeLookup)
	limitKey := p.realm.ID + "\x00" + client.GetID()
	if d := p.s.exchangeClients.Over(limitKey, now); d > 0 {
		lookup.keepAddressBudget()
		return errTooManyRefusals.WithWrap(retryAfterError(d))
	}
	key, refusal, err := h.findKey(ctx, lookup, secret, now)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if refusal != "" {
		// The client authenticated: the key is its caller's, relayed by a
		// resource server whose address says nothing about the guesser,
		// so the refusal is not charged to that address (which would stop
		// the server's own grants too). Only unknown keys are guesses;
		// deactivated and expired ones are real keys still in use.
		lookup.keepAddressBudget()
		if refusal == realm.APIKeyUnknown {
			p.s.exchangeClients.Spend(limitKey, now)
		}
		return refusedKey(refusal)
	}
	// last_used_at is kept to the minute: one write a minute for a busy
	// key, none for the other exchanges of that minute.
	minute := now.UTC().Truncate(time.Minute)
	if key.LastUsedAt == nil || key.LastUsedAt.Before(minute) {
		if err := p.s.store.TouchAPIKey(ctx, p.realm.ID, key.ID, minute); err != nil {
			// last_used_at is bookkeeping: a failed write must not refuse
			// an otherwise good key, but it is worth knowing about.
			p.s.log.WarnContext(ctx, "oauth: could not record an API key's use", "realm", p.realm.Name, "key", key.ID, "err", err)
		}
	}

	aud := r.GetRequestedAudience()
	if len(aud) == 0 {
		aud = client.GetAudience()
	}
	if len(aud) == 0 {
		aud = []string{p.issuer}
	}
	for _, a := range aud {
		r.GrantAudience(a)
	}
	// fosite stamps iat and expires_in from the wall clock, so exp does
	// too; the key's remaining life is measured on the server's clock, read
	// after the wall clock (not the now of the key's lookup, a database
	// read ago): the time in between must not be added to the key's life,
	// or the token could end a second after the key.
	life := h.lifespan()
	wall := time.Now()
	if key.ExpiresAt != nil {
		life = min(life, key.ExpiresAt.Sub(p.s.clock())) // never outlives the key
	}
	expires := wall.Add(life)
	session, ok := r.GetSession().(*apiKeySession)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type in an API-key exchange")
	}
	session.Subject = key.ID
	session.SetExpiresAt(fosite.AccessToken, expires.UTC())
	session.JWTClaims = &fjwt.JWTClaims{
		Subject: key.ID,
		Issuer:  p.issuer,
		Extra: map[string]any{
			"client_id":   client.GetID(),
			"kind":        KindAPIKey,
			"permissions": key.Permissions,
		},
	}
	session.JWTHeader = &fjwt.Headers{Extra: map[string]any{
		"typ": accessTokenType,
		"kid": p.signers[AlgES256].kid,
	}}
	return nil
}

// findKey finds the realm's key whose secret is secret. A refusal is one of
// realm.APIKeyUnknown, APIKeyDeactivated or APIKeyExpired.
func (h *tokenExchangeHandler) findKey(ctx context.Context, l *exchangeLookup, secret string, now time.Time) (*realm.APIKey, string, error) {
	if !realm.LooksLikeAPIKey(secret) {
		return nil, realm.APIKeyUnknown, nil
	}
	// The lookup is by the SHA-256 of the key: the database compares
	// hashes, never secrets, so its timing says nothing about the key.
	hash := realm.HashSecret(secret)
	var key *realm.APIKey
	if l != nil && l.done && l.realmID == h.p.realm.ID && bytes.Equal(l.hash, hash) {
		key = l.key // read with the client (fositeStore.GetClient)
	} else {
		k, err := h.p.s.store.GetAPIKeyByHash(ctx, h.p.realm.ID, hash)
		if err != nil && !errors.Is(err, realm.ErrNotFound) {
			return nil, "", err
		}
		key = k
	}
	if key == nil {
		return nil, realm.APIKeyUnknown, nil
	}
	if why := key.Usable(now); why != "" {
		return nil, why, nil
	}
	return key, "", nil
}

// exchangeLookup lets the exchange read its client and its key in one
// query: the token endpoint puts it on the context with the key's hash,
// fositeStore.GetClient reads both and leaves the key here, and findKey
// takes it. Without it (or for another hash) findKey reads the key itself.
type exchangeLookup struct {
	hash    []byte // nil: the subject token is not shaped like a key
	done    bool
	realmID string        // whose key was looked up
	key     *realm.APIKey // nil: no key of the realm has this hash
	// skipAddressLimit tells the token endpoint's per-address limit not
	// to count this refusal (see HandleTokenEndpointRequest).
	skipAddressLimit bool
}

func (l *exchangeLookup) keepAddressBudget() {
	if l != nil {
		l.skipAddressLimit = true
	}
}

type exchangeLookupKey struct{}

// withExchangeLookup prepares the one-query read of an exchange of secret;
// anything that is not shaped like a key is refused without a read.
func withExchangeLookup(ctx context.Context, secret string) (context.Context, *exchangeLookup) {
	l := &exchangeLookup{}
	if realm.LooksLikeAPIKey(secret) {
		l.hash = realm.HashSecret(secret)
	}
	return context.WithValue(ctx, exchangeLookupKey{}, l), l
}

func (h *tokenExchangeHandler) lifespan() time.Duration {
	return min(h.p.accessLifespan(), maxAPIKeyTokenLife)
}

// refusedKey is the invalid_grant of a key that may not be exchanged, its
// description saying why (CONTRACT §6).
func refusedKey(why string) error {
	e := *fosite.ErrInvalidGrant
	e.DescriptionField = why
	return &e
}

// errTooManyRefusals answers a client whose exchanges were refused too often
// lately (someone guessing keys through it): 429 with Retry-After, like the
// token endpoint's per-address limit.
var errTooManyRefusals = &fosite.RFC6749Error{
	ErrorField:       "too_many_requests",
	DescriptionField: "Too many refused API key exchanges by this client; try again later.",
	CodeField:        429,
}

// retryAfterError carries how long a limited caller must wait to the answer's
// Retry-After header (writeTokenError).
type retryAfterError time.Duration

func (e retryAfterError) Error() string { return "retry after " + time.Duration(e).String() }

func (h *tokenExchangeHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	if _, err := h.IssueAccessToken(ctx, h.lifespan(), r, resp); err != nil {
		return err
	}
	resp.SetExtra("issued_token_type", tokenTypeAccessToken)
	return nil
}
