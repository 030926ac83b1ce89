package realm

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wardiam/ward/attributes"
)

// ServiceConfig holds what Service needs.
type ServiceConfig struct {
	Store  Store
	Keys   KeyMaker
	Clock  func() time.Time // default time.Now
	Random io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger     // default slog.Default()
	// Mail is the outbox link mails are queued into, inside the
	// transaction that makes the link; nil queues none (and says so in the
	// log).
	Mail *MailQueue
	// PublicURL prefixes the links in mails ({public_url}/realms/…).
	PublicURL string
	// Passwords hashes and verifies passwords; default NewPasswords(0)
	// (one argon2id per core at a time).
	Passwords *Passwords
}

// Service enforces the domain's rules over a Store. Every method takes the
// acting Principal from the context (WithPrincipal) and fails closed with
// ErrUnauthenticated when there is none. Realm-scoped methods take the realm
// name and answer ErrNotFound for a realm of another org or the console realm.
type Service struct {
	store     Store
	keys      KeyMaker
	clock     func() time.Time
	random    io.Reader
	log       *slog.Logger
	mail      *MailQueue
	publicURL string
	// deactivatedKeysListed bounds the policy document's list of
	// deactivated API keys (MaxDeactivatedKeysListed; tests lower it).
	deactivatedKeysListed int
	passwords             *Passwords
	// policyCache keeps compiled policy conditions: every poll of a
	// realm's policies and every policies:test would compile them again.
	policyCache *attributes.PolicyCache
}

// NewService builds a Service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("realm: ServiceConfig.Store is required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("realm: ServiceConfig.Keys is required")
	}
	s := &Service{store: cfg.Store, keys: cfg.Keys, clock: cfg.Clock, random: cfg.Random, log: cfg.Logger,
		mail: cfg.Mail, publicURL: strings.TrimRight(cfg.PublicURL, "/"), passwords: cfg.Passwords,
		deactivatedKeysListed: MaxDeactivatedKeysListed}
	if s.passwords == nil {
		s.passwords = NewPasswords(0)
	}
	s.policyCache = attributes.NewPolicyCache(0)
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Passwords returns the service's password hasher, which sign-in shares
// so that all argon2id work counts against the same limit.
func (s *Service) Passwords() *Passwords { return s.passwords }

// Store returns the underlying store (for read paths such as token issuing
// that need no rules).
func (s *Service) Store() Store { return s.store }

// ---- Inputs. Patch types use pointers: nil means "leave as is". ----

// BootstrapInput creates the first organization.
type BootstrapInput struct {
	OrgSlug    string
	OrgName    string // default: the slug
	OwnerEmail string
	FirstName  string // default "Owner"
	LastName   string // default: the org slug
}

// BootstrapResult is what bootstrap made. ClientSecret is shown once.
type BootstrapResult struct {
	Org          *Org
	Owner        *Member
	Client       *Client
	ClientSecret string
}

// MemberInput adds a console member to the caller's org.
type MemberInput struct {
	Email     string
	FirstName string
	LastName  string
	Role      Role
}

// MemberPatch changes a member's role.
type MemberPatch struct {
	Role *Role
}

// OrgClientInput creates an org admin client.
type OrgClientInput struct {
	Name        string
	Description string
	Role        Role
}

// OrgClientPatch changes an org admin client.
type OrgClientPatch struct {
	Name        *string
	Description *string
	Role        *Role
	Active      *bool
}

// RealmInput creates a realm.
type RealmInput struct {
	Name        string
	DisplayName string
}

// RealmPatch changes a realm.
type RealmPatch struct {
	DisplayName *string
	// PasswordLogin shows (true) or hides (false) the password form of the
	// login page (Realm.PasswordLoginDisabled, CONTRACT §9).
	PasswordLogin *bool
}

// AttributeInput defines an attribute.
type AttributeInput struct {
	Name        string
	Type        string
	Multi       bool
	Description string
}

// AttributePatch changes a definition. Changing Type or Multi while a group
// uses the attribute is a conflict.
type AttributePatch struct {
	Type        *string
	Multi       *bool
	Description *string
}

// GroupInput creates a group. Attribute values are raw JSON-decoded values
// (decoded with UseNumber), validated against the realm's definitions.
type GroupInput struct {
	Name        string
	Description string
	Attributes  map[string]any
	// IPAllowList is the group's allow list (CONTRACT §7); nil or empty:
	// none.
	IPAllowList []string
	// IDPPrimaryPriority is 0 to MaxIdPPrimaryPriority (CONTRACT §9).
	IDPPrimaryPriority int
}

// GroupPatch changes a group. Attributes, when set, replaces all values; a
// nil value inside it removes that attribute.
type GroupPatch struct {
	Name        *string
	Description *string
	Attributes  map[string]any
	// IPAllowList, when set, replaces the group's allow list (empty:
	// none).
	IPAllowList *[]string
	// IDPPrimaryPriority, when set, is 0 to MaxIdPPrimaryPriority.
	IDPPrimaryPriority *int
}

// UserInput creates a user.
type UserInput struct {
	Email        string
	FirstName    string
	LastName     string
	Groups       []string
	PrimaryGroup string
	// SendSetPasswordEmail defaults to true (nil).
	SendSetPasswordEmail *bool
}

// UserPatch changes a user.
type UserPatch struct {
	Email        *string
	FirstName    *string
	LastName     *string
	Active       *bool
	Groups       *[]string
	PrimaryGroup *string
}

// ClientInput creates a realm client.
type ClientInput struct {
	ClientID      string // optional; generated when empty
	Name          string
	Kind          string
	Description   string
	Groups        []string
	PrimaryGroup  string
	Audience      []string
	Public        bool
	RedirectURIs  []string
	WebOrigins    []string
	Communication string
	DisplayName   string
	// OfflineAccess lets an application be granted offline_access (the
	// same as offline_access among OptionalScopes).
	OfflineAccess bool
	// IDTokenAlg is RS256 (default when empty) or ES256; applications only.
	IDTokenAlg string
	// DefaultScopes (nil: DefaultClientScopes) and OptionalScopes of an
	// application.
	DefaultScopes  *[]string
	OptionalScopes []string
}

// ClientPatch changes a realm client.
type ClientPatch struct {
	Name           *string
	Description    *string
	Active         *bool
	Groups         *[]string
	PrimaryGroup   *string
	Audience       *[]string
	RedirectURIs   *[]string
	WebOrigins     *[]string
	Communication  *string
	DisplayName    *string
	OfflineAccess  *bool
	IDTokenAlg     *string
	DefaultScopes  *[]string
	OptionalScopes *[]string
}

// UserView is a user with its effective attributes.
type UserView struct {
	User
	EffectiveAttributes map[string]any
	// HasPassword says whether the user has set a password (the hash
	// itself is never in a view): one created by an identity provider,
	// or invited and not yet through the set-password link, has none.
	HasPassword bool
	// Lock is the user's sign-in lock and failed sign-ins.
	Lock SignInLock
}

// ClientView is a client with its effective attributes.
type ClientView struct {
	Client
	EffectiveAttributes map[string]any
}
