package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// runRefresh runs the cases of realm.RefreshTokenStore.
func runRefresh(t *testing.T, newStore func(t *testing.T) realm.Store) {
	for _, tc := range refreshCases {
		runCase(t, tc.name, newStore, tc.fn)
	}
}

// refreshCase is a case of runRefresh, given the store besides the fixture.
type refreshCase struct {
	name string
	fn   func(t *testing.T, f *fixture, s realm.Store)
}

// refreshCases are runRefresh's cases.
var refreshCases = []refreshCase{
	{"RefreshTokens", testRefreshTokens},
	{"RefreshSingleUse", testRefreshSingleUse},
	{"RefreshInTx", testRefreshInTx},
	{"RefreshGrant", testRefreshGrant},
	{"ReadRefreshGrant", testReadRefreshGrant},
	{"RefreshRevokeRacesRotation", testRefreshRevokeRacesRotation},
	{"UserSessions", testUserSessions},
}

func (f *fixture) refresh(s realm.Store, realmID, id, family, userID string, created time.Time) *realm.RefreshToken {
	rt := &realm.RefreshToken{ID: id, RealmID: realmID, FamilyID: family, SessionID: "sid-" + family, UserID: userID,
		ClientID: "app", AccessJTI: "at-" + id, Data: []byte(`{"id":"` + id + `"}`),
		ExpiresAt: created.Add(10 * time.Hour), CreatedAt: created}
	must(f.t, s.CreateRefreshToken(f.ctx, rt))
	return rt
}

