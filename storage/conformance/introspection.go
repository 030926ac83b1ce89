package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// introspectionClientView keeps the fields realm.IntrospectionRead
// promises of its caller.
func introspectionClientView(c *realm.Client) *realm.Client {
	if c == nil {
		return nil
	}
	return &realm.Client{ID: c.ID, RealmID: c.RealmID, ClientID: c.ClientID, Kind: c.Kind, Active: c.Active,
		Public: c.Public, OrgID: c.OrgID, OrgRole: c.OrgRole, SecretHash: c.SecretHash,
		PreviousSecretHash: c.PreviousSecretHash, PreviousSecretExpiresAt: c.PreviousSecretExpiresAt,
		TokensValidAfter: c.TokensValidAfter}
}

// testIntrospectionRead covers realm.IntrospectionReader: the caller, the
// token's client and user as GetClient and GetUser return them (the fields
// it promises), revocation as IsTokenRevoked says, each part nil or false
// when absent, empty or of another realm, and every change seen by the next
// read (nothing cached).
func testIntrospectionRead(t *testing.T, f *fixture) {
	ir, ok := f.s.(realm.IntrospectionReader)
	if !ok {
		t.Skip("the store does not implement realm.IntrospectionReader (introspection reads it part by part)")
	}
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	read := func(what string, q realm.IntrospectionQuery) *realm.IntrospectionRead {
		t.Helper()
		got, err := ir.ReadIntrospection(f.ctx, r.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	check := func(what string, got *realm.IntrospectionRead, caller, tc *realm.Client, u *realm.User, revoked bool) {
		t.Helper()
		same(t, what+": caller", introspectionClientView(got.Caller), introspectionClientView(caller))
		var wantTC *realm.Client
		if tc != nil {
			wantTC = &realm.Client{ID: tc.ID, RealmID: tc.RealmID, ClientID: tc.ClientID, Active: tc.Active,
				TokensValidAfter: tc.TokensValidAfter}
		}
		same(t, what+": token client", got.TokenClient, wantTC)
		var wantUser *realm.User
		if u != nil {
			wantUser = &realm.User{ID: u.ID, RealmID: u.RealmID, Active: u.Active, TokensValidAfter: u.TokensValidAfter}
		}
		same(t, what+": user", got.User, wantUser)
		if got.Revoked != revoked {
			t.Errorf("%s: revoked = %v, want %v", what, got.Revoked, revoked)
		}
	}

	// Every field it promises is set on the caller, so a column read into
	// the wrong field shows.
	rs := f.client(r.ID, "rs")
	grace, cutoff := f.tick().Add(time.Hour), f.tick()
	rs.Kind, rs.OrgID, rs.OrgRole = realm.KindApplication, o.ID, realm.RoleAdmin
	rs.PreviousSecretHash, rs.PreviousSecretExpiresAt, rs.TokensValidAfter = []byte("old-hash"), &grace, &cutoff
	must(t, f.s.UpdateClient(f.ctx, rs))
	f.client(r.ID, "svc")
	pub := f.client(r.ID, "spa")
	pub.Kind, pub.Public, pub.SecretHash = realm.KindApplication, true, nil
	must(t, f.s.UpdateClient(f.ctx, pub))
	u := f.user(r.ID, "ann@example.com")
	// The same IDs in another realm must never answer for this one.
	f.client(other.ID, "ghost")
	ghost := f.user(other.ID, "ghost@example.com")
	exp := f.clock.Add(time.Hour)
	must(t, f.s.RevokeToken(f.ctx, r.ID, "jti-1", exp))
	must(t, f.s.RevokeToken(f.ctx, other.ID, "jti-other", exp))

	get := func(clientID string) *realm.Client {
		t.Helper()
		c, err := f.s.GetClient(f.ctx, r.ID, clientID)
		must(t, err)
		return c
	}
	getUser := func(id string) *realm.User {
		t.Helper()
		got, err := f.s.GetUser(f.ctx, r.ID, id)
		must(t, err)
		return got
	}

	all := realm.IntrospectionQuery{CallerID: "rs", TokenClientID: "svc", UserID: u.ID, JTI: "jti-1"}
	check("all four", read("all four", all), get("rs"), get("svc"), getUser(u.ID), true)
	check("not revoked", read("not revoked", realm.IntrospectionQuery{CallerID: "rs", TokenClientID: "svc", JTI: "jti-2"}),
		get("rs"), get("svc"), nil, false)
	check("public caller, own token", read("public", realm.IntrospectionQuery{CallerID: "spa", TokenClientID: "spa"}),
		get("spa"), get("spa"), nil, false)
	check("nothing asked", read("nothing asked", realm.IntrospectionQuery{}), nil, nil, nil, false)
	check("unknown", read("unknown", realm.IntrospectionQuery{CallerID: "nobody", TokenClientID: "nobody",
		UserID: "nobody", JTI: "jti-nobody"}), nil, nil, nil, false)
	check("another realm's rows", read("another realm's rows", realm.IntrospectionQuery{CallerID: "ghost",
		TokenClientID: "ghost", UserID: ghost.ID, JTI: "jti-other"}), nil, nil, nil, false)
	got, err := ir.ReadIntrospection(f.ctx, "no-such-realm", all)
	must(t, err)
	check("no such realm", got, nil, nil, nil, false)

	// Changes are read at once: deactivation, a new cut-off, a rotated
	// secret.
	after := f.tick()
	rs.Active, rs.SecretHash, rs.PreviousSecretHash, rs.PreviousSecretExpiresAt = false, []byte("new-hash"), nil, nil
	must(t, f.s.UpdateClient(f.ctx, rs))
	svcRow := get("svc")
	svcRow.Active, svcRow.TokensValidAfter = false, &after
	must(t, f.s.UpdateClient(f.ctx, svcRow))
	u.Active, u.TokensValidAfter, u.UpdatedAt = false, &after, after
	must(t, f.s.UpdateUser(f.ctx, u))
	check("after changes", read("after changes", all), get("rs"), get("svc"), getUser(u.ID), true)
	if c := read("deactivated", all).Caller; c == nil || c.Active || string(c.SecretHash) != "new-hash" {
		t.Errorf("deactivated caller read as %+v", c)
	}
	// The caller's and the token client's columns are told apart: one
	// active, the other not.
	rs.Active = true
	must(t, f.s.UpdateClient(f.ctx, rs))
	check("caller active, token client not", read("caller active", all), get("rs"), get("svc"), getUser(u.ID), true)

	// Inside a transaction it reads the transaction's rows.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		must(t, tx.RevokeToken(f.ctx, r.ID, "jti-2", exp))
		txr, ok := tx.(realm.IntrospectionReader)
		if !ok {
			t.Fatal("the store's transactions do not implement realm.IntrospectionReader")
		}
		got, err := txr.ReadIntrospection(f.ctx, r.ID, realm.IntrospectionQuery{CallerID: "rs", JTI: "jti-2"})
		must(t, err)
		if !got.Revoked || got.Caller == nil {
			t.Errorf("in a transaction: revoked = %v, caller = %v; want true and rs", got.Revoked, got.Caller)
		}
		return nil
	}))
}

