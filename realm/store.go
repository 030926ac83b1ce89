package realm

import (
	"context"
	"time"
)

// The Store interfaces are what a storage backend implements. They are split
// by concern so that each consumer asks for only what it uses. Every method
// returns ErrNotFound for a missing row and a *ConflictError (or ErrConflict)
// for a unique-constraint violation; nothing else is interpreted.
//
// Getters that take a realm ID only find rows of that realm: a row of another
// realm is ErrNotFound. This is where realm isolation is enforced for reads.

// OrgStore keeps organizations and their console members.
type OrgStore interface {
	CreateOrg(ctx context.Context, o *Org) error
	GetOrg(ctx context.Context, id string) (*Org, error)
	GetOrgBySlug(ctx context.Context, slug string) (*Org, error)
	CountOrgs(ctx context.Context) (int64, error)

	CreateMember(ctx context.Context, m *Member) error
	// GetMember finds a member of org by member ID, with User filled.
	GetMember(ctx context.Context, orgID, id string) (*Member, error)
	// ListMembers lists org's members ordered by ID, with User filled;
	// Query matches the user's email or names.
	ListMembers(ctx context.Context, orgID string, opts ListOptions) (Page[Member], error)
	// ListMembershipsOfUser lists every org membership of a console user,
	// oldest first.
	ListMembershipsOfUser(ctx context.Context, userID string) ([]Member, error)
	UpdateMember(ctx context.Context, m *Member) error
	DeleteMember(ctx context.Context, orgID, id string) error
	// CountOwners counts org's members with role owner.
	CountOwners(ctx context.Context, orgID string) (int64, error)
}

// RealmStore keeps realms.
type RealmStore interface {
	CreateRealm(ctx context.Context, r *Realm) error
	GetRealmByName(ctx context.Context, name string) (*Realm, error)
	GetRealm(ctx context.Context, id string) (*Realm, error)
	// ListRealms lists orgID's realms ordered by ID; Query matches name and
	// display name.
	ListRealms(ctx context.Context, orgID string, opts ListOptions) (Page[Realm], error)
	UpdateRealm(ctx context.Context, r *Realm) error
	// DeleteRealm removes a realm and everything in it.
	DeleteRealm(ctx context.Context, id string) error
	// LockRealmMembership holds, until the enclosing transaction ends, the
	// realm's lock for changes to group values and memberships: the claims
	// bound (MaxClaimsBytes) checked inside one such change then holds
	// against another running at once. Inside InTx only.
	LockRealmMembership(ctx context.Context, realmID string) error
}

// AttributeStore keeps attribute definitions.
type AttributeStore interface {
	CreateAttribute(ctx context.Context, a *Attribute) error
	GetAttribute(ctx context.Context, realmID, name string) (*Attribute, error)
	// ListAttributes lists all of a realm's definitions ordered by name.
	ListAttributes(ctx context.Context, realmID string) ([]Attribute, error)
	UpdateAttribute(ctx context.Context, a *Attribute) error
	DeleteAttribute(ctx context.Context, realmID, name string) error
	// CountGroupsUsingAttribute counts groups of the realm that set a value
	// for the named attribute.
	CountGroupsUsingAttribute(ctx context.Context, realmID, name string) (int64, error)
}

// GroupStore keeps groups.
type GroupStore interface {
	CreateGroup(ctx context.Context, g *Group) error
	GetGroup(ctx context.Context, realmID, id string) (*Group, error)
	// GetGroups returns the realm's groups with the given IDs, ordered by
	// ID; IDs that are not groups of the realm are simply absent.
	GetGroups(ctx context.Context, realmID string, ids []string) ([]Group, error)
	ListGroups(ctx context.Context, realmID string, opts ListOptions) (Page[Group], error)
	UpdateGroup(ctx context.Context, g *Group) error
	// DeleteGroup removes the group and its memberships.
	DeleteGroup(ctx context.Context, realmID, id string) error
	// ListGroupMembers lists users and clients in the group, users first,
	// each ordered by ID.
	ListGroupMembers(ctx context.Context, realmID, groupID string, opts ListOptions) (Page[GroupMember], error)
	// CountPrimaryUses counts users and clients whose primary group is id.
	CountPrimaryUses(ctx context.Context, realmID, id string) (int64, error)
	// ListMemberGroupings returns what the token claims of the group's
	// users and clients are made of: for each distinct combination of
	// groups and primary group among them, one subject that has it (users
	// before clients, each the one with the smallest ID). Members sharing
	// their groups share their claims, so checking a change of the group
	// costs one merge per combination, not per member.
	ListMemberGroupings(ctx context.Context, realmID, groupID string) ([]SubjectGroups, error)
}

