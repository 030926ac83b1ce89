package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// fositeClient is a realm client as fosite sees it. It keeps the realm row,
// and the client's groups and the realm's attribute schema version read with
// it, so the token's claims need no further query.
type fositeClient struct {
	c             *realm.Client
	now           time.Time // when it was loaded: decides whether the rotation grace lasts
	groups        []realm.Group
	schemaVersion int64
	// realmNetwork is the realm's IP allow list, read with the client.
	realmNetwork []string
}

var (
	_ fosite.Client                   = (*fositeClient)(nil)
	_ fosite.ClientWithSecretRotation = (*fositeClient)(nil)
)

// Grant types per kind (CONTRACT §3): service accounts use client_credentials
// only; applications sign users in.
var (
	serviceAccountGrants = fosite.Arguments{"client_credentials", GrantTypeTokenExchange}
	applicationGrants    = fosite.Arguments{"authorization_code", "refresh_token"}
	// A confidential application may also exchange API keys (CONTRACT §6):
	// it is how a web backend that signs users in also serves headless
	// callers.
	confidentialApplicationGrants = fosite.Arguments{"authorization_code", "refresh_token", GrantTypeTokenExchange}
	applicationResponses          = fosite.Arguments{"code"}
	// supportedScopes is what an application client may ask for; it is also
	// the discovery document's scopes_supported.
	supportedScopes = fosite.Arguments{"openid", "profile", "email", "offline_access"}
	// serviceAccountScopes is empty: the OpenID Connect scopes describe a
	// person signing in (an ID token, profile and email claims, a session
	// that outlives the browser), none of which a client_credentials grant
	// has, so asking for one is invalid_scope rather than a scope claim
	// that promises what the token cannot mean.
	serviceAccountScopes = fosite.Arguments{}
)

func (f *fositeClient) GetID() string                 { return f.c.ClientID }
func (f *fositeClient) GetHashedSecret() []byte       { return f.c.SecretHash }
func (f *fositeClient) GetRedirectURIs() []string     { return f.c.RedirectURIs }
func (f *fositeClient) IsPublic() bool                { return f.c.Public }
func (f *fositeClient) GetAudience() fosite.Arguments { return f.c.Audience }

func (f *fositeClient) GetScopes() fosite.Arguments {
	if f.c.Kind == realm.KindServiceAccount {
		return serviceAccountScopes
	}
	return supportedScopes
}

func (f *fositeClient) GetGrantTypes() fosite.Arguments {
	if f.c.Kind == realm.KindServiceAccount {
		return serviceAccountGrants
	}
	if !f.c.Public {
		return confidentialApplicationGrants
	}
	return applicationGrants
}

// applicationResponseModes are the response modes fosite checks an
// application's request against. web_message is offered too, but never
// reaches that check: the authorization endpoint takes it out of the
// request before fosite parses it and sets it afterwards (response_mode_web_message.go).
var applicationResponseModes = []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery,
	fosite.ResponseModeFragment, fosite.ResponseModeFormPost}

var _ fosite.ResponseModeClient = (*fositeClient)(nil)

func (f *fositeClient) GetResponseModes() []fosite.ResponseModeType {
	if f.c.Kind == realm.KindApplication {
		return applicationResponseModes
	}
	return nil
}

func (f *fositeClient) GetResponseTypes() fosite.Arguments {
	if f.c.Kind == realm.KindApplication {
		return applicationResponses
	}
	return nil
}

// GetRotatedHashes offers the previous secret's hash only while the rotation
// grace lasts, so fosite's own secret check honours grace_seconds.
func (f *fositeClient) GetRotatedHashes() [][]byte {
	c := f.c
	if len(c.PreviousSecretHash) == 0 || c.PreviousSecretExpiresAt == nil || !f.now.Before(*c.PreviousSecretExpiresAt) {
		return nil
	}
	return [][]byte{c.PreviousSecretHash}
}

// sha256Hasher checks client secrets against their stored SHA-256 hash in
// constant time. Secrets are 256-bit random values, so a slow password hash
// would add no safety and cap token throughput (DESIGN, Storage).
type sha256Hasher struct{}

var errSecretMismatch = errors.New("client secret does not match")

func (sha256Hasher) Compare(_ context.Context, hash, data []byte) error {
	if realm.SecretMatches(hash, string(data)) {
		return nil
	}
	return errSecretMismatch
}

func (sha256Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return realm.HashSecret(string(data)), nil
}

// fositeStore adapts realm.Store to fosite's storage interfaces for one
// realm: every lookup is scoped to realmID, which is what keeps a client of
// realm A from authenticating at realm B.
type fositeStore struct {
	p              *provider
	store          realm.Store
	realmID        string
	clock          func() time.Time
	accessLifespan time.Duration
}

// newFositeStore is the storage adapter of realm p: the one its fosite
// provider is composed with, and the one the token endpoint revokes with.
func newFositeStore(p *provider) *fositeStore {
	return &fositeStore{p: p, store: p.s.store, realmID: p.realm.ID, clock: p.s.clock, accessLifespan: p.accessLifespan()}
}

