package sql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// Input the database itself refuses is never an outage (issue 13): the
// service edge keeps such input out, but should some reach a store, the
// answer must not be a 503 and an outage in the log. SQLite refuses a LIKE
// pattern past 50,000 bytes (every *sqlite3.Error looked like a net.Error,
// so it was "unavailable"); PostgreSQL refuses NUL in text.
func TestRefusedInputIsNotUnavailable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, open := range map[string]func(testing.TB) *sql.Store{
		"sqlite": sqltest.Open, "postgres": sqltest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			org := &realm.Org{ID: realm.NewID(now, nil), Slug: "acme", Name: "Acme", CreatedAt: now}
			if err := s.CreateOrg(ctx, org); err != nil {
				t.Fatal(err)
			}
			r := &realm.Realm{ID: realm.NewID(now, nil), OrgID: org.ID, Name: "vault", DisplayName: "Vault",
				CreatedAt: now, UpdatedAt: now}
			if err := s.CreateRealm(ctx, r); err != nil {
				t.Fatal(err)
			}
			for what, call := range map[string]func() error{
				"50,000-character search": func() error {
					_, err := s.ListRealms(ctx, org.ID, realm.ListOptions{Query: strings.Repeat("a", 50000)})
					return err
				},
				"NUL in a search": func() error {
					_, err := s.ListRealms(ctx, org.ID, realm.ListOptions{Query: "a\x00b"})
					return err
				},
				"NUL in a lookup": func() error {
					_, err := s.GetRealmByName(ctx, "va\x00ult")
					return err
				},
			} {
				if err := call(); errors.Is(err, realm.ErrUnavailable) || realm.HTTPStatus(err) == 503 {
					t.Errorf("%s: %v is taken for an outage", what, err)
				}
			}
		})
	}
}
