package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/gormlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/wardiam/ward/realm"
)

// Config says which database to open.
type Config struct {
	// DSN is "sqlite:PATH", "sqlite::memory:" or a "postgres://" URL.
	DSN string
	// Logger receives migration progress; nil discards. SQL is never logged.
	Logger *slog.Logger
	// MaxOpenConns bounds the Postgres pool (default 20). SQLite always
	// uses one connection.
	MaxOpenConns int
}

// Dialect names a supported database.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is realm.Store on a gorm database. A Store made by InTx is bound to
// that transaction.
type Store struct {
	db      *gorm.DB
	sqlDB   *dbsql.DB
	dialect Dialect
	log     *slog.Logger
	inTx    bool
	// stmts holds the token endpoint's statements (client, refresh and
	// user lookups, refresh rotation), prepared once per pool: on SQLite,
	// preparing costs more than running them.
	// (gorm's PrepareStmt mode is not used: it holds a lock while waiting
	// for a connection, which deadlocks with SQLite's single connection
	// held by a transaction.) Shared with the Stores made by InTx, which
	// do not use them.
	stmts *sync.Map // stmtKey → *dbsql.Stmt
	// readDB serves the hot path's reads (query) outside transactions. On
	// a SQLite file it is a pool of query-only connections beside the one
	// writer: in WAL mode readers never wait for the writer, so token
	// grants' lookups do not queue behind other grants' inserts. Elsewhere
	// it is sqlDB.
	readDB *dbsql.DB
	// attrs decodes GetClientClaims' group attribute values once per
	// distinct stored text; nil in a transaction's Store.
	attrs *attrCache
	// group lets concurrent writeTx calls share a transaction on SQLite
	// (groupcommit.go); nil on Postgres, where writers run side by side.
	group *groupCommit
	// raw holds the statements of the hottest reads on a SQLite file's
	// read pool (rawread.go); nil elsewhere.
	raw *rawStmts
	// batches lets concurrent hot-path reads share a statement on
	// PostgreSQL (readbatch.go); nil on SQLite, where a read is no round
	// trip.
	batches *readBatches
	// tokenGens are TokenStateGeneration's counters, shared by every Store
	// made from this one (tokenepochs.go).
	tokenGens *tokenGenerations
	// tokenChanges collects, in a transaction's Store, the realms whose
	// token state the transaction changes; nil outside one.
	tokenChanges *tokenChanges
}

var _ realm.Store = (*Store)(nil)

// sqliteTimeFormat is fixed-width UTC text: it sorts as it compares, which
// RFC 3339 with trimmed fractions does not, and SQLite's date functions
// read it. Postgres TIMESTAMP has microsecond precision; so do we.
const sqliteTimeFormat = "2006-01-02 15:04:05.000000"

