package conformance

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// consoleHash is the stored ID of the session whose cookie value is v.
func consoleHash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// consoleSession creates a session of owner expiring at expires, with the
// fixture's next tick as its update time, keeping keep per owner.
func (f *fixture) consoleSession(cookie, owner string, expires time.Time, keep int) *realm.ConsoleSession {
	f.t.Helper()
	cs := &realm.ConsoleSession{IDHash: consoleHash(cookie), Owner: owner, Data: []byte("sealed " + cookie),
		ExpiresAt: expires, UpdatedAt: f.tick()}
	must(f.t, f.s.CreateConsoleSession(f.ctx, cs, keep))
	cs.Version = 1 // what the store keeps; the field is ignored on create
	return cs
}

// updateConsoleSession updates the session from version and fails the
// test unless it lands at version+1.
func (f *fixture) updateConsoleSession(idHash, data []byte, at time.Time, version int64) int64 {
	f.t.Helper()
	v, err := f.s.UpdateConsoleSession(f.ctx, idHash, data, at, version)
	must(f.t, err)
	if v != version+1 {
		f.t.Fatalf("UpdateConsoleSession from version %d = version %d, want %d", version, v, version+1)
	}
	return v
}

// wantUpdateErr checks an update is refused with want (ErrNotFound or
// ErrConflict) and reports no new version.
func wantUpdateErr(t *testing.T, what string, want error, v int64, err error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
	if v != 0 {
		t.Errorf("%s: version = %d, want 0 with an error", what, v)
	}
}

// liveConsoleSessions returns which of cookies' sessions exist, read at a
// time before every expiry these tests use.
func (f *fixture) liveConsoleSessions(cookies ...string) []string {
	f.t.Helper()
	early := f.clock.Add(-time.Hour)
	out := []string{}
	for _, c := range cookies {
		_, err := f.s.GetConsoleSession(f.ctx, consoleHash(c), early)
		switch {
		case err == nil:
			out = append(out, c)
		case !errors.Is(err, realm.ErrNotFound):
			f.t.Fatalf("GetConsoleSession %s: %v", c, err)
		}
	}
	return out
}

