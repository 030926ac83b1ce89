package login_test

import (
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// TestSweep: the janitor deletes expired revocations, action tokens and
// stale login failures, and keeps what has not expired.
func TestSweep(t *testing.T) {
	f := newLoginFixture(t, openStore)
	env, now := f.env, f.env.now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.store.RevokeToken(env.ctx, f.realm.ID, "old", now.Add(-time.Minute)))
	must(env.store.RevokeToken(env.ctx, f.realm.ID, "live", now.Add(time.Hour)))
	for hash, exp := range map[string]time.Time{"old-link": now.Add(-time.Minute), "live-link": now.Add(time.Hour)} {
		must(env.store.CreateActionToken(env.ctx, &realm.ActionToken{Hash: []byte(hash), RealmID: f.realm.ID,
			UserID: f.user.ID, Purpose: hash, ExpiresAt: exp, CreatedAt: now.Add(-2 * time.Minute)}))
	}
	failures := env.store
	if _, err := failures.AddLoginFailure(env.ctx, f.realm.ID, "stale", now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}

	env.srv.Sweep(env.ctx)

	// What the sweep deleted, a second delete no longer finds.
	for what, del := range map[string]func() (int64, error){
		"revoked tokens": func() (int64, error) { return env.store.DeleteExpiredRevokedTokens(env.ctx, now) },
		"action tokens":  func() (int64, error) { return env.store.DeleteExpiredActionTokens(env.ctx, now) },
		"login failures": func() (int64, error) { return failures.DeleteStaleLoginFailures(env.ctx, now.Add(-loginFailureTTL)) },
	} {
		if n, err := del(); err != nil || n != 0 {
			t.Errorf("%s left by the sweep: %d, %v", what, n, err)
		}
	}
	if revoked, err := env.store.IsTokenRevoked(env.ctx, f.realm.ID, "live"); err != nil || !revoked {
		t.Errorf("unexpired revocation swept: %v, %v", revoked, err)
	}
	if _, err := env.store.UseActionToken(env.ctx, []byte("live-link"), now); err != nil {
		t.Errorf("unexpired link swept: %v", err)
	}
}
