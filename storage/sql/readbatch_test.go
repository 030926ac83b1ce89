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
// realm), mixed in one batch; a read whose context ended before its batch
// ran gets its context's error and the others are unaffected.
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

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	queued, release := s.HoldReadBatches()
	const rounds = 3 // each read several times in the batch
	got := make([]answer, rounds*len(want))
	var cancelledErrs [2]error
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
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, cancelledErrs[0] = s.ReadIntrospection(cancelled, realmA, intros[0].q)
	}()
	go func() {
		defer wg.Done()
		_, cancelledErrs[1] = s.GetClientClaims(cancelled, realmA, svc)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ni, nc := queued()
		if ni == rounds*len(intros)+1 && nc == rounds*len(claims)+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued %d introspections and %d claims reads, want %d and %d", ni, nc,
				rounds*len(intros)+1, rounds*len(claims)+1)
		}
		time.Sleep(time.Millisecond)
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
// batches form by themselves, each read answered as alone (run it with
// -race).
func TestReadBatchesUnderLoad(t *testing.T) {
	s := sqltest.OpenPostgres(t)
	ctx := context.Background()
	realmID, svc := seedClient(t, s)
	if err := s.RevokeToken(ctx, realmID, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
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
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
