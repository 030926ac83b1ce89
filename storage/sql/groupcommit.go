package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"sync"
)

// Group commit (SQLite). A SQLite database has one writer, so concurrent
// writeTx calls (refresh-token rotations under load) wait for each other
// anyway; instead of one transaction each, those that queue up while a
// transaction runs share the next one. Each call still runs alone inside
// it, under a savepoint: a call whose statements fail is rolled back to its
// savepoint and gets its error, the others are unaffected, and no call
// returns before the transaction holding its writes has committed. What is
// saved is a commit per call: the WAL frames of pages several calls change
// (the refresh_tokens table's and indexes' last pages) are written once,
// and the commit's bookkeeping is paid once.
//
// The first caller to find no transaction running leads: it takes the queue
// (its own call included), runs it as one transaction, and hands the lead
// to the first call queued meanwhile, so no caller stays on to serve others
// and every caller waits for at most the batch before its own.

// groupCommit queues writeTx calls for a SQLite store's writer.
type groupCommit struct {
	mu      sync.Mutex
	leading bool
	queue   []*txCall
}

// txCall is one writeTx call waiting for, or in, a group transaction.
type txCall struct {
	ctx   context.Context
	stmts map[string]*dbsql.Stmt
	fn    func(exec execFunc) error
	err   error
	// done gets true when the call has run (err is its result), false when
	// its goroutine is to lead the next transaction.
	done chan bool
}

// Savepoint statements around each call of a shared transaction.
const (
	savepointSQL   = `SAVEPOINT ward_call`
	rollbackToSQL  = `ROLLBACK TO ward_call`
	releaseSaveSQL = `RELEASE ward_call`
)

// groupWrite runs c in the next group transaction and returns its result.
func (s *Store) groupWrite(c *txCall) error {
	g := s.group
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.leading {
		g.mu.Unlock()
		if ran := <-c.done; ran {
			return c.err
		}
		// Handed the lead; c is still first in the queue.
		g.mu.Lock()
	}
	g.leading = true
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	s.runGroup(batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		g.mu.Unlock()
		next.done <- false
	} else {
		g.leading = false
		g.mu.Unlock()
	}
	return c.err
}

// runGroup runs the calls of batch in one transaction and signals each
// with its result. A call whose context ended before its turn is not run.
// If the transaction itself fails (begin, a savepoint, the commit), the
// calls that had succeeded get that error: none of them was written.
func (s *Store) runGroup(batch []*txCall) {
	defer func() {
		for _, c := range batch {
			c.done <- true
		}
	}()
	fail := func(err error) {
		for _, c := range batch {
			if c.err == nil {
				c.err = err
			}
		}
	}
	// A call alone needs no savepoint: if it fails, nothing is committed.
	shared := len(batch) > 1
	var marks [3]*dbsql.Stmt
	if shared {
		for i, q := range []string{savepointSQL, rollbackToSQL, releaseSaveSQL} {
			st, err := s.prepared(context.Background(), s.sqlDB, q)
			if err != nil {
				fail(err)
				return
			}
			marks[i] = st
		}
	}
	// The transaction belongs to no one caller: a caller's cancelled
	// context must not interrupt it (SQLite rolls back a whole transaction
	// on an interrupt).
	ctx := context.Background()
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	// A call that panics (a bug) must not leave the others waiting, the
	// transaction open or a caller told its write succeeded: the whole
	// transaction is rolled back and every call gets an error.
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback()
			s.log.Error("storage/sql: a write panicked; its group transaction was rolled back", "panic", fmt.Sprint(r))
			for _, c := range batch {
				c.err = fmt.Errorf("storage/sql: write panicked: %v", r)
			}
		}
	}()
	mark := func(i int) error {
		if !shared {
			return nil
		}
		_, err := tx.StmtContext(ctx, marks[i]).ExecContext(ctx)
		return err
	}
	written := 0
	for _, c := range batch {
		if c.err = c.ctx.Err(); c.err != nil {
			continue
		}
		if err := mark(0); err != nil {
			_ = tx.Rollback()
			fail(err)
			return
		}
		c.err = c.fn(func(q string, args ...any) (dbsql.Result, error) {
			st := c.stmts[q]
			if st == nil {
				return nil, fmt.Errorf("storage/sql: statement not declared to writeTx: %.40s", q)
			}
			return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		})
		if c.err != nil {
			if err := mark(1); err != nil {
				_ = tx.Rollback()
				fail(err)
				return
			}
		} else {
			written++
		}
		if err := mark(2); err != nil {
			_ = tx.Rollback()
			fail(err)
			return
		}
	}
	if written == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		fail(err)
	}
}
