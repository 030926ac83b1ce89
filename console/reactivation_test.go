package console

import (
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestOrgClientReactivationKeepsTokensDead (issue 13): an org admin client
// disabled and enabled again by its owner does not get its old admin tokens
// back; tokens issued after the reactivation work.
func TestOrgClientReactivationKeepsTokensDead(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite": oauthtest.OpenSQLite, "Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			env := oauthtest.NewOn(t, open)
			auth := adminAuthOf(t, env)
			org := env.NewOrg("acme")
			env.NewRealm("", realm.ConsoleRealm, true)
			owner := realm.WithPrincipal(env.Ctx, realm.Principal{OrgID: org.ID, Role: realm.RoleOwner, ActorType: "member", ActorID: "owner"})
			c, secret, err := env.Service.CreateOrgClient(owner, realm.OrgClientInput{Name: "ci", Role: realm.RoleAdmin})
			if err != nil {
				t.Fatal(err)
			}
			old := env.MustToken(realm.ConsoleRealm, c.ClientID, secret, nil)
			if _, err := auth.AuthenticateAdmin(env.Ctx, old); err != nil {
				t.Fatalf("live admin token refused: %v", err)
			}
			for _, on := range []bool{false, true} {
				if _, err := env.Service.UpdateOrgClient(owner, c.ClientID, realm.OrgClientPatch{Active: &on}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := auth.AuthenticateAdmin(env.Ctx, old); !errors.Is(err, realm.ErrUnauthenticated) {
				t.Errorf("admin token issued before the client was disabled, after reactivation: err = %v, want ErrUnauthenticated", err)
			}
			// iat has whole wall-clock seconds (fosite's), and a token of
			// the deactivation's own second counts as older: next second.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			fresh := env.MustToken(realm.ConsoleRealm, c.ClientID, secret, nil)
			if _, err := auth.AuthenticateAdmin(env.Ctx, fresh); err != nil {
				t.Errorf("admin token issued after the reactivation refused: %v", err)
			}
		})
	}
}
