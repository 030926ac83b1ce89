package oauth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// stuckWatcher is a real store whose next poll can be made to hang,
// ignoring its context, or to fail: a database that does not honour
// cancellation cannot be made here otherwise.
type stuckWatcher struct {
	realm.TokenStateWatcher
	hangNext atomic.Bool
	release  chan struct{}
	failNext atomic.Bool
}

func (w *stuckWatcher) TokenEpochs(ctx context.Context, ids []string) (map[string]int64, error) {
	if w.hangNext.CompareAndSwap(true, false) {
		<-w.release
	}
	if w.failNext.CompareAndSwap(true, false) {
		return nil, errors.New("database gone")
	}
	return w.TokenStateWatcher.TokenEpochs(ctx, ids)
}

// TestTokenEpochPolls: a poll that hangs does not stop kept reads for
// good (another starts once it is epochMaxAge old), its late answer does
// not undo the later poll's (nor counts as a failure), and a failed poll
// stops kept reads at once, until one succeeds.
func TestTokenEpochPolls(t *testing.T) {
	s, r := storeWithRealm(t, time.Now())
	w := &stuckWatcher{TokenStateWatcher: s, release: make(chan struct{})}
	e := newTokenEpochs(w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	polledAt := func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.polledAt
	}
	// until asks, as requests do, until done holds, failing after 2 s.
	until := func(what string, done func(usable bool) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			if _, ok := e.current(r.ID, time.Now()); done(ok) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	until("first poll", func(ok bool) bool { return ok })

	// The next poll hangs; a later one answers all the same.
	w.hangNext.Store(true)
	hangFrom := time.Now()
	until("a poll after the one that hangs", func(bool) bool { return polledAt().After(hangFrom) && !w.hangNext.Load() })
	until("kept reads usable again", func(ok bool) bool { return ok })
	later := polledAt()
	close(w.release)
	idle := func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.inFlight == 0
	}
	for deadline := time.Now().Add(2 * time.Second); !idle(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released poll did not end")
		}
	}
	if got := polledAt(); got.Before(later) {
		t.Errorf("the hung poll's late answer moved the last poll back from %v to %v", later, got)
	}
	if e.failures.Load() != 0 {
		t.Errorf("a poll overtaken by a later one counted as failed")
	}

	// A failed poll: nothing kept is used until one succeeds. Only the
	// request below starts a poll, so nothing races the failed one.
	w.failNext.Store(true)
	time.Sleep(epochPollEvery)
	e.current(r.ID, time.Now())
	for deadline := time.Now().Add(2 * time.Second); e.failures.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed poll was not counted")
		}
	}
	if _, ok := e.current(r.ID, time.Now()); ok {
		t.Error("kept reads usable right after a failed poll")
	}
	until("a poll after the failure", func(ok bool) bool { return ok })
}
