package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	sqlstore "github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// migrationsCount is how many files migrations/ holds; bump it with each new
// migration.
const migrationsCount = 7

func testMigrateTwice(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	n, err := s.PendingMigrations(ctx)
	if err != nil {
		t.Fatalf("PendingMigrations before: %v", err)
	}
	if n != migrationsCount {
		t.Fatalf("PendingMigrations before = %d, want %d", n, migrationsCount)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if n, err := s.PendingMigrations(ctx); err != nil || n != 0 {
		t.Fatalf("PendingMigrations after = %d, %v; want 0", n, err)
	}
	// A second run applies nothing and fails on nothing (a re-run of
	// CREATE TABLE would fail).
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n, err := s.PendingMigrations(ctx); err != nil || n != 0 {
		t.Fatalf("PendingMigrations after second run = %d, %v; want 0", n, err)
	}
}

func TestMigrateSQLite(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "sub", "ward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	testMigrateTwice(t, s)
}

func TestMigratePostgres(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: sqltest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	testMigrateTwice(t, s)
}
