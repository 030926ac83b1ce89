package sql_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestConcurrentRotations: refresh-token rotations made at the same time
// (on SQLite all in one shared transaction, groupcommit.go) each get their
// own answer: of three rotations of one token exactly one wins and the others
// get ErrAlreadyUsed, a rotation of a token that does not exist gets
// ErrNotFound, one whose context has ended fails, one whose new token's ID
// is taken fails with its parent left unused (its half-done writes undone,
// the others' kept); and exactly the winners' tokens are written, beside
// the first tokens, now used.
func TestConcurrentRotations(t *testing.T) {
	for name, open := range everyStore {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			realmID, _ := seedClient(t, s)
			ctx := context.Background()
			token := refreshTokens(realmID)
			const families, tries = 12, 3
			for f := range families {
				if err := s.CreateRefreshToken(ctx, token(fmt.Sprint("root-", f), "")); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.CreateRefreshToken(ctx, token("root-dup", "")); err != nil {
				t.Fatal(err)
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			type result struct {
				child string
				err   error
			}
			results := make(chan result, families*tries+3)
			var wg sync.WaitGroup
			start := make(chan struct{})
			rotate := func(ctx context.Context, child, parent string) {
				defer wg.Done()
				<-start
				results <- result{child, s.RotateRefreshToken(ctx, token(child, parent))}
			}
			for f := range families {
				for i := range tries {
					wg.Add(1)
					go rotate(ctx, fmt.Sprintf("child-%d-%d", f, i), fmt.Sprint("root-", f))
				}
			}
			wg.Add(3)
			go rotate(ctx, "orphan", "no-such-token")
			go rotate(ctx, "root-1", "root-dup")
			go rotate(cancelled, "cancelled", "root-0")
			if name == "postgres" {
				close(start)
			} else {
				// Every rotation waits in the queue, then all run in one
				// transaction, losers and failures among the winners.
				queued, lead := s.HoldGroupCommit()
				close(start)
				// (The cancelled one may fail before it queues.)
				for queued() < families*tries+2 {
					runtime.Gosched()
				}
				lead()
			}
			wg.Wait()
			close(results)

			won := map[string]bool{}
			for r := range results {
				switch {
				case r.child == "orphan":
					if !errors.Is(r.err, realm.ErrNotFound) {
						t.Errorf("rotating a missing token: %v, want ErrNotFound", r.err)
					}
				case r.child == "root-1":
					if r.err == nil {
						t.Error("a rotation to a taken token ID succeeded")
					}
				case r.child == "cancelled":
					if r.err == nil {
						t.Error("a rotation with an ended context succeeded")
					}
				case r.err == nil:
					won[r.child[:len(r.child)-2]] = true
					if _, err := s.GetRefreshToken(ctx, realmID, r.child); err != nil {
						t.Errorf("winner %s not written: %v", r.child, err)
					}
				case errors.Is(r.err, realm.ErrAlreadyUsed):
					if _, err := s.GetRefreshToken(ctx, realmID, r.child); !errors.Is(err, realm.ErrNotFound) {
						t.Errorf("loser %s: GetRefreshToken = %v, want ErrNotFound", r.child, err)
					}
				default:
					t.Errorf("rotation to %s: %v", r.child, r.err)
				}
			}
			if len(won) != families {
				t.Errorf("%d families rotated, want each of %d exactly once: %v", len(won), families, won)
			}
			for f := range families {
				root, err := s.GetRefreshToken(ctx, realmID, fmt.Sprint("root-", f))
				if err != nil || !root.Used {
					t.Errorf("root-%d after rotation: %+v, %v; want used", f, root, err)
				}
			}
			if dup, err := s.GetRefreshToken(ctx, realmID, "root-dup"); err != nil || dup.Used {
				t.Errorf("root-dup after a failed rotation: %+v, %v; want unused", dup, err)
			}
			for _, id := range []string{"orphan", "cancelled"} {
				if _, err := s.GetRefreshToken(ctx, realmID, id); !errors.Is(err, realm.ErrNotFound) {
					t.Errorf("%s written: %v", id, err)
				}
			}
		})
	}
}

// refreshTokens returns a maker of realmID's refresh tokens: id, replacing
// parent ("" for the first of a family), valid for an hour.
func refreshTokens(realmID string) func(id, parent string) *realm.RefreshToken {
	now := time.Now().UTC().Truncate(time.Second)
	return func(id, parent string) *realm.RefreshToken {
		return &realm.RefreshToken{ID: id, RealmID: realmID, FamilyID: "fam-" + parent, SessionID: "s", UserID: "u",
			ClientID: "web", AccessJTI: "at-" + id, Data: []byte(`{}`), ExpiresAt: now.Add(time.Hour), CreatedAt: now, ParentID: parent}
	}
}

// TestGroupCommitPanic: a write that panics in a shared transaction rolls
// the transaction back and fails every call in it, the others' writes
// included (none may be told it succeeded), and the next writes run.
func TestGroupCommitPanic(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sql.Store{"sqlite": sqltest.Open, "memory": sqltest.OpenMemory} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			realmID, _ := seedClient(t, s)
			ctx := context.Background()
			token := refreshTokens(realmID)
			if err := s.CreateRefreshToken(ctx, token("root", "")); err != nil {
				t.Fatal(err)
			}
			queued, lead := s.HoldGroupCommit()
			errs := make(chan error, 2)
			go func() { errs <- s.RotateRefreshToken(ctx, token("child", "root")) }()
			go func() { errs <- s.WriteTx(ctx, func() error { panic("boom") }) }()
			for queued() < 2 {
				runtime.Gosched()
			}
			lead()
			for range 2 {
				if err := <-errs; err == nil {
					t.Error("a call in a transaction that panicked succeeded")
				}
			}
			if _, err := s.GetRefreshToken(ctx, realmID, "child"); !errors.Is(err, realm.ErrNotFound) {
				t.Errorf("child written by a rolled-back transaction: %v", err)
			}
			// The writer is free again and the token still unused.
			if err := s.RotateRefreshToken(ctx, token("child2", "root")); err != nil {
				t.Fatalf("rotation after the panic: %v", err)
			}
		})
	}
}
