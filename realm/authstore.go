package realm

import (
	"context"
	"errors"
	"time"
)

// The stores behind user sign-in (authorization code + PKCE, OpenID
// Connect, browser sessions, refresh tokens). They are parts of Store like
// every other; they are named apart so that what uses only sign-in state can
// say so in its parameter types.

// Kinds of AuthRequest.
const (
	AuthRequestCode = "code" // an authorization code session
	AuthRequestPKCE = "pkce" // the PKCE challenge of a code
	AuthRequestOIDC = "oidc" // the OpenID Connect request of a code
)

// ErrAlreadyUsed is what UseAuthRequest answers when the row exists but was
// used already: a second redemption of an authorization code.
var ErrAlreadyUsed = errors.New("already used")

// AuthRequest is an authorization request persisted between the
// authorization endpoint and the token endpoint, keyed by kind and by the
// signature of the code (never the code itself). Data is the oauth
// package's own encoding of the request; the store keeps it opaque.
type AuthRequest struct {
	Kind      string
	Signature string
	RealmID   string
	RequestID string // the request's ID, shared by the tokens it issues
	ClientID  string
	UserID    string
	SessionID string // the browser session it was made in
	Data      []byte
	Used      bool
	ExpiresAt time.Time
	CreatedAt time.Time
}

// AuthCodeStore persists authorization code, PKCE and OpenID Connect
// request sessions.
type AuthCodeStore interface {
	// CreateAuthRequest inserts r.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// GetAuthRequest returns the row of kind and signature in the realm,
	// used or not; ErrNotFound when there is none.
	GetAuthRequest(ctx context.Context, realmID, kind, signature string) (*AuthRequest, error)
	// UseAuthRequest marks the row used with one conditional update, so of
	// concurrent callers exactly one succeeds; the others get
	// ErrAlreadyUsed (ErrNotFound when there is no such row).
	UseAuthRequest(ctx context.Context, realmID, kind, signature string) error
	// DeleteAuthRequest removes the row; deleting a missing row is not an
	// error.
	DeleteAuthRequest(ctx context.Context, realmID, kind, signature string) error
	// DeleteExpiredAuthRequests removes rows that expired before now.
	DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int64, error)
}

// BrowserSession is a user's sign-in at a realm, named by a cookie. The
// cookie carries a random token; only its hash (TokenHash) is stored. ID is
// the session's public name (the ID token's sid).
type BrowserSession struct {
	ID        string
	RealmID   string
	UserID    string
	TokenHash []byte
	AuthTime  time.Time
	ExpiresAt time.Time
	Revoked   bool
	CreatedAt time.Time
	// IPAddress is the client's address at the sign-in ("" when unknown).
	IPAddress string
}

// Kinds of UserSession.
const (
	SessionBrowser = "browser" // a sign-in at the realm's login page
	SessionRefresh = "refresh" // a refresh token chain bound to a browser session
	SessionOffline = "offline" // an offline_access chain: outlives the browser session
)

