package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

func templateName(t realm.SecurityTemplate) string { return t.Name }

func intp(n int) *int { return &n }

func (f *fixture) template(realmID, name string, perms ...string) *realm.SecurityTemplate {
	f.t.Helper()
	if perms == nil {
		perms = []string{}
	}
	t := &realm.SecurityTemplate{ID: f.id(), RealmID: realmID, Name: name, Description: "for " + name,
		Permissions: perms, TTLSeconds: realm.DefaultTemplateTTL,
		DirScope: []string{}, IPRanges: []string{}, Countries: []string{}, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreateSecurityTemplate(f.ctx, t))
	return t
}

// testSecurityTemplates: templates by name, every field kept as written
// (NULL limits, empty lists), byte-ordered lists, updates that leave the
// name alone, unique names per realm, permissions from the realm's own
// catalog only, deletion, realm isolation and the cascade when the realm
// goes.
func testSecurityTemplates(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	f.permission(r.ID, "asset:read")
	f.permission(r.ID, "asset:write")
	f.permission(other.ID, "asset:read")
	f.permission(other.ID, "asset:delete")

	up := &realm.SecurityTemplate{ID: f.id(), RealmID: r.ID, Name: "uploader", Description: "Browser uploads",
		Permissions: []string{"asset:read", "asset:write"}, TTLSeconds: 600,
		LimitPerMinute: intp(120), LimitPerSourceIPPerMinute: intp(10),
		DirScope: []string{"/marketing/*", "/press"}, IPRanges: []string{"203.0.113.0/24", "2001:db8::/32"},
		Countries: []string{"AT", "DE"}, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateSecurityTemplate(f.ctx, up))
	got, err := f.s.GetSecurityTemplate(f.ctx, r.ID, "uploader")
	must(t, err)
	same(t, "GetSecurityTemplate", got, up)

	// No limits and empty lists come back as nil limits and empty (not
	// nil) lists.
	bare := f.template(r.ID, "viewer")
	got, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "viewer")
	must(t, err)
	same(t, "GetSecurityTemplate without limits or lists", got, bare)
	if got.LimitPerMinute != nil || got.LimitPerSourceIPPerMinute != nil {
		t.Errorf("limits = %v, %v; want nil", got.LimitPerMinute, got.LimitPerSourceIPPerMinute)
	}
	if got.Permissions == nil || got.DirScope == nil || got.IPRanges == nil || got.Countries == nil {
		t.Errorf("empty lists read back as nil: %+v", got)
	}

	// Same name in another realm: fine; twice in one realm: a conflict on
	// name, and nothing of the second is stored.
	theirs := f.template(other.ID, "uploader", "asset:delete")
	dup := &realm.SecurityTemplate{ID: f.id(), RealmID: r.ID, Name: "uploader", Permissions: []string{"asset:read"},
		TTLSeconds: 60, DirScope: []string{}, IPRanges: []string{}, Countries: []string{}, CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateSecurityTemplate duplicate name", "name", f.s.CreateSecurityTemplate(f.ctx, dup))
	got, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "uploader")
	must(t, err)
	same(t, "the first template after a refused duplicate", got, up)

	// Permissions come from the template's own realm's catalog.
	for _, perms := range [][]string{{"asset:nope"}, {"asset:read", "asset:delete"}} {
		bad := &realm.SecurityTemplate{ID: f.id(), RealmID: r.ID, Name: "bad", Permissions: perms, TTLSeconds: 60,
			DirScope: []string{}, IPRanges: []string{}, Countries: []string{}, CreatedAt: f.clock, UpdatedAt: f.clock}
		wantNotFound(t, "CreateSecurityTemplate with unknown permissions "+perms[len(perms)-1],
			f.s.CreateSecurityTemplate(f.ctx, bad))
		_, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "bad")
		wantNotFound(t, "the refused template", err)
	}
	wantNotFound(t, "CreateSecurityTemplate in a missing realm", f.s.CreateSecurityTemplate(f.ctx,
		&realm.SecurityTemplate{ID: f.id(), RealmID: f.id(), Name: "x", Permissions: []string{}, TTLSeconds: 60,
			DirScope: []string{}, IPRanges: []string{}, Countries: []string{}, CreatedAt: f.clock, UpdatedAt: f.clock}))

	// Listed by name in byte order whatever the collation does with '-'
	// and '_'; only the realm's own.
	for _, name := range []string{"up_load", "up-load", "backup"} {
		f.template(r.ID, name)
	}
	all, err := f.s.ListSecurityTemplates(f.ctx, r.ID)
	must(t, err)
	same(t, "ListSecurityTemplates", ids(all, templateName), []string{"backup", "up-load", "up_load", "uploader", "viewer"})
	same(t, "ListSecurityTemplates full rows", all[3], *up)
	n, err := f.s.CountSecurityTemplates(f.ctx, r.ID)
	must(t, err)
	same(t, "CountSecurityTemplates", n, int64(5))
	all, err = f.s.ListSecurityTemplates(f.ctx, other.ID)
	must(t, err)
	same(t, "ListSecurityTemplates of the other realm", all, []realm.SecurityTemplate{*theirs})
	_, err = f.s.GetSecurityTemplate(f.ctx, other.ID, "viewer")
	wantNotFound(t, "GetSecurityTemplate of another realm", err)

	// An update saves everything but ID, realm, name and creation time;
	// a nil limit removes the limit.
	changed := *up
	changed.Name, changed.CreatedAt = "renamed", f.clock.Add(-time.Hour)
	changed.Description, changed.Permissions, changed.TTLSeconds = "Uploads only", []string{"asset:write"}, 86400
	changed.LimitPerMinute, changed.LimitPerSourceIPPerMinute = nil, intp(1)
	changed.DirScope, changed.IPRanges, changed.Countries = []string{"/*"}, []string{}, []string{"FR"}
	changed.UpdatedAt = f.tick()
	must(t, f.s.UpdateSecurityTemplate(f.ctx, &changed))
	want := changed
	want.Name, want.CreatedAt = up.Name, up.CreatedAt
	got, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "uploader")
	must(t, err)
	same(t, "GetSecurityTemplate after update", got, &want)
	_, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "renamed")
	wantNotFound(t, "the template under the name the update ignored", err)
	// ...and back: limits set again.
	want.LimitPerMinute, want.UpdatedAt = intp(5), f.tick()
	must(t, f.s.UpdateSecurityTemplate(f.ctx, &want))
	got, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "uploader")
	must(t, err)
	same(t, "GetSecurityTemplate after setting a limit", got, &want)

	// Unknown permissions on update: not found, nothing changed.
	bad := want
	bad.Permissions, bad.Description, bad.UpdatedAt = []string{"asset:delete"}, "changed", f.tick()
	wantNotFound(t, "UpdateSecurityTemplate with another realm's permission", f.s.UpdateSecurityTemplate(f.ctx, &bad))
	got, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "uploader")
	must(t, err)
	same(t, "the template after a refused update", got, &want)

	// Not through another realm.
	moved := *theirs
	moved.RealmID, moved.Description = r.ID, "hijacked"
	wantNotFound(t, "UpdateSecurityTemplate of another realm", f.s.UpdateSecurityTemplate(f.ctx, &moved))
	wantNotFound(t, "DeleteSecurityTemplate of another realm's name", f.s.DeleteSecurityTemplate(f.ctx, other.ID, "viewer"))
	got, err = f.s.GetSecurityTemplate(f.ctx, other.ID, "uploader")
	must(t, err)
	same(t, "the other realm's template", got, theirs)

	must(t, f.s.DeleteSecurityTemplate(f.ctx, r.ID, "viewer"))
	_, err = f.s.GetSecurityTemplate(f.ctx, r.ID, "viewer")
	wantNotFound(t, "GetSecurityTemplate after delete", err)
	wantNotFound(t, "DeleteSecurityTemplate again", f.s.DeleteSecurityTemplate(f.ctx, r.ID, "viewer"))
	// The name is free again.
	f.template(r.ID, "viewer", "asset:read")

	must(t, f.s.DeleteRealm(f.ctx, r.ID))
	all, err = f.s.ListSecurityTemplates(f.ctx, r.ID)
	must(t, err)
	same(t, "templates of a deleted realm", len(all), 0)
	all, err = f.s.ListSecurityTemplates(f.ctx, other.ID)
	must(t, err)
	same(t, "templates of the realm left", ids(all, templateName), []string{"uploader"})
}