func testRefreshTokens(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	u := f.user(r.ID, "u@example.com")
	in := f.refresh(s, r.ID, "rt-1", "fam-1", u.ID, f.clock)
	in2 := &realm.RefreshToken{ID: "rt-off", RealmID: r.ID, FamilyID: "fam-2", SessionID: "s", UserID: u.ID, ClientID: "app",
		Offline: true, Data: []byte("d"), ExpiresAt: f.clock.Add(30 * 24 * time.Hour), CreatedAt: f.clock}
	must(t, s.CreateRefreshToken(f.ctx, in2))
	if err := s.CreateRefreshToken(f.ctx, in); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("duplicate CreateRefreshToken = %v, want ErrConflict", err)
	}
	got, err := s.GetRefreshToken(f.ctx, r.ID, "rt-1")
	must(t, err)
	if got.FamilyID != "fam-1" || got.SessionID != "sid-fam-1" || got.UserID != u.ID || got.ClientID != "app" ||
		got.AccessJTI != "at-rt-1" || got.Offline || got.Used || got.Revoked || !bytes.Equal(got.Data, in.Data) ||
		!got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("GetRefreshToken = %+v", got)
	}
	if got, err := s.GetRefreshToken(f.ctx, r.ID, "rt-off"); err != nil || !got.Offline {
		t.Errorf("offline token = %+v, %v", got, err)
	}
	_, err = s.GetRefreshToken(f.ctx, other.ID, "rt-1")
	wantNotFound(t, "token of another realm", err)

	wantNotFound(t, "use in another realm", s.UseRefreshToken(f.ctx, other.ID, "rt-1"))
	must(t, s.UseRefreshToken(f.ctx, r.ID, "rt-1"))
	if err := s.UseRefreshToken(f.ctx, r.ID, "rt-1"); !errors.Is(err, realm.ErrAlreadyUsed) {
		t.Errorf("second use = %v, want ErrAlreadyUsed", err)
	}
	wantNotFound(t, "use of unknown", s.UseRefreshToken(f.ctx, r.ID, "nope"))

	// A family: rt-1 (used), rt-2, rt-3 made later; rt-old's access token
	// expired long ago, so it is not listed.
	f.refresh(s, r.ID, "rt-2", "fam-1", u.ID, f.clock.Add(time.Minute))
	f.refresh(s, r.ID, "rt-3", "fam-1", u.ID, f.clock.Add(2*time.Minute))
	f.refresh(s, r.ID, "rt-old", "fam-1", u.ID, f.clock.Add(-time.Hour))
	f.refresh(s, r.ID, "rt-x", "fam-3", u.ID, f.clock)
	now := f.clock.Add(3 * time.Minute)
	revoked, err := s.RevokeRefreshFamily(f.ctx, r.ID, "fam-1", now, 5*time.Minute)
	must(t, err)
	jtis := map[string]time.Time{}
	for _, a := range revoked {
		jtis[a.JTI] = a.ExpiresAt
	}
	if len(jtis) != 3 || !jtis["at-rt-1"].Equal(f.clock.Add(5*time.Minute)) || jtis["at-rt-2"].IsZero() || jtis["at-rt-3"].IsZero() {
		t.Errorf("RevokeRefreshFamily access tokens = %v, want at-rt-1..3", revoked)
	}
	for _, id := range []string{"rt-1", "rt-2", "rt-3", "rt-old"} {
		got, err := s.GetRefreshToken(f.ctx, r.ID, id)
		must(t, err)
		if !got.Revoked {
			t.Errorf("%s not revoked with its family", id)
		}
	}
	if err := s.UseRefreshToken(f.ctx, r.ID, "rt-2"); !errors.Is(err, realm.ErrAlreadyUsed) {
		t.Errorf("use of revoked token = %v, want ErrAlreadyUsed", err)
	}
	if got, _ := s.GetRefreshToken(f.ctx, r.ID, "rt-x"); got.Revoked {
		t.Error("another family was revoked")
	}
	// Rotation: a live parent is marked used and its child inserted; a
	// revoked, used or unknown parent gets nothing inserted.
	rotate := func(id, family, parent string) error {
		return s.RotateRefreshToken(f.ctx, &realm.RefreshToken{ID: id, RealmID: r.ID, FamilyID: family,
			SessionID: "sid-" + family, UserID: u.ID, ClientID: "app", AccessJTI: "at-" + id, Data: []byte("d"),
			ExpiresAt: now.Add(10 * time.Hour), CreatedAt: now, ParentID: parent})
	}
	if err := rotate("rt-4", "fam-1", "rt-3"); !errors.Is(err, realm.ErrAlreadyUsed) {
		t.Errorf("rotation of a revoked token = %v, want ErrAlreadyUsed", err)
	}
	_, err = s.GetRefreshToken(f.ctx, r.ID, "rt-4")
	wantNotFound(t, "child of a refused rotation", err)
	must(t, rotate("rt-x2", "fam-3", "rt-x"))
	if parent, err := s.GetRefreshToken(f.ctx, r.ID, "rt-x"); err != nil || !parent.Used {
		t.Errorf("rotated parent = %+v, %v; want used", parent, err)
	}
	if child, err := s.GetRefreshToken(f.ctx, r.ID, "rt-x2"); err != nil || child.Used || child.Revoked || child.FamilyID != "fam-3" {
		t.Errorf("rotated child = %+v, %v; want live", child, err)
	}
	if err := rotate("rt-x3", "fam-3", "rt-x"); !errors.Is(err, realm.ErrAlreadyUsed) {
		t.Errorf("second rotation of one token = %v, want ErrAlreadyUsed", err)
	}
	wantNotFound(t, "rotation of an unknown token", rotate("rt-y", "fam-9", "nope"))

	// A client's tokens, of every user, and only that client's.
	f.refresh(s, r.ID, "rt-other-client", "fam-4", u.ID, f.clock)
	must(t, s.CreateRefreshToken(f.ctx, &realm.RefreshToken{ID: "rt-app2", RealmID: r.ID, FamilyID: "fam-5",
		SessionID: "s", UserID: u.ID, ClientID: "app2", Data: []byte("d"), ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}))
	must(t, s.RevokeClientRefreshTokens(f.ctx, other.ID, "app2"))
	if got, _ := s.GetRefreshToken(f.ctx, r.ID, "rt-app2"); got.Revoked {
		t.Error("RevokeClientRefreshTokens of another realm revoked a token")
	}
	must(t, s.RevokeClientRefreshTokens(f.ctx, r.ID, "app2"))
	if got, _ := s.GetRefreshToken(f.ctx, r.ID, "rt-app2"); !got.Revoked {
		t.Error("rt-app2 not revoked with its client's tokens")
	}
	if got, _ := s.GetRefreshToken(f.ctx, r.ID, "rt-other-client"); got.Revoked {
		t.Error("RevokeClientRefreshTokens revoked another client's token")
	}

	must(t, s.RevokeUserRefreshTokens(f.ctx, r.ID, u.ID))
	for _, id := range []string{"rt-x", "rt-x2", "rt-off"} {
		if got, _ := s.GetRefreshToken(f.ctx, r.ID, id); !got.Revoked {
			t.Errorf("%s not revoked with its user's tokens", id)
		}
	}

	n, err := s.DeleteExpiredRefreshTokens(f.ctx, f.clock.Add(11*time.Hour))
	must(t, err)
	if n != 8 {
		t.Errorf("DeleteExpiredRefreshTokens removed %d, want 8", n)
	}
	if _, err := s.GetRefreshToken(f.ctx, r.ID, "rt-off"); err != nil {
		t.Errorf("offline token deleted before expiry: %v", err)
	}

	// Browser sessions by ID.
	bs := &realm.BrowserSession{ID: "sess", RealmID: r.ID, UserID: u.ID, TokenHash: []byte("t"),
		AuthTime: f.clock, ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}
	must(t, s.CreateBrowserSession(f.ctx, bs))
	gs, err := s.GetBrowserSession(f.ctx, r.ID, "sess")
	must(t, err)
	if gs.UserID != u.ID || !gs.ExpiresAt.Equal(bs.ExpiresAt) || gs.Revoked {
		t.Errorf("GetBrowserSession = %+v", gs)
	}
	_, err = s.GetBrowserSession(f.ctx, other.ID, "sess")
	wantNotFound(t, "session of another realm", err)

	// Deleting the realm removes its tokens.
	f.refresh(s, other.ID, "rt-o", "fam-o", "", f.clock)
	must(t, s.DeleteRealm(f.ctx, other.ID))
	_, err = s.GetRefreshToken(f.ctx, other.ID, "rt-o")
	wantNotFound(t, "token of deleted realm", err)
}

