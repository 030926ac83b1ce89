package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// Run runs the whole suite; newStore must return a fresh, empty, migrated
// store for each subtest (and arrange its cleanup).
func Run(t *testing.T, newStore func(t *testing.T) realm.Store) {
	for _, tc := range cases {
		runCase(t, tc.name, newStore, func(t *testing.T, f *fixture, _ realm.Store) { tc.fn(t, f) })
	}
	runAuth(t, newStore)
	runRefresh(t, newStore)
	runLoginFailures(t, newStore)
	runMailOutbox(t, newStore)
	runIdentityProviders(t, newStore)
}

// RunCases runs the named cases of Run's main table and of its refresh
// token suite only: for a store variant that differs from one Run already
// covers in a few reads.
func RunCases(t *testing.T, newStore func(t *testing.T) realm.Store, names ...string) {
	byName := map[string]func(t *testing.T, f *fixture, s realm.Store){}
	for _, c := range cases {
		byName[c.name] = func(t *testing.T, f *fixture, _ realm.Store) { c.fn(t, f) }
	}
	for _, c := range refreshCases {
		byName[c.name] = c.fn
	}
	for _, name := range names {
		fn, ok := byName[name]
		if !ok {
			t.Fatalf("conformance: no case named %q", name)
		}
		runCase(t, name, newStore, fn)
	}
}

type conformanceCase struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// cases are Run's main table.
var cases = []conformanceCase{
	{"Orgs", testOrgs},
	{"Members", testMembers},
	{"Realms", testRealms},
	{"RealmPagination", testRealmPagination},
	{"Attributes", testAttributes},
	{"Groups", testGroups},
	{"GroupAttributesJSON", testGroupAttributesJSON},
	{"GroupMembers", testGroupMembers},
	{"MemberGroupings", testMemberGroupings},
	{"DeleteGroupRemovesMemberships", testDeleteGroup},
	{"Users", testUsers},
	{"SearchUsers", testSearchUsers},
	{"RealmLogos", testRealmLogos},
	{"UserPagination", testUserPagination},
	{"Clients", testClients},
	{"ClientClaims", testClientClaims},
	{"UserClaims", testUserClaims},
	{"RealmIsolation", testRealmIsolation},
	{"DeleteRealmCascades", testDeleteRealm},
	{"SigningKeys", testSigningKeys},
	{"Events", testEvents},
	{"RevokedTokens", testRevokedTokens},
	{"SetupToken", testSetupToken},
	{"ActionTokens", testActionTokens},
	{"InTx", testInTx},
	{"Policies", testPolicies},
	{"Permissions", testPermissions},
	{"APIKeys", testAPIKeys},
	{"SecurityTemplates", testSecurityTemplates},
	{"TemplatePermissionHolders", testTemplatePermissionHolders},
	{"DeactivatedAPIKeys", testDeactivatedAPIKeys},
	{"GetMintRead", testGetMintRead},
	{"IPAllowLists", testIPAllowLists},
	{"ClaimsIPAllowLists", testClaimsIPAllowLists},
	{"NetworkLists", testNetworkLists},
	{"SupportAccess", testSupportAccess},
	{"ConsoleSessions", testConsoleSessions},
	{"ConsoleSessionData", testConsoleSessionData},
	{"ConsoleSessionExpiry", testConsoleSessionExpiry},
	{"ConsoleSessionCap", testConsoleSessionCap},
	{"IntrospectionRead", testIntrospectionRead},
	{"TokenEpochs", testTokenEpochs},
}

// runCase runs one subtest on a fresh store, with the fixture every suite
// of this package uses.
func runCase(t *testing.T, name string, newStore func(t *testing.T) realm.Store, fn func(t *testing.T, f *fixture, s realm.Store)) {
	t.Run(name, func(t *testing.T) {
		s := newStore(t)
		fn(t, &fixture{t: t, s: s, ctx: context.Background(),
			clock: time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)}, s)
	})
}

// fixture builds rows with increasing, time-sortable IDs and times at
// microsecond precision (what every backend keeps).
type fixture struct {
	t     *testing.T
	s     realm.Store
	ctx   context.Context
	clock time.Time
}

// tick advances the clock by a millisecond, so IDs made later sort later.
func (f *fixture) tick() time.Time {
	f.clock = f.clock.Add(time.Millisecond)
	return f.clock
}

func (f *fixture) id() string { return realm.NewID(f.tick(), nil) }

func (f *fixture) org(slug string) *realm.Org {
	f.t.Helper()
	o := &realm.Org{ID: f.id(), Slug: slug, Name: "Org " + slug, CreatedAt: f.clock}
	must(f.t, f.s.CreateOrg(f.ctx, o))
	return o
}

func (f *fixture) realm(orgID, name string) *realm.Realm {
	f.t.Helper()
	r := &realm.Realm{ID: f.id(), OrgID: orgID, Name: name, DisplayName: "Realm " + name, IPAllowList: []string{},
		CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreateRealm(f.ctx, r))
	return r
}

func (f *fixture) group(realmID, name string, attrs map[string]any) *realm.Group {
	f.t.Helper()
	g := &realm.Group{ID: f.id(), RealmID: realmID, Name: name, Description: "about " + name,
		Attributes: attrs, IPAllowList: []string{}, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(f.t, f.s.CreateGroup(f.ctx, g))
	return g
}

func (f *fixture) user(realmID, email string, groups ...string) *realm.User {
	f.t.Helper()
	u := &realm.User{ID: f.id(), RealmID: realmID, Email: email, FirstName: "First", LastName: "Last",
		Active: true, Groups: groups, CreatedAt: f.clock, UpdatedAt: f.clock}
	if len(groups) > 0 {
		u.PrimaryGroup = groups[0]
	}
	must(f.t, f.s.CreateUser(f.ctx, u))
	return u
}

func (f *fixture) client(realmID, clientID string, groups ...string) *realm.Client {
	f.t.Helper()
	c := &realm.Client{ID: f.id(), RealmID: realmID, ClientID: clientID, Name: "Client " + clientID,
		Kind: realm.KindServiceAccount, Active: true, Groups: groups, SecretHash: []byte("hash-" + clientID),
		CreatedAt: f.clock, UpdatedAt: f.clock}
	if len(groups) > 0 {
		c.PrimaryGroup = groups[0]
	}
	must(f.t, f.s.CreateClient(f.ctx, c))
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("%s: error = %v, want realm.ErrNotFound", what, err)
	}
}

// wantConflict checks err is a *realm.ConflictError naming field.
func wantConflict(t *testing.T, what, field string, err error) {
	t.Helper()
	var ce *realm.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, realm.ErrConflict) {
		t.Errorf("%s: error = %v, want *realm.ConflictError", what, err)
		return
	}
	if ce.Field != field {
		t.Errorf("%s: conflict field = %q, want %q (reason %q)", what, ce.Field, field, ce.Reason)
	}
}

// same compares two values by their JSON form: times compare as instants in
// UTC, maps regardless of order.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: marshal: %v %v", what, err1, err2)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func userID(u realm.User) string   { return u.ID }
func groupID(g realm.Group) string { return g.ID }

func testOrgs(t *testing.T, f *fixture) {
	if n, err := f.s.CountOrgs(f.ctx); err != nil || n != 0 {
		t.Fatalf("CountOrgs on empty store = %d, %v", n, err)
	}
	a := f.org("acme")
	f.org("globex")
	got, err := f.s.GetOrg(f.ctx, a.ID)
	must(t, err)
	same(t, "GetOrg", got, a)
	got, err = f.s.GetOrgBySlug(f.ctx, "acme")
	must(t, err)
	same(t, "GetOrgBySlug", got, a)
	if n, err := f.s.CountOrgs(f.ctx); err != nil || n != 2 {
		t.Errorf("CountOrgs = %d, %v; want 2", n, err)
	}
	_, err = f.s.GetOrg(f.ctx, f.id())
	wantNotFound(t, "GetOrg missing", err)
	_, err = f.s.GetOrgBySlug(f.ctx, "nope")
	wantNotFound(t, "GetOrgBySlug missing", err)
	dup := &realm.Org{ID: f.id(), Slug: "acme", Name: "Other", CreatedAt: f.clock}
	wantConflict(t, "CreateOrg duplicate slug", "slug", f.s.CreateOrg(f.ctx, dup))
	if n, _ := f.s.CountOrgs(f.ctx); n != 2 {
		t.Errorf("CountOrgs after failed create = %d, want 2", n)
	}
}

