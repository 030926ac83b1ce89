package realm

import (
	"context"
	"time"
)

// LoginFailure is the brute-force state of one sign-in account key in a
// realm: the consecutive failed sign-ins since the last success or
// lockout, how many lockouts there have been (each one locks longer), and
// until when sign-in is locked. The key is chosen by the caller (the oauth
// package uses a hash of the lower-cased email, so unknown addresses are
// counted like known ones and no address is stored).
type LoginFailure struct {
	RealmID     string
	Key         string
	Failures    int
	Lockouts    int
	LockedUntil *time.Time
	UpdatedAt   time.Time
}

// LoginFailureStore keeps LoginFailure rows, in the database so that every
// node sees the same counts and locks.
type LoginFailureStore interface {
	// GetLoginFailure returns the key's state; ErrNotFound when there is
	// none.
	GetLoginFailure(ctx context.Context, realmID, key string) (*LoginFailure, error)
	// AddLoginFailure counts one more failure for the key (creating its
	// row) in one atomic statement and returns the state after it. While
	// the key is locked (now before LockedUntil) nothing is counted: those
	// attempts are refused without a look at the password.
	AddLoginFailure(ctx context.Context, realmID, key string, now time.Time) (*LoginFailure, error)
	// LockLogin locks the key until the given time, resets its failures
	// and counts a lockout, only if it has at least threshold failures;
	// of concurrent callers one locks. It reports whether it locked.
	// userID is the user whose address the key is ("" for an unknown
	// one), recorded for the users list's locked filter.
	LockLogin(ctx context.Context, realmID, key, userID string, threshold int, until, now time.Time) (bool, error)
	// ClearLoginFailures forgets the key's state (after a successful
	// sign-in).
	ClearLoginFailures(ctx context.Context, realmID, key string) error
	// DeleteStaleLoginFailures deletes rows not updated since before and
	// not locked after it.
	DeleteStaleLoginFailures(ctx context.Context, before time.Time) (int64, error)
}