// clientClaims reads the realm's client id with its groups
// (GetClientClaims), or takes the read kept from an earlier request while
// nothing it holds can have changed (kept.go). The answer is shared: read
// only.
func (p *provider) clientClaims(ctx context.Context, id string) (*realm.ClientClaims, error) {
	ts := p.tokenState()
	if ts.keep {
		if cc, ok := p.keptClients.get(id, ts); ok {
			p.s.keptClientsUsed.Add(1)
			return cc, nil
		}
	}
	cc, err := p.s.store.GetClientClaims(ctx, p.realm.ID, id)
	if err == nil && ts.keep {
		p.keptClients.put(id, cc, ts)
	}
	return cc, err
}

// GetClient returns the realm's active client. A disabled or unknown client
// is fosite.ErrNotFound, which fosite answers as invalid_client.
func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id == "" {
		return nil, fosite.ErrNotFound
	}
	var (
		cc  *realm.ClientClaims
		err error
	)
	if c := readAheadClient(ctx, s.realmID, id); c != nil {
		// A refresh grant's client, read with its token (refresh_read.go).
		cc = &realm.ClientClaims{Client: c}
	} else if l, ok := ctx.Value(exchangeLookupKey{}).(*exchangeLookup); ok && l.hash != nil {
		// An API-key exchange: the key comes with the client.
		l.key, l.done, l.realmID = nil, false, ""
		var key *realm.APIKey
		if cc, key, err = s.store.GetClientWithAPIKey(ctx, s.realmID, id, l.hash); err == nil {
			l.key, l.done, l.realmID = key, true, s.realmID
		}
	} else if s.p != nil {
		cc, err = s.p.clientClaims(ctx, id)
	} else {
		cc, err = s.store.GetClientClaims(ctx, s.realmID, id)
	}
	if errors.Is(err, realm.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	if !cc.Client.Active || cc.Client.RealmID != s.realmID {
		return nil, fosite.ErrNotFound
	}
	fc := &fositeClient{c: cc.Client, now: s.clock(), groups: cc.Groups, schemaVersion: cc.SchemaVersion,
		realmNetwork: cc.RealmIPAllowList}
	if h, ok := ctx.Value(grantClientKey{}).(*grantClient); ok {
		h.fc = fc
	}
	return fc, nil
}

// grantClientKey marks the context of a refresh or authorization code
// grant. Fosite reads the client once to authenticate the caller, and
// again as the client of each stored request (one for a refresh token;
// the code, PKCE and OIDC sessions for a code), only to check that the
// IDs are equal. The first read, kept here, answers the second
// when the IDs are equal: it is the same row this very request
// authenticated with and found active (read now, or kept while the realm's
// token state holds: kept.go), so a disabled client is refused as exactly
// as before.
type grantClientKey struct{}

// grantClient holds the client the request authenticated.
type grantClient struct{ fc *fositeClient }

// withGrantClient marks ctx as a refresh or code grant's (see
// grantClientKey).
func withGrantClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, grantClientKey{}, &grantClient{})
}

// storedClient is the client a stored request names: the one this grant
// authenticated when its ID is id (grantClientKey), else read as GetClient
// reads it.
func (s *fositeStore) storedClient(ctx context.Context, id string) (fosite.Client, error) {
	if h, ok := ctx.Value(grantClientKey{}).(*grantClient); ok && h.fc != nil && h.fc.c.ClientID == id {
		return h.fc, nil
	}
	return s.GetClient(ctx, id)
}

// fullClient reads the realm's active client with every field, for the
// authorization endpoint's pages (GetClient reads what token grants need);
// a disabled or unknown client is realm.ErrNotFound.
func (p *provider) fullClient(ctx context.Context, id string) (*fositeClient, error) {
	if id == "" {
		return nil, realm.ErrNotFound
	}
	c, err := p.s.store.GetClient(ctx, p.realm.ID, id)
	if err != nil {
		return nil, err
	}
	if !c.Active || c.RealmID != p.realm.ID {
		return nil, realm.ErrNotFound
	}
	return &fositeClient{c: c, now: p.s.clock()}, nil
}

// Client assertions (private_key_jwt) are not offered, so no jti is ever
// recorded; refusing here keeps that fail-closed if a handler ever asked.
func (s *fositeStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown
}

func (s *fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrServerError.WithHint("client assertions are not supported")
}

// CreateAccessTokenSession persists nothing: access tokens are
// self-contained signed JWTs (RFC 9068) whose validity is checked from the
// token itself plus the revocation list, so writing a row per grant would
// only cost a database write on the hottest path.
func (s *fositeStore) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetAccessTokenSession is never needed: introspection verifies the JWT
// itself. Not found keeps any stateful validator fail-closed.
func (s *fositeStore) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// DeleteAccessTokenSession: revocation goes through Store.RevokeToken by jti.
func (s *fositeStore) DeleteAccessTokenSession(context.Context, string) error {
	return nil
}