// testTemplatePermissionHolders: the database refuses to delete a
// permission a template holds, and PermissionHolders names the keys, then
// the templates, within its limit.
func testTemplatePermissionHolders(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	f.permission(r.ID, "asset:read")
	f.permission(r.ID, "asset:write")
	f.permission(other.ID, "asset:read")
	f.template(other.ID, "uploader", "asset:read") // another realm's: not a holder here

	tA := f.template(r.ID, "uploader", "asset:read", "asset:write")
	tB := f.template(r.ID, "browser", "asset:read")
	holders, err := f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders (templates by ID)", holders, []realm.PermissionHolder{
		{Kind: "security_template", ID: tA.ID, Name: "uploader"},
		{Kind: "security_template", ID: tB.ID, Name: "browser"},
	})
	if err := f.s.DeletePermission(f.ctx, r.ID, "asset:read"); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("DeletePermission held by a template = %v, want a conflict", err)
	}
	// Still there after the refusal (on PostgreSQL the failed statement
	// must not have taken anything with it).
	if _, err := f.s.GetPermission(f.ctx, r.ID, "asset:read"); err != nil {
		t.Errorf("GetPermission after a refused delete: %v", err)
	}

	// Keys first, then templates, and the limit bounds both together.
	k, _ := f.apiKey(r.ID, "backend", "asset:read")
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders (keys, then templates)", holders, []realm.PermissionHolder{
		{Kind: "api_key", ID: k.ID, Name: k.Prefix},
		{Kind: "security_template", ID: tA.ID, Name: "uploader"},
		{Kind: "security_template", ID: tB.ID, Name: "browser"},
	})
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 2)
	must(t, err)
	same(t, "PermissionHolders limit 2", holders, []realm.PermissionHolder{
		{Kind: "api_key", ID: k.ID, Name: k.Prefix},
		{Kind: "security_template", ID: tA.ID, Name: "uploader"},
	})
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 1)
	must(t, err)
	same(t, "PermissionHolders limit 1", holders, []realm.PermissionHolder{{Kind: "api_key", ID: k.ID, Name: k.Prefix}})
	k.Active, k.Permissions, k.UpdatedAt = true, []string{}, f.tick()
	must(t, f.s.UpdateAPIKey(f.ctx, k))

	// Taking it from one template (by update) and deleting the other
	// frees it.
	tA.Permissions, tA.UpdatedAt = []string{"asset:write"}, f.tick()
	must(t, f.s.UpdateSecurityTemplate(f.ctx, tA))
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders after an update", holders, []realm.PermissionHolder{
		{Kind: "security_template", ID: tB.ID, Name: "browser"},
	})
	if err := f.s.DeletePermission(f.ctx, r.ID, "asset:read"); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("DeletePermission still held by a template = %v, want a conflict", err)
	}
	must(t, f.s.DeleteSecurityTemplate(f.ctx, r.ID, "browser"))
	holders, err = f.s.PermissionHolders(f.ctx, r.ID, "asset:read", 10)
	must(t, err)
	same(t, "PermissionHolders after the delete", len(holders), 0)
	must(t, f.s.DeletePermission(f.ctx, r.ID, "asset:read"))
	if err := f.s.DeletePermission(f.ctx, r.ID, "asset:write"); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("DeletePermission of the permission the update kept = %v, want a conflict", err)
	}
	// The other realm's template keeps its own realm's permission.
	if err := f.s.DeletePermission(f.ctx, other.ID, "asset:read"); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("DeletePermission held by the other realm's template = %v, want a conflict", err)
	}
}