func testMembers(t *testing.T, f *fixture) {
	console := f.realm("", realm.ConsoleRealm)
	acme, globex := f.org("acme"), f.org("globex")
	alice := f.user(console.ID, "alice@example.com")
	bob := f.user(console.ID, "bob@example.com")
	bob.FirstName, bob.LastName = "Robert", "Builder"
	bob.UpdatedAt = f.tick()
	must(t, f.s.UpdateUser(f.ctx, bob))

	m1 := &realm.Member{ID: f.id(), OrgID: acme.ID, UserID: alice.ID, Role: realm.RoleOwner, CreatedAt: f.clock, UpdatedAt: f.clock}
	m2 := &realm.Member{ID: f.id(), OrgID: acme.ID, UserID: bob.ID, Role: realm.RoleViewer, CreatedAt: f.clock, UpdatedAt: f.clock}
	m3 := &realm.Member{ID: f.id(), OrgID: globex.ID, UserID: alice.ID, Role: realm.RoleAdmin, CreatedAt: f.clock, UpdatedAt: f.clock}
	for _, m := range []*realm.Member{m1, m2, m3} {
		must(t, f.s.CreateMember(f.ctx, m))
	}
	dup := &realm.Member{ID: f.id(), OrgID: acme.ID, UserID: alice.ID, Role: realm.RoleAdmin, CreatedAt: f.clock, UpdatedAt: f.clock}
	if err := f.s.CreateMember(f.ctx, dup); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("CreateMember twice for the same user and org: %v, want conflict", err)
	}

	got, err := f.s.GetMember(f.ctx, acme.ID, m1.ID)
	must(t, err)
	if got.User == nil || got.User.Email != "alice@example.com" || got.Role != realm.RoleOwner || got.UserID != alice.ID {
		t.Errorf("GetMember = %+v (user %+v)", got, got.User)
	}
	_, err = f.s.GetMember(f.ctx, globex.ID, m1.ID)
	wantNotFound(t, "GetMember through another org", err)

	page, err := f.s.ListMembers(f.ctx, acme.ID, realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 2 || page.Items[0].ID != m1.ID || page.Items[1].ID != m2.ID || page.NextCursor != "" {
		t.Fatalf("ListMembers = %+v", page)
	}
	if page.Items[1].User == nil || page.Items[1].User.Email != "bob@example.com" {
		t.Errorf("ListMembers did not fill User: %+v", page.Items[1])
	}
	page, err = f.s.ListMembers(f.ctx, acme.ID, realm.ListOptions{Query: "BUILD"})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != m2.ID {
		t.Errorf("ListMembers query by last name = %+v", page.Items)
	}
	page, err = f.s.ListMembers(f.ctx, acme.ID, realm.ListOptions{Limit: 1})
	must(t, err)
	if len(page.Items) != 1 || page.NextCursor != m1.ID {
		t.Fatalf("ListMembers limit 1 = %+v", page)
	}
	page, err = f.s.ListMembers(f.ctx, acme.ID, realm.ListOptions{Limit: 1, Cursor: page.NextCursor})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != m2.ID || page.NextCursor != "" {
		t.Errorf("ListMembers second page = %+v", page)
	}

	ms, err := f.s.ListMembershipsOfUser(f.ctx, alice.ID)
	must(t, err)
	if len(ms) != 2 || ms[0].ID != m1.ID || ms[1].ID != m3.ID || ms[1].OrgID != globex.ID {
		t.Errorf("ListMembershipsOfUser = %+v", ms)
	}

	if n, err := f.s.CountOwners(f.ctx, acme.ID); err != nil || n != 1 {
		t.Errorf("CountOwners = %d, %v; want 1", n, err)
	}
	m2.Role, m2.UpdatedAt = realm.RoleOwner, f.tick()
	must(t, f.s.UpdateMember(f.ctx, m2))
	got, err = f.s.GetMember(f.ctx, acme.ID, m2.ID)
	must(t, err)
	if got.Role != realm.RoleOwner || !got.UpdatedAt.Equal(m2.UpdatedAt) {
		t.Errorf("after UpdateMember: role %q updated %v", got.Role, got.UpdatedAt)
	}
	if n, _ := f.s.CountOwners(f.ctx, acme.ID); n != 2 {
		t.Errorf("CountOwners after promotion = %d, want 2", n)
	}
	wrongOrg := *m2
	wrongOrg.OrgID = globex.ID
	wantNotFound(t, "UpdateMember through another org", f.s.UpdateMember(f.ctx, &wrongOrg))
	wantNotFound(t, "DeleteMember through another org", f.s.DeleteMember(f.ctx, globex.ID, m2.ID))
	must(t, f.s.DeleteMember(f.ctx, acme.ID, m2.ID))
	_, err = f.s.GetMember(f.ctx, acme.ID, m2.ID)
	wantNotFound(t, "GetMember after delete", err)
	wantNotFound(t, "DeleteMember twice", f.s.DeleteMember(f.ctx, acme.ID, m2.ID))
}

func testRealms(t *testing.T, f *fixture) {
	acme, globex := f.org("acme"), f.org("globex")
	console := f.realm("", realm.ConsoleRealm)
	r := f.realm(acme.ID, "prod")
	got, err := f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "GetRealm", got, r)
	got, err = f.s.GetRealmByName(f.ctx, "prod")
	must(t, err)
	same(t, "GetRealmByName", got, r)
	got, err = f.s.GetRealmByName(f.ctx, realm.ConsoleRealm)
	must(t, err)
	if got.OrgID != "" || got.ID != console.ID {
		t.Errorf("console realm = %+v", got)
	}
	_, err = f.s.GetRealm(f.ctx, f.id())
	wantNotFound(t, "GetRealm missing", err)
	_, err = f.s.GetRealmByName(f.ctx, "nope")
	wantNotFound(t, "GetRealmByName missing", err)
	// The membership lock is taken inside a transaction, on a realm that
	// exists (the realm tests show that it orders concurrent changes).
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error { return tx.LockRealmMembership(f.ctx, r.ID) }))
	wantNotFound(t, "LockRealmMembership missing", f.s.InTx(f.ctx, func(tx realm.Store) error {
		return tx.LockRealmMembership(f.ctx, f.id())
	}))

	// Realm names are unique across the server, not per org.
	dup := &realm.Realm{ID: f.id(), OrgID: globex.ID, Name: "prod", DisplayName: "x", CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateRealm duplicate name in another org", "name", f.s.CreateRealm(f.ctx, dup))

	r.DisplayName, r.PasswordLoginDisabled, r.UpdatedAt = "Production", true, f.tick()
	must(t, f.s.UpdateRealm(f.ctx, r))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "GetRealm after update", got, r)
	if !got.PasswordLoginDisabled {
		t.Error("UpdateRealm did not keep PasswordLoginDisabled")
	}
	// Created with the password form hidden: every read says so.
	sso := &realm.Realm{ID: f.id(), OrgID: acme.ID, Name: "sso", DisplayName: "SSO only", IPAllowList: []string{},
		PasswordLoginDisabled: true, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateRealm(f.ctx, sso))
	got, err = f.s.GetRealmByName(f.ctx, "sso")
	must(t, err)
	same(t, "GetRealmByName with the password form hidden", got, sso)
	page, err := f.s.ListRealms(f.ctx, acme.ID, realm.ListOptions{})
	must(t, err)
	same(t, "ListRealms", page.Items, []realm.Realm{*r, *sso})
	r.PasswordLoginDisabled, r.UpdatedAt = false, f.tick()
	must(t, f.s.UpdateRealm(f.ctx, r))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "GetRealm after showing the password form again", got, r)
	other := f.realm(acme.ID, "staging")
	other.Name = "prod"
	wantConflict(t, "UpdateRealm to a taken name", "name", f.s.UpdateRealm(f.ctx, other))
	missing := *r
	missing.ID = f.id()
	wantNotFound(t, "UpdateRealm missing", f.s.UpdateRealm(f.ctx, &missing))

	page, err = f.s.ListRealms(f.ctx, globex.ID, realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("ListRealms of an org with none = %+v", page.Items)
	}
}

func testRealmPagination(t *testing.T, f *fixture) {
	acme, globex := f.org("acme"), f.org("globex")
	var want []string
	for i := range 5 {
		want = append(want, f.realm(acme.ID, fmt.Sprintf("realm-%d", i)).ID)
	}
	f.realm(globex.ID, "realm-globex")
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("ListRealms: cursor never ends")
		}
		page, err := f.s.ListRealms(f.ctx, acme.ID, realm.ListOptions{Limit: 2, Cursor: cursor})
		must(t, err)
		if len(page.Items) > 2 {
			t.Fatalf("ListRealms returned %d items for limit 2", len(page.Items))
		}
		got = append(got, ids(page.Items, func(r realm.Realm) string { return r.ID })...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	same(t, "ListRealms pages", got, want)

	// Query matches the display name, case-insensitively; LIKE wildcards in
	// the query are literal.
	page, err := f.s.ListRealms(f.ctx, acme.ID, realm.ListOptions{Query: "REALM REALM-3"})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].Name != "realm-3" {
		t.Errorf("ListRealms query on display name = %+v", page.Items)
	}
	page, err = f.s.ListRealms(f.ctx, acme.ID, realm.ListOptions{Query: "realm%"})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("ListRealms with %% in the query matched %d realms, want 0", len(page.Items))
	}
	page, err = f.s.ListRealms(f.ctx, acme.ID, realm.ListOptions{Query: "m-_"})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("ListRealms with _ in the query matched %d realms, want 0", len(page.Items))
	}
}

func testAttributes(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	mk := func(realmID, name string, typ attributes.Type, multi bool) *realm.Attribute {
		a := &realm.Attribute{ID: f.id(), RealmID: realmID, Name: name, Type: typ, Multi: multi,
			Description: "the " + name, CreatedAt: f.clock, UpdatedAt: f.clock}
		must(t, f.s.CreateAttribute(f.ctx, a))
		return a
	}
	region := mk(r.ID, "region", attributes.String, false)
	mk(r.ID, "desks", attributes.String, true)
	mk(r.ID, "clearance", attributes.Type("int"), false)
	mk(other.ID, "region", attributes.String, false)

	got, err := f.s.GetAttribute(f.ctx, r.ID, "region")
	must(t, err)
	same(t, "GetAttribute", got, region)
	_, err = f.s.GetAttribute(f.ctx, r.ID, "nope")
	wantNotFound(t, "GetAttribute missing", err)
	list, err := f.s.ListAttributes(f.ctx, r.ID)
	must(t, err)
	same(t, "ListAttributes order", ids(list, func(a realm.Attribute) string { return a.Name }), []string{"clearance", "desks", "region"})

	dup := &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "region", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateAttribute duplicate", "name", f.s.CreateAttribute(f.ctx, dup))

	region.Multi, region.Description, region.UpdatedAt = true, "changed", f.tick()
	must(t, f.s.UpdateAttribute(f.ctx, region))
	got, err = f.s.GetAttribute(f.ctx, r.ID, "region")
	must(t, err)
	same(t, "GetAttribute after update", got, region)
	missing := *region
	missing.Name = "nope"
	wantNotFound(t, "UpdateAttribute missing", f.s.UpdateAttribute(f.ctx, &missing))

	f.group(r.ID, "eu", map[string]any{"region": []any{"eu"}})
	f.group(r.ID, "us", map[string]any{"region": []any{"us"}, "clearance": int64(3)})
	// Mentions "region" only as a value and in another key: not a use.
	f.group(r.ID, "tricky", map[string]any{"desks": []any{"region", `"region"`}, "region_x": "y"})
	f.group(other.ID, "eu", map[string]any{"region": "eu"})
	if n, err := f.s.CountGroupsUsingAttribute(f.ctx, r.ID, "region"); err != nil || n != 2 {
		t.Errorf("CountGroupsUsingAttribute(region) = %d, %v; want 2", n, err)
	}
	if n, err := f.s.CountGroupsUsingAttribute(f.ctx, r.ID, "clearance"); err != nil || n != 1 {
		t.Errorf("CountGroupsUsingAttribute(clearance) = %d, %v; want 1", n, err)
	}
	if n, err := f.s.CountGroupsUsingAttribute(f.ctx, r.ID, "reg%"); err != nil || n != 0 {
		t.Errorf("CountGroupsUsingAttribute(reg%%) = %d, %v; want 0", n, err)
	}

	must(t, f.s.DeleteAttribute(f.ctx, r.ID, "desks"))
	_, err = f.s.GetAttribute(f.ctx, r.ID, "desks")
	wantNotFound(t, "GetAttribute after delete", err)
	wantNotFound(t, "DeleteAttribute twice", f.s.DeleteAttribute(f.ctx, r.ID, "desks"))
	if _, err := f.s.GetAttribute(f.ctx, other.ID, "region"); err != nil {
		t.Errorf("the other realm's attribute: %v", err)
	}
}

