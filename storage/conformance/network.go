package conformance

import (
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// The IP allow lists of CONTRACT §7: on realms and groups, in the grants'
// claims reads, and in the policy document's read (NetworkLists).

// testIPAllowLists: a realm's and a group's lists round-trip through every
// read; a row written without a list reads as an empty list, never nil;
// SetRealmIPAllowList changes the list only, and UpdateRealm leaves it.
func testIPAllowLists(t *testing.T, f *fixture) {
	o := f.org("acme")
	// Written without a list (nil): read back as [].
	bare := &realm.Realm{ID: f.id(), OrgID: o.ID, Name: "bare", DisplayName: "Bare", CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateRealm(f.ctx, bare))
	got, err := f.s.GetRealm(f.ctx, bare.ID)
	must(t, err)
	if got.IPAllowList == nil || len(got.IPAllowList) != 0 {
		t.Errorf("realm created without a list: IPAllowList = %#v, want an empty list", got.IPAllowList)
	}
	bareGroup := &realm.Group{ID: f.id(), RealmID: bare.ID, Name: "Plain", CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateGroup(f.ctx, bareGroup))
	g0, err := f.s.GetGroup(f.ctx, bare.ID, bareGroup.ID)
	must(t, err)
	if g0.IPAllowList == nil || len(g0.IPAllowList) != 0 {
		t.Errorf("group created without a list: IPAllowList = %#v, want an empty list", g0.IPAllowList)
	}

	// Written with a list: every read carries it, in its order.
	list := []string{"203.0.113.0/24", "2001:db8::/32", "10.1.2.3/32"}
	r := &realm.Realm{ID: f.id(), OrgID: o.ID, Name: "prod", DisplayName: "Prod", IPAllowList: list,
		CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateRealm(f.ctx, r))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "GetRealm with a list", got, r)
	got, err = f.s.GetRealmByName(f.ctx, "prod")
	must(t, err)
	same(t, "GetRealmByName with a list", got.IPAllowList, list)
	page, err := f.s.ListRealms(f.ctx, o.ID, realm.ListOptions{Limit: 10})
	must(t, err)
	lists := map[string][]string{}
	for _, it := range page.Items {
		lists[it.Name] = it.IPAllowList
	}
	same(t, "ListRealms lists", lists, map[string][]string{"bare": {}, "prod": list})

	// SetRealmIPAllowList replaces the list and the update time only.
	at := f.tick()
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"198.51.100.0/24"}, at))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	want := *r
	want.IPAllowList, want.UpdatedAt = []string{"198.51.100.0/24"}, at
	same(t, "GetRealm after SetRealmIPAllowList", got, want)
	// UpdateRealm (a display name) keeps the list.
	upd := *got
	upd.DisplayName, upd.IPAllowList, upd.UpdatedAt = "Production", nil, f.tick()
	must(t, f.s.UpdateRealm(f.ctx, &upd))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "list after UpdateRealm", got.IPAllowList, []string{"198.51.100.0/24"})
	// Emptied: [] again; nil too.
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{}, f.tick()))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "emptied realm list", got.IPAllowList, []string{})
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, nil, f.tick()))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "realm list set to nil", got.IPAllowList, []string{})
	wantNotFound(t, "SetRealmIPAllowList of no realm", f.s.SetRealmIPAllowList(f.ctx, "no-such-realm", list, f.tick()))
	// Inside a transaction, as the service writes it.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		return tx.SetRealmIPAllowList(f.ctx, r.ID, []string{"192.0.2.0/24"}, f.tick())
	}))
	got, err = f.s.GetRealm(f.ctx, r.ID)
	must(t, err)
	same(t, "realm list set in a transaction", got.IPAllowList, []string{"192.0.2.0/24"})

	// Groups: create, every read, update, empty.
	g := &realm.Group{ID: f.id(), RealmID: r.ID, Name: "Office", Description: "d", Attributes: map[string]any{},
		IPAllowList: []string{"192.0.2.0/24", "2001:db8:1::/48"}, CreatedAt: f.clock, UpdatedAt: f.clock}
	must(t, f.s.CreateGroup(f.ctx, g))
	gg, err := f.s.GetGroup(f.ctx, r.ID, g.ID)
	must(t, err)
	same(t, "GetGroup with a list", gg, g)
	gs, err := f.s.GetGroups(f.ctx, r.ID, []string{g.ID})
	must(t, err)
	same(t, "GetGroups with a list", gs, []realm.Group{*g})
	gp, err := f.s.ListGroups(f.ctx, r.ID, realm.ListOptions{Limit: 10})
	must(t, err)
	same(t, "ListGroups with a list", gp.Items, []realm.Group{*g})
	g.IPAllowList, g.UpdatedAt = []string{"198.51.100.7/32"}, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, g))
	gg, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	must(t, err)
	same(t, "GetGroup after UpdateGroup", gg, g)
	g.IPAllowList, g.UpdatedAt = nil, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, g))
	gg, err = f.s.GetGroup(f.ctx, r.ID, g.ID)
	must(t, err)
	same(t, "group list emptied", gg.IPAllowList, []string{})
}