// testRefreshSingleUse: of many concurrent uses of one refresh token,
// exactly one succeeds.
func testRefreshSingleUse(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	f.refresh(s, r.ID, "rt", "fam", "u", f.clock)
	const n = 20
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, used   int
		unexpected []error
		start      = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			err := s.UseRefreshToken(f.ctx, r.ID, "rt")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, realm.ErrAlreadyUsed):
				used++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 1 || used != n-1 || len(unexpected) > 0 {
		t.Errorf("concurrent uses: %d succeeded, %d already used, errors %v; want 1 and %d", ok, used, unexpected, n-1)
	}

	// Concurrent rotations of one token: one child is inserted.
	f.refresh(s, r.ID, "rt2", "fam2", "u", f.clock)
	ok, used, unexpected = 0, 0, nil
	start = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.RotateRefreshToken(f.ctx, &realm.RefreshToken{ID: fmt.Sprintf("child-%d", i), RealmID: r.ID,
				FamilyID: "fam2", SessionID: "s", UserID: "u", ClientID: "app", Data: []byte("d"),
				ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock, ParentID: "rt2"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, realm.ErrAlreadyUsed):
				used++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 1 || used != n-1 || len(unexpected) > 0 {
		t.Errorf("concurrent rotations: %d succeeded, %d already used, errors %v; want 1 and %d", ok, used, unexpected, n-1)
	}
	children := 0
	for i := range n {
		if _, err := s.GetRefreshToken(f.ctx, r.ID, fmt.Sprintf("child-%d", i)); err == nil {
			children++
		}
	}
	if children != 1 {
		t.Errorf("%d children inserted by concurrent rotations, want 1", children)
	}
}

