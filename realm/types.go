package realm

import (
	"time"

	"github.com/wardiam/ward/attributes"
)

// ConsoleRealm is the reserved system realm holding console accounts and the
// org admin clients. No organization can see or address it.
const ConsoleRealm = "console"

// ConsoleClientID is the public OAuth2 client the console UI signs in with.
const ConsoleClientID = "ward-console"

// Role is a console member's or org admin client's role in one organization.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
	// RoleSupport is the operator's support looking in while the org
	// allows it (CONTRACT §7): it reads like a viewer. It is never a
	// member's or client's role (Valid is false): only a support token
	// carries it.
	RoleSupport Role = "support"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleViewer }

// CanWrite reports whether r may change things inside realms.
func (r Role) CanWrite() bool { return r == RoleOwner || r == RoleAdmin }

// Org is an organization: it owns realms and console members.
type Org struct {
	ID        string
	Slug      string
	Name      string
	CreatedAt time.Time
}

// Member is a console account's role in one organization. The account itself
// is a User of the console realm (UserID).
type Member struct {
	ID        string
	OrgID     string
	UserID    string
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
	// User is filled by reads for display (email, names, active).
	User *User
	// Invited is set by reads: the account is active and has no password
	// yet (its invitation's link not used).
	Invited bool
}

// Realm is an isolated set of users, groups, clients, keys and policies.
type Realm struct {
	ID          string
	OrgID       string // empty for the system console realm
	Name        string
	DisplayName string
	// IPAllowList is the realm-wide allow list (CONTRACT §7): canonical
	// CIDR prefixes; empty (never nil when read) restricts nothing.
	IPAllowList []string
	// PasswordLoginDisabled hides the password form of the login page:
	// people sign in through the realm's identity providers only
	// (CONTRACT §9). The zero value shows it.
	PasswordLoginDisabled bool
	// Settings are the realm's settings screen (settings.go).
	Settings  RealmSettings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Attribute is an attribute definition in a realm.
type Attribute struct {
	ID          string
	RealmID     string
	Name        string
	Type        attributes.Type
	Multi       bool
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Definition returns the schema part used by the attributes package.
func (a Attribute) Definition() attributes.Definition {
	return attributes.Definition{Name: a.Name, Type: a.Type, Multi: a.Multi}
}

// Group is a named set of subjects carrying attribute values.
type Group struct {
	ID          string
	RealmID     string
	Name        string
	Description string
	// Attributes maps attribute names to normalized values
	// (attributes.Normalize).
	Attributes map[string]any
	// IPAllowList is the group's allow list (CONTRACT §7): canonical CIDR
	// prefixes; empty (never nil when read) restricts nothing.
	IPAllowList []string
	// IDPPrimaryPriority (0–1000) ranks the group among those an identity
	// provider's mappings put a user in: the highest becomes the user's
	// primary group at sign-in. 0 never does (CONTRACT §9).
	IDPPrimaryPriority int
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// User is a person in a realm. Users are deactivated, never deleted.
type User struct {
	ID           string
	RealmID      string
	Email        string // as given; uniqueness is case-insensitive
	FirstName    string
	LastName     string
	Active       bool
	Groups       []string // group IDs, sorted
	PrimaryGroup string   // a group ID in Groups, or empty
	// PasswordHash is the argon2id hash (PHC string); empty until set.
	PasswordHash string
	// TokensValidAfter is when the user was last deactivated: a token
	// issued at or before it stays dead after a reactivation.
	TokensValidAfter *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ClientKind tells service accounts from applications.
type ClientKind string

// Client kinds.
const (
	KindServiceAccount ClientKind = "service_account"
	KindApplication    ClientKind = "application"
)

// Communication is how an application receives the authorization response.
type Communication string

// Communication modes.
const (
	CommRedirect    Communication = "redirect"
	CommPostMessage Communication = "post_message"
)

// Client is an OAuth2 client of a realm. In the console realm, clients with
// an OrgID are org admin clients acting for that org with OrgRole.
type Client struct {
	ID            string // internal id
	RealmID       string
	ClientID      string // the OAuth2 client_id, unique per realm
	Name          string
	Description   string
	Kind          ClientKind
	Active        bool
	Public        bool
	Audience      []string
	Groups        []string // group IDs, sorted
	PrimaryGroup  string
	RedirectURIs  []string
	WebOrigins    []string
	Communication Communication
	DisplayName   string
	// AllowOfflineAccess lets an application be granted offline_access:
	// refresh tokens that outlive the browser session. It is true exactly
	// when OptionalScopes holds ScopeOfflineAccess (the Service keeps the
	// two in step).
	AllowOfflineAccess bool
	// DefaultScopes are granted on every sign-in of an application whether
	// asked for or not; OptionalScopes only when asked for (CONTRACT §4).
	// Both are empty for service accounts.
	DefaultScopes  []string
	OptionalScopes []string
	// IDTokenAlg is the algorithm an application's ID tokens are signed
	// with: IDTokenRS256 (the default, also when empty) or IDTokenES256.
	IDTokenAlg string
	// OrgID and OrgRole are set on console-realm org admin clients only.
	OrgID   string
	OrgRole Role
	// SecretHash is SHA-256 of the current secret. PreviousSecretHash stays
	// valid until PreviousSecretExpiresAt (rotation grace).
	SecretHash              []byte
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt *time.Time
	// TokensValidAfter is when the client was last deactivated: a token
	// issued at or before it stays dead after a reactivation.
	TokensValidAfter *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// IssuedBeforeCutoff reports whether a token issued at iat is dead
// because its client or user was deactivated at or after that moment
// (cutoff is TokensValidAfter; nil: never deactivated). JWT iat has whole
// seconds, so the comparison is in whole seconds and a token of the
// deactivation's own second counts as older: fail closed.
func IssuedBeforeCutoff(cutoff *time.Time, iat time.Time) bool {
	return cutoff != nil && iat.Unix() <= cutoff.Unix()
}

// SigningKey is one of a realm's token signing keys. The private key is
// encrypted with the master key by the oauth package; realm only stores it.
type SigningKey struct {
	ID               string // the JWK kid
	RealmID          string
	Algorithm        string // ES256 or RS256
	EncryptedPrivate []byte
	PublicJWK        []byte // JSON of the public JWK
	Active           bool   // the key used to sign new tokens for its alg
	CreatedAt        time.Time
	// RetiredAt is when the key stopped signing; it stays in the JWKS until
	// tokens it signed have expired.
	RetiredAt *time.Time
}

// Event is an audit record of one change. It never carries a secret.
type Event struct {
	ID         string
	OrgID      string
	RealmID    string // empty for org-level events
	Type       EventType
	ActorType  string // "member", "client", "system"
	ActorID    string
	TargetType string
	TargetID   string
	Details    map[string]any
	Time       time.Time
}

// SetupToken is the one-time console setup link's token, stored hashed.
type SetupToken struct {
	Hash      []byte
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// ListOptions pages and filters list calls.
type ListOptions struct {
	Limit  int    // 1..200, default 50
	Cursor string // opaque; the last ID of the previous page
	Query  string // case-insensitive substring match on names/emails
}

// User statuses a users list may be filtered by (UserSearch.Status).
const (
	UserStatusActive      = "active"      // may sign in
	UserStatusDeactivated = "deactivated" // sign-in refused
	// UserStatusInvited is active with no password yet and no identity
	// provider to sign in with: the set-password link not yet used.
	UserStatusInvited = "invited"
)

// UserSearch asks for a page of a realm's users: Query matches the email,
// first, last or full name ("Alice Trader"); the filters keep users of a
// status, members of a group, and users whose sign-in is locked.
type UserSearch struct {
	ListOptions
	Status  string
	GroupID string
	Locked  bool
}

// UserPage is a page of users and how many users match in all.
type UserPage struct {
	Page[User]
	Total int
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T
	NextCursor string // empty on the last page
}

// EventFilter filters the audit log.
type EventFilter struct {
	Type EventType
	// Since and Until bound the events' time: at or after Since, before
	// Until.
	Since *time.Time
	Until *time.Time
	// ActorID and TargetID, when set, keep the events of that actor (a
	// member's user ID, a client_id, …) or about that target.
	ActorID  string
	TargetID string
	Limit    int
	Cursor   string
}

// ActionToken is a single-use link token (set-password, reset), stored
// hashed. Issuing a new one for a user and purpose invalidates older ones.
type ActionToken struct {
	Hash      []byte
	RealmID   string
	UserID    string
	Purpose   string // "set_password"
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}
