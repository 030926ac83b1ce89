package sql_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestMigration0016 (issue 17): realms and groups stored before migration
// 0016 read back with the password form shown and no identity-provider
// priority.
func TestMigration0016(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"SQLite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "ward.db") },
		"Postgres": func(t *testing.T) string { return sqltest.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := sql.Open(ctx, sql.Config{DSN: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.MigrateUpTo(ctx, 15); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
			must(s.Exec(ctx, `INSERT INTO groups (id, realm_id, name, name_lower, description, attributes, created_at, updated_at)
 VALUES ('g1', 'r1', 'Staff', 'staff', '', '{}', ?, ?)`, now, now))
			must(s.Migrate(ctx))

			r, err := s.GetRealm(ctx, "r1")
			must(err)
			if r.PasswordLoginDisabled {
				t.Error("realm after 0016: PasswordLoginDisabled = true, want false")
			}
			g, err := s.GetGroup(ctx, "r1", "g1")
			must(err)
			if g.IDPPrimaryPriority != 0 {
				t.Errorf("group after 0016: IDPPrimaryPriority = %d, want 0", g.IDPPrimaryPriority)
			}
		})
	}
}