// SubjectGroups is a subject's groups (sorted IDs) and primary group.
type SubjectGroups struct {
	Kind         string // "user" or "client"
	ID           string // user ID or OAuth2 client_id
	Groups       []string
	PrimaryGroup string
}

// GroupMember is one subject in a group.
type GroupMember struct {
	Kind     string // "user" or "client"
	ID       string // user ID or client's internal ID
	ClientID string // for clients
	Name     string // email for users, name for clients
}

// UserStore keeps users and their group memberships.
type UserStore interface {
	// CreateUser inserts the user and its group memberships.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, realmID, id string) (*User, error)
	// GetUserByEmail matches email case-insensitively.
	GetUserByEmail(ctx context.Context, realmID, email string) (*User, error)
	// ListUsers orders by ID; Query matches email and names.
	ListUsers(ctx context.Context, realmID string, opts ListOptions) (Page[User], error)
	// SearchUsers is ListUsers with UserSearch's filters (at now, for
	// the locked one), and how many users match in all.
	SearchUsers(ctx context.Context, realmID string, q UserSearch, now time.Time) (Page[User], int, error)
	// UpdateUser saves every field, replacing the group memberships.
	UpdateUser(ctx context.Context, u *User) error
}

// ClientStore keeps OAuth2 clients and their group memberships.
type ClientStore interface {
	CreateClient(ctx context.Context, c *Client) error
	// GetClient finds by OAuth2 client_id within the realm.
	GetClient(ctx context.Context, realmID, clientID string) (*Client, error)
	// ListClients orders by ID; Query matches name and client_id. orgID, if
	// set, keeps only the clients acting for that org (console realm).
	ListClients(ctx context.Context, realmID, orgID string, opts ListOptions) (Page[Client], error)
	// UpdateClient saves every field, replacing the group memberships.
	UpdateClient(ctx context.Context, c *Client) error
}

// KeyStore keeps signing keys.
type KeyStore interface {
	// CreateSigningKey stores k and sets its realm's UpdatedAt to
	// k.CreatedAt: other nodes notice a new key by the realm row (package
	// oauth rebuilds a cached provider whose realm row changed).
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys lists a realm's keys, newest first.
	ListSigningKeys(ctx context.Context, realmID string) ([]SigningKey, error)
	UpdateSigningKey(ctx context.Context, k *SigningKey) error
}

// EventStore keeps the audit log.
type EventStore interface {
	AppendEvent(ctx context.Context, e *Event) error
	// ListEvents lists newest first. realmID empty lists org-level events.
	ListEvents(ctx context.Context, orgID, realmID string, f EventFilter) (Page[Event], error)
}

// TokenStore keeps what must outlive a token's issue: revocations.
type TokenStore interface {
	// RevokeToken records that the token with this jti is revoked until
	// expiresAt (after which it is invalid anyway).
	RevokeToken(ctx context.Context, realmID, jti string, expiresAt time.Time) error
	IsTokenRevoked(ctx context.Context, realmID, jti string) (bool, error)
	// DeleteExpiredRevokedTokens forgets revocations whose tokens expired
	// before now (they are invalid anyway).
	DeleteExpiredRevokedTokens(ctx context.Context, now time.Time) (int64, error)
}