func testGroups(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	a := f.group(r.ID, "Traders", map[string]any{"desk": "fx"})
	b := f.group(r.ID, "Ops", nil)
	c := f.group(r.ID, "Risk Managers", nil)

	got, err := f.s.GetGroup(f.ctx, r.ID, a.ID)
	must(t, err)
	same(t, "GetGroup", got, a)
	_, err = f.s.GetGroup(f.ctx, r.ID, f.id())
	wantNotFound(t, "GetGroup missing", err)

	dup := &realm.Group{ID: f.id(), RealmID: r.ID, Name: "tRADERS", CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateGroup duplicate name, other case", "name", f.s.CreateGroup(f.ctx, dup))

	gs, err := f.s.GetGroups(f.ctx, r.ID, []string{c.ID, a.ID, f.id()})
	must(t, err)
	same(t, "GetGroups", ids(gs, groupID), []string{a.ID, c.ID})
	gs, err = f.s.GetGroups(f.ctx, r.ID, nil)
	must(t, err)
	if len(gs) != 0 {
		t.Errorf("GetGroups(nil) = %v", gs)
	}

	page, err := f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{})
	must(t, err)
	same(t, "ListGroups", ids(page.Items, groupID), []string{a.ID, b.ID, c.ID})
	page, err = f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{Query: "manag"})
	must(t, err)
	same(t, "ListGroups query", ids(page.Items, groupID), []string{c.ID})
	page, err = f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{Limit: 2})
	must(t, err)
	if len(page.Items) != 2 || page.NextCursor != b.ID {
		t.Errorf("ListGroups limit 2 = %v next %q", ids(page.Items, groupID), page.NextCursor)
	}
	page, err = f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{Limit: 2, Cursor: page.NextCursor})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != c.ID || page.NextCursor != "" {
		t.Errorf("ListGroups page 2 = %v next %q", ids(page.Items, groupID), page.NextCursor)
	}

	a.Name, a.Description, a.Attributes, a.UpdatedAt = "FX Traders", "new", map[string]any{"desk": "rates"}, f.tick()
	a.IDPPrimaryPriority = 700
	must(t, f.s.UpdateGroup(f.ctx, a))
	got, err = f.s.GetGroup(f.ctx, r.ID, a.ID)
	must(t, err)
	same(t, "GetGroup after update", got, a)
	if got.IDPPrimaryPriority != 700 {
		t.Errorf("IDPPrimaryPriority after update = %d, want 700", got.IDPPrimaryPriority)
	}
	// Created with a priority: every read has it.
	ranked := &realm.Group{ID: f.id(), RealmID: r.ID, Name: "Ranked", Description: "d", Attributes: map[string]any{},
		IPAllowList: []string{}, IDPPrimaryPriority: realm.MaxIdPPrimaryPriority, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateGroup(f.ctx, ranked))
	got, err = f.s.GetGroup(f.ctx, r.ID, ranked.ID)
	must(t, err)
	same(t, "GetGroup with a priority", got, ranked)
	gs, err = f.s.GetGroups(f.ctx, r.ID, []string{ranked.ID, a.ID})
	must(t, err)
	same(t, "GetGroups with priorities", gs, []realm.Group{*a, *ranked})
	page, err = f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{Query: "ranked"})
	must(t, err)
	same(t, "ListGroups with a priority", page.Items, []realm.Group{*ranked})
	ranked.IDPPrimaryPriority, ranked.UpdatedAt = 0, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, ranked))
	got, err = f.s.GetGroup(f.ctx, r.ID, ranked.ID)
	must(t, err)
	same(t, "GetGroup after resetting the priority", got, ranked)
	b.Name = "risk MANAGERS"
	wantConflict(t, "UpdateGroup to a taken name", "name", f.s.UpdateGroup(f.ctx, b))
	// The old name is free again after a rename.
	f.group(r.ID, "traders", nil)

	missing := *a
	missing.ID = f.id()
	wantNotFound(t, "UpdateGroup missing", f.s.UpdateGroup(f.ctx, &missing))

	u := f.user(r.ID, "u@example.com", c.ID)
	cl := f.client(r.ID, "svc", c.ID)
	_ = cl
	f.user(r.ID, "v@example.com", a.ID, c.ID) // member of c, primary a
	if n, err := f.s.CountPrimaryUses(f.ctx, r.ID, c.ID); err != nil || n != 2 {
		t.Errorf("CountPrimaryUses(c) = %d, %v; want 2 (one user, one client)", n, err)
	}
	if n, err := f.s.CountPrimaryUses(f.ctx, r.ID, b.ID); err != nil || n != 0 {
		t.Errorf("CountPrimaryUses(b) = %d, %v; want 0", n, err)
	}
	_ = u
}

// testGroupAttributesJSON checks attribute values come back with the same
// JSON types, numbers as json.Number holding the exact text.
func testGroupAttributesJSON(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	attrs := map[string]any{
		"s":     "héllo \"quoted\" %_",
		"big":   int64(9007199254740993), // not exact as float64
		"neg":   int64(-42),
		"ratio": 1.25,
		"ok":    true,
		"no":    false,
		"since": "2024-02-29",
		"desks": []any{"eq", "fx"},
		"tiers": []any{int64(1), int64(2)},
	}
	g := f.group(r.ID, "g", attrs)
	got, err := f.s.GetGroup(f.ctx, r.ID, g.ID)
	must(t, err)
	want := map[string]any{
		"s":     "héllo \"quoted\" %_",
		"big":   json.Number("9007199254740993"),
		"neg":   json.Number("-42"),
		"ratio": json.Number("1.25"),
		"ok":    true,
		"no":    false,
		"since": "2024-02-29",
		"desks": []any{"eq", "fx"},
		"tiers": []any{json.Number("1"), json.Number("2")},
	}
	if len(got.Attributes) != len(want) {
		t.Fatalf("attributes = %#v", got.Attributes)
	}
	for k, w := range want {
		if fmt.Sprintf("%#v", got.Attributes[k]) != fmt.Sprintf("%#v", w) {
			t.Errorf("attribute %q = %#v, want %#v", k, got.Attributes[k], w)
		}
	}
	empty := f.group(r.ID, "empty", nil)
	got, err = f.s.GetGroup(f.ctx, r.ID, empty.ID)
	must(t, err)
	if len(got.Attributes) != 0 {
		t.Errorf("group without attributes read back %v", got.Attributes)
	}
}

func testGroupMembers(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	g, other := f.group(r.ID, "g", nil), f.group(r.ID, "other", nil)
	u1 := f.user(r.ID, "u1@example.com", g.ID)
	f.user(r.ID, "nobody@example.com", other.ID)
	c1 := f.client(r.ID, "svc-1", g.ID)
	u2 := f.user(r.ID, "u2@example.com", other.ID, g.ID)
	c2 := f.client(r.ID, "svc-2", g.ID, other.ID)

	want := []string{"user:" + u1.ID, "user:" + u2.ID, "client:" + c1.ID, "client:" + c2.ID}
	key := func(m realm.GroupMember) string { return m.Kind + ":" + m.ID }
	page, err := f.s.ListGroupMembers(f.ctx, r.ID, g.ID, realm.ListOptions{})
	must(t, err)
	same(t, "ListGroupMembers", ids(page.Items, key), want)
	if page.NextCursor != "" {
		t.Errorf("ListGroupMembers single page has NextCursor %q", page.NextCursor)
	}
	if m := page.Items[0]; m.Name != "u1@example.com" {
		t.Errorf("user member = %+v, want Name = email", m)
	}
	if m := page.Items[2]; m.ClientID != "svc-1" || m.Name != "Client svc-1" {
		t.Errorf("client member = %+v", m)
	}
	for _, limit := range []int{1, 2, 3} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("limit %d: cursor never ends", limit)
			}
			page, err := f.s.ListGroupMembers(f.ctx, r.ID, g.ID, realm.ListOptions{Limit: limit, Cursor: cursor})
			must(t, err)
			if len(page.Items) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page.Items))
			}
			got = append(got, ids(page.Items, key)...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		same(t, fmt.Sprintf("ListGroupMembers pages of %d", limit), got, want)
	}
	page, err = f.s.ListGroupMembers(f.ctx, r.ID, g.ID, realm.ListOptions{Query: "SVC-2"})
	must(t, err)
	same(t, "ListGroupMembers query", ids(page.Items, key), []string{"client:" + c2.ID})
	_, err = f.s.ListGroupMembers(f.ctx, r.ID, f.id(), realm.ListOptions{})
	if err != nil && !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("ListGroupMembers of a missing group: %v", err)
	}
}

