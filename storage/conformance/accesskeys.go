package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

func apiKeyID(k realm.APIKey) string { return k.ID }

func (f *fixture) permission(realmID, name string) *realm.Permission {
	f.t.Helper()
	p := &realm.Permission{RealmID: realmID, Name: name, Description: "may " + name, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreatePermission(f.ctx, p))
	return p
}

func (f *fixture) apiKey(realmID, desc string, perms ...string) (*realm.APIKey, string) {
	f.t.Helper()
	secret, prefix, hash := realm.NewAPIKey(nil)
	k := &realm.APIKey{ID: f.id(), RealmID: realmID, Prefix: prefix, Hash: hash, Description: desc,
		Permissions: perms, Active: true, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreateAPIKey(f.ctx, k))
	return k, secret
}

// testPermissions: the catalog's CRUD, unique names per realm, and the
// database refusing to delete a permission a key holds.
func testPermissions(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	read := f.permission(r.ID, "asset:read")
	write := f.permission(r.ID, "asset:write")
	f.permission(other.ID, "asset:read") // same name, other realm: fine

	wantConflict(t, "CreatePermission duplicate", "name", f.s.CreatePermission(f.ctx,
		&realm.Permission{RealmID: r.ID, Name: "asset:read", CreatedAt: f.clock, UpdatedAt: f.clock}))
	wantNotFound(t, "CreatePermission in a missing realm", f.s.CreatePermission(f.ctx,
		&realm.Permission{RealmID: f.id(), Name: "asset:read", CreatedAt: f.clock, UpdatedAt: f.clock}))

	all, err := f.s.ListPermissions(f.ctx, r.ID)
	must(t, err)
	same(t, "ListPermissions", all, []realm.Permission{*read, *write})

	// Byte order on every backend, whatever the database's collation
	// makes of '-', ':' and '_'.
	ordered := f.realm(o.ID, "order")
	for _, name := range []string{"asset_y:read", "asset:read", "asset-x:read", "assets:read"} {
		f.permission(ordered.ID, name)
	}
	all, err = f.s.ListPermissions(f.ctx, ordered.ID)
	must(t, err)
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name
	}
	same(t, "ListPermissions order", names, []string{"asset-x:read", "asset:read", "asset_y:read", "assets:read"})
	n, err := f.s.CountPermissions(f.ctx, r.ID)
	must(t, err)
	same(t, "CountPermissions", n, int64(2))

	write.Description, write.UpdatedAt = "Change assets", f.tick()
	must(t, f.s.UpdatePermission(f.ctx, write))
	got, err := f.s.GetPermission(f.ctx, r.ID, "asset:write")
	must(t, err)
	same(t, "GetPermission after update", got, write)
	_, err = f.s.GetPermission(f.ctx, other.ID, "asset:write")
	wantNotFound(t, "GetPermission of another realm", err)

	k, _ := f.apiKey(r.ID, "backup job", "asset:read", "asset:write")
	holders, err := f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders", holders, []realm.PermissionHolder{{Kind: "api_key", ID: k.ID, Name: k.Prefix}})
	if err := f.s.DeletePermission(f.ctx, r.ID, "asset:read"); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("DeletePermission held by a key = %v, want a conflict", err)
	}
	// Taking it from the key frees it.
	k.Permissions, k.UpdatedAt = []string{"asset:write"}, f.tick()
	must(t, f.s.UpdateAPIKey(f.ctx, k))
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders after update", len(holders), 0)
	must(t, f.s.DeletePermission(f.ctx, r.ID, "asset:read"))
	wantNotFound(t, "DeletePermission again", f.s.DeletePermission(f.ctx, r.ID, "asset:read"))

	// A key may only hold permissions of its own realm's catalog.
	_, prefix, hash := realm.NewAPIKey(nil)
	bad := &realm.APIKey{ID: f.id(), RealmID: other.ID, Prefix: prefix, Hash: hash, Description: "x",
		Permissions: []string{"asset:write"}, Active: true, CreatedAt: f.clock, UpdatedAt: f.clock}
	if err := f.s.CreateAPIKey(f.ctx, bad); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("CreateAPIKey with a permission of another realm = %v, want a conflict", err)
	}
	if _, err := f.s.GetAPIKey(f.ctx, other.ID, bad.ID); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("the refused key was stored anyway: %v", err)
	}
}