// SetupStore keeps the one-time console setup token.
type SetupStore interface {
	CreateSetupToken(ctx context.Context, t *SetupToken) error
	// UseSetupToken marks the unexpired, unused token with this hash used;
	// ErrNotFound when there is none.
	UseSetupToken(ctx context.Context, hash []byte, now time.Time) error
}

// ActionTokenStore keeps single-use link tokens.
type ActionTokenStore interface {
	// CreateActionToken stores t and marks every older unused token of the
	// same user and purpose used, so only the newest link works.
	CreateActionToken(ctx context.Context, t *ActionToken) error
	// UseActionToken marks the unexpired, unused token with this hash used
	// and returns it; ErrNotFound when there is none.
	UseActionToken(ctx context.Context, hash []byte, now time.Time) (*ActionToken, error)
	// VoidActionTokens marks every unused token of the user used, whatever
	// its purpose: after a password is set, the email changes or the user
	// is deactivated, no older link may work.
	VoidActionTokens(ctx context.Context, realmID, userID string, now time.Time) error
	// DeleteExpiredActionTokens removes tokens that expired before now.
	DeleteExpiredActionTokens(ctx context.Context, now time.Time) (int64, error)
}

// Store is everything a backend provides.
type Store interface {
	OrgStore
	RealmStore
	AttributeStore
	GroupStore
	UserStore
	ClientStore
	KeyStore
	EventStore
	TokenStore
	SetupStore
	ActionTokenStore
	PolicyStore
	ConsoleSessionStore
	ClaimsStore
	AuthCodeStore
	SessionStore
	RefreshTokenStore
	LoginFailureStore
	RealmLogoStore
	MailOutboxStore
	AccessKeyStore
	TemplateStore
	NetworkStore
	SupportAccessStore
	IdentityProviderStore
	// InTx runs fn in one transaction: all its writes land, or none do.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// ClientClaims is a client with what its token claims are computed from,
// read together in one query (ClaimsStore).
type ClientClaims struct {
	Client *Client
	// Groups are the client's groups ordered by ID, with ID, RealmID, Name,
	// Attributes and IPAllowList filled.
	Groups []Group
	// SchemaVersion is the realm's attribute schema version as of the same
	// read (see ClientClaimsStore).
	SchemaVersion int64
	// RealmIPAllowList is the realm's allow list as of the same read
	// (empty, never nil: no restriction). The groups carry theirs.
	RealmIPAllowList []string
}

// UserClaims is a user with what their token claims are computed from,
// read together in one query.
type UserClaims struct {
	// User has every field but PasswordHash, CreatedAt and UpdatedAt.
	User *User
	// Groups are the user's groups ordered by ID, with ID, RealmID, Name,
	// Attributes and IPAllowList filled (Attributes maps may be shared:
	// read only).
	Groups []Group
	// SchemaVersion is as in ClientClaims.
	SchemaVersion int64
	// RealmIPAllowList is as in ClientClaims.
	RealmIPAllowList []string
}

// ClaimsStore is what token grants read: everything a grant needs about
// its subject in one round trip (the hot path of every grant).
type ClaimsStore interface {
	// GetClientClaims finds a client of the realm by OAuth2 client_id as
	// GetClient does, together with its groups, the realm's IP allow list
	// and the realm's attribute schema version: a number that changes in
	// the same transaction as every creation, update or deletion of one of
	// the realm's attribute definitions, so definitions read after seeing
	// version v are at least as new as v.
	//
	// It is the hot path, so it may leave the fields token issuing does not
	// read zero (Name, Description, DisplayName, Communication, CreatedAt,
	// UpdatedAt), and the groups' Attributes maps may be shared between
	// calls: callers only read them.
	GetClientClaims(ctx context.Context, realmID, clientID string) (*ClientClaims, error)
	// GetUserClaims finds a user of the realm by ID with their groups, the
	// realm's IP allow list and the realm's attribute schema version (as
	// GetClientClaims).
	GetUserClaims(ctx context.Context, realmID, userID string) (*UserClaims, error)
	// AttributeSchemaVersion returns the realm's attribute schema version.
	AttributeSchemaVersion(ctx context.Context, realmID string) (int64, error)
}