// testMemberGroupings: one subject per distinct combination of groups and
// primary group among the group's users and clients (users first, then
// by ID), each with all of its groups; other groups' members and other
// realms' rows do not count.
func testMemberGroupings(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	g, a, b := f.group(r.ID, "g", nil), f.group(r.ID, "a", nil), f.group(r.ID, "b", nil)
	u1 := f.user(r.ID, "u1@example.com", g.ID, a.ID) // primary g
	f.user(r.ID, "u2@example.com", g.ID, a.ID)       // same as u1
	u3 := f.user(r.ID, "u3@example.com", a.ID, g.ID) // primary a
	u4 := f.user(r.ID, "u4@example.com", g.ID)
	f.user(r.ID, "outside@example.com", a.ID, b.ID)
	f.client(r.ID, "svc-same", g.ID) // same as u4
	c2 := f.client(r.ID, "svc-2", g.ID, b.ID, a.ID)
	other := f.realm(o.ID, "dev")
	f.user(other.ID, "u1@example.com", f.group(other.ID, "g", nil).ID)

	got, err := f.s.ListMemberGroupings(f.ctx, r.ID, g.ID)
	must(t, err)
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	want := []realm.SubjectGroups{
		{Kind: "user", ID: u1.ID, Groups: sorted(g.ID, a.ID), PrimaryGroup: g.ID},
		{Kind: "user", ID: u3.ID, Groups: sorted(g.ID, a.ID), PrimaryGroup: a.ID},
		{Kind: "user", ID: u4.ID, Groups: []string{g.ID}, PrimaryGroup: g.ID},
		{Kind: "client", ID: c2.ClientID, Groups: sorted(g.ID, a.ID, b.ID), PrimaryGroup: g.ID},
	}
	same(t, "ListMemberGroupings", got, want)
	got, err = f.s.ListMemberGroupings(f.ctx, r.ID, f.group(r.ID, "empty", nil).ID)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("ListMemberGroupings of an empty group = %v", got)
	}
	got, err = f.s.ListMemberGroupings(f.ctx, other.ID, g.ID)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("ListMemberGroupings of another realm's group = %v", got)
	}
}

func testDeleteGroup(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	g, keep := f.group(r.ID, "g", nil), f.group(r.ID, "keep", nil)
	u := f.user(r.ID, "u@example.com", keep.ID, g.ID)
	c := f.client(r.ID, "svc", keep.ID, g.ID)
	must(t, f.s.DeleteGroup(f.ctx, r.ID, g.ID))
	_, err := f.s.GetGroup(f.ctx, r.ID, g.ID)
	wantNotFound(t, "GetGroup after delete", err)
	wantNotFound(t, "DeleteGroup twice", f.s.DeleteGroup(f.ctx, r.ID, g.ID))
	gotU, err := f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "user groups after DeleteGroup", gotU.Groups, []string{keep.ID})
	gotC, err := f.s.GetClient(f.ctx, r.ID, c.ClientID)
	must(t, err)
	same(t, "client groups after DeleteGroup", gotC.Groups, []string{keep.ID})
	// A new group may take the deleted one's name.
	f.group(r.ID, "G", nil)
}

func testUsers(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	g1, g2, g3 := f.group(r.ID, "g1", nil), f.group(r.ID, "g2", nil), f.group(r.ID, "g3", nil)
	u := &realm.User{ID: f.id(), RealmID: r.ID, Email: "Alice.Smith@Example.com", FirstName: "Alice", LastName: "Smith",
		Active: true, Groups: []string{g3.ID, g1.ID}, PrimaryGroup: g3.ID, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateUser(f.ctx, u))
	want := *u
	want.Groups = []string{g1.ID, g3.ID} // sorted
	got, err := f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "GetUser", got, want)
	got, err = f.s.GetUserByEmail(f.ctx, r.ID, "alice.smith@EXAMPLE.COM")
	must(t, err)
	same(t, "GetUserByEmail other case", got, want)
	_, err = f.s.GetUserByEmail(f.ctx, r.ID, "alice@example.com")
	wantNotFound(t, "GetUserByEmail missing", err)
	_, err = f.s.GetUser(f.ctx, r.ID, f.id())
	wantNotFound(t, "GetUser missing", err)

	dup := &realm.User{ID: f.id(), RealmID: r.ID, Email: "ALICE.SMITH@example.COM", Active: true, CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateUser duplicate email, other case", "email", f.s.CreateUser(f.ctx, dup))

	// Bad group: nothing lands.
	bad := &realm.User{ID: f.id(), RealmID: r.ID, Email: "bad@example.com", Groups: []string{f.id()}, CreatedAt: f.clock, UpdatedAt: f.clock}
	if err := f.s.CreateUser(f.ctx, bad); err == nil {
		t.Error("CreateUser with a group that does not exist succeeded")
	}
	_, err = f.s.GetUser(f.ctx, r.ID, bad.ID)
	wantNotFound(t, "user whose create failed", err)

	u.Email, u.FirstName, u.LastName, u.Active = "alice@example.com", "Al", "Smyth", false
	u.Groups, u.PrimaryGroup, u.PasswordHash, u.UpdatedAt = []string{g2.ID}, g2.ID, "", f.tick()
	deactivated := f.tick()
	u.TokensValidAfter = &deactivated
	must(t, f.s.UpdateUser(f.ctx, u))
	got, err = f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "GetUser after update", got, u)
	if _, err := f.s.GetUserByEmail(f.ctx, r.ID, "alice.smith@example.com"); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("old email still finds the user: %v", err)
	}
	u.Groups, u.PrimaryGroup = nil, ""
	must(t, f.s.UpdateUser(f.ctx, u))
	got, err = f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	if len(got.Groups) != 0 {
		t.Errorf("groups after clearing = %v", got.Groups)
	}

	other := f.user(r.ID, "bob@example.com")
	other.Email = "ALICE@example.com"
	wantConflict(t, "UpdateUser to a taken email", "email", f.s.UpdateUser(f.ctx, other))
	missing := *u
	missing.ID = f.id()
	wantNotFound(t, "UpdateUser missing", f.s.UpdateUser(f.ctx, &missing))
}

func testUserPagination(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, r2 := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g := f.group(r.ID, "g", nil)
	var want []string
	for i := range 5 {
		want = append(want, f.user(r.ID, fmt.Sprintf("user%d@example.com", i), g.ID).ID)
	}
	f.user(r2.ID, "user9@example.com")

	page, err := f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Limit: 2})
	must(t, err)
	same(t, "page 1", ids(page.Items, userID), want[:2])
	if page.NextCursor != want[1] {
		t.Errorf("page 1 NextCursor = %q, want last item's ID %q", page.NextCursor, want[1])
	}
	if len(page.Items[0].Groups) != 1 || page.Items[0].Groups[0] != g.ID {
		t.Errorf("ListUsers did not fill groups: %+v", page.Items[0])
	}
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Limit: 2, Cursor: page.NextCursor})
	must(t, err)
	same(t, "page 2", ids(page.Items, userID), want[2:4])
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Limit: 2, Cursor: page.NextCursor})
	must(t, err)
	same(t, "page 3", ids(page.Items, userID), want[4:])
	if page.NextCursor != "" {
		t.Errorf("last page NextCursor = %q", page.NextCursor)
	}
	// Exactly full last page: no cursor to an empty page.
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Limit: 5})
	must(t, err)
	if len(page.Items) != 5 || page.NextCursor != "" {
		t.Errorf("limit 5 of 5 = %d items, next %q", len(page.Items), page.NextCursor)
	}
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Query: "USER3@"})
	must(t, err)
	same(t, "query", ids(page.Items, userID), want[3:4])
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Query: "last"})
	must(t, err)
	if len(page.Items) != 5 {
		t.Errorf("query on last name matched %d, want 5", len(page.Items))
	}

	// Default and maximum page sizes.
	for i := 5; i < 205; i++ {
		f.user(r.ID, fmt.Sprintf("more%d@example.com", i))
	}
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 50 || page.NextCursor == "" {
		t.Errorf("default limit: %d items, next %q; want 50 and a cursor", len(page.Items), page.NextCursor)
	}
	page, err = f.s.ListUsers(f.ctx, r.ID, realm.ListOptions{Limit: 1000})
	must(t, err)
	if len(page.Items) != 200 || page.NextCursor == "" {
		t.Errorf("limit 1000: %d items; want the maximum 200 and a cursor", len(page.Items))
	}
}

