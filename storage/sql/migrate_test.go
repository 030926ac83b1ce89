package sql_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// migrationsCount is how many files migrations/ holds (read from the
// directory, so migrations added side by side need no edit here).
func migrationsCount(t *testing.T) int {
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return len(files)
}

func testMigrateTwice(t *testing.T, s *sql.Store) {
	ctx := context.Background()
	n, err := s.PendingMigrations(ctx)
	if err != nil {
		t.Fatalf("PendingMigrations before: %v", err)
	}
	if want := migrationsCount(t); n != want {
		t.Fatalf("PendingMigrations before = %d, want %d", n, want)
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
	path := filepath.Join(t.TempDir(), "sub", "ward.db")
	s, err := sql.Open(context.Background(), sql.Config{DSN: "sqlite:" + path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	testMigrateTwice(t, s)
	// The database and its directory are the owner's alone, WAL included.
	// (The -shm file, only an index of WAL page numbers, is made by the
	// driver with the process umask; the 0700 directory keeps others out.)
	for _, p := range []string{filepath.Dir(path), path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", filepath.Base(p), mode)
		}
	}
}

func TestMigratePostgres(t *testing.T) {
	s, err := sql.Open(context.Background(), sql.Config{DSN: sqltest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	testMigrateTwice(t, s)
}