// testAPIKeys: keys by ID and by hash, realm isolation, listing with the
// active and text filters, updates, last use to the minute, and the
// cascade when the realm goes.
func testAPIKeys(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	f.permission(r.ID, "asset:read")
	f.permission(r.ID, "asset:write")
	f.permission(other.ID, "asset:read")
	a, aSecret := f.apiKey(r.ID, "Nightly backup", "asset:read")
	b, _ := f.apiKey(r.ID, "Importer", "asset:read", "asset:write")
	exp := f.clock.Add(time.Hour)
	c, _ := f.apiKey(r.ID, "CDN purge")
	c.ExpiresAt = &exp
	theirs, theirSecret := f.apiKey(other.ID, "Nightly backup", "asset:read")

	got, err := f.s.GetAPIKey(f.ctx, r.ID, a.ID)
	must(t, err)
	same(t, "GetAPIKey", got, a)
	_, err = f.s.GetAPIKey(f.ctx, r.ID, theirs.ID)
	wantNotFound(t, "GetAPIKey of another realm", err)

	got, err = f.s.GetAPIKeyByHash(f.ctx, r.ID, realm.HashSecret(aSecret))
	must(t, err)
	same(t, "GetAPIKeyByHash", got, a)
	_, err = f.s.GetAPIKeyByHash(f.ctx, r.ID, realm.HashSecret(theirSecret))
	wantNotFound(t, "GetAPIKeyByHash of another realm's key", err)
	_, err = f.s.GetAPIKeyByHash(f.ctx, r.ID, realm.HashSecret("ward_nope"))
	wantNotFound(t, "GetAPIKeyByHash unknown", err)

	// The exchange's one query: the client, and the key beside it.
	g := f.group(r.ID, "Ops", nil)
	svc := f.client(r.ID, "resource-server", g.ID)
	cc, key, err := f.s.GetClientWithAPIKey(f.ctx, r.ID, "resource-server", realm.HashSecret(aSecret))
	must(t, err)
	same(t, "GetClientWithAPIKey key", key, a)
	same(t, "GetClientWithAPIKey client ID", cc.Client.ID, svc.ID)
	same(t, "GetClientWithAPIKey secret hash", cc.Client.SecretHash, svc.SecretHash)
	same(t, "GetClientWithAPIKey active", cc.Client.Active, true)
	same(t, "GetClientWithAPIKey groups (none read)", len(cc.Groups), 0)
	cc, key, err = f.s.GetClientWithAPIKey(f.ctx, r.ID, "resource-server", realm.HashSecret(theirSecret))
	must(t, err)
	if key != nil || cc.Client.ID != svc.ID {
		t.Fatalf("GetClientWithAPIKey with another realm's key: key %v, client %v; want no key and the client", key, cc.Client.ID)
	}
	_, _, err = f.s.GetClientWithAPIKey(f.ctx, other.ID, "resource-server", realm.HashSecret(theirSecret))
	wantNotFound(t, "GetClientWithAPIKey of a client of another realm", err)

	keys, err := f.s.GetAPIKeys(f.ctx, r.ID, []string{c.ID, theirs.ID, a.ID, f.id()})
	must(t, err)
	same(t, "GetAPIKeys (only the realm's, by ID)", ids(keys, apiKeyID), []string{a.ID, c.ID})

	b.Active, b.Description, b.UpdatedAt = false, "Old importer", f.tick()
	must(t, f.s.UpdateAPIKey(f.ctx, b))
	got, err = f.s.GetAPIKey(f.ctx, r.ID, b.ID)
	must(t, err)
	same(t, "GetAPIKey after update", got, b)
	moved := *theirs
	moved.RealmID = r.ID
	wantNotFound(t, "UpdateAPIKey of another realm", f.s.UpdateAPIKey(f.ctx, &moved))

	page, err := f.s.ListAPIKeys(f.ctx, r.ID, realm.APIKeyFilter{})
	must(t, err)
	same(t, "ListAPIKeys", ids(page.Items, apiKeyID), []string{a.ID, b.ID, c.ID})
	yes, no := true, false
	page, err = f.s.ListAPIKeys(f.ctx, r.ID, realm.APIKeyFilter{Active: &no})
	must(t, err)
	same(t, "ListAPIKeys inactive", ids(page.Items, apiKeyID), []string{b.ID})
	page, err = f.s.ListAPIKeys(f.ctx, r.ID, realm.APIKeyFilter{Active: &yes, ListOptions: realm.ListOptions{Query: "BACKUP"}})
	must(t, err)
	same(t, "ListAPIKeys active + query", ids(page.Items, apiKeyID), []string{a.ID})
	page, err = f.s.ListAPIKeys(f.ctx, r.ID, realm.APIKeyFilter{ListOptions: realm.ListOptions{Query: c.Prefix}})
	must(t, err)
	same(t, "ListAPIKeys by prefix", ids(page.Items, apiKeyID), []string{c.ID})
	page, err = f.s.ListAPIKeys(f.ctx, r.ID, realm.APIKeyFilter{ListOptions: realm.ListOptions{Limit: 2}})
	must(t, err)
	if len(page.Items) != 2 || page.NextCursor != b.ID {
		t.Errorf("ListAPIKeys limit 2 = %v next %q", ids(page.Items, apiKeyID), page.NextCursor)
	}

	// Last use is kept to the minute and never goes back.
	minute := f.clock.Truncate(time.Minute)
	must(t, f.s.TouchAPIKey(f.ctx, r.ID, a.ID, minute))
	must(t, f.s.TouchAPIKey(f.ctx, r.ID, a.ID, minute.Add(-time.Minute)))
	got, err = f.s.GetAPIKey(f.ctx, r.ID, a.ID)
	must(t, err)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(minute) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, minute)
	}
	must(t, f.s.TouchAPIKey(f.ctx, theirs.RealmID, a.ID, minute.Add(time.Hour))) // wrong realm: no change
	got, err = f.s.GetAPIKey(f.ctx, r.ID, a.ID)
	must(t, err)
	if !got.LastUsedAt.Equal(minute) {
		t.Errorf("TouchAPIKey through another realm changed LastUsedAt to %v", got.LastUsedAt)
	}

	must(t, f.s.DeleteRealm(f.ctx, r.ID))
	_, err = f.s.GetAPIKeyByHash(f.ctx, r.ID, realm.HashSecret(aSecret))
	wantNotFound(t, "key of a deleted realm", err)
	all, err := f.s.ListPermissions(f.ctx, r.ID)
	must(t, err)
	same(t, "permissions of a deleted realm", len(all), 0)
	_, err = f.s.GetAPIKey(f.ctx, other.ID, theirs.ID)
	must(t, err)
}