// testDeactivatedAPIKeys: the realm's inactive keys changed at or after
// since, most recently changed first, at most limit.
func testDeactivatedAPIKeys(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	empty, err := f.s.DeactivatedAPIKeys(f.ctx, r.ID, f.clock.Add(-time.Hour), 10)
	must(t, err)
	if empty == nil || len(empty) != 0 {
		t.Errorf("DeactivatedAPIKeys of a realm without keys = %#v, want an empty list", empty)
	}

	active, _ := f.apiKey(r.ID, "live")
	old, _ := f.apiKey(r.ID, "deactivated long ago")
	b, _ := f.apiKey(r.ID, "deactivated last")
	c, _ := f.apiKey(r.ID, "deactivated at since")
	d, _ := f.apiKey(r.ID, "deactivated first")
	theirs, _ := f.apiKey(other.ID, "theirs")
	since := f.clock.Add(time.Minute)
	deactivate := func(k *realm.APIKey, at time.Time) {
		t.Helper()
		k.Active, k.UpdatedAt = false, at
		must(t, f.s.UpdateAPIKey(f.ctx, k))
	}
	deactivate(old, since.Add(-time.Microsecond))
	deactivate(d, since.Add(time.Second))
	deactivate(c, since)
	deactivate(b, since.Add(time.Hour))
	deactivate(theirs, since.Add(time.Second))
	active.Description, active.UpdatedAt = "still live", since.Add(time.Hour) // changed, but active
	must(t, f.s.UpdateAPIKey(f.ctx, active))

	list := func(realmID string, since time.Time, limit int) []realm.DeactivatedKey {
		t.Helper()
		got, err := f.s.DeactivatedAPIKeys(f.ctx, realmID, since, limit)
		must(t, err)
		return got
	}
	entry := func(k *realm.APIKey) realm.DeactivatedKey {
		return realm.DeactivatedKey{ID: k.ID, UpdatedAt: k.UpdatedAt}
	}
	same(t, "DeactivatedAPIKeys (newest change first)", list(r.ID, since, 10), []realm.DeactivatedKey{entry(b), entry(d), entry(c)})
	same(t, "DeactivatedAPIKeys limit 2", list(r.ID, since, 2), []realm.DeactivatedKey{entry(b), entry(d)})
	same(t, "DeactivatedAPIKeys wider window", list(r.ID, since.Add(-time.Hour), 10),
		[]realm.DeactivatedKey{entry(b), entry(d), entry(c), entry(old)})
	same(t, "DeactivatedAPIKeys past the last change", list(r.ID, since.Add(time.Hour+time.Microsecond), 10), []realm.DeactivatedKey{})
	same(t, "DeactivatedAPIKeys of the other realm", list(other.ID, since, 10), []realm.DeactivatedKey{entry(theirs)})

	// Reactivated: off the list.
	d.Active, d.UpdatedAt = true, since.Add(2*time.Hour)
	must(t, f.s.UpdateAPIKey(f.ctx, d))
	same(t, "DeactivatedAPIKeys after a reactivation", list(r.ID, since, 10), []realm.DeactivatedKey{entry(b), entry(c)})
}

