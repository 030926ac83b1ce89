package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// runLoginFailures runs the cases of realm.LoginFailureStore.
func runLoginFailures(t *testing.T, newStore func(t *testing.T) realm.Store) {
	runCase(t, "LoginFailures", newStore, testLoginFailures)
}

// testLoginFailures: counts are atomic under concurrency, one of concurrent
// lockers locks, attempts during a lock are not counted, and stale rows go.
func testLoginFailures(t *testing.T, f *fixture, s realm.Store) {
	ctx, now := f.ctx, f.clock
	r := f.realm(f.org("lf").ID, "lf")
	if _, err := s.GetLoginFailure(ctx, r.ID, "k"); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("GetLoginFailure of nothing: %v, want ErrNotFound", err)
	}
	// 20 concurrent failures: none is lost.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.AddLoginFailure(ctx, r.ID, "k", now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lf, err := s.GetLoginFailure(ctx, r.ID, "k")
	if err != nil || lf.Failures != 20 || lf.Lockouts != 0 || lf.LockedUntil != nil {
		t.Fatalf("after 20 failures: %+v %v", lf, err)
	}
	// Of concurrent lockers, one locks.
	until := now.Add(time.Minute)
	var locked sync.Map
	for i := range 5 {
		wg.Go(func() {
			ok, err := s.LockLogin(ctx, r.ID, "k", "", 10, until, now)
			if err != nil {
				t.Error(err)
			}
			locked.Store(i, ok)
		})
	}
	wg.Wait()
	n := 0
	locked.Range(func(_, v any) bool {
		if v.(bool) {
			n++
		}
		return true
	})
	if n != 1 {
		t.Errorf("%d of 5 concurrent LockLogin locked, want 1", n)
	}
	lf, _ = s.GetLoginFailure(ctx, r.ID, "k")
	if lf.Failures != 0 || lf.Lockouts != 1 || lf.LockedUntil == nil || !lf.LockedUntil.Equal(until.Truncate(time.Microsecond)) {
		t.Errorf("after lock: %+v", lf)
	}
	if ok, _ := s.LockLogin(ctx, r.ID, "k", "", 10, until, now); ok {
		t.Error("LockLogin below the threshold locked")
	}
	// Attempts while locked are not counted (they are refused unseen), so
	// the lock's end starts a fresh count.
	lf, _ = s.AddLoginFailure(ctx, r.ID, "k", now)
	if lf.Failures != 0 || lf.Lockouts != 1 || lf.LockedUntil == nil {
		t.Errorf("attempt during a lock: %+v, want it uncounted", lf)
	}
	lf, _ = s.AddLoginFailure(ctx, r.ID, "k", until.Add(time.Second))
	if lf.Failures != 1 || lf.Lockouts != 1 {
		t.Errorf("failure after a lock: %+v", lf)
	}
	// Stale rows go; recent ones stay.
	if _, err := s.AddLoginFailure(ctx, r.ID, "old", now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteStaleLoginFailures(ctx, now.Add(-24*time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteStaleLoginFailures: %d %v, want 1", n, err)
	}
	if err := s.ClearLoginFailures(ctx, r.ID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLoginFailure(ctx, r.ID, "k"); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("after clear: %v", err)
	}
}
