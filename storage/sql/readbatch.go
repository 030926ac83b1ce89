package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wardiam/ward/realm"
)

// Read batching (PostgreSQL). On PostgreSQL each hot-path read is a round
// trip: a system call each way and a wake-up of the backend, whose CPU
// shares the machine, plus the backend's per-statement work (bind, executor
// start, send). For a read by unique indexes that fixed part is most of the
// cost: measured here, a lone introspection read cost 25 µs of Ward's CPU
// and 38 µs of the backend's. So concurrent reads of the same kind share a
// statement: the reads that queue while a statement of their kind is
// already running (batchSlots) go together in the next one, each query a row
// of an unnest() array, looked up by the same unique indexes (LATERAL
// subqueries with OFFSET 0, so the plan stays index lookups per row
// whatever the estimates). A read alone runs the single-row statement, as
// before.
//
// A read waiting for its turn gives up when its context ends. Keys
// PostgreSQL would refuse (batchable) never join a batch.
//
// Exactness is unchanged: a read queues only until the next statement
// starts, so what it sees was committed no earlier than when it was asked
// for, as with a statement of its own. Each read gets its own rows, or the
// statement's error.
//
// A read that finds a slot free leads: it runs its batch and, if reads
// queued meanwhile, hands them (up to maxBatch) to the first of them to
// run as the next batch, then returns, so no caller stays on to serve
// others, and with fewer than maxBatch readers waiting each waits for at
// most one statement before its own.

const (
	// batchSlots is how many statements of one kind run at once. One:
	// measured with wardbench (introspection and client_credentials at
	// c=32), one slot and two gave the same throughput and Ward CPU, and
	// one took PostgreSQL 0.013-0.014 ms of CPU per introspection against
	// 0.020-0.021 (larger batches). The database is what several nodes
	// share, so its CPU per request is what to spare.
	batchSlots = 1
	// maxBatch bounds one statement's reads (its arrays' length).
	maxBatch = 64
	// batchTimeout bounds a shared statement, which runs under no one
	// caller's cancellation: one caller going away must not fail the
	// others' reads.
	batchTimeout = 10 * time.Second
)

// readBatches are a PostgreSQL store's batched reads: an introspection's
// one statement, a grant's client claims and a refresh grant's read.
type readBatches struct {
	introspection *readBatcher[introspectionKey, *realm.IntrospectionRead]
	claims        *readBatcher[claimsKey, *realm.ClientClaims]
	refresh       *readBatcher[refreshKey, refreshRead]
}

func newReadBatches(s *Store) *readBatches {
	return &readBatches{
		introspection: &readBatcher[introspectionKey, *realm.IntrospectionRead]{
			one: func(ctx context.Context, k introspectionKey) (*realm.IntrospectionRead, error) {
				return s.readIntrospectionOne(ctx, k.realmID, k.q)
			},
			many: s.readIntrospectionMany,
		},
		claims: &readBatcher[claimsKey, *realm.ClientClaims]{
			one: func(ctx context.Context, k claimsKey) (*realm.ClientClaims, error) {
				return s.getClientClaimsOne(ctx, k.realmID, k.clientID)
			},
			many: s.getClientClaimsMany,
		},
		refresh: &readBatcher[refreshKey, refreshRead]{one: s.readRefreshGrantOne, many: s.readRefreshGrantMany},
	}
}

// batchable reports whether a read of these keys may join a batch: each is
// valid UTF-8 without NUL. PostgreSQL refuses any other text parameter with
// an error, which in a shared statement would fail every read in it; such
// a read runs alone, as before, and fails alone.
func batchable(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return false
		}
	}
	return true
}

// readBatcher groups concurrent reads of one kind: Q is a read's query, R
// its answer.
type readBatcher[Q, R any] struct {
	// one reads a lone query with the single-row statement.
	one func(ctx context.Context, q Q) (R, error)
	// many reads several queries with one statement, setting each call's
	// r or err; an error it returns goes to every call it did not answer.
	many func(ctx context.Context, calls []*batchCall[Q, R]) error
	// manyAlways sends lone reads through many too (tests, so that the
	// batch statement answers every case the single one does).
	manyAlways bool

	mu      sync.Mutex
	running int
	queue   []*batchCall[Q, R]
}

// batchCall is one read waiting for, or in, a batch.
type batchCall[Q, R any] struct {
	ctx      context.Context
	q        Q
	r        R
	err      error
	answered bool
	// wake gets nil when the read has been answered, or the batch its
	// goroutine is to run next (the read first in it).
	wake chan []*batchCall[Q, R]
}

