package sql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
)

// TestMigration0018 (issue 19): a user's sign-ins and a realm stored before
// migration 0018 read as before after it: the sessions are listed (with no
// address), the realm has every default setting and no logo, a lock from
// before is not the locked filter's (it names no user), and a lock after
// it is.
func TestMigration0018(t *testing.T) {
	beforeMigration(t, 17, func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time) {
		must(t, s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
		must(t, s.Exec(ctx, `INSERT INTO users (id, realm_id, email, email_lower, first_name, last_name, active, primary_group,
 password_hash, created_at, updated_at) VALUES ('u1', 'r1', 'a@example.com', 'a@example.com', 'A', 'B', ?, '', 'h', ?, ?)`, true, now, now))
		must(t, s.Exec(ctx, `INSERT INTO browser_sessions (id, realm_id, user_id, token_hash, auth_time, expires_at, revoked, created_at)
 VALUES ('s1', 'r1', 'u1', ?, ?, ?, ?, ?)`, []byte("hash"), now, now.Add(time.Hour), false, now))
		must(t, s.Exec(ctx, `INSERT INTO refresh_tokens (id, realm_id, family_id, session_id, user_id, client_id, access_jti,
 offline, data, used, revoked, expires_at, created_at) VALUES ('rt1', 'r1', 'fam1', 's1', 'u1', 'web', 'at1', ?, ?, ?, ?, ?, ?)`,
			false, []byte("{}"), false, false, now.Add(time.Hour), now))
		must(t, s.Exec(ctx, `INSERT INTO login_failures (realm_id, account_key, failures, lockouts, locked_until, updated_at)
 VALUES ('r1', 'old-key', 0, 1, ?, ?)`, now.Add(time.Hour), now))
		must(t, s.Migrate(ctx))

		got, err := s.ListUserSessions(ctx, "r1", "u1", now.Add(time.Minute))
		must(t, err)
		if len(got) != 2 || got[0].IPAddress != "" || got[1].IPAddress != "" {
			t.Errorf("sessions stored before 0018: %+v, want the browser session and its chain, without address", got)
		}
		r, err := s.GetRealm(ctx, "r1")
		must(t, err)
		if r.Settings != (realm.RealmSettings{}) || r.Settings.LockAfter() != realm.LoginLockThreshold {
			t.Errorf("settings of a realm from before: %+v, want every default", r.Settings)
		}
		if _, _, err := s.GetRealmLogo(ctx, "r1"); !errors.Is(err, realm.ErrNotFound) {
			t.Errorf("logo of a realm from before: %v, want none", err)
		}
		locked := func() int {
			t.Helper()
			page, total, err := s.SearchUsers(ctx, "r1", realm.UserSearch{Locked: true}, now)
			must(t, err)
			if total != len(page.Items) {
				t.Errorf("total %d for %d items", total, len(page.Items))
			}
			return total
		}
		if n := locked(); n != 0 {
			t.Errorf("users locked by a lock from before 0018: %d, want 0 (it names no user)", n)
		}
		for range 3 {
			_, err := s.AddLoginFailure(ctx, "r1", "new-key", now)
			must(t, err)
		}
		ok, err := s.LockLogin(ctx, "r1", "new-key", "u1", 3, now.Add(time.Hour), now)
		must(t, err)
		if n := locked(); !ok || n != 1 {
			t.Errorf("after a lock naming u1: locked %v, %d users locked, want 1", ok, n)
		}
	})
}
