package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// runMailOutbox runs the cases of realm.MailOutboxStore.
func runMailOutbox(t *testing.T, newStore func(t *testing.T) realm.Store) {
	runCase(t, "MailOutboxLease", newStore, testMailOutboxLease)
	runCase(t, "MailOutboxConcurrentClaims", newStore, testMailOutboxConcurrentClaims)
	runCase(t, "MailOutboxTransactions", newStore, testMailOutboxTransactions)
}

// queueMail stores one due outbox row for a user of r and returns it.
func (f *fixture) queueMail(r *realm.Realm, userID string) *realm.OutboxMail {
	f.t.Helper()
	now := f.tick()
	m := &realm.OutboxMail{ID: realm.NewID(now, nil), OrgID: r.OrgID, RealmID: r.ID, UserID: userID,
		Purpose: realm.PurposeSetPassword, Sealed: []byte("sealed:" + userID), DueAt: now, CreatedAt: now}
	must(f.t, f.s.EnqueueMail(f.ctx, m))
	return m
}

func mailIDs(ms []realm.OutboxMail) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// testMailOutboxLease: a claim takes due rows oldest first up to its limit
// and holds them until its lease ends; meanwhile nobody else gets them,
// and afterwards the next claim does, while the first claim's lease no
// longer reschedules or deletes them. Reschedule and delete work under the
// lease that holds the row.
func testMailOutboxLease(t *testing.T, f *fixture, s realm.Store) {
	ctx := f.ctx
	r := f.realm(f.org("mo").ID, "mo")
	a, b, c := f.queueMail(r, "u1"), f.queueMail(r, "u2"), f.queueMail(r, "u3")
	now := f.tick()
	lease := 30 * time.Second

	got, err := s.ClaimMail(ctx, now, now.Add(lease), "lease-1", 2)
	must(t, err)
	if ids := mailIDs(got); !slices.Equal(ids, []string{a.ID, b.ID}) {
		t.Fatalf("first claim took %v, want the two oldest %v", ids, []string{a.ID, b.ID})
	}
	g := got[0]
	if g.Lease != "lease-1" || g.Attempts != 1 || !g.DueAt.Equal(now.Add(lease)) || g.OrgID != r.OrgID ||
		g.RealmID != r.ID || g.UserID != "u1" || g.Purpose != realm.PurposeSetPassword ||
		!bytes.Equal(g.Sealed, a.Sealed) || !g.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("claimed row %+v", g)
	}

	// While the lease runs only the third row is left to claim.
	got, err = s.ClaimMail(ctx, now.Add(lease-time.Microsecond), now.Add(2*lease), "lease-2", 10)
	must(t, err)
	if ids := mailIDs(got); !slices.Equal(ids, []string{c.ID}) {
		t.Fatalf("claim during the lease took %v, want only %s", ids, c.ID)
	}
	// Nothing is due now.
	if got, err = s.ClaimMail(ctx, now, now.Add(lease), "lease-3", 10); err != nil || len(got) != 0 {
		t.Fatalf("claim with nothing due: %v, %v", mailIDs(got), err)
	}

	// Renewing the lease and retrying later both move due_at; deleting
	// under the holding lease removes the row.
	must(t, s.RescheduleMail(ctx, a.ID, "lease-1", now.Add(time.Hour)))
	must(t, s.RescheduleMail(ctx, b.ID, "lease-1", now.Add(lease+2*time.Second)))
	must(t, s.DeleteMail(ctx, c.ID, "lease-2"))
	wantNotFound(t, "deleting a deleted row", s.DeleteMail(ctx, c.ID, "lease-2"))
	wantNotFound(t, "rescheduling a deleted row", s.RescheduleMail(ctx, c.ID, "lease-2", now))

	// When b's new due time comes, b alone is claimed again, one attempt
	// more; its old lease can no longer touch it.
	later := now.Add(lease + 2*time.Second)
	got, err = s.ClaimMail(ctx, later, later.Add(lease), "lease-4", 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != b.ID || got[0].Attempts != 2 || got[0].Lease != "lease-4" {
		t.Fatalf("claim after the retry time: %+v", got)
	}
	wantNotFound(t, "rescheduling under a lost lease", s.RescheduleMail(ctx, b.ID, "lease-1", later))
	wantNotFound(t, "deleting under a lost lease", s.DeleteMail(ctx, b.ID, "lease-1"))
	wantNotFound(t, "deleting under no lease", s.DeleteMail(ctx, b.ID, ""))
	wantNotFound(t, "rescheduling an unknown row", s.RescheduleMail(ctx, "nope", "lease-4", later))
	must(t, s.DeleteMail(ctx, b.ID, "lease-4"))

	// Released (due now), a row is claimable at once.
	must(t, s.RescheduleMail(ctx, a.ID, "lease-1", later))
	got, err = s.ClaimMail(ctx, later, later.Add(lease), "lease-5", 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != a.ID || got[0].Attempts != 2 {
		t.Fatalf("claim after a release: %+v", got)
	}
}

// testMailOutboxConcurrentClaims: of many claims at once, each row goes
// to exactly one.
func testMailOutboxConcurrentClaims(t *testing.T, f *fixture, s realm.Store) {
	r := f.realm(f.org("mc").ID, "mc")
	const rows = 30
	for i := range rows {
		f.queueMail(r, fmt.Sprint("u", i))
	}
	now := f.tick()
	var (
		mu    sync.Mutex
		owner = map[string]string{}
		wg    sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for i := range 10 {
				lease := fmt.Sprint("lease-", w, "-", i)
				got, err := s.ClaimMail(f.ctx, now, now.Add(time.Minute), lease, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, m := range got {
					if prev, ok := owner[m.ID]; ok {
						t.Errorf("row %s claimed by %s and %s", m.ID, prev, lease)
					}
					owner[m.ID] = lease
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owner) != rows {
		t.Errorf("%d of %d rows claimed", len(owner), rows)
	}
}

// testMailOutboxTransactions: a row queued in a rolled-back transaction
// does not exist; one for an unknown realm is refused; deleting the realm
// drops its queued mail.
func testMailOutboxTransactions(t *testing.T, f *fixture, s realm.Store) {
	ctx := f.ctx
	o := f.org("mt")
	r, keep := f.realm(o.ID, "doomed"), f.realm(o.ID, "keep")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx realm.Store) error {
		now := f.tick()
		if err := tx.EnqueueMail(ctx, &realm.OutboxMail{ID: realm.NewID(now, nil), OrgID: o.ID, RealmID: r.ID,
			UserID: "u", Purpose: realm.PurposeSetPassword, Sealed: []byte("x"), DueAt: now, CreatedAt: now}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	now := f.tick()
	if got, err := s.ClaimMail(ctx, now, now.Add(time.Minute), "l1", 10); err != nil || len(got) != 0 {
		t.Fatalf("rolled-back row claimed: %v, %v", mailIDs(got), err)
	}
	wantNotFound(t, "mail for an unknown realm", s.EnqueueMail(ctx, &realm.OutboxMail{ID: realm.NewID(now, nil),
		OrgID: o.ID, RealmID: "no-such-realm", UserID: "u", Purpose: realm.PurposeSetPassword, Sealed: []byte("x"),
		DueAt: now, CreatedAt: now}))

	f.queueMail(r, "gone")
	kept := f.queueMail(keep, "kept")
	must(t, s.DeleteRealm(ctx, r.ID))
	now = f.tick()
	got, err := s.ClaimMail(ctx, now, now.Add(time.Minute), "l2", 10)
	must(t, err)
	if ids := mailIDs(got); !slices.Equal(ids, []string{kept.ID}) {
		t.Fatalf("after deleting a realm the outbox holds %v, want only %s", ids, kept.ID)
	}
}
