package realm

import (
	"context"
	"errors"
	"time"
)

// The stores behind user sign-in (authorization code + PKCE, OpenID
// Connect, browser sessions). They are separate from Store so that Store's
// contract does not change; the SQL store implements them, and the oauth
// package takes them through its Config.

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
}

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
}
