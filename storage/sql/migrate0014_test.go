package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
)

// TestMigration0014 (issue 16): realms and groups stored before migration
// 0014 read back with an empty IP allow list (no restriction), in the
// plain reads, the grants' claims reads and NetworkLists.
func TestMigration0014(t *testing.T) {
	beforeMigration(t, 13, func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time) {
		must(t, s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
		must(t, s.Exec(ctx, `INSERT INTO groups (id, realm_id, name, name_lower, description, attributes, created_at, updated_at)
 VALUES ('g1', 'r1', 'Staff', 'staff', '', '{}', ?, ?)`, now, now))
		must(t, s.Exec(ctx, `INSERT INTO users (id, realm_id, email, email_lower, first_name, last_name, active, primary_group,
 password_hash, created_at, updated_at) VALUES ('u1', 'r1', 'a@example.com', 'a@example.com', 'A', 'B', ?, 'g1', '', ?, ?)`, true, now, now))
		must(t, s.Exec(ctx, `INSERT INTO user_groups (realm_id, user_id, group_id) VALUES ('r1', 'u1', 'g1')`))
		must(t, s.Migrate(ctx))

		empty := func(what string, l []string) {
			t.Helper()
			if l == nil || len(l) != 0 {
				t.Errorf("%s after 0014: %#v, want an empty list", what, l)
			}
		}
		r, err := s.GetRealm(ctx, "r1")
		must(t, err)
		empty("realm list", r.IPAllowList)
		g, err := s.GetGroup(ctx, "r1", "g1")
		must(t, err)
		empty("group list", g.IPAllowList)
		uc, err := s.GetUserClaims(ctx, "r1", "u1")
		must(t, err)
		empty("GetUserClaims realm list", uc.RealmIPAllowList)
		if len(uc.Groups) != 1 {
			t.Fatalf("GetUserClaims groups = %+v, want Staff", uc.Groups)
		}
		empty("GetUserClaims group list", uc.Groups[0].IPAllowList)
		rl, gl, err := s.NetworkLists(ctx, "r1")
		must(t, err)
		empty("NetworkLists realm list", rl)
		if len(gl) != 0 {
			t.Errorf("NetworkLists groups after 0014 = %v, want none", gl)
		}
	})
}
