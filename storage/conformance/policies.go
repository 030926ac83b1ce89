package conformance

import (
	"testing"

	"github.com/wardiam/ward/realm"
)

func policyID(p realm.Policy) string { return p.ID }

func (f *fixture) policy(realmID, name, resourceType string, actions ...string) *realm.Policy {
	f.t.Helper()
	p := &realm.Policy{ID: f.id(), RealmID: realmID, Name: name, Description: "about " + name,
		ResourceType: resourceType, Actions: actions, Condition: `subject.kind == "user"`,
		CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreatePolicy(f.ctx, p))
	return p
}

// testPolicies: CRUD, case-insensitive unique names per realm, paging and
// query, the name-ordered full list, realm isolation and the cascade when
// the realm goes.
func testPolicies(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	a := f.policy(r.ID, "Readers", "asset", "read")
	b := f.policy(r.ID, "admins", "asset", "*")
	c := f.policy(r.ID, "Document writers", "document", "write", "delete")
	theirs := f.policy(other.ID, "readers", "asset", "read") // same name, other realm: fine

	got, err := f.s.GetPolicy(f.ctx, r.ID, a.ID)
	must(t, err)
	same(t, "GetPolicy", got, a)
	_, err = f.s.GetPolicy(f.ctx, r.ID, theirs.ID)
	wantNotFound(t, "GetPolicy of another realm", err)
	_, err = f.s.GetPolicy(f.ctx, r.ID, f.id())
	wantNotFound(t, "GetPolicy missing", err)

	dup := &realm.Policy{ID: f.id(), RealmID: r.ID, Name: "rEADERS", ResourceType: "asset", Actions: []string{"read"},
		Condition: "true", CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreatePolicy duplicate name, other case", "name", f.s.CreatePolicy(f.ctx, dup))
	orphan := &realm.Policy{ID: f.id(), RealmID: f.id(), Name: "x", ResourceType: "asset", Actions: []string{"read"},
		Condition: "true", CreatedAt: f.clock, UpdatedAt: f.clock}
	wantNotFound(t, "CreatePolicy in a missing realm", f.s.CreatePolicy(f.ctx, orphan))

	page, err := f.s.ListPolicies(f.ctx, r.ID, realm.ListOptions{})
	must(t, err)
	same(t, "ListPolicies", ids(page.Items, policyID), []string{a.ID, b.ID, c.ID})
	page, err = f.s.ListPolicies(f.ctx, r.ID, realm.ListOptions{Query: "DOCUMENT"})
	must(t, err)
	same(t, "ListPolicies query", ids(page.Items, policyID), []string{c.ID})
	page, err = f.s.ListPolicies(f.ctx, r.ID, realm.ListOptions{Limit: 2})
	must(t, err)
	if len(page.Items) != 2 || page.NextCursor != b.ID {
		t.Errorf("ListPolicies limit 2 = %v next %q", ids(page.Items, policyID), page.NextCursor)
	}
	page, err = f.s.ListPolicies(f.ctx, r.ID, realm.ListOptions{Limit: 2, Cursor: page.NextCursor})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != c.ID || page.NextCursor != "" {
		t.Errorf("ListPolicies page 2 = %v next %q", ids(page.Items, policyID), page.NextCursor)
	}

	all, err := f.s.ListAllPolicies(f.ctx, r.ID)
	must(t, err)
	same(t, "ListAllPolicies (by name)", ids(all, policyID), []string{b.ID, c.ID, a.ID})
	same(t, "ListAllPolicies rows", all[1], *c)

	a.Name, a.Description, a.ResourceType = "Asset readers", "", "asset.v2"
	a.Actions, a.Condition, a.UpdatedAt = []string{"read", "list"}, "subject.attributes.admin", f.tick()
	must(t, f.s.UpdatePolicy(f.ctx, a))
	got, err = f.s.GetPolicy(f.ctx, r.ID, a.ID)
	must(t, err)
	same(t, "GetPolicy after update", got, a)
	b.Name = "ASSET READERS"
	wantConflict(t, "UpdatePolicy to a taken name", "name", f.s.UpdatePolicy(f.ctx, b))
	f.policy(r.ID, "readers", "asset", "read") // the old name is free again

	moved := *theirs
	moved.RealmID = r.ID
	wantNotFound(t, "UpdatePolicy of another realm's policy", f.s.UpdatePolicy(f.ctx, &moved))
	wantNotFound(t, "DeletePolicy of another realm's policy", f.s.DeletePolicy(f.ctx, r.ID, theirs.ID))

	must(t, f.s.DeletePolicy(f.ctx, r.ID, c.ID))
	_, err = f.s.GetPolicy(f.ctx, r.ID, c.ID)
	wantNotFound(t, "GetPolicy after delete", err)
	wantNotFound(t, "DeletePolicy twice", f.s.DeletePolicy(f.ctx, r.ID, c.ID))

	must(t, f.s.DeleteRealm(f.ctx, other.ID))
	all, err = f.s.ListAllPolicies(f.ctx, other.ID)
	must(t, err)
	if len(all) != 0 {
		t.Errorf("policies of a deleted realm remain: %v", ids(all, policyID))
	}
}