// answer sets the call's result.
func (c *batchCall[Q, R]) answer(r R, err error) {
	c.r, c.err, c.answered = r, err, true
}

// read answers q, alone or in a batch.
func (b *readBatcher[Q, R]) read(ctx context.Context, q Q) (R, error) {
	c := &batchCall[Q, R]{ctx: ctx, q: q}
	var batch []*batchCall[Q, R]
	b.mu.Lock()
	if b.running < batchSlots {
		b.running++
		b.mu.Unlock()
		batch = []*batchCall[Q, R]{c}
	} else {
		c.wake = make(chan []*batchCall[Q, R], 1)
		b.queue = append(b.queue, c)
		b.mu.Unlock()
		select {
		case batch = <-c.wake:
		case <-ctx.Done():
			// Still queued: leave. Already handed on (answered, or to
			// lead the next batch): the wake is on its way.
			b.mu.Lock()
			if i := slices.Index(b.queue, c); i >= 0 {
				b.queue = slices.Delete(b.queue, i, i+1)
				b.mu.Unlock()
				var zero R
				return zero, ctx.Err()
			}
			b.mu.Unlock()
			batch = <-c.wake
		}
		if batch == nil {
			return c.r, c.err
		}
	}
	b.run(batch)
	b.handOn()
	for _, o := range batch[1:] {
		o.wake <- nil
	}
	return c.r, c.err
}

// handOn gives the queued reads to the first of them to run, or frees the
// slot when none are queued.
func (b *readBatcher[Q, R]) handOn() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	n := min(len(b.queue), maxBatch)
	next := b.queue[:n:n]
	if n == len(b.queue) {
		b.queue = nil
	} else {
		b.queue = append([]*batchCall[Q, R](nil), b.queue[n:]...)
	}
	b.mu.Unlock()
	next[0].wake <- next
}

// run answers every read of batch. A read whose context ended before its
// turn is not run. A panic (a bug) becomes every unanswered read's error,
// so that no caller is left waiting and the slot is handed on.
func (b *readBatcher[Q, R]) run(batch []*batchCall[Q, R]) {
	var zero R
	defer func() {
		if p := recover(); p != nil {
			for _, c := range batch {
				if !c.answered {
					c.answer(zero, fmt.Errorf("storage/sql: batched read panicked: %v", p))
				}
			}
		}
	}()
	live := make([]*batchCall[Q, R], 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.answer(zero, err)
			continue
		}
		live = append(live, c)
	}
	switch {
	case len(live) == 0:
		return
	case len(live) == 1 && !b.manyAlways:
		c := live[0]
		c.answer(b.one(c.ctx, c.q))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), batchTimeout)
	defer cancel()
	err := b.many(ctx, live)
	for _, c := range live {
		if !c.answered {
			if err == nil {
				err = fmt.Errorf("storage/sql: batched read left a query unanswered")
			}
			c.answer(zero, err)
		}
	}
}

// gatherBatch answers calls from the rows of a batch statement whose first
// column is the place (from 1) of the read a row answers, in order, and
// whose reads may have several rows each. Each read's rows are gathered in
// a set of its own: newSet makes one and returns its scan destinations
// (after the place); add takes in a row, the set itself on a read's first
// row and a scratch set on the next; done answers a read from its set. A
// read add fails for gets that error; one with no row gets missing.
func gatherBatch[Q, R, S any](rows *dbsql.Rows, calls []*batchCall[Q, R], missing error,
	newSet func() (*S, []any), add func(set, row *S, c *batchCall[Q, R]) error, done func(set *S, c *batchCall[Q, R])) error {
	var (
		zero R
		cur  *S
		curI int64
		i    int64
	)
	next := func() (*S, []any) {
		set, dest := newSet()
		return set, append([]any{&i}, dest...)
	}
	row, dest := next()
	finish := func() {
		if cur != nil {
			done(cur, calls[curI-1])
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return mapErr(err)
		}
		if i < 1 || i > int64(len(calls)) || i < curI {
			return fmt.Errorf("storage/sql: batch statement returned row %d of %d after %d", i, len(calls), curI)
		}
		from := row
		if i != curI {
			finish()
			// The row read becomes this read's set; its next rows are
			// scanned into a fresh one.
			cur, curI = row, i
			row, dest = next()
		} else if cur == nil {
			continue // this read has already failed
		}
		if err := add(cur, from, calls[i-1]); err != nil {
			calls[i-1].answer(zero, err)
			cur = nil
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	finish()
	for _, c := range calls {
		if !c.answered {
			c.answer(zero, missing)
		}
	}
	return nil
}
