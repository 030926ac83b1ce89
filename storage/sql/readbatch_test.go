package sql_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestReadBatches: on PostgreSQL, reads that queue while their kind's
// statements run are answered by one shared statement (readbatch.go), and
// each gets exactly what it would have got alone: introspections of every
// shape (caller, token client, user, revocation, absent or of another
// realm) and client claims (with and without groups, missing, of another
// realm) and refresh grants (with user, groups and session, with them gone,
// with another client, a missing token or client, of another realm), mixed
// in one batch; a read whose context has ended, or ends while it waits,
// leaves at once with its context's error and the others are unaffected; a read with a key PostgreSQL refuses (a
// NUL) never joins a batch.
func TestReadBatches(t *testing.T) {
	s := sqltest.OpenPostgres(t)
	ctx := context.Background()
	realmA, svc := seedRealmClient(t, s, "a")
	realmB, _ := seedRealmClient(t, s, "b")
	now := time.Now()
	var users []string
	for i, r := range []string{realmA, realmB} {
		u := &realm.User{ID: realm.NewID(now, nil), RealmID: r, Email: fmt.Sprintf("u%d@example.com", i),
			Active: i == 0, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	lone := &realm.Client{ID: realm.NewID(now, nil), RealmID: realmA, ClientID: "lone", Kind: realm.KindServiceAccount,
		Active: false, SecretHash: []byte("h2"), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateClient(ctx, lone); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, realmA, "jti-revoked", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Refresh tokens: one whose user is in two groups and whose session
	// lives, one whose user and session are gone, one of realm B.
	svcA, err := s.GetClient(ctx, realmA, svc)
	if err != nil {
		t.Fatal(err)
	}
	member := &realm.User{ID: realm.NewID(now, nil), RealmID: realmA, Email: "member@example.com", Active: true,
		Groups: svcA.Groups, PrimaryGroup: svcA.Groups[0], CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, member); err != nil {
		t.Fatal(err)
	}
	day := now.UTC().Truncate(time.Second)
	if err := s.CreateBrowserSession(ctx, &realm.BrowserSession{ID: "sess-1", RealmID: realmA, UserID: member.ID,
		TokenHash: []byte("th"), AuthTime: day, ExpiresAt: day.Add(time.Hour), CreatedAt: day}); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []*realm.RefreshToken{
		{ID: "rt-1", RealmID: realmA, FamilyID: "f1", SessionID: "sess-1", UserID: member.ID, ClientID: svc},
		{ID: "rt-2", RealmID: realmA, FamilyID: "f2", SessionID: "gone", UserID: "gone", ClientID: svc},
		{ID: "rt-3", RealmID: realmB, FamilyID: "f3", SessionID: "gone", UserID: users[1], ClientID: svc},
	} {
		rt.AccessJTI, rt.Data, rt.ExpiresAt, rt.CreatedAt = "at-"+rt.ID, []byte(`{"id":"`+rt.ID+`"}`), day.Add(time.Hour), day
		if err := s.CreateRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}

	intros := []struct {
		realmID string
		q       realm.IntrospectionQuery
	}{
		{realmA, realm.IntrospectionQuery{CallerID: svc, TokenClientID: "lone", UserID: users[0], JTI: "jti-revoked"}},
		{realmA, realm.IntrospectionQuery{CallerID: "lone", TokenClientID: svc, JTI: "jti-other"}},
		{realmA, realm.IntrospectionQuery{CallerID: "nobody", UserID: users[1], JTI: "jti-revoked"}},
		{realmB, realm.IntrospectionQuery{CallerID: svc, TokenClientID: svc, UserID: users[1], JTI: "jti-revoked"}},
		{realmB, realm.IntrospectionQuery{}},
		{"no-such-realm", realm.IntrospectionQuery{CallerID: svc, TokenClientID: svc, UserID: users[0]}},
	}
	claims := []struct{ realmID, clientID string }{
		{realmA, svc}, {realmA, "lone"}, {realmA, "nobody"}, {realmB, svc}, {realmB, "lone"},
	}
	refreshes := []struct{ realmID, tokenID, clientID string }{
		{realmA, "rt-1", svc}, {realmA, "rt-2", svc}, {realmA, "rt-1", "lone"}, {realmA, "rt-1", "nobody"},
		{realmA, "nope", svc}, {realmB, "rt-3", svc}, {realmB, "rt-1", svc},
	}
	type answer struct {
		value any
		err   error
	}
	// Each read alone first: nothing else runs, so each is a statement of
	// its own.
	var want []answer
	for _, r := range intros {
		got, err := s.ReadIntrospection(ctx, r.realmID, r.q)
		want = append(want, answer{got, err})
	}
	for _, c := range claims {
		got, err := s.GetClientClaims(ctx, c.realmID, c.clientID)
		want = append(want, answer{got, err})
	}
	for _, r := range refreshes {
		g, c, err := s.ReadRefreshGrant(ctx, r.realmID, r.tokenID, r.clientID)
		want = append(want, answer{[2]any{g, c}, err})
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	queued, release := s.HoldReadBatches()
	const rounds = 3 // each read several times in the batch
	got := make([]answer, rounds*len(want))
	var cancelledErrs [3]error
	var wg sync.WaitGroup
	for round := range rounds {
		for i, r := range intros {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := s.ReadIntrospection(ctx, r.realmID, r.q)
				got[round*len(want)+i] = answer{v, err}
			}()
		}
		for i, c := range claims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := s.GetClientClaims(ctx, c.realmID, c.clientID)
				got[round*len(want)+len(intros)+i] = answer{v, err}
			}()
		}
		for i, r := range refreshes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, c, err := s.ReadRefreshGrant(ctx, r.realmID, r.tokenID, r.clientID)
				got[round*len(want)+len(intros)+len(claims)+i] = answer{[2]any{g, c}, err}
			}()
		}
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		_, cancelledErrs[0] = s.ReadIntrospection(cancelled, realmA, intros[0].q)
	}()
	go func() {
		defer wg.Done()
		_, cancelledErrs[1] = s.GetClientClaims(cancelled, realmA, svc)
	}()
	go func() {
		defer wg.Done()
		_, _, cancelledErrs[2] = s.ReadRefreshGrant(cancelled, realmA, "rt-1", svc)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ni, nc, nr := queued()
		if ni == rounds*len(intros) && nc == rounds*len(claims) && nr == rounds*len(refreshes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued %d introspections, %d claims and %d refresh grant reads, want %d, %d and %d", ni, nc, nr,
				rounds*len(intros), rounds*len(claims), rounds*len(refreshes))
		}
		time.Sleep(time.Millisecond)
	}
	// While the batches are held: a read PostgreSQL would refuse (a NUL
	// in a key) does not join them, so it neither waits nor fails the
	// others; a queued read whose context ends leaves the queue at once.
	alone := make(chan error, 1)
	go func() {
		_, err := s.GetClientClaims(ctx, realmA, "x\x00y")
		alone <- err
	}()
	select {
	case err := <-alone:
		if err == nil {
			t.Error("claims of a client_id with a NUL: no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read with a NUL in its key waited for the held batch")
	}
	leaving, leave := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() {
		_, err := s.ReadIntrospection(leaving, realmA, intros[1].q)
		left <- err
	}()
	for {
		if ni, _, _ := queued(); ni == rounds*len(intros)+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the read to be cancelled was not queued")
		}
		time.Sleep(time.Millisecond)
	}
	leave()
	select {
	case err := <-left:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("queued read whose context ended: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued read whose context ended kept waiting for the held batch")
	}
	if ni, _, _ := queued(); ni != rounds*len(intros) {
		t.Errorf("%d introspections queued after one left, want %d", ni, rounds*len(intros))
	}
	release()
	wg.Wait()

	for i, g := range got {
		w := want[i%len(want)]
		if !reflect.DeepEqual(g.value, w.value) || !errors.Is(g.err, w.err) && g.err != w.err {
			t.Errorf("read %d in a batch: %+v, %v; alone: %+v, %v", i, g.value, g.err, w.value, w.err)
		}
	}
	// The expectations themselves, so that a wrong single read does not
	// make a wrong batch pass.
	if w := want[0].value.(*realm.IntrospectionRead); !w.Revoked || w.Caller == nil || w.TokenClient == nil ||
		w.TokenClient.Active || w.User == nil || !w.User.Active {
		t.Errorf("introspection alone: %+v", w)
	}
	if w := want[len(intros)+2]; !errors.Is(w.err, realm.ErrNotFound) {
		t.Errorf("claims of a missing client alone: %v, want ErrNotFound", w.err)
	}
	if w := want[len(intros)].value.(*realm.ClientClaims); len(w.Groups) != 2 {
		t.Errorf("claims alone: %d groups, want 2", len(w.Groups))
	}
	rg := want[len(intros)+len(claims)].value.([2]any)
	if g := rg[0].(*realm.RefreshGrant); g.User == nil || len(g.User.Groups) != 2 || g.Session == nil ||
		string(g.Token.Data) != `{"id":"rt-1"}` || rg[1].(*realm.Client).ClientID != svc {
		t.Errorf("refresh grant alone: %+v, client %+v", g, rg[1])
	}
	if g := want[len(intros)+len(claims)+1].value.([2]any)[0].(*realm.RefreshGrant); g.User != nil || g.Session != nil {
		t.Errorf("refresh grant of a gone user alone: %+v", g)
	}
	for _, i := range []int{3, 4, 6} {
		if w := want[len(intros)+len(claims)+i]; !errors.Is(w.err, realm.ErrNotFound) {
			t.Errorf("refresh grant read %d alone: %v, want ErrNotFound", i, w.err)
		}
	}
	for i, err := range cancelledErrs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled read %d: %v, want context.Canceled", i, err)
		}
	}
	// The slots are free again: a read alone is answered.
	if _, err := s.GetClientClaims(ctx, realmA, svc); err != nil {
		t.Fatal(err)
	}
}

