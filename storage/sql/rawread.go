package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"
)

// Raw reads (SQLite files). The hottest reads — one per introspection —
// return one row of a dozen or more columns. Through database/sql, every
// row costs the driver a column-name and declared-type lookup per column
// and a boxed value per cell, then database/sql a conversion per cell: more
// than SQLite spends running the statement. A raw read borrows one of the
// read pool's connections and steps its own prepared statement through the
// SQLite API, reading each column as the type it is. Same connection pool,
// same snapshot rules, same answers; elsewhere (PostgreSQL, an in-memory
// SQLite store, inside a transaction) the statement runs through
// database/sql as before.

// rawStmts holds the statements prepared on the read pool's connections,
// by connection and query. The read pool keeps its connections for the
// store's lifetime (see Open), so a statement never outlives its
// connection; Close finalizes them before closing the pool.
type rawStmts struct {
	mu     sync.Mutex
	stmts  map[rawStmtKey]*sqlite3.Stmt
	closed bool
}

type rawStmtKey struct {
	conn  *sqlite3.Conn
	query string
}

// rawReads reports whether this store reads through rawRead.
func (s *Store) rawReads() bool { return s.raw != nil && !s.inTx }

// rawRead runs query (? placeholders) on a read connection, binding args
// (strings only) and calling row for each result row with the statement
// positioned on it. Column values read through the statement are valid
// only during that call.
func (s *Store) rawRead(ctx context.Context, query string, args []string, row func(st *sqlite3.Stmt) error) error {
	conn, err := s.readDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(sqlite3driver.Conn)
		if !ok {
			return fmt.Errorf("storage/sql: read connection is a %T, not SQLite's", dc)
		}
		c := dconn.Raw()
		st, err := s.raw.stmt(c, query)
		if err != nil {
			return err
		}
		defer st.Reset() //nolint:errcheck // a reset's error is the step's, returned below
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		for i, a := range args {
			if err := st.BindText(i+1, a); err != nil {
				return err
			}
		}
		for st.Step() {
			if err := row(st); err != nil {
				return err
			}
		}
		return st.Err()
	})
}

// stmt returns query prepared on c, preparing it on first use.
func (r *rawStmts) stmt(c *sqlite3.Conn, query string) (*sqlite3.Stmt, error) {
	key := rawStmtKey{c, query}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.stmts[key]; st != nil {
		return st, nil
	}
	if r.closed {
		return nil, errors.New("storage/sql: the store is closed")
	}
	st, tail, err := c.Prepare(query)
	if err != nil {
		return nil, err
	}
	if tail != "" {
		st.Close()
		return nil, errors.New("storage/sql: a raw read is one statement")
	}
	r.stmts[key] = st
	return st, nil
}

// close finalizes every statement, so that their connections can close.
// A statement lives in its connection's SQLite instance, which must not be
// touched while another goroutine uses the connection (a background read
// still running when the store closes, for one). So close first takes every
// connection of the read pool — it keeps its connections, at most
// sqliteReaders — and finalizes each one's statements while holding it.
// It waits for reads in flight for at most closeWait; a statement whose
// connection is not returned by then is left to the process's exit.
func (r *rawStmts) close(readDB *dbsql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	r.mu.Lock()
	r.closed = true // no statement is prepared from now on
	r.mu.Unlock()
	var held []*dbsql.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range sqliteReaders {
		conn, err := readDB.Conn(ctx)
		if err != nil {
			return
		}
		held = append(held, conn)
		conn.Raw(func(dc any) error { //nolint:errcheck // only finalizes
			dconn, ok := dc.(sqlite3driver.Conn)
			if !ok {
				return nil
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for k, st := range r.stmts {
				if k.conn == dconn.Raw() {
					st.Close()
					delete(r.stmts, k)
				}
			}
			return nil
		})
	}
}

// closeWait bounds how long Close waits for reads in flight.
const closeWait = 5 * time.Second

// rawNull reports whether column col is NULL.
func rawNull(st *sqlite3.Stmt, col int) bool { return st.ColumnType(col) == sqlite3.NULL }

// rawTime reads a timestamp column as the driver writes it
// (sqliteTimeFormat, UTC), or nil when NULL.
func rawTime(st *sqlite3.Stmt, col int) (*time.Time, error) {
	if rawNull(st, col) {
		return nil, nil
	}
	t, err := parseSQLiteTime(string(st.ColumnRawText(col)))
	if err != nil {
		return nil, fmt.Errorf("storage/sql: timestamp column %d: %w", col, err)
	}
	return &t, nil
}

// rawBlob is column col's bytes, copied, or nil when NULL or empty.
func rawBlob(st *sqlite3.Stmt, col int) []byte {
	b := st.ColumnRawBlob(col)
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