// testClaimsIPAllowLists: the grants' one-query reads carry the realm's
// list and each group's, as of that read.
func testClaimsIPAllowLists(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"203.0.113.0/24", "2001:db8::/32"}, f.tick()))
	must(t, f.s.SetRealmIPAllowList(f.ctx, other.ID, []string{"10.0.0.0/8"}, f.tick()))
	office := f.group(r.ID, "Office", map[string]any{})
	office.IPAllowList, office.UpdatedAt = []string{"203.0.113.128/25"}, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, office))
	open := f.group(r.ID, "Open", nil)
	c := f.client(r.ID, "svc", office.ID, open.ID)
	u := f.user(r.ID, "ada@example.com", office.ID, open.ID)
	wantGroups := map[string][]string{"Office": {"203.0.113.128/25"}, "Open": {}}
	groupLists := func(gs []realm.Group) map[string][]string {
		out := map[string][]string{}
		for _, g := range gs {
			out[g.Name] = g.IPAllowList
		}
		return out
	}
	realmList := []string{"203.0.113.0/24", "2001:db8::/32"}

	cc, err := f.s.GetClientClaims(f.ctx, r.ID, c.ClientID)
	must(t, err)
	same(t, "GetClientClaims realm list", cc.RealmIPAllowList, realmList)
	same(t, "GetClientClaims group lists", groupLists(cc.Groups), wantGroups)
	uc, err := f.s.GetUserClaims(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "GetUserClaims realm list", uc.RealmIPAllowList, realmList)
	same(t, "GetUserClaims group lists", groupLists(uc.Groups), wantGroups)

	// Without groups, and in a realm without a list: empty lists, not nil.
	bare := f.client(other.ID, "bare")
	must(t, f.s.SetRealmIPAllowList(f.ctx, other.ID, nil, f.tick()))
	cc, err = f.s.GetClientClaims(f.ctx, other.ID, bare.ClientID)
	must(t, err)
	if cc.RealmIPAllowList == nil || len(cc.RealmIPAllowList) != 0 {
		t.Errorf("GetClientClaims in a realm without a list: %#v, want an empty list", cc.RealmIPAllowList)
	}
	bu := f.user(other.ID, "bob@example.com")
	uc, err = f.s.GetUserClaims(f.ctx, other.ID, bu.ID)
	must(t, err)
	if uc.RealmIPAllowList == nil || len(uc.RealmIPAllowList) != 0 {
		t.Errorf("GetUserClaims in a realm without a list: %#v, want an empty list", uc.RealmIPAllowList)
	}

	// A change shows at the next read.
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"198.51.100.0/24"}, f.tick()))
	office.IPAllowList, office.UpdatedAt = nil, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, office))
	cc, err = f.s.GetClientClaims(f.ctx, r.ID, c.ClientID)
	must(t, err)
	same(t, "GetClientClaims realm list after a change", cc.RealmIPAllowList, []string{"198.51.100.0/24"})
	same(t, "GetClientClaims group lists after a change", groupLists(cc.Groups), map[string][]string{"Office": {}, "Open": {}})

	// The refresh grant's read and the API-key exchange's read carry the
	// realm's list too.
	bs := &realm.BrowserSession{ID: "sid-fam", RealmID: r.ID, UserID: u.ID, TokenHash: []byte("t"),
		AuthTime: f.clock.Add(-time.Minute), ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}
	must(t, f.s.CreateBrowserSession(f.ctx, bs))
	f.refresh(f.s, r.ID, "rt", "fam", u.ID, f.clock)
	office.IPAllowList, office.UpdatedAt = []string{"198.51.100.0/25"}, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, office))
	rg, err := f.s.GetRefreshGrant(f.ctx, r.ID, "rt")
	must(t, err)
	if rg.User == nil {
		t.Fatal("GetRefreshGrant: no user")
	}
	same(t, "GetRefreshGrant realm list", rg.User.RealmIPAllowList, []string{"198.51.100.0/24"})
	same(t, "GetRefreshGrant group lists", groupLists(rg.User.Groups), map[string][]string{"Office": {"198.51.100.0/25"}, "Open": {}})
	_, secret := f.apiKey(r.ID, "key")
	kc, key, err := f.s.GetClientWithAPIKey(f.ctx, r.ID, c.ClientID, realm.HashSecret(secret))
	must(t, err)
	if key == nil {
		t.Fatal("GetClientWithAPIKey: no key")
	}
	same(t, "GetClientWithAPIKey realm list", kc.RealmIPAllowList, []string{"198.51.100.0/24"})
	kc, _, err = f.s.GetClientWithAPIKey(f.ctx, other.ID, bare.ClientID, realm.HashSecret(secret))
	must(t, err)
	if kc.RealmIPAllowList == nil || len(kc.RealmIPAllowList) != 0 {
		t.Errorf("GetClientWithAPIKey in a realm without a list: %#v, want an empty list", kc.RealmIPAllowList)
	}
}

