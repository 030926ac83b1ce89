package realm_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// later moves the service clock on, so that events recorded after it sort
// after those before (IDs order by time, then at random).
func (e *env) later() { e.now = e.now.Add(time.Second) }

// events lists the realm's events of one type, newest first, with their
// details as JSON (what the store kept).
func (e *env) events(realmName string, typ realm.EventType) []string {
	e.t.Helper()
	page, err := e.svc.ListEvents(e.admin, realmName, realm.EventFilter{Type: typ, Limit: 100})
	if err != nil {
		e.t.Fatalf("listing %s events: %v", typ, err)
	}
	var out []string
	for _, ev := range page.Items {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestRealmIPAllowList (issue 16): the realm's list round-trips canonical
// and without duplicates; each change is one event naming the new list, an
// unchanged list none; viewers read but may not write; bad input is a 400
// naming cidrs[i] (or cidrs when too long) and changes nothing.
func TestRealmIPAllowList(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.realm("shop")

		got, err := e.svc.GetIPAllowList(e.viewer, "shop")
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("GetIPAllowList of a new realm = %#v, %v; want an empty list", got, err)
		}

		set, err := e.svc.SetIPAllowList(e.admin, "shop", []string{" 203.0.113.0/24", "2001:DB8::/32", "203.0.113.0/24", "10.1.2.3/32"})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"203.0.113.0/24", "2001:db8::/32", "10.1.2.3/32"}
		if !slices.Equal(set, want) {
			t.Errorf("SetIPAllowList = %q, want %q (canonical, duplicates dropped)", set, want)
		}
		got, err = e.svc.GetIPAllowList(e.viewer, "shop")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("GetIPAllowList (viewer) = %q, %v; want %q", got, err, want)
		}
		r, err := e.svc.GetRealm(e.viewer, "shop")
		if err != nil || !slices.Equal(r.IPAllowList, want) {
			t.Errorf("GetRealm list = %q, %v; want %q", r.IPAllowList, err, want)
		}
		evs := e.events("shop", realm.EventRealmIPAllowListUpdated)
		if len(evs) != 1 || evs[0] != `{"cidrs":["203.0.113.0/24","2001:db8::/32","10.1.2.3/32"]}` {
			t.Errorf("events after one change = %q, want one naming the list", evs)
		}

		// The same list again (in another spelling): no change, no event.
		if _, err := e.svc.SetIPAllowList(e.owner, "shop", []string{"203.0.113.0/24", "2001:db8:0::/32", "10.1.2.3/32"}); err != nil {
			t.Fatal(err)
		}
		if evs := e.events("shop", realm.EventRealmIPAllowListUpdated); len(evs) != 1 {
			t.Errorf("an unchanged list recorded an event: %q", evs)
		}

		// Viewers may not write; another org's realm is not found.
		_, err = e.svc.SetIPAllowList(e.viewer, "shop", []string{"192.0.2.0/24"})
		wantIs(t, err, realm.ErrForbidden)
		other := e.secondOrg("globex")
		_, err = e.svc.GetIPAllowList(other, "shop")
		wantIs(t, err, realm.ErrNotFound)
		_, err = e.svc.SetIPAllowList(other, "shop", []string{"192.0.2.0/24"})
		wantIs(t, err, realm.ErrNotFound)
		_, err = e.svc.SetIPAllowList(e.admin, "no-such-realm", []string{"192.0.2.0/24"})
		wantIs(t, err, realm.ErrNotFound)

		// Bad input: refused, naming the entry, and nothing changes.
		before := e.rows()
		for _, tc := range []struct {
			in    []string
			field string
			says  string
		}{
			{[]string{"192.0.2.0/24", "not-a-cidr"}, "cidrs[1]", "is not a CIDR range"},
			{[]string{"203.0.113.7/24"}, "cidrs[0]", "did you mean 203.0.113.0/24?"},
			{[]string{"192.0.2.0/24", "2001:db8::1/32"}, "cidrs[1]", "did you mean 2001:db8::/32?"},
			{[]string{"10.0.0.1"}, "cidrs[0]", "for one address write 10.0.0.1/32"},
			{[]string{""}, "cidrs[0]", "is not a CIDR range"},
			{[]string{"10.0.0.0/33"}, "cidrs[0]", "is not a CIDR range"},
			{slices.Repeat([]string{"192.0.2.0/24"}, realm.MaxIPAllowList+1), "cidrs", "at most 1000"},
		} {
			_, err := e.svc.SetIPAllowList(e.admin, "shop", tc.in)
			wantInvalid(t, err, tc.field)
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("SetIPAllowList(%.40q): %v, want it to say %q", tc.in, err, tc.says)
			}
		}
		e.sameRows(before)
		if got, _ := e.svc.GetIPAllowList(e.admin, "shop"); !slices.Equal(got, want) {
			t.Errorf("list after refused changes = %q, want %q", got, want)
		}

		// Exactly the maximum is fine (distinct prefixes).
		max := make([]string, realm.MaxIPAllowList)
		for i := range max {
			max[i] = "10." + itoa(i/256) + "." + itoa(i%256) + ".0/24"
		}
		e.later()
		if got, err := e.svc.SetIPAllowList(e.admin, "shop", max); err != nil || len(got) != realm.MaxIPAllowList {
			t.Errorf("SetIPAllowList with %d entries = %d entries, %v", realm.MaxIPAllowList, len(got), err)
		}

		// Emptied (nil too): no restriction, and an event naming [].
		for _, empty := range [][]string{{}, nil} {
			e.later()
			got, err := e.svc.SetIPAllowList(e.admin, "shop", empty)
			if err != nil || got == nil || len(got) != 0 {
				t.Errorf("SetIPAllowList(%#v) = %#v, %v; want an empty list", empty, got, err)
			}
		}
		evs = e.events("shop", realm.EventRealmIPAllowListUpdated)
		if len(evs) != 3 || evs[0] != `{"cidrs":[]}` {
			t.Errorf("events after max and emptying = %.200q, want 3, the newest naming []", evs)
		}
		rl, gl, err := e.svc.NetworkLists(e.sys, r.ID)
		if err != nil || len(rl) != 0 || len(gl) != 0 {
			t.Errorf("NetworkLists after emptying = %q, %v, %v", rl, gl, err)
		}
	})
}