// Open connects to the database named by cfg.DSN. It does not migrate;
// call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true, // we open transactions where a change spans rows
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	var (
		dialector gorm.Dialector
		dialect   Dialect
		sqliteMem bool
	)
	switch {
	case strings.HasPrefix(cfg.DSN, "sqlite:"):
		dialect = SQLite
		path := strings.TrimPrefix(cfg.DSN, "sqlite:")
		if path == "" {
			return nil, errors.New("storage/sql: sqlite DSN needs a path: sqlite:PATH or sqlite::memory:")
		}
		sqliteMem = path == ":memory:"
		if !sqliteMem {
			if dir := filepath.Dir(path); dir != "." {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return nil, fmt.Errorf("storage/sql: create database directory: %w", err)
				}
			}
			// A new database file is the owner's alone (SQLite would make
			// it 0644); its -wal and -shm files take the same mode.
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return nil, fmt.Errorf("storage/sql: create database file: %w", err)
			}
			f.Close()
		}
		dialector = gormlite.Open(sqliteURI(path, sqliteMem))
	case strings.HasPrefix(cfg.DSN, "postgres://"), strings.HasPrefix(cfg.DSN, "postgresql://"):
		dialect = Postgres
		dialector = postgres.Open(cfg.DSN)
	default:
		return nil, errors.New("storage/sql: unsupported DSN: want sqlite:PATH, sqlite::memory: or postgres://")
	}
	db, err := gorm.Open(dialector, gcfg)
	if err != nil {
		// The error may quote the DSN, which can carry a password.
		return nil, fmt.Errorf("storage/sql: open %s database: %w", dialect, redactErr(err, cfg.DSN))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("storage/sql: %w", err)
	}
	if dialect == SQLite {
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		// An in-memory database lives as long as its connection.
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, sqlDB: sqlDB, readDB: sqlDB, dialect: dialect, log: log, stmts: new(sync.Map), attrs: newAttrCache(),
		tokenGens: new(tokenGenerations)}
	if err := s.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("storage/sql: %w", redactErr(err, cfg.DSN))
	}
	if dialect == SQLite && !sqliteMem {
		// Opened after the writer, which has switched the file to WAL.
		readDB, err := dbsql.Open("sqlite3", sqliteReaderURI(strings.TrimPrefix(cfg.DSN, "sqlite:")))
		if err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("storage/sql: open sqlite readers: %w", err)
		}
		readDB.SetMaxOpenConns(sqliteReaders)
		readDB.SetMaxIdleConns(sqliteReaders)
		// Kept open, never closed for idleness: raw reads keep prepared
		// statements on them (rawread.go).
		readDB.SetConnMaxIdleTime(0)
		readDB.SetConnMaxLifetime(0)
		s.readDB = readDB
		s.raw = &rawStmts{stmts: map[rawStmtKey]*sqlite3.Stmt{}}
	}
	if dialect == SQLite {
		s.group = new(groupCommit)
	} else {
		s.batches = newReadBatches(s)
	}
	return s, nil
}

// sqliteReaders is how many read connections a SQLite file store keeps
// beside its writer: one per core of a small server is plenty, and each
// costs a SQLite instance's memory.
const sqliteReaders = 4

// prepared returns the statement for query (written with ? placeholders)
// on db (readDB or sqlDB; a query is only ever run on one of them),
// preparing it on first use (the tables exist only after Migrate).
func (s *Store) prepared(ctx context.Context, db *dbsql.DB, query string) (*dbsql.Stmt, error) {
	key := stmtKey{db, query}
	if st, ok := s.stmts.Load(key); ok {
		return st.(*dbsql.Stmt), nil
	}
	// Prepared outside any lock: preparing may wait for a connection (on
	// SQLite the writer's, held by a transaction), and lookups of other
	// statements must not wait with it. Of two racing preparations one is
	// kept.
	st, err := db.PrepareContext(ctx, s.rebind(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*dbsql.Stmt), nil
	}
	return st, nil
}

// stmtKey names a prepared statement: a query on one of the pools.
type stmtKey struct {
	db    *dbsql.DB
	query string
}