func testClients(t *testing.T, f *fixture) {
	acme, globex := f.org("acme"), f.org("globex")
	r := f.realm(acme.ID, "prod")
	g1, g2 := f.group(r.ID, "g1", nil), f.group(r.ID, "g2", nil)
	exp := f.clock.Add(time.Hour)
	c := &realm.Client{ID: f.id(), RealmID: r.ID, ClientID: "web-app", Name: "Web App", Description: "the app",
		Kind: realm.KindApplication, Active: true, Public: true, Audience: []string{"assets", "ledger"},
		Groups: []string{g2.ID, g1.ID}, PrimaryGroup: g2.ID, RedirectURIs: []string{"https://app.example.com/cb"},
		WebOrigins: []string{"https://app.example.com"}, Communication: realm.CommPostMessage, DisplayName: "Web",
		SecretHash: []byte{0, 1, 2, 255}, PreviousSecretHash: []byte{9, 9}, PreviousSecretExpiresAt: &exp,
		AllowOfflineAccess: true, IDTokenAlg: "ES256", CreatedAt: f.clock, UpdatedAt: f.clock,
		DefaultScopes: []string{"profile", "email"}, OptionalScopes: []string{"offline_access"}}
	must(t, f.s.CreateClient(f.ctx, c))
	want := *c
	want.Groups = []string{g1.ID, g2.ID}
	got, err := f.s.GetClient(f.ctx, r.ID, "web-app")
	must(t, err)
	same(t, "GetClient", got, want)
	_, err = f.s.GetClient(f.ctx, r.ID, "WEB-APP")
	wantNotFound(t, "GetClient is exact on client_id", err)
	noGroups := f.client(r.ID, "bare")
	got, err = f.s.GetClient(f.ctx, r.ID, "bare")
	must(t, err)
	same(t, "GetClient without groups", got, noGroups)

	dup := &realm.Client{ID: f.id(), RealmID: r.ID, ClientID: "web-app", Kind: realm.KindServiceAccount, CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateClient duplicate client_id", "client_id", f.s.CreateClient(f.ctx, dup))

	// Org admin clients in the console realm.
	console := f.realm("", realm.ConsoleRealm)
	adminA := &realm.Client{ID: f.id(), RealmID: console.ID, ClientID: "acme-admin", Name: "acme admin",
		Kind: realm.KindServiceAccount, Active: true, OrgID: acme.ID, OrgRole: realm.RoleAdmin, CreatedAt: f.clock, UpdatedAt: f.clock}
	adminB := &realm.Client{ID: f.id(), RealmID: console.ID, ClientID: "globex-admin", Name: "globex admin",
		Kind: realm.KindServiceAccount, Active: true, OrgID: globex.ID, OrgRole: realm.RoleViewer, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateClient(f.ctx, adminA))
	must(t, f.s.CreateClient(f.ctx, adminB))
	page, err := f.s.ListClients(f.ctx, console.ID, acme.ID, realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("ListClients for org = %d items", len(page.Items))
	}
	same(t, "ListClients for org", page.Items[0], adminA)
	page, err = f.s.ListClients(f.ctx, console.ID, "", realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 2 {
		t.Errorf("ListClients without org = %d items, want 2", len(page.Items))
	}

	page, err = f.s.ListClients(f.ctx, r.ID, "", realm.ListOptions{})
	must(t, err)
	same(t, "ListClients", page.Items, []realm.Client{want, *noGroups})
	page, err = f.s.ListClients(f.ctx, r.ID, "", realm.ListOptions{Query: "BAR"})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != noGroups.ID {
		t.Errorf("ListClients query on client_id = %+v", page.Items)
	}
	page, err = f.s.ListClients(f.ctx, r.ID, "", realm.ListOptions{Limit: 1})
	must(t, err)
	if len(page.Items) != 1 || page.NextCursor != c.ID {
		t.Errorf("ListClients limit 1: next %q", page.NextCursor)
	}
	page, err = f.s.ListClients(f.ctx, r.ID, "", realm.ListOptions{Limit: 1, Cursor: page.NextCursor})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != noGroups.ID || page.NextCursor != "" {
		t.Errorf("ListClients page 2 = %+v", page)
	}

	// Every field is saved; groups replaced; rotation fields cleared.
	c.Name, c.Description, c.Active, c.Public = "Renamed", "", false, false
	c.Audience, c.Groups, c.PrimaryGroup = nil, []string{g1.ID}, g1.ID
	c.AllowOfflineAccess, c.IDTokenAlg = false, "RS256"
	disabled := f.tick()
	c.TokensValidAfter, c.DefaultScopes, c.OptionalScopes = &disabled, nil, []string{"email", "profile"}
	c.RedirectURIs, c.WebOrigins, c.Communication, c.DisplayName = []string{"https://x.example/cb"}, nil, realm.CommRedirect, ""
	c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt, c.UpdatedAt = []byte("new"), nil, nil, f.tick()
	must(t, f.s.UpdateClient(f.ctx, c))
	got, err = f.s.GetClient(f.ctx, r.ID, "web-app")
	must(t, err)
	same(t, "GetClient after update", got, c)
	noGroups.ClientID = "web-app"
	wantConflict(t, "UpdateClient to a taken client_id", "client_id", f.s.UpdateClient(f.ctx, noGroups))
	missing := *c
	missing.ID = f.id()
	wantNotFound(t, "UpdateClient missing", f.s.UpdateClient(f.ctx, &missing))
}

func testRealmIsolation(t *testing.T, f *fixture) {
	o := f.org("acme")
	a, b := f.realm(o.ID, "a"), f.realm(o.ID, "b")
	ga := f.group(a.ID, "shared-name", nil)
	gb := f.group(b.ID, "shared-name", nil) // same name in another realm is fine
	ua := f.user(a.ID, "same@example.com", ga.ID)
	f.user(b.ID, "same@example.com") // same email in another realm is fine
	ca := f.client(a.ID, "same-client", ga.ID)
	f.client(b.ID, "same-client")
	must(t, f.s.CreateAttribute(f.ctx, &realm.Attribute{ID: f.id(), RealmID: a.ID, Name: "only-a", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}))

	_, err := f.s.GetGroup(f.ctx, b.ID, ga.ID)
	wantNotFound(t, "GetGroup of A through B", err)
	gs, err := f.s.GetGroups(f.ctx, b.ID, []string{ga.ID, gb.ID})
	must(t, err)
	same(t, "GetGroups through B", ids(gs, groupID), []string{gb.ID})
	_, err = f.s.GetUser(f.ctx, b.ID, ua.ID)
	wantNotFound(t, "GetUser of A through B", err)
	_, err = f.s.GetAttribute(f.ctx, b.ID, "only-a")
	wantNotFound(t, "GetAttribute of A through B", err)
	cb, err := f.s.GetClient(f.ctx, b.ID, "same-client")
	must(t, err)
	if cb.ID == ca.ID || cb.RealmID != b.ID {
		t.Errorf("GetClient through B returned A's client")
	}
	_, err = f.s.ListGroupMembers(f.ctx, b.ID, ga.ID, realm.ListOptions{})
	wantNotFound(t, "ListGroupMembers of A's group through B", err)

	moved := *ua
	moved.RealmID = b.ID
	wantNotFound(t, "UpdateUser of A through B", f.s.UpdateUser(f.ctx, &moved))
	movedC := *ca
	movedC.RealmID = b.ID
	wantNotFound(t, "UpdateClient of A through B", f.s.UpdateClient(f.ctx, &movedC))
	movedG := *ga
	movedG.RealmID = b.ID
	movedG.Name = "renamed"
	wantNotFound(t, "UpdateGroup of A through B", f.s.UpdateGroup(f.ctx, &movedG))
	wantNotFound(t, "DeleteGroup of A through B", f.s.DeleteGroup(f.ctx, b.ID, ga.ID))
	wantNotFound(t, "DeleteAttribute of A through B", f.s.DeleteAttribute(f.ctx, b.ID, "only-a"))

	// A's user cannot join B's group.
	ua.Groups = []string{ga.ID, gb.ID}
	if err := f.s.UpdateUser(f.ctx, ua); err == nil {
		t.Error("UpdateUser put A's user in B's group")
	}
	got, err := f.s.GetUser(f.ctx, a.ID, ua.ID)
	must(t, err)
	same(t, "A's user after refused update", got.Groups, []string{ga.ID})

	page, err := f.s.ListUsers(f.ctx, b.ID, realm.ListOptions{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].RealmID != b.ID {
		t.Errorf("ListUsers of B = %+v", page.Items)
	}
	if _, err := f.s.GetGroup(f.ctx, a.ID, ga.ID); err != nil {
		t.Errorf("A's group after B's refused calls: %v", err)
	}
}

func testDeleteRealm(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, keep := f.realm(o.ID, "doomed"), f.realm(o.ID, "keep")
	g := f.group(r.ID, "g", map[string]any{"a": "b"})
	u := f.user(r.ID, "u@example.com", g.ID)
	f.client(r.ID, "svc", g.ID)
	must(t, f.s.CreateAttribute(f.ctx, &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "a", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}))
	must(t, f.s.CreateSigningKey(f.ctx, &realm.SigningKey{ID: f.id(), RealmID: r.ID, Algorithm: "ES256", EncryptedPrivate: []byte("x"), PublicJWK: []byte("{}"), Active: true, CreatedAt: f.clock}))
	must(t, f.s.RevokeToken(f.ctx, r.ID, "jti-1", f.clock.Add(time.Hour)))
	must(t, f.s.AppendEvent(f.ctx, &realm.Event{ID: f.id(), OrgID: o.ID, RealmID: r.ID, Type: "user.created", Time: f.clock}))
	must(t, f.s.CreateActionToken(f.ctx, &realm.ActionToken{Hash: []byte("h"), RealmID: r.ID, UserID: u.ID, Purpose: "set_password", ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}))
	kg := f.group(keep.ID, "g", nil)
	ku := f.user(keep.ID, "u@example.com", kg.ID)
	kc := f.client(keep.ID, "svc", kg.ID)

	must(t, f.s.DeleteRealm(f.ctx, r.ID))
	_, err := f.s.GetRealm(f.ctx, r.ID)
	wantNotFound(t, "GetRealm after delete", err)
	_, err = f.s.GetRealmByName(f.ctx, "doomed")
	wantNotFound(t, "GetRealmByName after delete", err)
	_, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	wantNotFound(t, "group of deleted realm", err)
	_, err = f.s.GetUser(f.ctx, r.ID, u.ID)
	wantNotFound(t, "user of deleted realm", err)
	_, err = f.s.GetClient(f.ctx, r.ID, "svc")
	wantNotFound(t, "client of deleted realm", err)
	_, err = f.s.GetAttribute(f.ctx, r.ID, "a")
	wantNotFound(t, "attribute of deleted realm", err)
	keys, err := f.s.ListSigningKeys(f.ctx, r.ID)
	must(t, err)
	if len(keys) != 0 {
		t.Errorf("signing keys of deleted realm: %d", len(keys))
	}
	if revoked, err := f.s.IsTokenRevoked(f.ctx, r.ID, "jti-1"); err != nil || revoked {
		t.Errorf("revocation of deleted realm: %v, %v", revoked, err)
	}
	ev, err := f.s.ListEvents(f.ctx, o.ID, r.ID, realm.EventFilter{})
	must(t, err)
	if len(ev.Items) != 0 {
		t.Errorf("events of deleted realm: %d", len(ev.Items))
	}
	_, err = f.s.UseActionToken(f.ctx, []byte("h"), f.clock)
	wantNotFound(t, "action token of deleted realm", err)
	wantNotFound(t, "DeleteRealm twice", f.s.DeleteRealm(f.ctx, r.ID))

	// The name is free again, and the other realm is untouched.
	f.realm(o.ID, "doomed")
	if got, err := f.s.GetUser(f.ctx, keep.ID, ku.ID); err != nil || len(got.Groups) != 1 {
		t.Errorf("other realm's user: %+v, %v", got, err)
	}
	if got, err := f.s.GetClient(f.ctx, keep.ID, kc.ClientID); err != nil || len(got.Groups) != 1 {
		t.Errorf("other realm's client: %+v, %v", got, err)
	}
}

func testSigningKeys(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	k1 := &realm.SigningKey{ID: f.id(), RealmID: r.ID, Algorithm: "ES256", EncryptedPrivate: []byte{1, 2, 3},
		PublicJWK: []byte(`{"kty":"EC"}`), Active: true, CreatedAt: f.clock}
	must(t, f.s.CreateSigningKey(f.ctx, k1))
	k2 := &realm.SigningKey{ID: f.id(), RealmID: r.ID, Algorithm: "ES256", EncryptedPrivate: []byte{4, 5},
		PublicJWK: []byte(`{"kty":"EC","x":"1"}`), Active: true, CreatedAt: f.tick()}
	must(t, f.s.CreateSigningKey(f.ctx, k2))
	// The realm row moves with its keys: other nodes notice a new key by it
	// (package oauth compares updated_at when it revalidates a provider).
	got, err := f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	if !got.UpdatedAt.Equal(k2.CreatedAt) {
		t.Errorf("realm updated_at after CreateSigningKey = %v, want the key's creation time %v", got.UpdatedAt, k2.CreatedAt)
	}
	must(t, f.s.CreateSigningKey(f.ctx, &realm.SigningKey{ID: f.id(), RealmID: other.ID, Algorithm: "RS256",
		EncryptedPrivate: []byte{7}, PublicJWK: []byte(`{}`), Active: true, CreatedAt: f.tick()}))

	retired := f.tick()
	k1.Active, k1.RetiredAt = false, &retired
	must(t, f.s.UpdateSigningKey(f.ctx, k1))
	keys, err := f.s.ListSigningKeys(f.ctx, r.ID)
	must(t, err)
	same(t, "ListSigningKeys newest first", keys, []realm.SigningKey{*k2, *k1})
	moved := *k2
	moved.RealmID = other.ID
	wantNotFound(t, "UpdateSigningKey through another realm", f.s.UpdateSigningKey(f.ctx, &moved))
	missing := *k2
	missing.ID = f.id()
	wantNotFound(t, "UpdateSigningKey missing", f.s.UpdateSigningKey(f.ctx, &missing))
}

func testEvents(t *testing.T, f *fixture) {
	acme, globex := f.org("acme"), f.org("globex")
	r, r2 := f.realm(acme.ID, "prod"), f.realm(acme.ID, "dev")
	start := f.clock
	var realmEvents []realm.Event
	for i := range 6 {
		typ := realm.EventUserCreated
		if i%2 == 1 {
			typ = realm.EventGroupUpdated
		}
		actor := "m1"
		if i == 2 {
			actor = "m2"
		}
		e := realm.Event{ID: f.id(), OrgID: acme.ID, RealmID: r.ID, Type: typ, ActorType: "member", ActorID: actor,
			TargetType: "user", TargetID: fmt.Sprint(i % 4), Details: map[string]any{"n": json.Number(fmt.Sprint(i)), "s": "x"}, Time: f.clock}
		must(t, f.s.AppendEvent(f.ctx, &e))
		realmEvents = append(realmEvents, e)
	}
	orgEvent := realm.Event{ID: f.id(), OrgID: acme.ID, Type: "realm.created", ActorType: "system", Time: f.clock}
	must(t, f.s.AppendEvent(f.ctx, &orgEvent))
	must(t, f.s.AppendEvent(f.ctx, &realm.Event{ID: f.id(), OrgID: acme.ID, RealmID: r2.ID, Type: "user.created", Time: f.clock}))
	must(t, f.s.AppendEvent(f.ctx, &realm.Event{ID: f.id(), OrgID: globex.ID, Type: "realm.created", Time: f.clock}))
	_ = start

	newestFirst := func(evs []realm.Event) []string {
		var out []string
		for i := len(evs) - 1; i >= 0; i-- {
			out = append(out, evs[i].ID)
		}
		return out
	}
	evID := func(e realm.Event) string { return e.ID }

	page, err := f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{})
	must(t, err)
	same(t, "ListEvents newest first", ids(page.Items, evID), newestFirst(realmEvents))
	same(t, "event fields", page.Items[0], realmEvents[5])
	if n, ok := page.Items[0].Details["n"].(json.Number); !ok || n != "5" {
		t.Errorf("event details number = %#v, want json.Number", page.Items[0].Details["n"])
	}

	page, err = f.s.ListEvents(f.ctx, acme.ID, "", realm.EventFilter{})
	must(t, err)
	same(t, "org-level events", ids(page.Items, evID), []string{orgEvent.ID})

	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Type: "group.updated"})
	must(t, err)
	same(t, "type filter", ids(page.Items, evID), []string{realmEvents[5].ID, realmEvents[3].ID, realmEvents[1].ID})

	since := realmEvents[3].Time
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Since: &since})
	must(t, err)
	same(t, "since filter (inclusive)", ids(page.Items, evID), newestFirst(realmEvents[3:]))
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Until: &since})
	must(t, err)
	same(t, "until filter (exclusive)", ids(page.Items, evID), newestFirst(realmEvents[:3]))
	until := realmEvents[5].Time
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Since: &since, Until: &until, Type: "group.updated"})
	must(t, err)
	same(t, "time range and type", ids(page.Items, evID), []string{realmEvents[3].ID})
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{ActorID: "m2"})
	must(t, err)
	same(t, "actor filter", ids(page.Items, evID), []string{realmEvents[2].ID})
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{TargetID: "1"})
	must(t, err)
	same(t, "target filter", ids(page.Items, evID), []string{realmEvents[5].ID, realmEvents[1].ID})
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{TargetID: "1", ActorID: "m2"})
	must(t, err)
	same(t, "actor and target filters", ids(page.Items, evID), []string{})

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("ListEvents: cursor never ends")
		}
		page, err := f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Limit: 4, Cursor: cursor})
		must(t, err)
		got = append(got, ids(page.Items, evID)...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	same(t, "ListEvents pages descending", got, newestFirst(realmEvents))

	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Type: "user.created", Limit: 2})
	must(t, err)
	if len(page.Items) != 2 || page.NextCursor != realmEvents[2].ID {
		t.Fatalf("filtered first page = %v, next %q", ids(page.Items, evID), page.NextCursor)
	}
	page, err = f.s.ListEvents(f.ctx, acme.ID, r.ID, realm.EventFilter{Type: "user.created", Limit: 2, Cursor: page.NextCursor})
	must(t, err)
	same(t, "filtered second page", ids(page.Items, evID), []string{realmEvents[0].ID})
	if page.NextCursor != "" {
		t.Errorf("filtered last page NextCursor = %q", page.NextCursor)
	}
	page, err = f.s.ListEvents(f.ctx, globex.ID, r.ID, realm.EventFilter{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("another org sees %d of the realm's events", len(page.Items))
	}
}

