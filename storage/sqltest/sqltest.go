package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardiam/ward/storage/sql"
)

// EnvPostgres names the variable holding a DSN to a PostgreSQL server whose
// user may create databases.
const EnvPostgres = "WARD_TEST_POSTGRES"

// EnvSkipPostgres, set to 1, skips Postgres tests instead of failing them.
const EnvSkipPostgres = "WARD_SKIP_POSTGRES"

const howTo = EnvPostgres + ` is not set. Postgres tests need a PostgreSQL server:
  apt-get install -y postgresql   # or any PostgreSQL 13+
  # start a throwaway cluster, e.g.:
  #   su postgres -c '/usr/lib/postgresql/*/bin/initdb -D /tmp/pg -A trust'
  #   su postgres -c '/usr/lib/postgresql/*/bin/pg_ctl -D /tmp/pg -o "-p 55432 -k /tmp" -l /tmp/pg.log start'
  export ` + EnvPostgres + `='postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable'
Each test creates and drops its own database there (the user needs CREATEDB).
To skip Postgres tests deliberately, set ` + EnvSkipPostgres + `=1.`

// Open returns a migrated SQLite store in a temp file, closed when the test
// ends.
func Open(t testing.TB) *sql.Store {
	t.Helper()
	return open(t, SQLiteDSN(t))
}

// SQLiteDSN names a new SQLite file in a temp directory, for tests that
// open it more than once (OpenDSN): two nodes on one database.
func SQLiteDSN(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "ward.db") }

// OpenDSN returns a migrated store on dsn (SQLiteDSN, PostgresDSN), closed
// when the test ends.
func OpenDSN(t testing.TB, dsn string) *sql.Store {
	t.Helper()
	return open(t, dsn)
}

// OpenMemory returns a migrated in-memory SQLite store.
func OpenMemory(t testing.TB) *sql.Store {
	t.Helper()
	return open(t, "sqlite::memory:")
}

// OpenPostgres returns a migrated store on a fresh PostgreSQL database,
// dropped when the test ends. See PostgresDSN for when it fails or skips.
func OpenPostgres(t testing.TB) *sql.Store {
	t.Helper()
	return open(t, PostgresDSN(t))
}

func open(t testing.TB, dsn string) *sql.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sql.Open(ctx, sql.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("sqltest: open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("sqltest: migrate: %v", err)
	}
	return s
}

// PostgresDSN creates a fresh, empty database on the WARD_TEST_POSTGRES
// server and returns a DSN for it; the database is dropped when the test
// ends (after cleanups registered later, such as closing stores, have run).
// Without WARD_TEST_POSTGRES it fails the test, unless WARD_SKIP_POSTGRES=1
// asks to skip it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		if os.Getenv(EnvSkipPostgres) == "1" {
			t.Skip(EnvSkipPostgres + "=1: Postgres tests skipped on request")
		}
		t.Fatal(howTo)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("sqltest: %s is not a URL: %v", EnvPostgres, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "ward_t_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("sqltest: connect to %s server: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("sqltest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("sqltest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("sqltest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
