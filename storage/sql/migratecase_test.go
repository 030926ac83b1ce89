package sql_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// beforeMigration runs fn on a new SQLite file and a new PostgreSQL
// database, each migrated up to version (the migrations before the one a
// test is about): fn stores rows as that schema had them, then migrates.
func beforeMigration(t *testing.T, version int, fn func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time)) {
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
			if err := s.MigrateUpTo(ctx, version); err != nil {
				t.Fatal(err)
			}
			fn(t, ctx, s, time.Now().UTC().Truncate(time.Second))
		})
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