// testConsoleSessions: create and get (version 1, whatever the caller
// set), expiry at the instant ExpiresAt, update (data, time and version
// only; a stale version is ErrConflict, missing or expired is
// ErrNotFound), delete (idempotent), duplicate IDs and the arguments a
// backend must refuse.
func testConsoleSessions(t *testing.T, f *fixture) {
	exp := f.clock.Add(time.Hour)
	a := &realm.ConsoleSession{IDHash: consoleHash("cookie-a"), Owner: "member:u1", Data: []byte("sealed cookie-a"),
		ExpiresAt: exp, UpdatedAt: f.tick(), Version: 7}
	must(t, f.s.CreateConsoleSession(f.ctx, a, 20))
	a.Version = 1 // a new session starts at 1: the caller's value is not stored

	got, err := f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "GetConsoleSession", got, a)
	_, err = f.s.GetConsoleSession(f.ctx, consoleHash("cookie-unknown"), f.clock)
	wantNotFound(t, "GetConsoleSession unknown", err)

	// Expired means ExpiresAt <= now: the last microsecond before still
	// finds it.
	_, err = f.s.GetConsoleSession(f.ctx, a.IDHash, exp.Add(-time.Microsecond))
	must(t, err)
	_, err = f.s.GetConsoleSession(f.ctx, a.IDHash, exp)
	wantNotFound(t, "GetConsoleSession at its expiry", err)
	_, err = f.s.GetConsoleSession(f.ctx, a.IDHash, exp.Add(time.Minute))
	wantNotFound(t, "GetConsoleSession after its expiry", err)

	// Update replaces data and update time and counts the version up,
	// nothing else.
	up := f.tick()
	f.updateConsoleSession(a.IDHash, []byte("sealed v2"), up, 1)
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	want := *a
	want.Data, want.UpdatedAt, want.Version = []byte("sealed v2"), up, 2
	same(t, "GetConsoleSession after update", got, &want)
	up = f.tick()
	f.updateConsoleSession(a.IDHash, []byte("sealed v3"), up, 2)
	want.Data, want.UpdatedAt, want.Version = []byte("sealed v3"), up, 3
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "GetConsoleSession after a second update", got, &want)

	// A version that is no longer current (another node wrote since) is a
	// conflict on "version" and changes nothing; so is one from the
	// future.
	for _, stale := range []int64{1, 2, 4, 0} {
		v, err := f.s.UpdateConsoleSession(f.ctx, a.IDHash, []byte("lost"), f.tick(), stale)
		wantUpdateErr(t, fmt.Sprintf("UpdateConsoleSession from version %d at 3", stale), realm.ErrConflict, v, err)
		wantConflict(t, fmt.Sprintf("UpdateConsoleSession from version %d at 3", stale), "version", err)
	}
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "session after stale updates", got, &want)

	v, err := f.s.UpdateConsoleSession(f.ctx, consoleHash("cookie-unknown"), []byte("x"), f.tick(), 1)
	wantUpdateErr(t, "UpdateConsoleSession unknown", realm.ErrNotFound, v, err)
	// An expired session is gone for updates too, with the right version
	// or not; it is not revived.
	v, err = f.s.UpdateConsoleSession(f.ctx, a.IDHash, []byte("late"), exp, 3)
	wantUpdateErr(t, "UpdateConsoleSession at its expiry", realm.ErrNotFound, v, err)
	v, err = f.s.UpdateConsoleSession(f.ctx, a.IDHash, []byte("late"), exp, 1)
	wantUpdateErr(t, "UpdateConsoleSession at its expiry, stale version", realm.ErrNotFound, v, err)
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "session after a refused update", got, &want)

	// Too much data is refused and changes nothing.
	big := make([]byte, realm.MaxConsoleSessionData+1)
	v, err = f.s.UpdateConsoleSession(f.ctx, a.IDHash, big, f.tick(), 3)
	wantUpdateErr(t, fmt.Sprintf("UpdateConsoleSession with %d bytes", len(big)), realm.ErrConsoleSessionTooLarge, v, err)
	tooBig := &realm.ConsoleSession{IDHash: consoleHash("cookie-big"), Owner: "member:u1", Data: big,
		ExpiresAt: exp, UpdatedAt: f.tick()}
	if err := f.s.CreateConsoleSession(f.ctx, tooBig, 20); !errors.Is(err, realm.ErrConsoleSessionTooLarge) {
		t.Errorf("CreateConsoleSession with %d bytes = %v, want ErrConsoleSessionTooLarge", len(big), err)
	}
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "session after an oversized update", got, &want)

	// The same ID twice is a conflict, and the first session is untouched.
	dup := &realm.ConsoleSession{IDHash: consoleHash("cookie-a"), Owner: "member:u2", Data: []byte("other"),
		ExpiresAt: exp, UpdatedAt: f.tick()}
	wantConflict(t, "CreateConsoleSession duplicate ID", "id", f.s.CreateConsoleSession(f.ctx, dup, 20))
	got, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	must(t, err)
	same(t, "session after a duplicate create", got, &want)

	// Arguments that are the caller's bug: nothing is stored.
	for _, bad := range []struct {
		what string
		s    realm.ConsoleSession
		keep int
	}{
		{"keep 0", realm.ConsoleSession{IDHash: consoleHash("cookie-k0"), Owner: "member:u1"}, 0},
		{"short hash", realm.ConsoleSession{IDHash: []byte("cookie-short"), Owner: "member:u1"}, 20},
		{"no owner", realm.ConsoleSession{IDHash: consoleHash("cookie-noowner")}, 20},
	} {
		bad.s.ExpiresAt, bad.s.UpdatedAt = exp, f.tick()
		if err := f.s.CreateConsoleSession(f.ctx, &bad.s, bad.keep); err == nil {
			t.Errorf("CreateConsoleSession with %s: no error", bad.what)
		}
		if _, err := f.s.GetConsoleSession(f.ctx, bad.s.IDHash, f.clock); !errors.Is(err, realm.ErrNotFound) {
			t.Errorf("CreateConsoleSession with %s stored it (get: %v)", bad.what, err)
		}
	}
	// keep 0 deleted none of the owner's sessions either.
	same(t, "sessions after refused creates", f.liveConsoleSessions("cookie-a"), []string{"cookie-a"})

	must(t, f.s.DeleteConsoleSession(f.ctx, a.IDHash))
	_, err = f.s.GetConsoleSession(f.ctx, a.IDHash, f.clock)
	wantNotFound(t, "GetConsoleSession after delete", err)
	must(t, f.s.DeleteConsoleSession(f.ctx, a.IDHash)) // already gone: no error
	v, err = f.s.UpdateConsoleSession(f.ctx, a.IDHash, []byte("x"), f.tick(), 3)
	wantUpdateErr(t, "UpdateConsoleSession after delete", realm.ErrNotFound, v, err)

	t.Run("ConcurrentUpdates", func(t *testing.T) { testConsoleSessionRace(t, f) })
}