// query runs a hot-path read: through the transaction inside InTx, else
// through the statement prepared once.
func (s *Store) query(ctx context.Context, query string, args ...any) (*dbsql.Rows, error) {
	if s.inTx {
		return s.q(ctx).Raw(query, args...).Rows()
	}
	st, err := s.prepared(ctx, s.readDB, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// exec runs a hot-path write: through the transaction inside InTx, else
// through the statement prepared once.
func (s *Store) exec(ctx context.Context, query string, args ...any) (dbsql.Result, error) {
	if s.inTx {
		res := s.q(ctx).Exec(query, args...)
		if res.Error != nil {
			return nil, res.Error
		}
		return rowsAffected(res.RowsAffected), nil
	}
	st, err := s.prepared(ctx, s.sqlDB, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// execFunc runs one statement of a writeTx transaction; every statement,
// reads included, must go through it (a SQLite memory store has a single
// connection, which the transaction holds).
type execFunc func(query string, args ...any) (dbsql.Result, error)

// writeTx runs fn's statements, which must be among queries, in one
// transaction, each through its statement prepared once (gorm's
// transactions would parse them every time); inside InTx it runs them in
// that transaction. On SQLite, calls made at the same time share a
// transaction, each under its own savepoint (groupcommit.go); fn's
// statements run in that order and see only committed data and the
// writes of calls before it in the same transaction. The statements are prepared before the transaction
// begins: preparing needs a connection, and SQLite's one is the
// transaction's.
func (s *Store) writeTx(ctx context.Context, queries []string, fn func(exec execFunc) error) error {
	if s.inTx {
		return fn(func(q string, args ...any) (dbsql.Result, error) { return s.exec(ctx, q, args...) })
	}
	stmts := make(map[string]*dbsql.Stmt, len(queries))
	for _, q := range queries {
		st, err := s.prepared(ctx, s.sqlDB, q)
		if err != nil {
			return err
		}
		stmts[q] = st
	}
	if s.group != nil {
		return s.groupWrite(&txCall{ctx: ctx, stmts: stmts, fn: fn, done: make(chan bool, 1)})
	}
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = fn(func(q string, args ...any) (dbsql.Result, error) {
		st := stmts[q]
		if st == nil {
			return nil, fmt.Errorf("storage/sql: statement not declared to writeTx: %.40s", q)
		}
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	})
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rowsAffected is the dbsql.Result of a statement run through gorm.
type rowsAffected int64

func (r rowsAffected) LastInsertId() (int64, error) {
	return 0, errors.New("storage/sql: no insert id")
}
func (r rowsAffected) RowsAffected() (int64, error) { return int64(r), nil }

// sqliteURI builds the driver's file: URI with the pragmas we rely on.
func sqliteURI(path string, memory bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)") // first, as the driver asks
	q.Add("_pragma", "foreign_keys(1)")
	if !memory {
		q.Add("_pragma", "journal_mode(wal)")
		// WAL with NORMAL is durable across process crashes (kill -9),
		// which is the promise; only an OS crash may lose the last commits.
		q.Add("_pragma", "synchronous(normal)")
	}
	q.Set("_txlock", "immediate") // take the write lock up front: no upgrade deadlocks
	q.Set("_timefmt", sqliteTimeFormat)
	if !memory {
		// The journal and WAL files take the database file's mode (0600).
		q.Set("modeof", path)
	}
	p := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + p + "?" + q.Encode()
}

// sqliteReaderURI is the URI of the read pool's connections: query-only,
// so a bug can never make a second writer.
func sqliteReaderURI(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	q.Set("_timefmt", sqliteTimeFormat)
	p := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + p + "?" + q.Encode()
}

func redactErr(err error, dsn string) error {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the underlying gorm handle, for packages that keep their own
// tables in the same database. It is bound to the transaction in a Store
// made by InTx.
func (s *Store) DB() *gorm.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.inTx {
		return s.db.WithContext(ctx).Exec("SELECT 1").Error
	}
	return s.sqlDB.PingContext(ctx)
}

// Close closes the database. On a transaction's Store it does nothing.
func (s *Store) Close() error {
	if s.inTx {
		return nil
	}
	s.stmts.Range(func(k, st any) bool {
		st.(*dbsql.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
	if s.raw != nil {
		s.raw.close(s.readDB)
	}
	if s.readDB != s.sqlDB {
		s.readDB.Close()
	}
	return s.sqlDB.Close()
}

// InTx runs fn in one transaction. Inside a transaction it reuses it, so
// services can compose operations that each use InTx.
func (s *Store) InTx(ctx context.Context, fn func(tx realm.Store) error) error {
	return s.tx(ctx, func(tx *Store) error { return fn(tx) })
}

func (s *Store) tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.inTx {
		return fn(s)
	}
	changes := new(tokenChanges)
	err := s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		tx := &Store{db: gtx, sqlDB: s.sqlDB, readDB: s.readDB, dialect: s.dialect, log: s.log, inTx: true, stmts: s.stmts,
			tokenGens: s.tokenGens, tokenChanges: changes}
		if err := fn(tx); err != nil {
			return err
		}
		return changes.bump(gtx)
	})
	// After the commit (or rollback): a read that began before it is not
	// used once the call that changed the rows has returned.
	changes.after(s.tokenGens)
	// Begin and commit failures come from gorm, not from a store method:
	// classify them too (a lost connection is 503, not 500).
	return mapErr(err)
}

// q is the store's handle for one call.
func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// dbTime converts a time to what both backends store: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

// fromDBTime restores UTC on a read time (drivers may attach a location).
func fromDBTime(t time.Time) time.Time { return t.UTC() }

func fromDBTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
