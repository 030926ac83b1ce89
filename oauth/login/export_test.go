package login

import (
	"time"

	"github.com/wardiam/ward/realm"
)

// Internals the external tests (package login_test) need; they cannot be
// in package login because oauthtest, which runs the server, imports it.

const (
	// SessionCookie is the browser session cookie's name (the sign-in,
	// cancel and logout tests look for it).
	SessionCookie = sessionCookie
	// LoginFailed is the one answer to a refused sign-in.
	LoginFailed = loginFailed
	// LoginCancelled is access_denied's error_description after Cancel
	// (TestLoginCancel, TestLoginCancelWebMessage).
	LoginCancelled = loginCancelled
	// LoginLockThreshold is how many failures lock an account
	// (TestLoginLockoutConcurrentGuesses).
	LoginLockThreshold = realm.LoginLockThreshold
	// LoginFailureTTL is how long a login failure row is kept (TestSweep).
	LoginFailureTTL = loginFailureTTL
)

// AccountKey is the key of email's login failure row (the lockout and
// cancel tests read the row).
func AccountKey(email string) string { return accountKey(email) }

// SessionLifespan is how long h's browser sessions live
// (TestLogoutRefusesUnregisteredRedirect lets one expire).
func SessionLifespan(h *Handler) time.Duration { return h.sessionLifespan }