// testRefreshInTx: the store handed to InTx keeps sign-in state too, so
// Service can revoke a user's sessions and tokens in the transaction that
// deactivates the user.
func testRefreshInTx(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	u := f.user(r.ID, "u@example.com")
	f.refresh(s, r.ID, "rt", "fam", u.ID, f.clock)
	must(t, s.CreateBrowserSession(f.ctx, &realm.BrowserSession{ID: "sess", RealmID: r.ID, UserID: u.ID,
		TokenHash: []byte("t"), AuthTime: f.clock, ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}))
	boom := errors.New("rolled back")
	err := s.InTx(f.ctx, func(tx realm.Store) error {
		must(t, tx.RevokeUserRefreshTokens(f.ctx, r.ID, u.ID))
		must(t, tx.RevokeUserSessions(f.ctx, r.ID, u.ID))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if got, _ := s.GetRefreshToken(f.ctx, r.ID, "rt"); got.Revoked {
		t.Error("revocation survived the rollback")
	}
	if got, _ := s.GetBrowserSession(f.ctx, r.ID, "sess"); got.Revoked {
		t.Error("session revocation survived the rollback")
	}
}

// testRefreshGrant covers GetRefreshGrant: the token as GetRefreshToken returns it, its session as
// GetBrowserSession does (the fields it promises) and its user's claims as
// GetUserClaims does.
func testRefreshGrant(t *testing.T, f *fixture, s realm.Store) {
	gs, us := s, s
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1 := f.group(r.ID, "Editors", map[string]any{"region": "eu"})
	g2 := f.group(r.ID, "Admins", nil)
	u := f.user(r.ID, "ada@example.com", g2.ID, g1.ID)
	bs := &realm.BrowserSession{ID: "sid-fam", RealmID: r.ID, UserID: u.ID, TokenHash: []byte("t"),
		AuthTime: f.clock.Add(-time.Minute), ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}
	must(t, s.CreateBrowserSession(f.ctx, bs))
	f.refresh(s, r.ID, "rt", "fam", u.ID, f.clock)
	must(t, s.UseRefreshToken(f.ctx, r.ID, "rt"))

	got, err := gs.GetRefreshGrant(f.ctx, r.ID, "rt")
	must(t, err)
	wantToken, err := s.GetRefreshToken(f.ctx, r.ID, "rt")
	must(t, err)
	same(t, "GetRefreshGrant token", got.Token, wantToken)
	if got.Session == nil {
		t.Fatal("GetRefreshGrant: no session")
	}
	if got.Session.ID != bs.ID || got.Session.UserID != u.ID || !got.Session.AuthTime.Equal(bs.AuthTime) ||
		!got.Session.ExpiresAt.Equal(bs.ExpiresAt) || got.Session.Revoked {
		t.Errorf("GetRefreshGrant session = %+v, want %+v", got.Session, bs)
	}
	if got.User == nil {
		t.Fatal("GetRefreshGrant: no user")
	}
	if us != nil {
		want, err := us.GetUserClaims(f.ctx, r.ID, u.ID)
		must(t, err)
		same(t, "GetRefreshGrant user", got.User, want)
	} else if got.User.User.ID != u.ID || len(got.User.Groups) != 2 {
		t.Errorf("GetRefreshGrant user = %+v", got.User)
	}

	// A revoked session shows as revoked; a token without a session row
	// has none.
	must(t, s.RevokeBrowserSession(f.ctx, r.ID, bs.ID))
	if got, err := gs.GetRefreshGrant(f.ctx, r.ID, "rt"); err != nil || got.Session == nil || !got.Session.Revoked {
		t.Errorf("after revoking the session: %+v, %v", got, err)
	}
	f.refresh(s, r.ID, "rt-lone", "lone", u.ID, f.clock)
	if got, err := gs.GetRefreshGrant(f.ctx, r.ID, "rt-lone"); err != nil || got.Session != nil || got.User == nil {
		t.Errorf("token without a session: %+v, %v", got, err)
	}
	_, err = gs.GetRefreshGrant(f.ctx, other.ID, "rt")
	wantNotFound(t, "GetRefreshGrant in another realm", err)
	_, err = gs.GetRefreshGrant(f.ctx, r.ID, "nope")
	wantNotFound(t, "GetRefreshGrant unknown token", err)
}

// testReadRefreshGrant covers realm.RefreshGrantReader: the grant as
// GetRefreshGrant reads it and the named client as GetClientClaims reads it
// (groups aside), whichever client the token belongs to; ErrNotFound when
// the token or the client is missing in the realm; the same inside a
// transaction.
func testReadRefreshGrant(t *testing.T, f *fixture, s realm.Store) {
	rr, ok := s.(realm.RefreshGrantReader)
	if !ok {
		t.Skip("the store does not implement realm.RefreshGrantReader (refresh grants read part by part)")
	}
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1 := f.group(r.ID, "Editors", map[string]any{"region": "eu"})
	u := f.user(r.ID, "ada@example.com", g1.ID)
	f.client(r.ID, "app", g1.ID)
	f.client(r.ID, "other")
	f.client(other.ID, "app")
	f.refresh(s, r.ID, "rt", "fam", u.ID, f.clock)

	check := func(s realm.Store, clientID string) {
		t.Helper()
		g, c, err := s.(realm.RefreshGrantReader).ReadRefreshGrant(f.ctx, r.ID, "rt", clientID)
		must(t, err)
		want, err := s.GetRefreshGrant(f.ctx, r.ID, "rt")
		must(t, err)
		same(t, "ReadRefreshGrant grant", g, want)
		wantClient, err := s.GetClientClaims(f.ctx, r.ID, clientID)
		must(t, err)
		wc := *wantClient.Client
		wc.Groups = nil
		same(t, "ReadRefreshGrant client", c, &wc)
	}
	check(s, "app")
	check(s, "other") // the client named, not the token's: the caller compares them
	_, _, err := rr.ReadRefreshGrant(f.ctx, r.ID, "rt", "nobody")
	wantNotFound(t, "ReadRefreshGrant unknown client", err)
	_, _, err = rr.ReadRefreshGrant(f.ctx, r.ID, "nope", "app")
	wantNotFound(t, "ReadRefreshGrant unknown token", err)
	_, _, err = rr.ReadRefreshGrant(f.ctx, other.ID, "rt", "app")
	wantNotFound(t, "ReadRefreshGrant token of another realm", err)

	must(t, s.InTx(f.ctx, func(tx realm.Store) error {
		if _, ok := tx.(realm.RefreshGrantReader); !ok {
			t.Fatal("the store's transactions do not implement realm.RefreshGrantReader")
		}
		check(tx, "app")
		return nil
	}))
}

// testRefreshRevokeRacesRotation: a family or user revocation running at
// the same moment as a rotation never leaves a live token behind, whichever
// wins.
func testRefreshRevokeRacesRotation(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	u := f.user(r.ID, "u@example.com")
	for round := range 30 {
		family := fmt.Sprintf("fam-%d", round)
		parent := family + "-0"
		f.refresh(s, r.ID, parent, family, u.ID, f.clock)
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			err := s.RotateRefreshToken(f.ctx, &realm.RefreshToken{ID: family + "-1", RealmID: r.ID, FamilyID: family,
				SessionID: "s", UserID: u.ID, ClientID: "app", Data: []byte("d"), ExpiresAt: f.clock.Add(time.Hour),
				CreatedAt: f.clock, ParentID: parent})
			if err != nil && !errors.Is(err, realm.ErrAlreadyUsed) {
				t.Errorf("round %d: rotation: %v", round, err)
			}
		})
		wg.Go(func() {
			<-start
			var err error
			if round%2 == 0 {
				_, err = s.RevokeRefreshFamily(f.ctx, r.ID, family, f.clock, time.Minute)
			} else {
				err = s.RevokeUserRefreshTokens(f.ctx, r.ID, u.ID)
			}
			if err != nil {
				t.Errorf("round %d: revocation: %v", round, err)
			}
		})
		close(start)
		wg.Wait()
		for _, id := range []string{parent, family + "-1"} {
			got, err := s.GetRefreshToken(f.ctx, r.ID, id)
			if errors.Is(err, realm.ErrNotFound) {
				continue // the rotation lost: no successor
			}
			must(t, err)
			if !got.Revoked {
				t.Errorf("round %d: %s is live after the revocation", round, id)
			}
		}
	}
}

