package oauth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	fjwt "github.com/ory/fosite/token/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/wardiam/ward/realm"
)

// provider is everything a realm's requests need that does not change per
// request: the realm row, its decrypted signing keys, the public keys it
// verifies with, the pre-rendered discovery document and JWKS, and the fosite
// provider composed for it. It is immutable once built; a change (new key)
// replaces it in the cache.
type provider struct {
	s         *Server
	realm     *realm.Realm
	issuer    string
	fosite    *fosite.Fosite
	config    *fosite.Config
	signers   map[string]*signingKey // alg → active key
	verifiers map[string]*verifyKey  // kid → public key
	// es256 signs access tokens and ES256 ID tokens with signers[ES256].
	es256 fjwt.Signer
	// refreshKey signs refresh tokens (strategy_refresh.go).
	refreshKey []byte
	jwks       []byte
	discovery  []byte
	expires    time.Time
	// claims caches subject claims when Config.ClaimsTTL is set; it dies
	// with the provider.
	claims sync.Map // claimsKey → *cachedClaims
	// defs are the realm's attribute definitions as of a schema version;
	// every grant reads the current version with the client, so they are
	// reloaded as soon as any definition changes (on any node).
	defs atomic.Pointer[attributeDefs]
	// verified remembers the tokens whose signature checked out against
	// this provider's keys (verified.go).
	verified verifiedTokens
	// keptIntrospections and keptClients hold introspection reads and
	// clients with their claims for as long as the token state they were
	// read in lasts (kept.go).
	keptIntrospections keptReads[realm.IntrospectionQuery, *realm.IntrospectionRead]
	keptClients        keptReads[string, *realm.ClientClaims]
	// checked is when (s.clock, Unix ns) the database last confirmed that
	// the realm of this name is still the one this provider was built for
	// (providers.recent).
	checked atomic.Int64
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

type verifyKey struct {
	alg string
	pub crypto.PublicKey
}

// ErrRealmNotFound is an unknown realm (or a name no realm can have).
var ErrRealmNotFound = errors.New("realm not found")

var realmNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// providers caches each realm's provider by realm name.
type providers struct {
	s          *Server
	cache      sync.Map // realm name → *provider
	builds     singleflight.Group
	buildCount atomic.Uint64
}

// get returns the realm's cached provider, building it on first use or
// after its TTL. Concurrent first requests for one realm build it once.
func (ps *providers) get(ctx context.Context, name string) (*provider, error) {
	s := ps.s
	if v, ok := ps.cache.Load(name); ok {
		p := v.(*provider)
		if s.clock().Before(p.expires) {
			return p, nil
		}
	}
	if !realmNamePattern.MatchString(name) {
		// Not a name a realm can have: no database round trip.
		return nil, ErrRealmNotFound
	}
	v, err, _ := ps.builds.Do(name, func() (any, error) {
		if v, ok := ps.cache.Load(name); ok {
			if p := v.(*provider); s.clock().Before(p.expires) {
				return p, nil
			}
		}
		// The build outlives a cancelled request so the waiters that share
		// it are not failed by the first caller hanging up.
		p, err := ps.build(context.WithoutCancel(ctx), name)
		if err != nil {
			return nil, err
		}
		ps.cache.Store(name, p)
		ps.sweep()
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*provider), nil
}

// current is get for the endpoints that are not on a hot path (revocation,
// userinfo, the authorization endpoint; discovery and JWKS use recent, the
// token and introspection endpoints get and revalidate): a cached
// provider is used only after the database confirms the realm of that name
// is still the one it was built for (one indexed lookup), so a realm deleted
// and re-created under the same name, by this org or another, is never
// served from the old realm's keys.
func (ps *providers) current(ctx context.Context, name string) (*provider, error) {
	if v, ok := ps.cache.Load(name); ok {
		if p := v.(*provider); ps.s.clock().Before(p.expires) {
			return ps.revalidate(ctx, name, p)
		}
	}
	return ps.get(ctx, name)
}

// realmRecheck is how long discovery and JWKS trust a provider's realm
// without asking the database again (providers.recent). CONTRACT §8 gives an
// admin change 1 s to be in force on every node; half of it leaves room for
// the lookup itself and for a request that started just before the change.
const realmRecheck = 500 * time.Millisecond

// recent is current for discovery and JWKS, which read nothing else from
// the database: the realm's name is checked against the database at most
// every realmRecheck per node instead of on every request, so a deleted (or
// deleted and re-created) realm's documents are served for at most that
// long after the change. Their bytes are public and were being served a
// moment before, and resource servers cache them for longer anyway.
func (ps *providers) recent(ctx context.Context, name string) (*provider, error) {
	if v, ok := ps.cache.Load(name); ok {
		p := v.(*provider)
		now := ps.s.clock()
		if now.Before(p.expires) {
			if checked := p.checked.Load(); now.UnixNano()-checked < int64(realmRecheck) && now.UnixNano() >= checked {
				return p, nil
			}
			return ps.revalidate(ctx, name, p)
		}
	}
	return ps.get(ctx, name)
}

// revalidate checks cached provider p of realm name against the database:
// p itself when the realm is unchanged; a provider built afresh when the
// name now belongs to another realm or its row changed (updated_at: a new
// signing key moves it, so a key another node made for the token it just
// signed is in this node's JWKS at once); ErrRealmNotFound when it is gone.
// A stale p is dropped from the cache either way.
func (ps *providers) revalidate(ctx context.Context, name string, p *provider) (*provider, error) {
	r, err := ps.s.store.GetRealmByName(ctx, name)
	switch {
	case errors.Is(err, realm.ErrNotFound):
		ps.cache.CompareAndDelete(name, p)
		return nil, ErrRealmNotFound
	case err != nil:
		return nil, fmt.Errorf("oauth: load realm: %w", err)
	case r.ID == p.realm.ID && r.UpdatedAt.Equal(p.realm.UpdatedAt):
		p.checked.Store(ps.s.clock().UnixNano())
		return p, nil
	}
	ps.cache.CompareAndDelete(name, p)
	return ps.get(ctx, name)
}

// sweep drops expired providers now and then, so realms used once do not
// hold memory forever.
func (ps *providers) sweep() {
	if ps.buildCount.Add(1)%256 != 0 {
		return
	}
	now := ps.s.clock()
	ps.cache.Range(func(k, v any) bool {
		if !now.Before(v.(*provider).expires) {
			ps.cache.CompareAndDelete(k, v)
		}
		return true
	})
}

// forget drops the cached provider of a realm (by ID), so the next request
// rebuilds it with the current keys.
func (ps *providers) forget(realmID string) {
	ps.cache.Range(func(k, v any) bool {
		if v.(*provider).realm.ID == realmID {
			ps.cache.Delete(k)
		}
		return true
	})
}

// build loads the realm and its keys and composes its fosite provider.
func (ps *providers) build(ctx context.Context, name string) (*provider, error) {
	s := ps.s
	r, err := s.store.GetRealmByName(ctx, name)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, ErrRealmNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: load realm: %w", err)
	}
	keys, err := s.store.ListSigningKeys(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("oauth: load keys: %w", err)
	}
	if !hasActive(keys, AlgES256) {
		// A realm made without one (created directly, or before keys
		// existed) gets its ES256 key on first use.
		k, err := s.service.EnsureSigningKey(ctx, r.ID, AlgES256)
		if err != nil {
			return nil, fmt.Errorf("oauth: signing key: %w", err)
		}
		keys = append([]realm.SigningKey{*k}, keys...)
	}
	now := s.clock()
	p := &provider{
		s:          s,
		realm:      r,
		issuer:     s.publicURL + "/realms/" + r.Name,
		signers:    make(map[string]*signingKey, 2),
		verifiers:  make(map[string]*verifyKey, len(keys)),
		expires:    now.Add(s.ttl),
		refreshKey: s.keys.RefreshKey(r.ID),
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for i := range keys { // newest first
		k := &keys[i]
		if k.RealmID != r.ID {
			continue
		}
		if !k.Active && (k.RetiredAt == nil || !now.Before(k.RetiredAt.Add(s.retiredKeyTTL))) {
			continue // every token it signed has expired
		}
		jwk, err := PublicKey(k)
		if err != nil {
			return nil, err
		}
		p.verifiers[k.ID] = &verifyKey{alg: k.Algorithm, pub: jwk.Key}
		set.Keys = append(set.Keys, *jwk)
	}
	for _, alg := range []string{AlgES256, AlgRS256} {
		k, until := pickSigner(keys, alg, now, s.ttl)
		if k == nil {
			continue
		}
		priv, err := s.keys.PrivateKey(k)
		if err != nil {
			return nil, err
		}
		p.signers[alg] = &signingKey{kid: k.ID, alg: alg, priv: priv}
		if !until.IsZero() && until.Before(p.expires) {
			p.expires = until // rebuild when the newer key may be used
		}
	}
	if p.signers[AlgES256] == nil {
		return nil, errors.New("oauth: realm has no usable ES256 key")
	}
	if p.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	if p.discovery, err = discoveryDocument(p.issuer); err != nil {
		return nil, err
	}
	p.compose()
	p.checked.Store(now.UnixNano())
	return p, nil
}

// pickSigner chooses the key that signs new tokens for alg. A key newer
// than ProviderTTL may not be in the JWKS other nodes still have cached, so
// while one exists we keep signing with the newest key that every node has
// published for a full TTL (the active one, or one retired less than a TTL
// ago), and report when the newer key becomes usable. With no such key
// (a new realm), the newest active key signs at once.
func pickSigner(keys []realm.SigningKey, alg string, now time.Time, ttl time.Duration) (*realm.SigningKey, time.Time) {
	publishedBy := now.Add(-ttl)
	var newest, published *realm.SigningKey
	for i := range keys { // newest first
		k := &keys[i]
		if k.Algorithm != alg {
			continue
		}
		usable := k.Active || (k.RetiredAt != nil && k.RetiredAt.After(publishedBy))
		if !usable {
			continue
		}
		if k.Active && newest == nil {
			newest = k
		}
		if published == nil && !k.CreatedAt.After(publishedBy) {
			published = k
		}
	}
	switch {
	case newest == nil:
		return nil, time.Time{}
	case published == nil || published == newest || published.CreatedAt.After(newest.CreatedAt):
		return newest, time.Time{}
	default:
		return published, newest.CreatedAt.Add(ttl)
	}
}

func hasActive(keys []realm.SigningKey, alg string) bool {
	for _, k := range keys {
		if k.Active && k.Algorithm == alg {
			return true
		}
	}
	return false
}

// ensureKey returns the realm's active key for alg, making one if there is
// none (RS256 is made on first need: RSA generation is slow, and most realms
// never issue an ID token).
func (p *provider) ensureKey(ctx context.Context, alg string) (*signingKey, error) {
	if k := p.signers[alg]; k != nil {
		return k, nil
	}
	s := p.s
	v, err, _ := s.providers.builds.Do("key\x00"+p.realm.ID+"\x00"+alg, func() (any, error) {
		// Another node may have made it meanwhile: EnsureSigningKey reads
		// before it makes one.
		k, err := s.service.EnsureSigningKey(context.WithoutCancel(ctx), p.realm.ID, alg)
		if err != nil {
			return nil, err
		}
		priv, err := s.keys.PrivateKey(k)
		if err != nil {
			return nil, err
		}
		s.providers.forget(p.realm.ID) // the JWKS must list the new key
		// Other nodes list a new key when they next check the realm row
		// (a new key moves its updated_at), which discovery and JWKS do at
		// most every realmRecheck (providers.recent). A token signed with
		// a younger key could meet a JWKS without it on another node, so
		// the first signature waits that long, once per realm and
		// algorithm (CONTRACT §8: any node verifies what another issued).
		if s.clock().Sub(k.CreatedAt) < realmRecheck {
			time.Sleep(realmRecheck)
		}
		return &signingKey{kid: k.ID, alg: alg, priv: priv}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*signingKey), nil
}

// accessLifespan is how long the realm's access and ID tokens last: its
// setting, else the server's.
func (p *provider) accessLifespan() time.Duration {
	return p.realm.Settings.AccessTokenLife(p.s.accessTokenLifespan)
}

// compose builds the realm's fosite provider: one *fosite.Config per realm,
// handlers registered by explicit factories.
func (p *provider) compose() {
	s := p.s
	cfg := &fosite.Config{
		AccessTokenLifespan:        p.accessLifespan(),
		AccessTokenIssuer:          p.issuer,
		IDTokenIssuer:              p.issuer,
		TokenURL:                   p.issuer + PathToken,
		ScopeStrategy:              fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:   audienceStrategy,
		JWTScopeClaimKey:           fjwt.JWTScopeFieldString,
		ClientSecretsHasher:        sha256Hasher{},
		SendDebugMessagesToClients: false,
	}
	if p.realm.Name == realm.ConsoleRealm {
		cfg.ScopeStrategy = consoleScopeStrategy
	}
	// The authorization code flow: PKCE S256 required of public clients
	// (plain never accepted), state of at least 8 characters, codes for a
	// minute. Every code grant returns a refresh token (an empty
	// RefreshTokenScopes; nil would mean fosite's default "offline"
	// scopes).
	cfg.AuthorizeCodeLifespan = codeLifespan
	cfg.IDTokenLifespan = p.accessLifespan()
	cfg.IDTokenIssuer = p.issuer
	cfg.EnforcePKCEForPublicClients = true
	cfg.EnablePKCEPlainChallengeMethod = false
	cfg.MinParameterEntropy = fosite.MinParameterEntropy
	cfg.RefreshTokenScopes = []string{}
	cfg.RedirectSecureChecker = redirectSecure
	cfg.FormPostHTMLTemplate = formPostTemplate(p.issuer)
	cfg.ResponseModeHandlerExtension = &webMessageHandler{issuer: p.issuer, page: s.webMessage} // response_mode_web_message.go
	es := p.signers[AlgES256]
	store := newFositeStore(p)
	p.es256 = newSigner(es.priv)
	strategy := &oauth2.DefaultJWTStrategy{Signer: p.es256, Config: cfg}
	codes := codeStrategy{DefaultJWTStrategy: strategy, p: p, clock: s.clock}
	ids := newIDTokenStrategy(p, cfg)
	p.config = cfg
	p.fosite = compose.Compose(cfg, store, strategy,
		compose.OAuth2ClientCredentialsGrantFactory,
		func(c fosite.Configurator, st, _ any) any {
			return compose.OAuth2AuthorizeExplicitFactory(c, st, codes)
		},
		func(c fosite.Configurator, st, _ any) any { return compose.OAuth2PKCEFactory(c, st, codes) },
		func(c fosite.Configurator, st, _ any) any { return compose.OpenIDConnectExplicitFactory(c, st, ids) },
		func(c fosite.Configurator, st, _ any) any {
			return compose.OAuth2RefreshTokenGrantFactory(c, st, codes)
		},
		func(c fosite.Configurator, st, _ any) any { return compose.OpenIDConnectRefreshFactory(c, st, ids) },
		func(c fosite.Configurator, st, _ any) any {
			return &tokenExchangeHandler{p: p, HandleHelper: &oauth2.HandleHelper{
				AccessTokenStrategy: strategy, AccessTokenStorage: store, Config: cfg}}
		},
		func(fosite.Configurator, any, any) any { return &jwtIntrospector{p: p} },
		func(fosite.Configurator, any, any) any { return &jwtRevoker{p: p} },
	).(*fosite.Fosite)
	ownGrantsOnly(cfg) // token_handlers.go
}

// audienceStrategy: audience values are names such as "assets", compared
// exactly; asking for one the client may not name is invalid_target
// (RFC 8707 §2).
func audienceStrategy(allowed, requested []string) error {
	if err := fosite.ExactAudienceMatchingStrategy(allowed, requested); err != nil {
		return errInvalidTarget.WithHint("The client may not ask for one of the requested audience values.")
	}
	return nil
}

var errInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested resource is invalid, unknown, or malformed.",
	CodeField:        400,
}

// redirectSecure is where an authorization answer may be sent: https, http
// on localhost or a loopback address (fosite's strict rule), and a native
// app's private-use scheme (RFC 8252 §7.1), which only public clients may
// register (realm's redirect URI rules) and which the login page has
// matched against the client's registered URIs before fosite looks.
func redirectSecure(ctx context.Context, u *url.URL) bool {
	return fosite.IsRedirectURISecureStrict(ctx, u) || realm.IsPrivateUseScheme(u.Scheme)
}
