package ui

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestSessionLocks: one session's requests run one at a time; another
// session is never held up by it; a waiter gives up when its context ends;
// no lock outlives its holders and waiters.
func TestSessionLocks(t *testing.T) {
	var l sessionLocks
	ctx := context.Background()
	unlockA, ok := l.lock(ctx, "a")
	if !ok {
		t.Fatal("first lock refused")
	}
	// Another session goes ahead at once.
	done := make(chan struct{})
	go func() {
		unlockB, ok := l.lock(ctx, "b")
		if ok {
			unlockB()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session b waited for session a's lock")
	}
	// The same session waits, and gives up when its context ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, ok := l.lock(short, "a"); ok {
		t.Fatal("a second request of session a got the lock while the first held it")
	}
	// Held one at a time.
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	unlockA()
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, ok := l.lock(ctx, "a")
			if !ok {
				t.Error("lock refused")
				return
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("%d requests of one session ran at once", most)
	}
	if len(l.m) != 0 {
		t.Errorf("%d locks left after everyone finished", len(l.m))
	}
}
