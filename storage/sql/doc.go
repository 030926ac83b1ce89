// Package sql implements realm.Store on gorm, for SQLite (pure Go, ncruces
// go-sqlite3 through gormlite) and PostgreSQL (pgx through
// gorm.io/driver/postgres). It imports database/sql as dbsql.
//
// It owns the schema: the versioned SQL migrations embedded from
// migrations/, the gorm models (the domain types in realm carry no gorm
// tags), and the mapping of database errors to realm.ErrNotFound,
// *realm.ConflictError and realm.ErrUnavailable. It must not hold business
// rules: validation, authorization and invariants such as "the primary
// group is one of the groups" belong to the realm services. It never logs
// SQL or values.
//
// It keeps no copy of rows that could go stale: the one cache, decoded
// group attribute JSON for the token path, is keyed by the text just read.
//
// Times are stored as UTC TIMESTAMP with microsecond precision on both
// backends, so a value reads back equal (time.Equal) on either.
//
// SQLite writes through one connection (SetMaxOpenConns(1)): SQLite allows
// one writer at a time anyway, and a single connection makes busy errors
// impossible inside the process and makes ":memory:" databases shared by
// every caller. On a database file, the token endpoint's reads go through
// a separate pool of query-only connections (readDB), which in WAL mode
// never wait for the writer; the two hottest of them (a grant's client, an
// introspection) step their statement through the SQLite API itself
// (rawread.go). Refresh rotations that arrive while another commits share
// the next transaction, each under its own savepoint (groupcommit.go). A
// consequence for callers: inside InTx, use
// only the transaction's Store, never the outer one, or the call waits for
// the connection the transaction holds.
//
// On PostgreSQL, where every read is a round trip, concurrent reads of the
// token endpoint's and introspection's kinds share one statement
// (readbatch.go).
package sql