// TestGroupIPAllowList (issue 16): groups take ip_allow_list on create and
// update, checked like the realm's under that field; the events say when it
// changed; NetworkLists names the groups that have one.
func TestGroupIPAllowList(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		r := e.realm("shop")
		g, err := e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "Office",
			IPAllowList: []string{"203.0.113.0/25", "2001:DB8:1::/48", "203.0.113.0/25"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"203.0.113.0/25", "2001:db8:1::/48"}
		if !slices.Equal(g.IPAllowList, want) {
			t.Errorf("created group's list = %q, want %q", g.IPAllowList, want)
		}
		e.later()
		plain := e.group("shop", "Plain", nil)
		if plain.IPAllowList == nil || len(plain.IPAllowList) != 0 {
			t.Errorf("group created without a list: %#v, want an empty list", plain.IPAllowList)
		}
		read, err := e.svc.GetGroup(e.viewer, "shop", g.ID)
		if err != nil || !slices.Equal(read.IPAllowList, want) {
			t.Errorf("GetGroup list = %q, %v", read.IPAllowList, err)
		}
		created := e.events("shop", realm.EventGroupCreated)
		if len(created) != 2 || !strings.Contains(created[1], `"ip_allow_list":["203.0.113.0/25","2001:db8:1::/48"]`) {
			t.Errorf("group.created events = %q, want the Office one naming its list", created)
		}

		// Bad input on create and update names ip_allow_list[i].
		before := e.rows()
		_, err = e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "Bad", IPAllowList: []string{"192.0.2.0/24", "192.0.2.1/24"}})
		wantInvalid(t, err, "ip_allow_list[1]")
		_, err = e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "Bad", IPAllowList: slices.Repeat([]string{"192.0.2.0/24"}, realm.MaxIPAllowList+1)})
		wantInvalid(t, err, "ip_allow_list")
		_, err = e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{IPAllowList: ptr([]string{"nope"})})
		wantInvalid(t, err, "ip_allow_list[0]")
		_, err = e.svc.UpdateGroup(e.viewer, "shop", g.ID, realm.GroupPatch{IPAllowList: ptr([]string{"192.0.2.0/24"})})
		wantIs(t, err, realm.ErrForbidden)
		e.sameRows(before)

		// Update: a new list is a change the event names; the same list,
		// or none given, is not.
		e.later()
		upd, err := e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{IPAllowList: ptr([]string{"198.51.100.0/24"})})
		if err != nil || !slices.Equal(upd.IPAllowList, []string{"198.51.100.0/24"}) {
			t.Fatalf("UpdateGroup list = %q, %v", upd.IPAllowList, err)
		}
		updated := e.events("shop", realm.EventGroupUpdated)
		if len(updated) != 1 || updated[0] != `{"fields":["ip_allow_list"],"ip_allow_list":["198.51.100.0/24"],"name":"Office"}` {
			t.Errorf("group.updated events = %q, want one naming ip_allow_list", updated)
		}
		if _, err := e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{IPAllowList: ptr([]string{"198.51.100.0/24"})}); err != nil {
			t.Fatal(err)
		}
		e.later()
		upd, err = e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{Description: ptr("front desk")})
		if err != nil || !slices.Equal(upd.IPAllowList, []string{"198.51.100.0/24"}) {
			t.Errorf("a patch without a list changed it: %q, %v", upd.IPAllowList, err)
		}
		updated = e.events("shop", realm.EventGroupUpdated)
		if len(updated) != 2 || updated[0] != `{"fields":["description"],"name":"Office"}` {
			t.Errorf("group.updated events = %q, want the unchanged list to record nothing", updated)
		}

		// The policy document's read.
		if _, err := e.svc.SetIPAllowList(e.admin, "shop", []string{"198.51.100.0/23"}); err != nil {
			t.Fatal(err)
		}
		rl, gl, err := e.svc.NetworkLists(e.sys, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rl, []string{"198.51.100.0/23"}) || len(gl) != 1 || !slices.Equal(gl["Office"], []string{"198.51.100.0/24"}) {
			t.Errorf("NetworkLists = %q, %q; want the realm's and Office's lists", rl, gl)
		}
		// Emptied: the group no longer restricts.
		if _, err := e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{IPAllowList: ptr([]string{})}); err != nil {
			t.Fatal(err)
		}
		if _, gl, _ := e.svc.NetworkLists(e.sys, r.ID); len(gl) != 0 {
			t.Errorf("NetworkLists after emptying the group's list: %q", gl)
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
