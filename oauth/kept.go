package oauth

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardiam/ward/realm"
)

// Reads kept in memory between requests (issue 18, items 1 and 3).
//
// Two reads that every introspection and every grant make are kept, per
// provider: an introspection's one read (introspect_read.go), under its
// query (caller, token's client and user, jti), and a client with its
// groups and the realm's attribute schema version and IP allow list
// (GetClientClaims, storage.go), under its client_id. Each is kept with
// what the store said about the realm's token state when the read began:
//
//   - the process's generation for the realm (realm.TokenStateWatcher),
//     which moves after every change this process commits to what those
//     reads read (a client, user or group, an attribute definition, the
//     realm's allow list, the revocation list), before the call that made
//     it returns: on this node a kept read is never used after a change,
//     exactly as a fresh read;
//   - the realm's epoch as last polled, which moves in the transaction of
//     every such change on any node: a change made by another node is seen
//     once a poll that began after its commit has returned. A poll starts
//     when a request finds the last one older than epochPollEvery, and kept
//     reads are used only while the last poll succeeded and began less than
//     epochMaxAge ago: a node that cannot poll reads every time (and fails
//     closed when the database is down). CONTRACT §8 gives an admin change
//     1 s to be in force on every node.
//
// A kept read is used only when both still match, and only a read that
// found every row it asked for is kept (a missing row may be created, which
// moves no epoch). Everything that depends on time (expiry, a future iat,
// the rotated secret's grace) and the caller's authentication are checked
// on every request as before; API-key and support tokens keep their own
// per-request reads.

const (
	// epochPollEvery is how old the last poll of the realms' epochs may be
	// before a request starts another.
	epochPollEvery = 50 * time.Millisecond
	// epochMaxAge is how old the last successful poll may be for kept
	// reads to be used at all.
	epochMaxAge = 250 * time.Millisecond
	// epochRealms bounds the realms a node polls: those served in the
	// last epochForget. A realm beyond it is read on every request.
	epochRealms = 512
	epochForget = 10 * time.Second
	// keptMaxAge bounds how long a read is kept at all, whatever the
	// epoch says: should a change ever be made without moving the epoch
	// (a write path that forgets to), it is still in force within a
	// second on every node.
	keptMaxAge = 750 * time.Millisecond
	// maxKeptReads bounds each provider's kept reads of each kind; beyond
	// it an arbitrary one is dropped. An introspection's read is a few
	// hundred bytes, a client with its groups about a kilobyte (group
	// attribute values are shared between clients).
	maxKeptReads = 2048
)

// tokenEpochs is the node's view of the realms' token state epochs.
type tokenEpochs struct {
	w   realm.TokenStateWatcher
	log *slog.Logger

	mu       sync.Mutex
	asked    map[string]time.Time // realm ID → when a request last asked
	known    map[string]int64     // realm ID → epoch, as of polledAt
	polledAt time.Time            // start of the last successful poll
	// inFlight polls run, the last started at pollStarted. A poll that
	// has not answered within epochMaxAge does not hold the next one
	// back (at most maxPolls at once).
	inFlight    int
	pollStarted time.Time
	failures    atomic.Uint64
	lastLogged  time.Time
}

// maxPolls bounds the polls in flight when the database is slow to answer.
const maxPolls = 4

func newTokenEpochs(w realm.TokenStateWatcher, log *slog.Logger) *tokenEpochs {
	return &tokenEpochs{w: w, log: log, asked: map[string]time.Time{}, known: map[string]int64{}}
}

// current returns realmID's epoch as last polled, and whether kept reads
// may be used for it (the poll is recent and saw the realm). It starts a
// poll when the last one is older than epochPollEvery.
func (e *tokenEpochs) current(realmID string, now time.Time) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.asked[realmID]; !ok && len(e.asked) >= epochRealms {
		return 0, false
	}
	e.asked[realmID] = now
	age := now.Sub(e.polledAt)
	if age >= epochPollEvery && (e.inFlight == 0 || (e.inFlight < maxPolls && now.Sub(e.pollStarted) >= epochMaxAge)) {
		e.inFlight++
		e.pollStarted = now
		go e.poll(now)
	}
	epoch, ok := e.known[realmID]
	return epoch, ok && age < epochMaxAge
}

// poll reads the epochs of the realms asked about lately. Of polls that
// overlap, only the latest to start counts.
func (e *tokenEpochs) poll(start time.Time) {
	e.mu.Lock()
	ids := make([]string, 0, len(e.asked))
	for id, at := range e.asked {
		if start.Sub(at) > epochForget {
			delete(e.asked, id)
			continue
		}
		ids = append(ids, id)
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), epochMaxAge)
	defer cancel()
	known, err := e.w.TokenEpochs(ctx, ids)
	e.mu.Lock()
	e.inFlight--
	if !start.After(e.polledAt) {
		e.mu.Unlock()
		return // a later poll has answered
	}
	if err == nil {
		e.known, e.polledAt = known, start
		e.mu.Unlock()
		return
	}
	// Fail closed at once: a database that cannot be polled cannot say
	// whether anything changed.
	e.known, e.polledAt = map[string]int64{}, time.Time{}
	e.failures.Add(1)
	logIt := time.Since(e.lastLogged) >= 10*time.Second
	if logIt {
		e.lastLogged = time.Now()
	}
	e.mu.Unlock()
	if logIt {
		e.log.Warn("token state poll failed: reads are not kept until one succeeds", "err", err)
	}
}

// tokenState is the realm's token state as a read that starts now must be
// kept with: taken before the read, so that a change racing the read
// leaves the kept copy unusable rather than stale.
type tokenState struct {
	epoch int64
	gen   uint64
	at    time.Time
	// keep says whether kept reads may be used at all (kept.go).
	keep bool
}

// tokenState returns the realm's token state now.
func (p *provider) tokenState() tokenState {
	e := p.s.epochs
	if e == nil {
		return tokenState{}
	}
	ts := tokenState{at: time.Now()}
	ts.epoch, ts.keep = e.current(p.realm.ID, ts.at)
	ts.gen = e.w.TokenStateGeneration(p.realm.ID)
	return ts
}

// keptReads are a provider's kept reads of one kind, by key.
type keptReads[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]keptRead[V]
}

// keptRead is one kept read, the token state it was read in and when
// (monotonic).
type keptRead[V any] struct {
	v     V
	epoch int64
	gen   uint64
	at    time.Time
}

// get returns the read kept for key when it was read in token state ts
// (same epoch and generation), less than keptMaxAge before it.
func (k *keptReads[K, V]) get(key K, ts tokenState) (V, bool) {
	k.mu.Lock()
	e, ok := k.m[key]
	k.mu.Unlock()
	if !ok || e.epoch != ts.epoch || e.gen != ts.gen || ts.at.Sub(e.at) >= keptMaxAge {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put keeps v, read for key in token state ts (taken before the read
// began). The kept read is shared: nobody changes it.
func (k *keptReads[K, V]) put(key K, v V, ts tokenState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[K]keptRead[V]{}
	}
	if _, ok := k.m[key]; !ok && len(k.m) >= maxKeptReads {
		for old := range k.m {
			delete(k.m, old)
			break
		}
	}
	k.m[key] = keptRead[V]{v: v, epoch: ts.epoch, gen: ts.gen, at: ts.at}
}
