package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
)

// TestMigration0016 (issue 17): realms and groups stored before migration
// 0016 read back with the password form shown and no identity-provider
// priority.
func TestMigration0016(t *testing.T) {
	beforeMigration(t, 15, func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time) {
		must(t, s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
		must(t, s.Exec(ctx, `INSERT INTO groups (id, realm_id, name, name_lower, description, attributes, created_at, updated_at)
 VALUES ('g1', 'r1', 'Staff', 'staff', '', '{}', ?, ?)`, now, now))
		must(t, s.Migrate(ctx))

		r, err := s.GetRealm(ctx, "r1")
		must(t, err)
		if r.PasswordLoginDisabled {
			t.Error("realm after 0016: PasswordLoginDisabled = true, want false")
		}
		g, err := s.GetGroup(ctx, "r1", "g1")
		must(t, err)
		if g.IDPPrimaryPriority != 0 {
			t.Errorf("group after 0016: IDPPrimaryPriority = %d, want 0", g.IDPPrimaryPriority)
		}
	})
}