// UserSession is one of a user's live sign-ins as an admin sees it: a
// browser session (ID is its sid), or a chain of refresh tokens (ID is the
// family). A refresh chain that is not offline lives only as long as its
// browser session (SessionID).
type UserSession struct {
	ID        string
	Kind      string
	SessionID string // a refresh chain's browser session; "" for offline
	ClientID  string // a refresh chain's client
	IPAddress string // where it was last used from
	StartedAt time.Time
	// LastUsedAt is a browser session's sign-in or, when later, the last
	// refresh token issued in it; a chain's last refresh token.
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// MaxUserSessions bounds ListUserSessions: the newest so many of each kind.
const MaxUserSessions = 200

// SessionStore persists browser sessions.
type SessionStore interface {
	CreateBrowserSession(ctx context.Context, s *BrowserSession) error
	// GetBrowserSessionByToken returns the realm's session whose token
	// hashes to tokenHash, revoked or expired ones included (the caller
	// decides); ErrNotFound when there is none.
	GetBrowserSessionByToken(ctx context.Context, realmID string, tokenHash []byte) (*BrowserSession, error)
	// RevokeBrowserSession revokes one session; a missing one is
	// ErrNotFound.
	RevokeBrowserSession(ctx context.Context, realmID, id string) error
	// RevokeUserSessions revokes every session of a user.
	RevokeUserSessions(ctx context.Context, realmID, userID string) error
	// ListUserSessions returns a user's sign-ins live at now, newest
	// first: the browser sessions neither revoked nor expired, and the
	// refresh token chains with a live token (unused, unrevoked,
	// unexpired) whose browser session, unless offline, is live too. At
	// most MaxUserSessions of each kind.
	ListUserSessions(ctx context.Context, realmID, userID string, now time.Time) ([]UserSession, error)
	// SessionRefreshFamilies returns the families of the refresh tokens
	// bound to the browser session (offline ones excluded) that have a
	// token not yet revoked.
	SessionRefreshFamilies(ctx context.Context, realmID, sessionID string) ([]string, error)
	// LiveRefreshToken returns the user's live token (unused, unrevoked,
	// unexpired at now) of the family; ErrNotFound when it has none.
	LiveRefreshToken(ctx context.Context, realmID, userID, familyID string, now time.Time) (*RefreshToken, error)
}

// RefreshToken is one refresh token, tracked by its jti (ID). The tokens of
// one chain of refreshes share FamilyID (the authorization request the
// chain began with). A non-offline token is bound to the browser session
// SessionID. AccessJTI is the access token issued together with it, which
// revoking the family puts on the revocation list. Data is the oauth
// package's own encoding of the request; the store keeps it opaque.
type RefreshToken struct {
	ID        string
	RealmID   string
	FamilyID  string
	SessionID string
	UserID    string
	ClientID  string
	AccessJTI string
	Offline   bool
	Data      []byte
	Used      bool
	Revoked   bool
	ExpiresAt time.Time
	CreatedAt time.Time
	// IPAddress is the client's address when the token was issued.
	IPAddress string
	// ParentID is the token this one replaces (RotateRefreshToken); it
	// is not stored.
	ParentID string
}

// RefreshGrant is what a refresh grant reads about the token presented,
// read together: the token, its user with what their claims come from, and
// the browser session it is bound to.
type RefreshGrant struct {
	Token *RefreshToken
	// User is nil when the user no longer exists.
	User *UserClaims
	// Session is nil when the token's session no longer exists; only ID,
	// RealmID, UserID, AuthTime, ExpiresAt and Revoked are filled.
	Session *BrowserSession
}

// RevokedAccess is an access token to put on the revocation list: its jti
// and until when it could still be valid.
type RevokedAccess struct {
	JTI       string
	ExpiresAt time.Time
}

// RefreshTokenStore persists refresh tokens.
type RefreshTokenStore interface {
	// CreateRefreshToken inserts t, the first token of its family.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RotateRefreshToken replaces token t.ParentID by t in one
	// transaction: it marks the parent used with the conditional update of
	// UseRefreshToken and inserts t. When the parent is used or revoked
	// already, nothing is inserted and the error is ErrAlreadyUsed
	// (ErrNotFound when there is no such parent). Together with
	// RevokeRefreshFamily it guarantees that a family revoked while one
	// of its tokens is rotated ends with no live token.
	RotateRefreshToken(ctx context.Context, t *RefreshToken) error
	// GetRefreshToken returns the realm's token, used or revoked ones
	// included; ErrNotFound when there is none.
	GetRefreshToken(ctx context.Context, realmID, id string) (*RefreshToken, error)
	// GetRefreshGrant is GetRefreshToken together with the token's user
	// (with what their claims come from) and its session, in one round
	// trip: all a refresh grant reads.
	GetRefreshGrant(ctx context.Context, realmID, tokenID string) (*RefreshGrant, error)
	// UseRefreshToken marks an unused, unrevoked token used with one
	// conditional update: of concurrent callers exactly one succeeds, the
	// others get ErrAlreadyUsed (ErrNotFound when there is no such token).
	UseRefreshToken(ctx context.Context, realmID, id string) error
	// RevokeRefreshFamily revokes every token of the family and returns
	// the access tokens issued with them that may not have expired by now
	// (given the access token lifespan accessTTL).
	RevokeRefreshFamily(ctx context.Context, realmID, familyID string, now time.Time, accessTTL time.Duration) ([]RevokedAccess, error)
	// RevokeUserRefreshTokens revokes every refresh token of a user.
	RevokeUserRefreshTokens(ctx context.Context, realmID, userID string) error
	// RevokeClientRefreshTokens revokes every refresh token issued to a
	// client (by its client_id).
	RevokeClientRefreshTokens(ctx context.Context, realmID, clientID string) error
	// GetBrowserSession returns a session by its ID (the sid); ErrNotFound
	// when there is none.
	GetBrowserSession(ctx context.Context, realmID, id string) (*BrowserSession, error)
	// DeleteExpiredRefreshTokens removes tokens that expired before now.
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error)
}

// endSignIns revokes a user's browser sessions and refresh tokens, in the
// transaction that deactivates the user. Its access tokens are not listed
// one by one: the user's TokensValidAfter ends them.
func endSignIns(ctx context.Context, tx Store, realmID, userID string) error {
	if err := tx.RevokeUserSessions(ctx, realmID, userID); err != nil {
		return err
	}
	return tx.RevokeUserRefreshTokens(ctx, realmID, userID)
}

// RefreshGrantReader reads what a refresh grant needs before its write in
// one round trip: the presented token with its user and session
// (GetRefreshGrant) and the client the request names, whose row
// authenticates the caller. A store that does not implement it is read
// through GetClientClaims and GetRefreshGrant instead, with the same
// answers. Nothing here may be cached by the store (CONTRACT §8).
type RefreshGrantReader interface {
	// ReadRefreshGrant returns GetRefreshGrant(realmID, tokenID) and the
	// realm's client clientID, read from one snapshot; ErrNotFound when
	// either does not exist. The client carries what GetClientClaims
	// fills, without its groups' rows (a refresh grant's subject is the
	// user): Groups holds the group IDs only when the store has them at
	// hand, and may be nil.
	ReadRefreshGrant(ctx context.Context, realmID, tokenID, clientID string) (*RefreshGrant, *Client, error)
}
