package sql

import "context"

// Test hooks for the external tests of this package.

// MigrateUpTo applies the pending migrations numbered up to version, as
// Migrate does, so a test can put rows into an older schema.
func (s *Store) MigrateUpTo(ctx context.Context, version int) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.sqlDB.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	for _, m := range all {
		if m.version > version {
			break
		}
		if _, err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs one statement with ? placeholders on the store's database.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.sqlDB.ExecContext(ctx, s.rebind(query), args...)
	return err
}

// HoldGroupCommit makes writeTx calls queue as if a group transaction were
// running (SQLite only). queued tells how many wait; lead hands the lead to
// the first of them, which runs them all in one transaction.
func (s *Store) HoldGroupCommit() (queued func() int, lead func()) {
	g := s.group
	g.mu.Lock()
	g.leading = true
	g.mu.Unlock()
	queued = func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue)
	}
	lead = func() {
		g.mu.Lock()
		next := g.queue[0]
		g.mu.Unlock()
		next.done <- false
	}
	return queued, lead
}

// WriteTx runs fn as a writeTx call declaring no statements.
func (s *Store) WriteTx(ctx context.Context, fn func() error) error {
	return s.writeTx(ctx, nil, func(execFunc) error { return fn() })
}

// HoldReadBatches makes batched reads queue as if every slot were busy
// (PostgreSQL only). queued tells how many introspection, client claims
// and refresh grant reads wait; release hands each kind's queue on as one
// batch and frees the slots taken.
func (s *Store) HoldReadBatches() (queued func() (introspection, claims, refresh int), release func()) {
	b := s.batches
	b.introspection.hold()
	b.claims.hold()
	b.refresh.hold()
	queued = func() (int, int, int) { return b.introspection.queued(), b.claims.queued(), b.refresh.queued() }
	release = func() {
		b.introspection.release()
		b.claims.release()
		b.refresh.release()
	}
	return queued, release
}

func (b *readBatcher[Q, R]) hold() {
	b.mu.Lock()
	b.running += batchSlots
	b.mu.Unlock()
}

func (b *readBatcher[Q, R]) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// release gives back the slots hold took, the first handing the queue on.
func (b *readBatcher[Q, R]) release() {
	for range batchSlots {
		b.handOn()
	}
}

// BatchEveryRead sends every batched read through its batch statement,
// a lone one included (PostgreSQL only).
func (s *Store) BatchEveryRead() {
	s.batches.introspection.manyAlways = true
	s.batches.claims.manyAlways = true
	s.batches.refresh.manyAlways = true
}
