package ui

import (
	"context"
	"sync"
)

// sessionLocks serialises the requests of each session on this node: one
// lock per session, made while someone holds or waits for it and dropped
// after, so that one member's slow requests never hold up another's (a
// shared, striped lock let a member stall others). A request that cannot
// get its lock within the wait it is given gives up (503) rather than
// queueing without end.
type sessionLocks struct {
	mu sync.Mutex
	m  map[string]*sessionLock
}

type sessionLock struct {
	sem  chan struct{} // holds one token while the lock is held
	refs int           // holders and waiters
}

// lock takes key's lock; ok is false if ctx ends first (the caller answers
// "busy"). unlock must be called exactly once when ok.
func (l *sessionLocks) lock(ctx context.Context, key string) (unlock func(), ok bool) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*sessionLock{}
	}
	sl := l.m[key]
	if sl == nil {
		sl = &sessionLock{sem: make(chan struct{}, 1)}
		l.m[key] = sl
	}
	sl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if sl.refs--; sl.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case sl.sem <- struct{}{}:
		return func() { <-sl.sem; release() }, true
	case <-ctx.Done():
		release()
		return nil, false
	}
}
