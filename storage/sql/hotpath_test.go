package sql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// seedClient makes a realm with a client in two groups.
func seedClient(tb testing.TB, s *sql.Store) (realmID, clientID string) {
	tb.Helper()
	return seedRealmClient(tb, s, "bench")
}

// seedRealmClient makes the realm named name with a client "svc" in two
// groups.
func seedRealmClient(tb testing.TB, s *sql.Store, name string) (realmID, clientID string) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	r := &realm.Realm{ID: realm.NewID(now, nil), Name: name, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateRealm(ctx, r); err != nil {
		tb.Fatal(err)
	}
	var groups []string
	for i := range 2 {
		g := &realm.Group{ID: realm.NewID(now, nil), RealmID: r.ID, Name: fmt.Sprint("g", i), CreatedAt: now, UpdatedAt: now}
		if err := s.CreateGroup(ctx, g); err != nil {
			tb.Fatal(err)
		}
		groups = append(groups, g.ID)
	}
	c := &realm.Client{ID: realm.NewID(now, nil), RealmID: r.ID, ClientID: "svc", Kind: realm.KindServiceAccount,
		Active: true, Groups: groups, PrimaryGroup: groups[0], SecretHash: []byte("h"), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateClient(ctx, c); err != nil {
		tb.Fatal(err)
	}
	return r.ID, c.ClientID
}

// everyStore opens each kind of store: SQLite file, SQLite in memory and
// PostgreSQL.
var everyStore = map[string]func(testing.TB) *sql.Store{
	"sqlite":   sqltest.Open,
	"memory":   sqltest.OpenMemory,
	"postgres": sqltest.OpenPostgres,
}

// TestConcurrentUse runs readers and writers at once: on SQLite they share
// the one connection and must neither fail with "database is locked" nor
// see each other's partial writes.
func TestConcurrentUse(t *testing.T) {
	for name, open := range everyStore {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			realmID, clientID := seedClient(t, s)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						if w%2 == 0 {
							c, err := s.GetClient(ctx, realmID, clientID)
							if err != nil {
								errs <- err
								return
							}
							if len(c.Groups) != 2 {
								errs <- fmt.Errorf("client has %d groups, want 2", len(c.Groups))
								return
							}
							continue
						}
						now := time.Now()
						err := s.InTx(ctx, func(tx realm.Store) error {
							return tx.RevokeToken(ctx, realmID, fmt.Sprintf("jti-%d-%d", w, i), now.Add(time.Hour))
						})
						if err != nil {
							errs <- err
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
			if ok, err := s.IsTokenRevoked(ctx, realmID, "jti-7-24"); err != nil || !ok {
				t.Errorf("last revocation: %v, %v", ok, err)
			}
		})
	}
}

func BenchmarkGetClient(b *testing.B) {
	for name, open := range map[string]func(testing.TB) *sql.Store{
		"sqlite":   sqltest.Open,
		"postgres": sqltest.OpenPostgres,
	} {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			realmID, clientID := seedClient(b, s)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetClient(ctx, realmID, clientID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetClientClaims(b *testing.B) {
	for name, open := range map[string]func(testing.TB) *sql.Store{
		"sqlite":   sqltest.Open,
		"postgres": sqltest.OpenPostgres,
	} {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			realmID, clientID := seedClient(b, s)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetClientClaims(ctx, realmID, clientID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCloseWithReadsInFlight closes a store while raw and database/sql
// reads run on its read connections: Close must not touch a connection
// another goroutine is using (go test -race reports it if it does), and
// every read ends with an answer or an error, none hangs.
func TestCloseWithReadsInFlight(t *testing.T) {
	for range 3 {
		s := sqltest.Open(t)
		realmID, clientID := seedClient(t, s)
		ctx := context.Background()
		var wg sync.WaitGroup
		started := make(chan struct{}, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					var err error
					if w%2 == 0 {
						_, err = s.GetClientClaims(ctx, realmID, clientID)
					} else {
						_, err = s.TokenEpochs(ctx, []string{realmID})
					}
					if i == 0 {
						started <- struct{}{}
					}
					if err != nil {
						return // closed
					}
				}
			}()
		}
		for range 8 {
			<-started
		}
		if err := s.Close(); err != nil {
			t.Errorf("close with reads in flight: %v", err)
		}
		wg.Wait()
	}
}
