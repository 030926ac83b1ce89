package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// Brute-force protection of the sign-in form.
//
// Per account: the realm's lock threshold (realm.RealmSettings.LockAfter,
// default 10) of consecutive failed sign-ins for one email lock sign-in
// with it for loginLockBase, doubling with each further lockout up to the
// realm's maximum lock (MaxLock, default 15 minutes); a successful sign-in
// forgets the count. The
// state is in the database (realm.LoginFailureStore), keyed by a hash of
// the lower-cased email, so all nodes agree, unknown addresses are counted
// (and locked) exactly like known ones, and no address is stored. A locked
// account, an unknown address and a wrong password get the same page, and
// each still verifies a password hash, so neither words nor timing tell
// them apart.
//
// Per address: a token bucket per client address, in memory on each node
// (oauth.IPLimiter, which also limits the token endpoint's refused
// requests). The login form's POST spends a token per request (each costs
// an argon2id verification). Over the limit is 429 with Retry-After.

const (
	loginLockBase = time.Minute
	// loginFailureTTL is how long the state of an address that is no
	// longer tried is kept (the lockout count included).
	loginFailureTTL = 24 * time.Hour
)

// lockDuration is the lock after the n-th lockout (n from 0), at most
// longest.
func lockDuration(n int, longest time.Duration) time.Duration {
	if n > 10 {
		return longest
	}
	return min(loginLockBase<<n, longest)
}

func accountKey(email string) string { return realm.LoginAccountKey(email) }

// lockout is the per-account lock of the login form: it checks a password
// and counts failures, in the database.
type lockout struct {
	store     realm.Store
	passwords *realm.Passwords
	clock     func() time.Time
	log       *slog.Logger
	failures  atomic.Uint64 // failed sign-ins on this node, for the sweep
}

// attempt is checkPassword with the per-account lock around it. The
// attempt is counted before the password is looked at, so each of many
// concurrent guesses takes its own number: no more than
// the realm's threshold of them are ever verified before the lock lands.
// Attempts beyond that, and any while locked, get the locked answer
// without a verification of the real hash (a dummy one keeps the timing).
//
// allowed, when set, is asked about a user whose password is right: a
// refusal (errNetworkRefused) counts as a failed attempt, like a wrong
// password, and the user is not returned.
func (l *lockout) attempt(ctx context.Context, r *realm.Realm, email, password string, allowed func(*realm.User) (bool, error)) (*realm.User, error) {
	now := l.clock()
	key := accountKey(email)
	state, err := l.store.AddLoginFailure(ctx, r.ID, key, now)
	if err != nil {
		return nil, err
	}
	locked := state.LockedUntil != nil && now.Before(*state.LockedUntil)
	threshold := r.Settings.LockAfter()
	if locked || state.Failures > threshold {
		l.passwords.Verify(dummyHash(), password)
		l.event(ctx, r, email, realm.EventUserLoginFailed, map[string]any{"reason": "locked"})
		if !locked {
			l.lock(ctx, r, email, key, state, now)
		}
		return nil, nil
	}
	u, err := l.checkPassword(ctx, r.ID, email, password)
	if err != nil {
		return nil, err
	}
	if u != nil && allowed != nil {
		ok, err := allowed(u)
		if err != nil {
			return nil, err
		}
		if !ok {
			l.event(ctx, r, email, realm.EventUserLoginFailed, map[string]any{"reason": "network", "consecutive_failures": state.Failures})
			if state.Failures >= threshold {
				l.lock(ctx, r, email, key, state, now)
			}
			return nil, errNetworkRefused
		}
	}
	if u != nil {
		if err := l.store.ClearLoginFailures(ctx, r.ID, key); err != nil {
			l.log.WarnContext(ctx, "login: clearing login failures", "realm", r.Name, "err", err)
		}
		return u, nil
	}
	l.event(ctx, r, email, realm.EventUserLoginFailed, map[string]any{"reason": "credentials", "consecutive_failures": state.Failures})
	if state.Failures >= threshold {
		l.lock(ctx, r, email, key, state, now)
	}
	l.sweep(ctx)
	return nil, nil
}