// testTokenEpochs covers realm.TokenStateWatcher: a realm's epoch changes
// with every change of what ReadIntrospection and GetClientClaims read
// there (a client or a user updated, a token revoked, a group changed or
// deleted, an attribute definition created, changed or deleted, the
// realm's allow list), committed, and only then; another realm's does
// not; the process's generation has moved when the changing call returns;
// a deleted or unknown realm has no epoch.
func testTokenEpochs(t *testing.T, f *fixture) {
	w, ok := f.s.(realm.TokenStateWatcher)
	if !ok {
		t.Skip("the store does not implement realm.TokenStateWatcher (introspection reads every time)")
	}
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	c := f.client(r.ID, "svc")
	u := f.user(r.ID, "ann@example.com")
	g := f.group(r.ID, "Traders", nil)
	doomed := f.group(r.ID, "Doomed", nil)
	level := &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "level", Type: attributes.Integer,
		CreatedAt: f.clock, UpdatedAt: f.clock}
	epochs := func() map[string]int64 {
		t.Helper()
		got, err := w.TokenEpochs(f.ctx, []string{r.ID, other.ID, "no-such-realm"})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	start := epochs()
	if _, ok := start["no-such-realm"]; ok || len(start) != 2 {
		t.Fatalf("TokenEpochs = %v, want the two realms only", start)
	}
	prev, prevGen := start, w.TokenStateGeneration(r.ID)
	changes := []struct {
		what string
		fn   func() error
	}{
		{"client deactivated", func() error { c.Active = false; return f.s.UpdateClient(f.ctx, c) }},
		{"client's secret replaced", func() error { c.SecretHash = []byte("another-hash"); return f.s.UpdateClient(f.ctx, c) }},
		{"user deactivated", func() error { u.Active = false; return f.s.UpdateUser(f.ctx, u) }},
		{"token revoked", func() error { return f.s.RevokeToken(f.ctx, r.ID, "jti-1", f.clock.Add(time.Hour)) }},
		{"client's groups changed", func() error { c.Groups = []string{g.ID}; return f.s.UpdateClient(f.ctx, c) }},
		{"attribute defined", func() error { return f.s.CreateAttribute(f.ctx, level) }},
		{"group's values changed", func() error {
			g.Attributes = map[string]any{"level": int64(3)}
			return f.s.UpdateGroup(f.ctx, g)
		}},
		{"attribute definition changed", func() error { level.Multi = true; return f.s.UpdateAttribute(f.ctx, level) }},
		{"attribute definition deleted", func() error { return f.s.DeleteAttribute(f.ctx, r.ID, "level") }},
		{"group deleted", func() error { return f.s.DeleteGroup(f.ctx, r.ID, doomed.ID) }},
		{"realm's IP allow list set", func() error {
			return f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"192.0.2.0/24"}, f.clock)
		}},
		{"change inside a transaction", func() error {
			return f.s.InTx(f.ctx, func(tx realm.Store) error {
				cutoff := f.tick()
				u.TokensValidAfter = &cutoff
				return tx.UpdateUser(f.ctx, u)
			})
		}},
	}
	for _, ch := range changes {
		must(t, ch.fn())
		got, gen := epochs(), w.TokenStateGeneration(r.ID)
		if got[r.ID] == prev[r.ID] {
			t.Errorf("%s: the realm's epoch stayed %d", ch.what, got[r.ID])
		}
		if got[other.ID] != start[other.ID] {
			t.Errorf("%s: another realm's epoch moved from %d to %d", ch.what, start[other.ID], got[other.ID])
		}
		if gen == prevGen {
			t.Errorf("%s: the generation did not move before the call returned", ch.what)
		}
		prev, prevGen = got, gen
	}
	// Changes that lock the realm row (as admin changes do) and
	// revocations, side by side, all go through: the epoch row is locked
	// last, after every other lock of its transaction.
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			if i%2 == 0 {
				errs <- f.s.RevokeToken(f.ctx, r.ID, fmt.Sprintf("jti-side-%d", i), f.clock.Add(time.Hour))
				return
			}
			errs <- f.s.InTx(f.ctx, func(tx realm.Store) error {
				if err := tx.LockRealmMembership(f.ctx, r.ID); err != nil {
					return err
				}
				u, err := tx.GetUser(f.ctx, r.ID, u.ID)
				if err != nil {
					return err
				}
				u.FirstName = fmt.Sprintf("Ann %d", i)
				return tx.UpdateUser(f.ctx, u)
			})
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent change: %v", err)
		}
	}
	if got := epochs(); got[r.ID] == prev[r.ID] {
		t.Errorf("16 committed changes left the epoch at %d", got[r.ID])
	}
	prev = epochs()

	// A transaction that fails changes no epoch.
	boom := errors.New("boom")
	err := f.s.InTx(f.ctx, func(tx realm.Store) error {
		c.Active = true
		if err := tx.UpdateClient(f.ctx, c); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed transaction: %v", err)
	}
	if got := epochs(); got[r.ID] != prev[r.ID] {
		t.Errorf("a rolled-back change moved the epoch from %d to %d", prev[r.ID], got[r.ID])
	}
	// A deleted realm has no epoch, and the generation moves.
	gen := w.TokenStateGeneration(r.ID)
	must(t, f.s.DeleteRealm(f.ctx, r.ID))
	if got := epochs(); len(got) != 1 || got[other.ID] != start[other.ID] {
		t.Errorf("after the realm's deletion TokenEpochs = %v, want only the other realm at %d", got, start[other.ID])
	}
	if w.TokenStateGeneration(r.ID) == gen {
		t.Error("deleting a realm did not move the generation")
	}
}
