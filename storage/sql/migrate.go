package sql

import (
	"context"

	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded files in version order. File names are
// NNNN_name.sql; numbers are unique and never reused.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("storage/sql: migration %q: name must be NNNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("storage/sql: migrations %q and %q share version %d", prev, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(migrationFS, path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`

// migrationLockID keys the Postgres advisory lock that serializes nodes
// migrating at the same time ("ward" in ASCII).
const migrationLockID = 0x77617264

// Migrate applies the pending migrations in order, each in its own
// transaction together with its schema_migrations row, so a migration lands
// entirely or not at all and is never applied twice. Several nodes may
// call it at once: Postgres serializes them with an advisory lock, SQLite
// with its write lock.
func (s *Store) Migrate(ctx context.Context) error {
	if s.inTx {
		return fmt.Errorf("storage/sql: Migrate inside a transaction")
	}
	all, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.sqlDB.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("storage/sql: create schema_migrations: %w", err)
	}
	for _, m := range all {
		applied, err := s.applyMigration(ctx, m)
		if err != nil {
			return fmt.Errorf("storage/sql: migration %s: %w", m.name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "applied migration", "version", m.version, "name", m.name)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) (applied bool, err error) {
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if s.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
			return false, err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.version, m.name, dbTime(time.Now())); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// PendingMigrations counts the embedded migrations not yet applied.
func (s *Store) PendingMigrations(ctx context.Context) (int, error) {
	all, err := migrations()
	if err != nil {
		return 0, err
	}
	applied := map[int]bool{}
	rows, err := s.sqlDB.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		// No table yet: nothing is applied. Ask the catalog rather than
		// guess from the error text.
		exists, cerr := s.tableExists(ctx, "schema_migrations")
		if cerr != nil || exists {
			return 0, fmt.Errorf("storage/sql: read schema_migrations: %w", err)
		}
		return len(all), nil
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range all {
		if !applied[m.version] {
			n++
		}
	}
	return n, nil
}

func (s *Store) tableExists(ctx context.Context, name string) (bool, error) {
	var q string
	if s.dialect == Postgres {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	} else {
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	}
	var n int
	err := s.sqlDB.QueryRowContext(ctx, q, name).Scan(&n)
	return n > 0, err
}

// rebind turns ? placeholders into $n for Postgres in the few statements
// run without gorm.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