func testRevokedTokens(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	if revoked, err := f.s.IsTokenRevoked(f.ctx, r.ID, "jti-1"); err != nil || revoked {
		t.Fatalf("fresh jti revoked = %v, %v", revoked, err)
	}
	exp := f.clock.Add(time.Hour)
	must(t, f.s.RevokeToken(f.ctx, r.ID, "jti-1", exp))
	must(t, f.s.RevokeToken(f.ctx, r.ID, "jti-1", exp)) // idempotent
	if revoked, err := f.s.IsTokenRevoked(f.ctx, r.ID, "jti-1"); err != nil || !revoked {
		t.Errorf("revoked jti = %v, %v; want true", revoked, err)
	}
	if revoked, err := f.s.IsTokenRevoked(f.ctx, other.ID, "jti-1"); err != nil || revoked {
		t.Errorf("same jti in another realm revoked = %v, %v; want false", revoked, err)
	}
	if revoked, err := f.s.IsTokenRevoked(f.ctx, r.ID, "jti-2"); err != nil || revoked {
		t.Errorf("other jti revoked = %v, %v; want false", revoked, err)
	}
	// Revocations of tokens expired by now are forgotten; others stay.
	must(t, f.s.RevokeToken(f.ctx, r.ID, "jti-old", f.clock.Add(-time.Minute)))
	if n, err := f.s.DeleteExpiredRevokedTokens(f.ctx, f.clock); err != nil || n != 1 {
		t.Errorf("DeleteExpiredRevokedTokens = %d, %v; want 1", n, err)
	}
	if revoked, err := f.s.IsTokenRevoked(f.ctx, r.ID, "jti-1"); err != nil || !revoked {
		t.Errorf("unexpired revocation after the purge = %v, %v; want kept", revoked, err)
	}
}

func testSetupToken(t *testing.T, f *fixture) {
	now := f.clock
	tok := &realm.SetupToken{Hash: []byte("setup-hash-1"), ExpiresAt: now.Add(time.Hour)}
	must(t, f.s.CreateSetupToken(f.ctx, tok))
	old := &realm.SetupToken{Hash: []byte("setup-hash-old"), ExpiresAt: now.Add(-time.Second)}
	must(t, f.s.CreateSetupToken(f.ctx, old))

	wantNotFound(t, "UseSetupToken unknown hash", f.s.UseSetupToken(f.ctx, []byte("nope"), now))
	wantNotFound(t, "UseSetupToken expired", f.s.UseSetupToken(f.ctx, old.Hash, now))
	wantNotFound(t, "UseSetupToken at its expiry instant", f.s.UseSetupToken(f.ctx, tok.Hash, tok.ExpiresAt))
	must(t, f.s.UseSetupToken(f.ctx, tok.Hash, now))
	wantNotFound(t, "UseSetupToken second use", f.s.UseSetupToken(f.ctx, tok.Hash, now))
	if err := f.s.CreateSetupToken(f.ctx, &realm.SetupToken{Hash: []byte("setup-hash-1"), ExpiresAt: now.Add(time.Hour)}); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("CreateSetupToken with an existing hash: %v, want conflict", err)
	}
}