// lock locks key after its threshold-th failure; of concurrent
// callers one locks and writes the lockout event.
func (l *lockout) lock(ctx context.Context, r *realm.Realm, email, key string, state *realm.LoginFailure, now time.Time) {
	d := lockDuration(state.Lockouts, r.Settings.MaxLock())
	userID := ""
	if u, err := l.store.GetUserByEmail(ctx, r.ID, email); err == nil && u.RealmID == r.ID {
		userID = u.ID
	}
	locked, err := l.store.LockLogin(ctx, r.ID, key, userID, r.Settings.LockAfter(), now.Add(d), now)
	if err != nil {
		// The failures stay counted, so the next attempt locks.
		l.log.WarnContext(ctx, "login: locking sign-in", "realm", r.Name, "err", err)
		return
	}
	if locked {
		l.event(ctx, r, email, realm.EventUserLockedOut, map[string]any{"lockout": state.Lockouts + 1, "seconds": int(d / time.Second)})
	}
}

// event writes an audit event about sign-in with email: for an
// account of the realm it names the user; an unknown address is only
// logged, without the address, so guessing cannot fill the audit log.
// Passwords never appear.
func (l *lockout) event(ctx context.Context, r *realm.Realm, email string, typ realm.EventType, details map[string]any) {
	u, err := l.store.GetUserByEmail(ctx, r.ID, email)
	if err != nil || u == nil || u.RealmID != r.ID {
		l.log.InfoContext(ctx, "login: sign-in refused for an unknown address", "realm", r.Name, "event", typ)
		return
	}
	appendUserEvent(ctx, l.store, l.log, l.clock, r, u.ID, typ, details)
}

// appendUserEvent writes an audit event by Ward itself about the realm's
// user; a failure is logged, never shown to the one signing in.
func appendUserEvent(ctx context.Context, store realm.Store, log *slog.Logger, clock func() time.Time, r *realm.Realm,
	userID string, typ realm.EventType, details map[string]any) {
	e := &realm.Event{ID: realm.NewID(clock(), nil), OrgID: r.OrgID, RealmID: r.ID, Type: typ,
		ActorType: "system", TargetType: "user", TargetID: userID, Details: details, Time: clock().UTC()}
	if err := store.AppendEvent(ctx, e); err != nil {
		log.WarnContext(ctx, "login: audit event not written", "realm", r.Name, "event", typ, "err", err)
	}
}

// sweep deletes stale rows now and then (every 256th failure
// on this node), in the background.
func (l *lockout) sweep(ctx context.Context) {
	if l.failures.Add(1)%256 != 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	before := l.clock().Add(-loginFailureTTL)
	go func() {
		if _, err := l.store.DeleteStaleLoginFailures(ctx, before); err != nil {
			l.log.WarnContext(ctx, "login: deleting stale login failures", "err", err)
		}
	}()
}

// checkPassword returns the active user of the realm with that email and
// password, or nil. Every path that finds no usable account still verifies
// a password hash, so timing does not tell them apart.
func (l *lockout) checkPassword(ctx context.Context, realmID, email, password string) (*realm.User, error) {
	u, err := l.store.GetUserByEmail(ctx, realmID, email)
	if errors.Is(err, realm.ErrNotFound) || email == "" {
		l.passwords.Verify(dummyHash(), password)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.Active || u.PasswordHash == "" || u.RealmID != realmID {
		l.passwords.Verify(dummyHash(), password)
		return nil, nil
	}
	if !l.passwords.Verify(u.PasswordHash, password) {
		return nil, nil
	}
	return u, nil
}

// loginRateLimited answers the login form's POST when its address is over
// its limit; it returns false when the POST may go on.
func (h *Handler) loginRateLimited(c echo.Context, page loginPage) (bool, error) {
	d := h.loginIPs.Wait(h.proxies.ClientIP(c.Request()), h.clock())
	if d <= 0 {
		return false, nil
	}
	c.Response().Header().Set("Retry-After", oauth.RetryAfter(d))
	page.Error = "Too many sign-in attempts from your network. Try again in " + oauth.RetryAfter(d) + " seconds."
	return true, h.renderLoginForm(c, http.StatusTooManyRequests, page)
}
