package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// testSupportAccess: an org that never switched support access reads as
// off; SetSupportAccess writes and replaces the whole row (on, off, on
// again); an unknown org is ErrNotFound and writes nothing; deleting
// nothing else; each org has its own.
func testSupportAccess(t *testing.T, f *fixture) {
	o := f.org("acme")
	other := f.org("other")
	got, err := f.s.GetSupportAccess(f.ctx, o.ID)
	must(t, err)
	same(t, "never switched", got, &realm.SupportAccess{OrgID: o.ID})
	if got.On(f.clock) {
		t.Error("never switched: On = true")
	}

	on := f.tick()
	until := on.Add(24 * time.Hour)
	want := &realm.SupportAccess{OrgID: o.ID, EnabledAt: &on, Until: &until, UpdatedBy: "member:u1", UpdatedAt: on}
	must(t, f.s.SetSupportAccess(f.ctx, want))
	got, err = f.s.GetSupportAccess(f.ctx, o.ID)
	must(t, err)
	same(t, "switched on", got, want)
	if !got.On(on) || !got.On(until.Add(-time.Microsecond)) || got.On(until) {
		t.Errorf("On around until %v is wrong", until)
	}
	// The other org is untouched.
	got, err = f.s.GetSupportAccess(f.ctx, other.ID)
	must(t, err)
	same(t, "other org", got, &realm.SupportAccess{OrgID: other.ID})

	off := f.tick()
	want = &realm.SupportAccess{OrgID: o.ID, UpdatedBy: "client:c1", UpdatedAt: off}
	must(t, f.s.SetSupportAccess(f.ctx, want))
	got, err = f.s.GetSupportAccess(f.ctx, o.ID)
	must(t, err)
	same(t, "switched off", got, want)
	if got.On(off) {
		t.Error("switched off: On = true")
	}

	again := f.tick()
	until2 := again.Add(time.Hour)
	want = &realm.SupportAccess{OrgID: o.ID, EnabledAt: &again, Until: &until2, UpdatedBy: "member:u2", UpdatedAt: again}
	must(t, f.s.SetSupportAccess(f.ctx, want))
	got, err = f.s.GetSupportAccess(f.ctx, o.ID)
	must(t, err)
	same(t, "switched on again", got, want)

	// In a transaction that rolls back, nothing lands.
	boom := errors.New("boom")
	err = f.s.InTx(f.ctx, func(tx realm.Store) error {
		must(t, tx.SetSupportAccess(f.ctx, &realm.SupportAccess{OrgID: o.ID, UpdatedBy: "x", UpdatedAt: f.tick()}))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	got, err = f.s.GetSupportAccess(f.ctx, o.ID)
	must(t, err)
	same(t, "after a rolled-back write", got, want)

	// An unknown org: ErrNotFound, nothing written.
	ghost := f.id()
	at := f.tick()
	err = f.s.SetSupportAccess(f.ctx, &realm.SupportAccess{OrgID: ghost, EnabledAt: &at, Until: &until, UpdatedBy: "x", UpdatedAt: at})
	if !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("SetSupportAccess of an unknown org = %v, want ErrNotFound", err)
	}
	got, err = f.s.GetSupportAccess(f.ctx, ghost)
	must(t, err)
	same(t, "unknown org", got, &realm.SupportAccess{OrgID: ghost})

	// The lock of a switch: inside a transaction, for an org that exists.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error { return tx.LockOrgSupport(f.ctx, o.ID) }))
	if err := f.s.InTx(f.ctx, func(tx realm.Store) error { return tx.LockOrgSupport(f.ctx, "no-such-org") }); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("LockOrgSupport of an unknown org: %v, want ErrNotFound", err)
	}
}
