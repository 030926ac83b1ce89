package sql_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestMigration0017 (issue 18): a realm stored before migration 0017 has
// a token state epoch after it, which its next change moves, so that
// introspection may keep its reads there too.
func TestMigration0017(t *testing.T) {
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
			if err := s.MigrateUpTo(ctx, 16); err != nil {
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
			must(s.Migrate(ctx))

			before, err := s.TokenEpochs(ctx, []string{"r1"})
			must(err)
			if _, ok := before["r1"]; !ok {
				t.Fatalf("TokenEpochs after 0017 = %v, want the realm stored before it", before)
			}
			must(s.RevokeToken(ctx, "r1", "jti-1", now.Add(time.Hour)))
			after, err := s.TokenEpochs(ctx, []string{"r1"})
			must(err)
			if after["r1"] == before["r1"] {
				t.Errorf("a revocation left the migrated realm's epoch at %d", after["r1"])
			}
		})
	}
}