// testConsoleSessionRace: updates from the same version at the same time
// (as from two nodes serving one session): exactly one lands, the others
// are ErrConflict, and the stored data is the winner's. Run over several
// rounds, each from the version the last one left, so the version chain
// is checked too.
func testConsoleSessionRace(t *testing.T, f *fixture) {
	// The fixture's helpers report on f.t: this subtest's, while it runs.
	defer func(parent *testing.T) { f.t = parent }(f.t)
	f.t = t
	const writers, rounds = 8, 5
	cs := f.consoleSession("cookie-race", "member:race", f.clock.Add(time.Hour), 20)
	version := cs.Version
	for round := range rounds {
		at := f.tick()
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			versions = make([]int64, writers)
			errs     = make([]error, writers)
		)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start // release them together, so they overlap as much as they can
				versions[w], errs[w] = f.s.UpdateConsoleSession(f.ctx, cs.IDHash,
					[]byte(fmt.Sprintf("round %d writer %d", round, w)), at, version)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Errorf("round %d: writers %d and %d both updated from version %d", round, winner, w, version)
				}
				winner = w
				if versions[w] != version+1 {
					t.Errorf("round %d: writer %d got version %d, want %d", round, w, versions[w], version+1)
				}
			case errors.Is(err, realm.ErrConflict):
			default:
				t.Errorf("round %d: writer %d: %v, want nil or ErrConflict", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer updated from version %d", round, version)
		}
		got, err := f.s.GetConsoleSession(f.ctx, cs.IDHash, f.clock)
		must(t, err)
		if want := fmt.Sprintf("round %d writer %d", round, winner); string(got.Data) != want || got.Version != version+1 {
			t.Fatalf("round %d: stored %q at version %d, want the winner's %q at %d",
				round, got.Data, got.Version, want, version+1)
		}
		version++
	}
}

// testConsoleSessionData: data comes back byte for byte: every byte value,
// invalid UTF-8, NULs, empty (nil in, empty out) and the maximum size.
func testConsoleSessionData(t *testing.T, f *fixture) {
	all := make([]byte, 0, 512)
	for i := range 256 {
		all = append(all, byte(i))
	}
	all = append(all, 0, 0, 0xff, 0xfe, 0xc3, 0x28) // trailing NULs and invalid UTF-8
	full := make([]byte, realm.MaxConsoleSessionData)
	for i := range full {
		full[i] = byte(i*7 + i>>8) // not a repeating 256-byte pattern
	}
	exp := f.clock.Add(time.Hour)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"every byte", all},
		{"maximum", full},
		{"nil", nil},
		{"empty", []byte{}},
	} {
		cs := &realm.ConsoleSession{IDHash: consoleHash("cookie-" + tc.name), Owner: "member:" + tc.name,
			Data: tc.data, ExpiresAt: exp, UpdatedAt: f.tick()}
		must(t, f.s.CreateConsoleSession(f.ctx, cs, 20))
		got, err := f.s.GetConsoleSession(f.ctx, cs.IDHash, f.clock)
		must(t, err)
		if !bytes.Equal(got.Data, tc.data) || !bytes.Equal(got.IDHash, cs.IDHash) {
			t.Errorf("%s: got %d bytes of data, hash %x; stored %d bytes, hash %x",
				tc.name, len(got.Data), got.IDHash, len(tc.data), cs.IDHash)
		}
		// Update round-trips the same way (here: the data reversed).
		rev := make([]byte, len(tc.data))
		for i, b := range tc.data {
			rev[len(rev)-1-i] = b
		}
		f.updateConsoleSession(cs.IDHash, rev, f.tick(), got.Version)
		got, err = f.s.GetConsoleSession(f.ctx, cs.IDHash, f.clock)
		must(t, err)
		if !bytes.Equal(got.Data, rev) || got.Version != 2 {
			t.Errorf("%s: after update got %d bytes of data at version %d, want %d reversed at 2",
				tc.name, len(got.Data), got.Version, len(rev))
		}
	}
}

