package realm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wardiam/ward/realm"
)

// failingEvents is the real store with the audit log broken: every change
// writes its event last, so a failing AppendEvent shows whether the rows
// written before it in the same transaction are rolled back.
type failingEvents struct{ realm.Store }

var errDiskFull = errors.New("disk full")

func (failingEvents) AppendEvent(context.Context, *realm.Event) error { return errDiskFull }

func (f failingEvents) InTx(ctx context.Context, fn func(tx realm.Store) error) error {
	return f.Store.InTx(ctx, func(tx realm.Store) error { return fn(failingEvents{tx}) })
}

type failingKeys struct{}

func (failingKeys) NewSigningKey(context.Context, string, string) (*realm.SigningKey, error) {
	return nil, errDiskFull
}

func TestNothingHalfWritten(t *testing.T) { eachBackend(t, testNothingHalfWritten) }

func testNothingHalfWritten(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	e.attr("shop", "level", "integer", false)
	g := e.group("shop", "Staff", map[string]any{"level": int64(1)})
	u := e.user("shop", "a@example.com", []string{g.ID}, g.ID)
	c, _, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc", Kind: "service_account"})
	if err != nil {
		t.Fatal(err)
	}
	broken, err := realm.NewService(realm.ServiceConfig{Store: failingEvents{e.store}, Keys: testKeys{}})
	if err != nil {
		t.Fatal(err)
	}
	spare := e.group("shop", "Spare", nil)
	before := e.rows()
	calls := map[string]error{}
	_, calls["CreateRealm"] = broken.CreateRealm(e.admin, realm.RealmInput{Name: "blog"})
	_, calls["CreateAttribute"] = broken.CreateAttribute(e.admin, "shop", realm.AttributeInput{Name: "region", Type: "string"})
	_, calls["CreateGroup"] = broken.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "Other"})
	_, calls["CreateUser"] = broken.CreateUser(e.admin, "shop", realm.UserInput{Email: "b@example.com", FirstName: "B", LastName: "C", Groups: []string{g.ID}})
	_, calls["UpdateUser"] = broken.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: ptr(false), FirstName: ptr("Zed")})
	_, _, calls["CreateClient"] = broken.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc2", Kind: "service_account"})
	_, _, calls["RotateClientSecret"] = broken.RotateClientSecret(e.admin, "shop", c.ClientID, 0)
	_, calls["CreateMember"] = broken.CreateMember(e.owner, realm.MemberInput{Email: "m@example.com", FirstName: "M", LastName: "N", Role: realm.RoleViewer})
	_, _, calls["CreateOrgClient"] = broken.CreateOrgClient(e.owner, realm.OrgClientInput{Name: "ci", Role: realm.RoleAdmin})
	_, calls["Bootstrap"] = broken.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "globex", OwnerEmail: "o@globex.test"})
	calls["DeleteGroup"] = broken.DeleteGroup(e.admin, "shop", spare.ID)
	calls["DeleteRealm"] = broken.DeleteRealm(e.owner, "shop", "shop")
	for name, err := range calls {
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: %v, want the event failure", name, err)
		}
	}
	e.sameRows(before)
	got, _ := e.svc.GetUser(e.viewer, "shop", u.ID)
	if !got.Active || got.FirstName != "Ann" {
		t.Fatalf("failed update left %+v", got.User)
	}
	stored, _ := e.store.GetClient(t.Context(), c.RealmID, c.ClientID)
	if stored.PreviousSecretHash != nil || len(stored.SecretHash) == 0 {
		t.Fatal("failed rotation changed the stored secret")
	}

	// A realm whose key cannot be made is not created.
	noKeys, _ := realm.NewService(realm.ServiceConfig{Store: e.store, Keys: failingKeys{}})
	_, err = noKeys.CreateRealm(e.admin, realm.RealmInput{Name: "blog"})
	wantIs(t, err, errDiskFull)
	e.sameRows(before)
}