func testActionTokens(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	u, v := f.user(r.ID, "u@example.com"), f.user(r.ID, "v@example.com")
	mk := func(hash, userID, purpose string, ttl time.Duration) *realm.ActionToken {
		at := &realm.ActionToken{Hash: []byte(hash), RealmID: r.ID, UserID: userID, Purpose: purpose,
			ExpiresAt: f.clock.Add(ttl), CreatedAt: f.tick()}
		must(t, f.s.CreateActionToken(f.ctx, at))
		return at
	}
	first := mk("first", u.ID, "set_password", time.Hour)
	other := mk("other-purpose", u.ID, "reset", time.Hour)
	otherUser := mk("other-user", v.ID, "set_password", time.Hour)
	second := mk("second", u.ID, "set_password", time.Hour)
	expired := mk("expired", v.ID, "reset", -time.Minute)
	now := f.tick()

	_, err := f.s.UseActionToken(f.ctx, first.Hash, now)
	wantNotFound(t, "older token after a newer one was issued", err)
	got, err := f.s.UseActionToken(f.ctx, second.Hash, now)
	must(t, err)
	if got.UserID != u.ID || got.RealmID != r.ID || got.Purpose != "set_password" || string(got.Hash) != "second" ||
		!got.ExpiresAt.Equal(second.ExpiresAt) || !got.CreatedAt.Equal(second.CreatedAt) || got.UsedAt == nil || !got.UsedAt.Equal(now) {
		t.Errorf("UseActionToken = %+v", got)
	}
	_, err = f.s.UseActionToken(f.ctx, second.Hash, now)
	wantNotFound(t, "second use", err)
	_, err = f.s.UseActionToken(f.ctx, expired.Hash, now)
	wantNotFound(t, "expired token", err)
	_, err = f.s.UseActionToken(f.ctx, []byte("unknown"), now)
	wantNotFound(t, "unknown token", err)
	// Tokens of another purpose or user stay valid.
	if _, err := f.s.UseActionToken(f.ctx, other.Hash, now); err != nil {
		t.Errorf("token of another purpose: %v", err)
	}
	if _, err := f.s.UseActionToken(f.ctx, otherUser.Hash, now); err != nil {
		t.Errorf("token of another user: %v", err)
	}

	// Voiding ends every unused token of that user, whatever the purpose,
	// and no one else's.
	a, b := mk("void-a", u.ID, "set_password", time.Hour), mk("void-b", u.ID, "reset", time.Hour)
	keep := mk("void-keep", v.ID, "reset", time.Hour)
	must(t, f.s.VoidActionTokens(f.ctx, r.ID, u.ID, f.tick()))
	for _, tok := range []*realm.ActionToken{a, b} {
		_, err := f.s.UseActionToken(f.ctx, tok.Hash, f.tick())
		wantNotFound(t, "voided token "+string(tok.Hash), err)
	}
	if _, err := f.s.UseActionToken(f.ctx, keep.Hash, f.tick()); err != nil {
		t.Errorf("another user's token after voiding: %v", err)
	}
	// Only the expired token is purged.
	if n, err := f.s.DeleteExpiredActionTokens(f.ctx, f.clock); err != nil || n != 1 {
		t.Errorf("DeleteExpiredActionTokens = %d, %v; want 1", n, err)
	}
}

func testInTx(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	boom := errors.New("boom")
	g := &realm.Group{ID: f.id(), RealmID: r.ID, Name: "tx-group", CreatedAt: f.clock, UpdatedAt: f.clock}
	u := &realm.User{ID: f.id(), RealmID: r.ID, Email: "tx@example.com", Active: true, Groups: []string{g.ID}, PrimaryGroup: g.ID, CreatedAt: f.clock, UpdatedAt: f.clock}
	err := f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.CreateGroup(f.ctx, g); err != nil {
			return err
		}
		if err := tx.CreateUser(f.ctx, u); err != nil {
			return err
		}
		// Reads inside the transaction see its writes.
		if _, err := tx.GetUser(f.ctx, r.ID, u.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	_, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	wantNotFound(t, "group written in a rolled-back tx", err)
	_, err = f.s.GetUser(f.ctx, r.ID, u.ID)
	wantNotFound(t, "user written in a rolled-back tx", err)

	// Nested InTx joins the outer transaction: the outer failure undoes
	// the inner writes too.
	err = f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.InTx(f.ctx, func(inner realm.Store) error { return inner.CreateGroup(f.ctx, g) }); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("nested InTx returned %v", err)
	}
	_, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	wantNotFound(t, "group written in a nested, rolled-back tx", err)

	// A conflict inside the transaction rolls back the earlier write.
	err = f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.CreateGroup(f.ctx, g); err != nil {
			return err
		}
		return tx.CreateRealm(f.ctx, &realm.Realm{ID: f.id(), OrgID: o.ID, Name: "prod", CreatedAt: f.clock, UpdatedAt: f.clock})
	})
	wantConflict(t, "conflict inside InTx", "name", err)
	_, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	wantNotFound(t, "group before a conflicting write", err)

	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.CreateGroup(f.ctx, g); err != nil {
			return err
		}
		c := &realm.Client{ID: f.id(), RealmID: r.ID, ClientID: "tx-client", Kind: realm.KindServiceAccount,
			Groups: []string{g.ID}, CreatedAt: f.clock, UpdatedAt: f.clock}
		if err := tx.CreateClient(f.ctx, c); err != nil {
			return err
		}
		if got, err := tx.GetClient(f.ctx, r.ID, "tx-client"); err != nil || len(got.Groups) != 1 {
			return fmt.Errorf("GetClient inside the tx: %+v, %w", got, err)
		}
		return tx.CreateUser(f.ctx, u)
	}))
	if _, err := f.s.GetClient(f.ctx, r.ID, "tx-client"); err != nil {
		t.Errorf("client committed by InTx: %v", err)
	}
	got, err := f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "user committed by InTx", got.Groups, []string{g.ID})
	if err := f.s.Ping(f.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// claimsView is c as GetClientClaims must return it: the fields that
// authenticating a client and issuing its tokens use. A backend may leave
// the others zero (the SQL store does, to keep the token path's row small),
// so both sides are compared through it.
func claimsView(c *realm.Client) *realm.Client {
	v := *c
	v.Name, v.Description, v.DisplayName, v.Communication = "", "", "", ""
	v.CreatedAt, v.UpdatedAt = time.Time{}, time.Time{}
	v.DefaultScopes, v.OptionalScopes = nil, nil
	return &v
}

// testClientClaims covers GetClientClaims and AttributeSchemaVersion: the client as GetClient returns it (the fields claimsView keeps), its
// groups with names and values, and a schema version that moves with every definition change (and only
// with those), inside a transaction too.
func testClientClaims(t *testing.T, f *fixture) {
	cs := f.s
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	version := func(realmID string) int64 {
		t.Helper()
		v, err := cs.AttributeSchemaVersion(f.ctx, realmID)
		must(t, err)
		return v
	}
	_, err := cs.AttributeSchemaVersion(f.ctx, "no-such-realm")
	wantNotFound(t, "AttributeSchemaVersion of no realm", err)

	g1 := f.group(r.ID, "Editors", map[string]any{"region": "eu", "desks": []any{"news", "sport"}})
	g2 := f.group(r.ID, "Admins", nil)
	f.group(other.ID, "Editors", map[string]any{"region": "us"})
	c := f.client(r.ID, "svc", g2.ID, g1.ID)
	// Every field the token path reads is set, so a column read into the
	// wrong field shows.
	grace := f.tick().Add(time.Hour)
	c.Kind, c.Audience, c.RedirectURIs, c.WebOrigins = realm.KindApplication, []string{"assets", "billing"},
		[]string{"https://app.example/cb"}, []string{"https://app.example"}
	c.OrgID, c.OrgRole, c.Public = o.ID, realm.RoleAdmin, true
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = []byte("old-hash"), &grace
	c.Description, c.DisplayName, c.Communication, c.UpdatedAt = "d", "Svc", realm.CommRedirect, f.tick()
	disabled := f.tick()
	c.TokensValidAfter, c.DefaultScopes, c.OptionalScopes = &disabled, []string{"email"}, []string{"profile"}
	must(t, f.s.UpdateClient(f.ctx, c))
	bare := f.client(r.ID, "bare")

	v0 := version(r.ID)
	got, err := cs.GetClientClaims(f.ctx, r.ID, "svc")
	must(t, err)
	want, err := f.s.GetClient(f.ctx, r.ID, "svc")
	must(t, err)
	same(t, "GetClientClaims client", claimsView(got.Client), claimsView(want))
	same(t, "GetClientClaims groups", got.Groups, []realm.Group{
		{ID: g1.ID, RealmID: r.ID, Name: "Editors", Attributes: map[string]any{"region": "eu", "desks": []any{"news", "sport"}}, IPAllowList: []string{}},
		{ID: g2.ID, RealmID: r.ID, Name: "Admins", Attributes: map[string]any{}, IPAllowList: []string{}},
	})
	if got.SchemaVersion != v0 {
		t.Errorf("GetClientClaims version = %d, AttributeSchemaVersion = %d", got.SchemaVersion, v0)
	}
	got, err = cs.GetClientClaims(f.ctx, r.ID, "bare")
	must(t, err)
	same(t, "GetClientClaims without groups", claimsView(got.Client), claimsView(bare))
	if got.Groups == nil || len(got.Groups) != 0 {
		t.Errorf("GetClientClaims without groups: groups = %#v, want empty", got.Groups)
	}
	_, err = cs.GetClientClaims(f.ctx, other.ID, "svc")
	wantNotFound(t, "GetClientClaims in another realm", err)
	_, err = cs.GetClientClaims(f.ctx, r.ID, "nope")
	wantNotFound(t, "GetClientClaims unknown client", err)

	// Group edits and membership changes show at once, without a version change.
	g1.Name, g1.Attributes, g1.UpdatedAt = "Writers", map[string]any{"region": "apac"}, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, g1))
	c.Groups, c.PrimaryGroup, c.UpdatedAt = []string{g1.ID}, g1.ID, f.tick()
	must(t, f.s.UpdateClient(f.ctx, c))
	got, err = cs.GetClientClaims(f.ctx, r.ID, "svc")
	must(t, err)
	same(t, "GetClientClaims after group and membership edits", got.Groups, []realm.Group{
		{ID: g1.ID, RealmID: r.ID, Name: "Writers", Attributes: map[string]any{"region": "apac"}, IPAllowList: []string{}},
	})
	same(t, "GetClientClaims client groups", got.Client.Groups, []string{g1.ID})
	if v := version(r.ID); v != v0 {
		t.Errorf("version moved without a definition change: %d → %d", v0, v)
	}

	// Every definition change moves the version, of that realm only.
	seen := map[int64]bool{v0: true}
	otherV := version(other.ID)
	step := func(what string, change func() error) {
		t.Helper()
		must(t, change())
		v := version(r.ID)
		if seen[v] {
			t.Errorf("%s: schema version %d seen before", what, v)
		}
		seen[v] = true
		got, err := cs.GetClientClaims(f.ctx, r.ID, "svc")
		must(t, err)
		if got.SchemaVersion != v {
			t.Errorf("%s: GetClientClaims version %d, want %d", what, got.SchemaVersion, v)
		}
	}
	a := &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "region", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}
	step("CreateAttribute", func() error { return f.s.CreateAttribute(f.ctx, a) })
	step("UpdateAttribute", func() error {
		a.Multi, a.UpdatedAt = true, f.tick()
		return f.s.UpdateAttribute(f.ctx, a)
	})
	step("DeleteAttribute", func() error { return f.s.DeleteAttribute(f.ctx, r.ID, "region") })
	b := &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "desks", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}
	step("CreateAttribute in a transaction", func() error {
		return f.s.InTx(f.ctx, func(tx realm.Store) error { return tx.CreateAttribute(f.ctx, b) })
	})
	if v := version(other.ID); v != otherV {
		t.Errorf("the other realm's version moved: %d → %d", otherV, v)
	}

	// A failed change leaves the version alone; a rolled-back one too.
	before := version(r.ID)
	wantNotFound(t, "DeleteAttribute missing", f.s.DeleteAttribute(f.ctx, r.ID, "nope"))
	dup := &realm.Attribute{ID: f.id(), RealmID: r.ID, Name: "desks", Type: attributes.String, CreatedAt: f.clock, UpdatedAt: f.clock}
	wantConflict(t, "CreateAttribute duplicate", "name", f.s.CreateAttribute(f.ctx, dup))
	rollback := errors.New("roll back")
	err = f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.DeleteAttribute(f.ctx, r.ID, "desks"); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("InTx = %v", err)
	}
	if v := version(r.ID); v != before {
		t.Errorf("version after failed and rolled-back changes = %d, want %d", v, before)
	}
	// In a transaction, reads see the transaction's own change.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		if err := tx.DeleteAttribute(f.ctx, r.ID, "desks"); err != nil {
			return err
		}
		got, err := tx.GetClientClaims(f.ctx, r.ID, "svc")
		if err != nil {
			return err
		}
		if got.SchemaVersion == before {
			t.Errorf("GetClientClaims in the transaction does not see its own change")
		}
		return nil
	}))
}