// testConsoleSessionExpiry: DeleteExpiredConsoleSessions removes exactly
// the sessions with ExpiresAt before its argument and counts them.
func testConsoleSessionExpiry(t *testing.T, f *fixture) {
	cut := f.clock.Add(time.Hour)
	f.consoleSession("old-1", "member:u1", cut.Add(-time.Minute), 20)
	f.consoleSession("old-2", "member:u2", cut.Add(-time.Microsecond), 20)
	f.consoleSession("at-cut", "member:u1", cut, 20)
	f.consoleSession("new", "member:u2", cut.Add(time.Minute), 20)

	n, err := f.s.DeleteExpiredConsoleSessions(f.ctx, cut)
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteExpiredConsoleSessions = %d, want 2", n)
	}
	same(t, "sessions after the sweep", f.liveConsoleSessions("old-1", "old-2", "at-cut", "new"),
		[]string{"at-cut", "new"})
	n, err = f.s.DeleteExpiredConsoleSessions(f.ctx, cut)
	must(t, err)
	if n != 0 {
		t.Errorf("second DeleteExpiredConsoleSessions = %d, want 0", n)
	}
	n, err = f.s.DeleteExpiredConsoleSessions(f.ctx, cut.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteExpiredConsoleSessions of the rest = %d, want 2", n)
	}
	same(t, "sessions after the last sweep", f.liveConsoleSessions("at-cut", "new"), []string{})
}

// testConsoleSessionCap: creating a session keeps the owner's newest keep
// sessions by ExpiresAt (the new one always among them; equal expiries by
// latest update), leaves other owners alone, and does it in the creation's
// transaction.
func testConsoleSessionCap(t *testing.T, f *fixture) {
	base := f.clock.Add(time.Hour)
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }

	// Another owner's sessions, more than keep, created first: creating
	// u1's must not touch them.
	for _, c := range []string{"b1", "b2", "b3", "b4"} {
		f.consoleSession(c, "member:u2", at(0), 10)
	}
	// Expiries out of creation order, so "oldest" cannot mean "created
	// first".
	f.consoleSession("a-30", "member:u1", at(30), 3)
	f.consoleSession("a-10", "member:u1", at(10), 3)
	f.consoleSession("a-40", "member:u1", at(40), 3)
	all := []string{"a-30", "a-10", "a-40", "a-20", "a-50", "a-05"}
	same(t, "u1 under the cap", f.liveConsoleSessions(all...), []string{"a-30", "a-10", "a-40"})
	f.consoleSession("a-20", "member:u1", at(20), 3)
	same(t, "u1 at 4 with keep 3", f.liveConsoleSessions(all...), []string{"a-30", "a-40", "a-20"})
	f.consoleSession("a-50", "member:u1", at(50), 3)
	same(t, "u1 at 4 again", f.liveConsoleSessions(all...), []string{"a-30", "a-40", "a-50"})
	// A new session is kept even when it expires first: the cookie just
	// set must work.
	f.consoleSession("a-05", "member:u1", at(5), 3)
	same(t, "new session expiring first", f.liveConsoleSessions(all...), []string{"a-40", "a-50", "a-05"})
	same(t, "u2 untouched", f.liveConsoleSessions("b1", "b2", "b3", "b4"), []string{"b1", "b2", "b3", "b4"})

	// keep 1 leaves only the new session.
	f.consoleSession("a-60", "member:u1", at(60), 1)
	same(t, "keep 1", f.liveConsoleSessions(append(all, "a-60")...), []string{"a-60"})

	// Equal expiries: the most recently updated ones stay.
	for _, c := range []string{"c1", "c2", "c3"} {
		f.consoleSession(c, "member:u3", at(0), 10)
	}
	f.updateConsoleSession(consoleHash("c1"), []byte("touched"), f.tick(), 1)
	f.consoleSession("c4", "member:u3", at(0), 2)
	same(t, "equal expiries", f.liveConsoleSessions("c1", "c2", "c3", "c4"), []string{"c1", "c4"})

	// Inside a transaction that fails, neither the new session nor the
	// deletions it caused land.
	boom := errors.New("boom")
	err := f.s.InTx(f.ctx, func(tx realm.Store) error {
		cs := &realm.ConsoleSession{IDHash: consoleHash("b5"), Owner: "member:u2", Data: []byte("x"),
			ExpiresAt: at(90), UpdatedAt: f.tick()}
		if err := tx.CreateConsoleSession(f.ctx, cs, 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	same(t, "u2 after a rolled-back create", f.liveConsoleSessions("b1", "b2", "b3", "b4", "b5"),
		[]string{"b1", "b2", "b3", "b4"})
	// A successful one in a transaction applies the cap.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		return tx.CreateConsoleSession(f.ctx, &realm.ConsoleSession{IDHash: consoleHash("b5"), Owner: "member:u2",
			Data: []byte("x"), ExpiresAt: at(90), UpdatedAt: f.tick()}, 2)
	}))
	same(t, "u2 after a create in a transaction", f.liveConsoleSessions("b1", "b2", "b3", "b4", "b5"),
		[]string{"b4", "b5"})
}