// TestReadBatchesUnderLoad: many readers at once on PostgreSQL, so that
// batches of introspections, client claims and refresh grants (of two
// rows and of one) form by themselves, each read answered as alone (run
// it with -race).
func TestReadBatchesUnderLoad(t *testing.T) {
	s := sqltest.OpenPostgres(t)
	ctx := context.Background()
	realmID, svc := seedClient(t, s)
	if err := s.RevokeToken(ctx, realmID, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Two refresh tokens: one whose user is in the client's two groups,
	// one whose user has none, so that batches mix reads of two rows and
	// of one.
	client, err := s.GetClient(ctx, realmID, svc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, groups := range [][]string{client.Groups, nil} {
		u := &realm.User{ID: realm.NewID(now, nil), RealmID: realmID, Email: fmt.Sprintf("u%d@example.com", i),
			Active: true, Groups: groups, CreatedAt: now, UpdatedAt: now}
		if len(groups) > 0 {
			u.PrimaryGroup = groups[0]
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		rt := &realm.RefreshToken{ID: fmt.Sprint("rt-", i), RealmID: realmID, FamilyID: fmt.Sprint("f", i),
			SessionID: "none", UserID: u.ID, ClientID: svc, AccessJTI: fmt.Sprint("at-", i),
			Data: []byte(`{}`), ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		if err := s.CreateRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				jti := fmt.Sprint("jti-", (w+i)%2)
				got, err := s.ReadIntrospection(ctx, realmID, realm.IntrospectionQuery{CallerID: svc, JTI: jti})
				if err != nil {
					errs <- err
					return
				}
				if got.Revoked != (jti == "jti-1") || got.Caller == nil || got.Caller.ClientID != svc {
					errs <- fmt.Errorf("introspection of %s: %+v", jti, got)
					return
				}
				c, err := s.GetClientClaims(ctx, realmID, svc)
				if err != nil {
					errs <- err
					return
				}
				if len(c.Groups) != 2 || c.Client.ClientID != svc {
					errs <- fmt.Errorf("claims: %+v", c)
					return
				}
				k := (w + i) % 2
				g, rc, err := s.ReadRefreshGrant(ctx, realmID, fmt.Sprint("rt-", k), svc)
				if err != nil {
					errs <- err
					return
				}
				if g.Token.ID != fmt.Sprint("rt-", k) || g.User == nil || len(g.User.Groups) != 2*(1-k) || rc.ClientID != svc {
					errs <- fmt.Errorf("refresh grant rt-%d: %+v, user %+v", k, g.Token, g.User)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