// testUserClaims covers GetUserClaims: the user as GetUser returns it (less the password hash and timestamps),
// their groups with names and values, and the realm's schema version.
func testUserClaims(t *testing.T, f *fixture) {
	us, cs := f.s, f.s
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1 := f.group(r.ID, "Editors", map[string]any{"region": "eu", "desks": []any{"news", "sport"}})
	g2 := f.group(r.ID, "Admins", nil)
	u := f.user(r.ID, "ada@example.com")
	u.FirstName, u.LastName, u.Groups, u.PrimaryGroup, u.UpdatedAt = "Ada", "Lovelace", []string{g2.ID, g1.ID}, g2.ID, f.tick()
	must(t, f.s.UpdateUser(f.ctx, u))
	bare := f.user(r.ID, "bob@example.com")

	got, err := us.GetUserClaims(f.ctx, r.ID, u.ID)
	must(t, err)
	want, err := f.s.GetUser(f.ctx, r.ID, u.ID)
	must(t, err)
	view := func(u *realm.User) realm.User {
		v := *u
		v.PasswordHash, v.CreatedAt, v.UpdatedAt = "", time.Time{}, time.Time{}
		return v
	}
	same(t, "GetUserClaims user", view(got.User), view(want))
	same(t, "GetUserClaims groups", got.Groups, []realm.Group{
		{ID: g1.ID, RealmID: r.ID, Name: "Editors", Attributes: map[string]any{"region": "eu", "desks": []any{"news", "sport"}}, IPAllowList: []string{}},
		{ID: g2.ID, RealmID: r.ID, Name: "Admins", Attributes: map[string]any{}, IPAllowList: []string{}},
	})
	if cs != nil {
		v, err := cs.AttributeSchemaVersion(f.ctx, r.ID)
		must(t, err)
		if got.SchemaVersion != v {
			t.Errorf("GetUserClaims version = %d, AttributeSchemaVersion = %d", got.SchemaVersion, v)
		}
	}
	got, err = us.GetUserClaims(f.ctx, r.ID, bare.ID)
	must(t, err)
	if got.User.Email != "bob@example.com" || got.Groups == nil || len(got.Groups) != 0 || got.User.Groups == nil || len(got.User.Groups) != 0 {
		t.Errorf("GetUserClaims without groups = %+v, %#v", got.User, got.Groups)
	}
	u.Active, u.UpdatedAt = false, f.tick()
	must(t, f.s.UpdateUser(f.ctx, u))
	if got, err := us.GetUserClaims(f.ctx, r.ID, u.ID); err != nil || got.User.Active {
		t.Errorf("GetUserClaims after deactivation = %+v, %v; want inactive", got, err)
	}
	_, err = us.GetUserClaims(f.ctx, other.ID, u.ID)
	wantNotFound(t, "GetUserClaims in another realm", err)
	_, err = us.GetUserClaims(f.ctx, r.ID, "nope")
	wantNotFound(t, "GetUserClaims unknown user", err)
}

// testSearchUsers: SearchUsers matches full names, filters by status,
// group and lock, combines them, and counts every match beyond the page.
func testSearchUsers(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	g := f.group(r.ID, "traders", nil)
	mk := func(email, first, last string, active, password bool, groups ...string) *realm.User {
		u := f.user(r.ID, email, groups...)
		u.FirstName, u.LastName, u.Active = first, last, active
		if password {
			u.PasswordHash = "$argon2id$x"
		}
		must(t, f.s.UpdateUser(f.ctx, u))
		return u
	}
	a := mk("a@example.com", "Alice", "Trader", true, true, g.ID)
	b := mk("b@example.com", "Bob", "Stone", true, false)
	c := mk("c@example.com", "Carol", "Trader", false, true)
	d := mk("d@example.com", "Dan", "Lee", true, true, g.ID)
	f.user(other.ID, "alice@example.com") // another realm's Alice Trader is never listed
	now := f.clock
	for range 10 {
		_, err := f.s.AddLoginFailure(f.ctx, r.ID, "key-d", now)
		must(t, err)
	}
	locked, err := f.s.LockLogin(f.ctx, r.ID, "key-d", d.ID, 10, now.Add(time.Minute), now)
	if err != nil || !locked {
		t.Fatalf("LockLogin = %v, %v", locked, err)
	}
	ask := func(q realm.UserSearch, at time.Time) ([]string, int) {
		t.Helper()
		page, total, err := f.s.SearchUsers(f.ctx, r.ID, q, at)
		must(t, err)
		var emails []string
		for _, u := range page.Items {
			emails = append(emails, u.Email)
		}
		return emails, total
	}
	for name, c := range map[string]struct {
		q    realm.UserSearch
		want string
	}{
		"full name":         {realm.UserSearch{ListOptions: realm.ListOptions{Query: "alice TRADER"}}, a.Email},
		"last name":         {realm.UserSearch{ListOptions: realm.ListOptions{Query: "trader"}}, a.Email + " " + c.Email},
		"active":            {realm.UserSearch{Status: realm.UserStatusActive}, a.Email + " " + b.Email + " " + d.Email},
		"deactivated":       {realm.UserSearch{Status: realm.UserStatusDeactivated}, c.Email},
		"invited":           {realm.UserSearch{Status: realm.UserStatusInvited}, b.Email},
		"group":             {realm.UserSearch{GroupID: g.ID}, a.Email + " " + d.Email},
		"locked":            {realm.UserSearch{Locked: true}, d.Email},
		"group, name, lock": {realm.UserSearch{GroupID: g.ID, Locked: true, ListOptions: realm.ListOptions{Query: "dan"}}, d.Email},
		"none":              {realm.UserSearch{GroupID: g.ID, Status: realm.UserStatusInvited}, ""},
	} {
		got, total := ask(c.q, now)
		if strings.Join(got, " ") != c.want || total != len(got) {
			t.Errorf("%s: %v (total %d), want %q", name, got, total, c.want)
		}
	}
	if got, _ := ask(realm.UserSearch{Locked: true}, now.Add(2*time.Minute)); len(got) != 0 {
		t.Errorf("locked after the lock's end: %v, want none", got)
	}
	page, total, err := f.s.SearchUsers(f.ctx, r.ID, realm.UserSearch{ListOptions: realm.ListOptions{Query: "trader", Limit: 1}}, now)
	must(t, err)
	if len(page.Items) != 1 || page.NextCursor == "" || total != 2 {
		t.Errorf("a page of one of two: %d items, next %q, total %d; want 1, a cursor, 2", len(page.Items), page.NextCursor, total)
	}
}

// testRealmLogos: a realm's logo is stored, replaced, read, deleted, and
// goes with its realm.
func testRealmLogos(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	if _, _, err := f.s.GetRealmLogo(f.ctx, r.ID); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("GetRealmLogo before any = %v, want ErrNotFound", err)
	}
	must(t, f.s.SetRealmLogo(f.ctx, r.ID, "image/png", []byte("one")))
	must(t, f.s.SetRealmLogo(f.ctx, r.ID, "image/jpeg", []byte("two")))
	must(t, f.s.SetRealmLogo(f.ctx, other.ID, "image/png", []byte("other")))
	if typ, data, err := f.s.GetRealmLogo(f.ctx, r.ID); err != nil || typ != "image/jpeg" || string(data) != "two" {
		t.Errorf("GetRealmLogo after a replace = %q %q %v", typ, data, err)
	}
	wantNotFound(t, "logo of an unknown realm", f.s.SetRealmLogo(f.ctx, "nope", "image/png", []byte("x")))
	must(t, f.s.DeleteRealmLogo(f.ctx, r.ID))
	must(t, f.s.DeleteRealmLogo(f.ctx, r.ID)) // nothing to delete is fine
	if _, _, err := f.s.GetRealmLogo(f.ctx, r.ID); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("GetRealmLogo after delete = %v", err)
	}
	must(t, f.s.DeleteRealm(f.ctx, other.ID))
	if _, _, err := f.s.GetRealmLogo(f.ctx, other.ID); !errors.Is(err, realm.ErrNotFound) {
		t.Errorf("a deleted realm's logo = %v, want gone", err)
	}
}
