package realm

import (
	"context"
	"errors"
	"time"
)

// ConsoleSession is a console web session as stored. The console seals (encrypts) the member's
// tokens and page state into Data; the store never sees them in clear.
//
// Sessions live in the database, not in a node's memory, so that any node
// behind a load balancer can serve any request of a signed-in member
// (DESIGN "Storage").
type ConsoleSession struct {
	IDHash    []byte // SHA-256 of the session cookie's value (32 bytes)
	Owner     string // the console account it belongs to, e.g. "member:<user id>"
	Data      []byte // sealed by console/ui; at most 64 KiB
	ExpiresAt time.Time
	UpdatedAt time.Time
	// Version counts the session's writes: 1 when created, one more per
	// UpdateConsoleSession. Several nodes may serve one session at once,
	// so an update names the version it read and is refused if another
	// write came in between (compare-and-swap); CreateConsoleSession
	// ignores the field and stores 1.
	Version int64
}

// MaxConsoleSessionData bounds ConsoleSession.Data: a session is read on
// every console request, and a store that accepted anything would let one
// account's state grow the database without limit.
const MaxConsoleSessionData = 64 << 10

// ErrConsoleSessionTooLarge is returned by CreateConsoleSession and
// UpdateConsoleSession for Data longer than MaxConsoleSessionData. Nothing
// is written. It is the console's bug, not the member's, so it is not a
// ValidationError (which would become a 400).
var ErrConsoleSessionTooLarge = errors.New("realm: console session data exceeds 64 KiB")

// ConsoleSessionStore keeps console sessions.
//
// Times are kept at microsecond precision in UTC, like every other row. A
// session is expired at now when ExpiresAt <= now.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores s and, in the same transaction, deletes the owner's oldest
	// sessions (by ExpiresAt) beyond keep, so one account cannot pile up sessions.
	//
	// The new session itself is always kept, so keep must be at least 1
	// (an error otherwise, nothing stored). Sessions with equal ExpiresAt
	// are kept in order of most recent UpdatedAt. s.UpdatedAt is also
	// recorded as the creation time. IDHash must be 32 bytes and Owner
	// non-empty (an error otherwise); an IDHash already stored is a
	// *ConflictError on "id". Concurrent creations for one owner may leave
	// it a session or two over keep until its next creation.
	CreateConsoleSession(ctx context.Context, s *ConsoleSession, keep int) error
	// GetConsoleSession returns the session, or ErrNotFound when there is none or it has expired (now).
	GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (*ConsoleSession, error)
	// UpdateConsoleSession replaces Data and UpdatedAt if the stored
	// Version is still version (the one the caller read), sets Version to
	// version+1 and returns it.
	//
	// Without the check, two nodes serving the same session would
	// overwrite each other's changes (a form key or a pending secret
	// lost, a refresh token refreshed twice and its family revoked). So:
	// ErrNotFound when the session is gone or has expired at updatedAt
	// (it would be ErrNotFound to GetConsoleSession anyway); a
	// *ConflictError on "version" (errors.Is ErrConflict) when it exists
	// but another write changed it since version: the caller re-reads and
	// redoes its change. Either way nothing is written. ExpiresAt is not
	// changed.
	UpdateConsoleSession(ctx context.Context, idHash, data []byte, updatedAt time.Time, version int64) (int64, error)
	// DeleteConsoleSession deletes it (no error when already gone).
	DeleteConsoleSession(ctx context.Context, idHash []byte) error
	// DeleteExpiredConsoleSessions deletes sessions that expired before `before`; returns how many.
	// (ExpiresAt < before: a session expiring exactly at before stays.)
	DeleteExpiredConsoleSessions(ctx context.Context, before time.Time) (int64, error)
}