// testUserSessions: ListUserSessions lists a user's live browser sessions
// and refresh token chains, with where and when each was started and last
// used, and leaves out what has ended (revoked, used up, expired, a chain
// whose browser session ended) and what is another user's or realm's.
func testUserSessions(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	u, u2 := f.user(r.ID, "u@example.com"), f.user(r.ID, "v@example.com")
	at := func(m int) time.Time { return f.clock.Add(time.Duration(m) * time.Minute) }
	session := func(id, userID string, started time.Time, addr string) {
		must(t, s.CreateBrowserSession(f.ctx, &realm.BrowserSession{ID: id, RealmID: r.ID, UserID: userID,
			TokenHash: []byte("hash-" + id), AuthTime: started, ExpiresAt: started.Add(10 * time.Hour), CreatedAt: started, IPAddress: addr}))
	}
	token := func(id, family, sid string, offline bool, created time.Time, addr string) *realm.RefreshToken {
		rt := &realm.RefreshToken{ID: id, RealmID: r.ID, FamilyID: family, SessionID: sid, UserID: u.ID, ClientID: "app-" + family,
			AccessJTI: "at-" + id, Offline: offline, Data: []byte("d"), ExpiresAt: created.Add(8 * time.Hour), CreatedAt: created, IPAddress: addr}
		if offline {
			rt.ExpiresAt = created.Add(30 * 24 * time.Hour)
		}
		return rt
	}
	session("s-1", u.ID, at(0), "192.0.2.1")
	session("s-2", u.ID, at(5), "2001:db8::2")
	session("s-gone", u.ID, at(6), "192.0.2.9")
	must(t, s.RevokeBrowserSession(f.ctx, r.ID, "s-gone"))
	session("s-other", u2.ID, at(7), "192.0.2.7")
	// fam-a in s-1, refreshed twice: begun at 1, last used at 20 from .3.
	must(t, s.CreateRefreshToken(f.ctx, token("a1", "fam-a", "s-1", false, at(1), "192.0.2.1")))
	rot := token("a2", "fam-a", "s-1", false, at(10), "192.0.2.2")
	rot.ParentID = "a1"
	must(t, s.RotateRefreshToken(f.ctx, rot))
	rot = token("a3", "fam-a", "s-1", false, at(20), "192.0.2.3")
	rot.ParentID = "a2"
	must(t, s.RotateRefreshToken(f.ctx, rot))
	// fam-off: offline, bound to the ended session, lives on.
	must(t, s.CreateRefreshToken(f.ctx, token("o1", "fam-off", "s-gone", true, at(8), "198.51.100.1")))
	// fam-dead: bound to the ended session, not offline: gone with it.
	must(t, s.CreateRefreshToken(f.ctx, token("d1", "fam-dead", "s-gone", false, at(9), "")))
	// fam-rev: revoked; fam-used: used up with no successor.
	must(t, s.CreateRefreshToken(f.ctx, token("r1", "fam-rev", "s-2", false, at(3), "")))
	_, err := s.RevokeRefreshFamily(f.ctx, r.ID, "fam-rev", at(4), time.Minute)
	must(t, err)
	must(t, s.CreateRefreshToken(f.ctx, token("x1", "fam-used", "s-2", false, at(3), "")))
	must(t, s.UseRefreshToken(f.ctx, r.ID, "x1"))
	// fam-old: expired by now.
	must(t, s.CreateRefreshToken(f.ctx, token("e1", "fam-old", "s-2", false, at(-600), "")))

	now := at(30)
	got, err := s.ListUserSessions(f.ctx, r.ID, u.ID, now)
	must(t, err)
	want := []realm.UserSession{
		{ID: "fam-off", Kind: realm.SessionOffline, ClientID: "app-fam-off", IPAddress: "198.51.100.1",
			StartedAt: at(8), LastUsedAt: at(8), ExpiresAt: at(8).Add(30 * 24 * time.Hour)},
		{ID: "s-2", Kind: realm.SessionBrowser, IPAddress: "2001:db8::2", StartedAt: at(5), LastUsedAt: at(5), ExpiresAt: at(5).Add(10 * time.Hour)},
		{ID: "fam-a", Kind: realm.SessionRefresh, SessionID: "s-1", ClientID: "app-fam-a", IPAddress: "192.0.2.3",
			StartedAt: at(1), LastUsedAt: at(20), ExpiresAt: at(20).Add(8 * time.Hour)},
		{ID: "s-1", Kind: realm.SessionBrowser, IPAddress: "192.0.2.1", StartedAt: at(0), LastUsedAt: at(20), ExpiresAt: at(0).Add(10 * time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("ListUserSessions = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Kind != w.Kind || g.SessionID != w.SessionID || g.ClientID != w.ClientID || g.IPAddress != w.IPAddress ||
			!g.StartedAt.Equal(w.StartedAt) || !g.LastUsedAt.Equal(w.LastUsedAt) || !g.ExpiresAt.Equal(w.ExpiresAt) {
			t.Errorf("session %d = %+v, want %+v", i, g, w)
		}
	}
	// A session past its end is not listed.
	if got, err := s.ListUserSessions(f.ctx, r.ID, u.ID, at(5).Add(10*time.Hour)); err != nil || len(got) != 1 || got[0].ID != "fam-off" {
		t.Errorf("ListUserSessions after the browser sessions' end = %+v, %v, want only the offline chain", got, err)
	}
	if got, err := s.ListUserSessions(f.ctx, other.ID, u.ID, now); err != nil || len(got) != 0 {
		t.Errorf("ListUserSessions in another realm = %+v, %v, want none", got, err)
	}
	// One browser session's chains, and one live chain, found directly.
	fams, err := s.SessionRefreshFamilies(f.ctx, r.ID, "s-1")
	must(t, err)
	if strings.Join(fams, " ") != "fam-a" {
		t.Errorf("SessionRefreshFamilies(s-1) = %v, want [fam-a]", fams)
	}
	if fams, err := s.SessionRefreshFamilies(f.ctx, r.ID, "s-gone"); err != nil || strings.Join(fams, " ") != "fam-dead" {
		t.Errorf("SessionRefreshFamilies(s-gone) = %v, %v, want [fam-dead] (the offline chain is not the session's)", fams, err)
	}
	if live, err := s.LiveRefreshToken(f.ctx, r.ID, u.ID, "fam-a", now); err != nil || live.ID != "a3" || live.ClientID != "app-fam-a" || live.Offline {
		t.Errorf("LiveRefreshToken(fam-a) = %+v, %v, want a3", live, err)
	}
	for _, fam := range []string{"fam-rev", "fam-used", "fam-old", "nope"} {
		if _, err := s.LiveRefreshToken(f.ctx, r.ID, u.ID, fam, now); !errors.Is(err, realm.ErrNotFound) {
			t.Errorf("LiveRefreshToken(%s) = %v, want ErrNotFound", fam, err)
		}
	}
	if _, err := s.LiveRefreshToken(f.ctx, r.ID, u2.ID, "fam-a", now); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("another user's LiveRefreshToken(fam-a) = %v, want ErrNotFound", err)
	}
	// Inside a transaction, as RevokeUserSession reads it.
	must(t, s.InTx(f.ctx, func(tx realm.Store) error {
		got, err := tx.ListUserSessions(f.ctx, r.ID, u.ID, now)
		if err == nil && len(got) != len(want) {
			t.Errorf("ListUserSessions in a transaction = %d sessions, want %d", len(got), len(want))
		}
		return err
	}))
}
