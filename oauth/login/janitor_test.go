package login_test

import (
	"testing"
	"time"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestSweep: the janitor deletes expired revocations, action tokens and
// stale login failures, and keeps what has not expired.
func TestSweep(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	env, now := f.Env, f.Env.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.Store.RevokeToken(env.Ctx, f.Realm.ID, "old", now.Add(-time.Minute)))
	must(env.Store.RevokeToken(env.Ctx, f.Realm.ID, "live", now.Add(time.Hour)))
	for hash, exp := range map[string]time.Time{"old-link": now.Add(-time.Minute), "live-link": now.Add(time.Hour)} {
		must(env.Store.CreateActionToken(env.Ctx, &realm.ActionToken{Hash: []byte(hash), RealmID: f.Realm.ID,
			UserID: f.User.ID, Purpose: hash, ExpiresAt: exp, CreatedAt: now.Add(-2 * time.Minute)}))
	}
	failures := env.Store
	if _, err := failures.AddLoginFailure(env.Ctx, f.Realm.ID, "stale", now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}

	env.OAuth.Sweep(env.Ctx)
	env.Login.Sweep(env.Ctx)

	// What the sweep deleted, a second delete no longer finds.
	for what, del := range map[string]func() (int64, error){
		"revoked tokens": func() (int64, error) { return env.Store.DeleteExpiredRevokedTokens(env.Ctx, now) },
		"action tokens":  func() (int64, error) { return env.Store.DeleteExpiredActionTokens(env.Ctx, now) },
		"login failures": func() (int64, error) { return failures.DeleteStaleLoginFailures(env.Ctx, now.Add(-loginFailureTTL)) },
	} {
		if n, err := del(); err != nil || n != 0 {
			t.Errorf("%s left by the sweep: %d, %v", what, n, err)
		}
	}
	if revoked, err := env.Store.IsTokenRevoked(env.Ctx, f.Realm.ID, "live"); err != nil || !revoked {
		t.Errorf("unexpired revocation swept: %v, %v", revoked, err)
	}
	if _, err := env.Store.UseActionToken(env.Ctx, []byte("live-link"), now); err != nil {
		t.Errorf("unexpired link swept: %v", err)
	}
}
