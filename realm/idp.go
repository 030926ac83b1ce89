package realm

import (
	"context"
	"time"
)

// Identity providers (CONTRACT §9): a realm may let its users sign in
// through the organization's own SAML 2.0 or OpenID Connect provider. The
// provider's settings, the links between a realm's users and their
// accounts at a provider, and the sign-ins in flight are kept here; the
// protocols are oauth/broker's, and what a sign-in through a provider does
// to the user (found, linked, created, its groups) is BrokerSignIn's.

// IdPKind is the protocol a provider speaks.
type IdPKind string

const (
	IdPSAML IdPKind = "saml"
	IdPOIDC IdPKind = "oidc"
)

// IdentityProvider is a realm's identity provider. Alias names it in URLs
// (/realms/{realm}/broker/{alias}/endpoint) and in kc_idp_hint.
type IdentityProvider struct {
	ID          string
	RealmID     string
	Alias       string
	Kind        IdPKind
	DisplayName string
	// Enabled providers are offered on the login page. A provider whose
	// metadata (SAML) or discovery document (OIDC) could not be read or
	// was invalid when saved is saved disabled with DisabledReason saying
	// why; an admin's own switch leaves DisabledReason empty.
	Enabled        bool
	DisabledReason string
	SAML           *SAMLSettings // Kind saml only
	OIDC           *OIDCSettings // Kind oidc only
	// JIT creates a user on the first sign-in of an unknown subject.
	JIT bool
	// LinkByEmail links an unknown subject to the realm's user with the
	// same email, only when the provider asserts the email verified.
	LinkByEmail bool
	// GroupClaim names the OIDC claim or SAML attribute (Name or
	// FriendlyName) listing the person's external groups; "" reads none.
	GroupClaim    string
	GroupMappings []GroupMapping // sorted by External, then Group
	DefaultGroups []string       // group IDs, sorted
	Attributes    IdPAttributeNames
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SAMLSettings are a SAML provider's: its metadata, and the key and
// certificate Ward signs authentication requests with as its service
// provider (made when the provider is created, published in the SP
// metadata at …/endpoint/descriptor).
type SAMLSettings struct {
	// MetadataURL is where the metadata is read from; "" when it was
	// pasted. MetadataXML is the metadata as pasted or as last read.
	MetadataURL string
	MetadataXML string
	// SPKeySealed is the SP's private key (PKCS #8 DER), sealed with the
	// master key (IdentityProviders.seal); SPCertificate its self-signed
	// certificate (DER).
	SPKeySealed   []byte
	SPCertificate []byte
}

// OIDCSettings are an OpenID Connect provider's. The client secret is
// write-only: sealed with the master key, never answered.
type OIDCSettings struct {
	Issuer   string
	ClientID string
	// ClientSecretSealed is nil for a provider Ward uses as a public
	// client (PKCE only).
	ClientSecretSealed []byte
	// Scopes asked for; always includes openid.
	Scopes []string
}

// GroupMapping puts the people the provider says are in External into
// the realm's group Group (an ID).
type GroupMapping struct {
	External string
	Group    string
}

// IdPAttributeNames say where the person's details are in the assertion
// or ID token; "" takes the default (CONTRACT §9).
type IdPAttributeNames struct {
	Email     string
	FirstName string
	LastName  string
}

// IdentityProviderChoice is an enabled provider as the login page offers
// it.
type IdentityProviderChoice struct {
	Alias       string
	DisplayName string
}

// UserIdentity links a realm's user to their account (Subject) at one of
// the realm's providers.
type UserIdentity struct {
	RealmID    string
	ProviderID string
	Subject    string
	UserID     string
	// ProviderAlias is filled by ListUserIdentities.
	ProviderAlias string
	CreatedAt     time.Time
}

// BrokerState is a sign-in through a provider in flight: made when the
// browser is sent to the provider, taken once when it comes back.
type BrokerState struct {
	// ID is the SHA-256 of the state token the browser carries (the OIDC
	// state or SAML RelayState, and a cookie binding it to the browser).
	ID         []byte
	RealmID    string
	ProviderID string
	// RequestID is the SAML AuthnRequest ID (matched against InResponseTo)
	// or the OIDC nonce.
	RequestID string
	// VerifierSealed is the OIDC PKCE code_verifier, sealed; nil for SAML.
	VerifierSealed []byte
	// Continue is the authorization request to continue afterwards: its
	// parameters, URL-encoded.
	Continue  string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Bounds of identity providers.
const (
	MaxIdentityProviders   = 50 // per realm
	MaxGroupMappings       = 500
	MaxDefaultGroups       = 100
	MaxSAMLMetadataBytes   = 1 << 20
	MaxIdPPrimaryPriority  = 1000
	BrokerStateTTL         = 10 * time.Minute
	maxExternalGroupLength = 512
)

// IdentityProviderStore keeps a realm's identity providers, the links of
// its users to them and the sign-ins in flight.
type IdentityProviderStore interface {
	// CreateIdentityProvider inserts p; an alias the realm already has is
	// ErrConflict.
	CreateIdentityProvider(ctx context.Context, p *IdentityProvider) error
	// GetIdentityProvider finds the realm's provider by alias.
	GetIdentityProvider(ctx context.Context, realmID, alias string) (*IdentityProvider, error)
	// GetIdentityProviderByID finds the realm's provider by ID.
	GetIdentityProviderByID(ctx context.Context, realmID, id string) (*IdentityProvider, error)
	// ListIdentityProviders lists the realm's providers by alias (there
	// are at most MaxIdentityProviders).
	ListIdentityProviders(ctx context.Context, realmID string) ([]IdentityProvider, error)
	// ListIdentityProviderChoices lists the realm's enabled providers'
	// aliases and display names by alias: what the login page offers
	// (the full rows carry metadata of up to 1 MiB each).
	ListIdentityProviderChoices(ctx context.Context, realmID string) ([]IdentityProviderChoice, error)
	// UpdateIdentityProvider saves everything but ID, RealmID, Alias, Kind
	// and CreatedAt.
	UpdateIdentityProvider(ctx context.Context, p *IdentityProvider) error
	// DeleteIdentityProvider removes the provider with its users' links
	// and its sign-ins in flight (the users stay).
	DeleteIdentityProvider(ctx context.Context, realmID, alias string) error
	// IdentityProvidersUsingGroup lists the aliases of the realm's
	// providers whose mappings or default groups name the group, sorted.
	IdentityProvidersUsingGroup(ctx context.Context, realmID, groupID string) ([]string, error)

	// CreateUserIdentity links a user to a provider's subject; a subject
	// (or a user) already linked at that provider is ErrConflict.
	CreateUserIdentity(ctx context.Context, l *UserIdentity) error
	// GetUserIdentity finds the link of the provider's subject.
	GetUserIdentity(ctx context.Context, realmID, providerID, subject string) (*UserIdentity, error)
	// ListUserIdentities lists a user's links, with ProviderAlias, by
	// alias.
	ListUserIdentities(ctx context.Context, realmID, userID string) ([]UserIdentity, error)

	// CreateBrokerState records a sign-in in flight.
	CreateBrokerState(ctx context.Context, st *BrokerState) error
	// TakeBrokerState removes and returns the realm's state with this ID
	// when it has not expired by now; otherwise ErrNotFound. Of concurrent
	// takers exactly one gets it.
	TakeBrokerState(ctx context.Context, realmID string, id []byte, now time.Time) (*BrokerState, error)
	// DeleteExpiredBrokerStates removes states that expired before now.
	DeleteExpiredBrokerStates(ctx context.Context, now time.Time) (int64, error)
}