// testNetworkLists: the policy document's read names the groups that have
// a list, by name, and no other realm's.
func testNetworkLists(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	rl, gl, err := f.s.NetworkLists(f.ctx, r.ID)
	must(t, err)
	if rl == nil || len(rl) != 0 || gl == nil || len(gl) != 0 {
		t.Errorf("NetworkLists of a realm without lists = %#v, %#v; want empty, not nil", rl, gl)
	}
	must(t, f.s.SetRealmIPAllowList(f.ctx, r.ID, []string{"203.0.113.0/24"}, f.tick()))
	withList := func(realmID, name string, list ...string) *realm.Group {
		g := f.group(realmID, name, nil)
		g.IPAllowList, g.UpdatedAt = list, f.tick()
		must(t, f.s.UpdateGroup(f.ctx, g))
		return g
	}
	withList(r.ID, "Office", "203.0.113.128/25", "2001:db8::/48")
	withList(r.ID, "VPN", "198.51.100.0/24")
	f.group(r.ID, "Everyone", nil)
	emptied := withList(r.ID, "Emptied", "192.0.2.0/24")
	emptied.IPAllowList, emptied.UpdatedAt = []string{}, f.tick()
	must(t, f.s.UpdateGroup(f.ctx, emptied))
	withList(other.ID, "Elsewhere", "10.0.0.0/8")

	rl, gl, err = f.s.NetworkLists(f.ctx, r.ID)
	must(t, err)
	same(t, "NetworkLists realm list", rl, []string{"203.0.113.0/24"})
	same(t, "NetworkLists group lists", gl, map[string][]string{
		"Office": {"203.0.113.128/25", "2001:db8::/48"},
		"VPN":    {"198.51.100.0/24"},
	})
	rl, gl, err = f.s.NetworkLists(f.ctx, other.ID)
	must(t, err)
	same(t, "NetworkLists of the other realm", rl, []string{})
	same(t, "NetworkLists of the other realm's groups", gl, map[string][]string{"Elsewhere": {"10.0.0.0/8"}})
	_, _, err = f.s.NetworkLists(f.ctx, "no-such-realm")
	wantNotFound(t, "NetworkLists of no realm", err)
	// In a transaction too.
	must(t, f.s.InTx(f.ctx, func(tx realm.Store) error {
		rl, _, err := tx.NetworkLists(f.ctx, r.ID)
		same(t, "NetworkLists in a transaction", rl, []string{"203.0.113.0/24"})
		return err
	}))
}