// testGetMintRead: a mint's one query reads the key by its hash with its
// realm's IP allow list and the named template of the key's realm: every
// field as written, a nil template when the realm has none of that name
// (or only another realm has), ErrNotFound for an unknown key or a key of
// another realm.
func testGetMintRead(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	other := f.realm(o.ID, "dev")
	f.permission(r.ID, "asset:read")
	f.permission(other.ID, "asset:read")
	key, secret := f.apiKey(r.ID, "backend", "asset:read")
	_, otherSecret := f.apiKey(other.ID, "other", "asset:read")
	up := &realm.SecurityTemplate{ID: f.id(), RealmID: r.ID, Name: "uploader", Description: "uploads",
		Permissions: []string{"asset:read"}, TTLSeconds: 900, LimitPerMinute: intp(60),
		DirScope: []string{"/marketing/*"}, IPRanges: []string{"203.0.113.0/24"}, Countries: []string{"DE"},
		CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateSecurityTemplate(f.ctx, up))
	f.template(other.ID, "elsewhere", "asset:read")

	got, err := f.s.GetMintRead(f.ctx, r.ID, realm.HashSecret(secret), "uploader")
	must(t, err)
	want, err := f.s.GetAPIKeyByHash(f.ctx, r.ID, realm.HashSecret(secret))
	must(t, err)
	same(t, "the key", got.Key, want)
	if got.Key.ID != key.ID {
		t.Fatalf("key %s, want %s", got.Key.ID, key.ID)
	}
	same(t, "the template", got.Template, up)
	same(t, "the realm's allow list, none", got.RealmIPAllowList, []string{})

	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"203.0.113.0/24", "2001:db8::/32"}, f.clock))
	got, err = f.s.GetMintRead(f.ctx, r.ID, realm.HashSecret(secret), "uploader")
	must(t, err)
	same(t, "the realm's allow list", got.RealmIPAllowList, []string{"203.0.113.0/24", "2001:db8::/32"})

	for _, name := range []string{"nope", "elsewhere"} {
		got, err = f.s.GetMintRead(f.ctx, r.ID, realm.HashSecret(secret), name)
		must(t, err)
		if got.Key == nil || got.Key.ID != key.ID || got.Template != nil {
			t.Errorf("template %q: key %v, template %v; want the key and no template", name, got.Key, got.Template)
		}
	}
	for what, hash := range map[string][]byte{"an unknown key": realm.HashSecret("ward_unknown"),
		"another realm's key": realm.HashSecret(otherSecret)} {
		if _, err := f.s.GetMintRead(f.ctx, r.ID, hash, "uploader"); !errors.Is(err, realm.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", what, err)
		}
	}
}
