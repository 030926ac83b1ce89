package realm_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/wardiam/ward/realm"
)

func TestNoPrincipalFailsClosed(t *testing.T) { eachBackend(t, testNoPrincipalFailsClosed) }

func testNoPrincipalFailsClosed(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["CurrentOrg"] = e.svc.CurrentOrg(ctx)
	_, checks["ListRealms"] = e.svc.ListRealms(ctx, realm.ListOptions{})
	_, checks["GetRealm"] = e.svc.GetRealm(ctx, "shop")
	_, checks["CreateRealm"] = e.svc.CreateRealm(ctx, realm.RealmInput{Name: "other"})
	_, checks["ListUsers"] = e.svc.ListUsers(ctx, "shop", realm.ListOptions{})
	_, checks["CreateUser"] = e.svc.CreateUser(ctx, "shop", realm.UserInput{Email: "a@b.c", FirstName: "a", LastName: "b"})
	_, checks["ListMembers"] = e.svc.ListMembers(ctx, realm.ListOptions{})
	_, checks["ListEvents"] = e.svc.ListEvents(ctx, "shop", realm.EventFilter{})
	_, checks["Bootstrap"] = e.svc.Bootstrap(ctx, realm.BootstrapInput{OrgSlug: "x1", OwnerEmail: "a@b.c"})
	checks["EnsureSystem"] = e.svc.EnsureSystem(ctx)
	_, checks["NewSetupToken"] = e.svc.NewSetupToken(ctx)
	_, checks["SetPasswordLink"] = e.svc.SetPasswordLink(ctx, "x", "y")
	for name, err := range checks {
		if !errors.Is(err, realm.ErrUnauthenticated) {
			t.Errorf("%s without principal: %v, want ErrUnauthenticated", name, err)
		}
	}
	// A principal without org or role is refused too.
	broken := realm.WithPrincipal(ctx, realm.Principal{ActorType: "member", ActorID: "x"})
	_, err := e.svc.ListRealms(broken, realm.ListOptions{})
	wantIs(t, err, realm.ErrForbidden)
}

func TestRoles(t *testing.T) { eachBackend(t, testRoles) }

func testRoles(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	g := e.group("shop", "Staff", nil)
	u := e.user("shop", "a@example.com", nil, "")
	before := e.rows()

	// Viewers read everything in realms, and nothing more.
	if _, err := e.svc.ListRealms(e.viewer, realm.ListOptions{}); err != nil {
		t.Fatalf("viewer list realms: %v", err)
	}
	if _, err := e.svc.GetUser(e.viewer, "shop", u.ID); err != nil {
		t.Fatalf("viewer get user: %v", err)
	}
	if _, err := e.svc.ListEvents(e.viewer, "", realm.EventFilter{}); err != nil {
		t.Fatalf("viewer org events: %v", err)
	}
	writes := map[string]error{}
	_, writes["CreateRealm"] = e.svc.CreateRealm(e.viewer, realm.RealmInput{Name: "blog"})
	_, writes["UpdateRealm"] = e.svc.UpdateRealm(e.viewer, "shop", realm.RealmPatch{DisplayName: ptr("Shop")})
	_, writes["CreateAttribute"] = e.svc.CreateAttribute(e.viewer, "shop", realm.AttributeInput{Name: "a", Type: "string"})
	_, writes["CreateGroup"] = e.svc.CreateGroup(e.viewer, "shop", realm.GroupInput{Name: "G2"})
	writes["DeleteGroup"] = e.svc.DeleteGroup(e.viewer, "shop", g.ID)
	_, writes["CreateUser"] = e.svc.CreateUser(e.viewer, "shop", realm.UserInput{Email: "b@example.com", FirstName: "B", LastName: "C"})
	_, writes["UpdateUser"] = e.svc.UpdateUser(e.viewer, "shop", u.ID, realm.UserPatch{Active: ptr(false)})
	_, writes["AddUserToGroup"] = e.svc.AddUserToGroup(e.viewer, "shop", u.ID, g.ID)
	_, _, writes["CreateClient"] = e.svc.CreateClient(e.viewer, "shop", realm.ClientInput{Name: "c", Kind: "service_account"})
	_, writes["SetPasswordLink"] = e.svc.SetPasswordLink(e.viewer, u.RealmID, u.ID)
	for name, err := range writes {
		if !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("viewer %s: %v, want ErrForbidden", name, err)
		}
	}

	// Admins work inside realms but do not manage members, org clients or
	// realm deletion.
	owners := map[string]error{}
	_, owners["CreateMember"] = e.svc.CreateMember(e.admin, realm.MemberInput{Email: "m@example.com", FirstName: "M", LastName: "N", Role: realm.RoleAdmin})
	_, owners["UpdateMember"] = e.svc.UpdateMember(e.admin, e.boot.Owner.ID, realm.MemberPatch{Role: ptr(realm.RoleViewer)})
	owners["DeleteMember"] = e.svc.DeleteMember(e.admin, e.boot.Owner.ID)
	_, owners["ListOrgClients"] = e.svc.ListOrgClients(e.admin, realm.ListOptions{})
	_, _, owners["CreateOrgClient"] = e.svc.CreateOrgClient(e.admin, realm.OrgClientInput{Name: "ci", Role: realm.RoleAdmin})
	_, owners["GetOrgClient"] = e.svc.GetOrgClient(e.admin, e.boot.Client.ClientID)
	_, owners["UpdateOrgClient"] = e.svc.UpdateOrgClient(e.admin, e.boot.Client.ClientID, realm.OrgClientPatch{Active: ptr(false)})
	_, _, owners["RotateOrgClientSecret"] = e.svc.RotateOrgClientSecret(e.admin, e.boot.Client.ClientID, 0)
	owners["DeleteRealm"] = e.svc.DeleteRealm(e.admin, "shop", "shop")
	for name, err := range owners {
		if !errors.Is(err, realm.ErrForbidden) {
			t.Errorf("admin %s: %v, want ErrForbidden", name, err)
		}
	}
	// Every role sees who administers the org.
	for _, p := range []context.Context{e.viewer, e.admin} {
		list, err := e.svc.ListMembers(p, realm.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			t.Fatalf("reading members: %v (%d items)", err, len(list.Items))
		}
		if _, err := e.svc.GetMember(p, e.boot.Owner.ID); err != nil {
			t.Fatalf("reading a member: %v", err)
		}
	}
	e.sameRows(before)

	// Admin writes inside realms work.
	if _, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{FirstName: ptr("Zed")}); err != nil {
		t.Fatalf("admin update user: %v", err)
	}
}

func TestDeleteRealm(t *testing.T) { eachBackend(t, testDeleteRealm) }

func testDeleteRealm(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	e.user("shop", "a@example.com", nil, "")
	before := e.rows()
	err := e.svc.DeleteRealm(e.owner, "shop", "shopp")
	wantInvalid(t, err, "confirm")
	e.sameRows(before)
	if err := e.svc.DeleteRealm(e.owner, "shop", "shop"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.GetRealm(e.owner, "shop")
	wantIs(t, err, realm.ErrNotFound)
	ev, err := e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: "realm.deleted"})
	if err != nil || len(ev.Items) != 1 || ev.Items[0].Details["name"] != "shop" {
		t.Fatalf("realm.deleted events: %+v, %v", ev.Items, err)
	}
}

func TestMembers(t *testing.T) { eachBackend(t, testMembers) }

func testMembers(t *testing.T, open opener) {
	e := newEnv(t, open)
	before := e.rows()
	_, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "bad", Role: "boss"})
	wantInvalid(t, err, "email", "first_name", "last_name", "role")
	_, err = e.svc.CreateMember(e.owner, realm.MemberInput{Email: "OWNER@acme.test", FirstName: "O", LastName: "W", Role: realm.RoleAdmin})
	wantConflict(t, err, "email")
	e.sameRows(before)

	m, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "ada@acme.test", FirstName: "Ada", LastName: "L", Role: realm.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if m.User == nil || m.User.Email != "ada@acme.test" || m.User.PasswordHash != "" {
		t.Fatalf("member user = %+v", m.User)
	}
	// The same person joining another org reuses the console account.
	other := e.secondOrg("globex")
	m2, err := e.svc.CreateMember(other, realm.MemberInput{Email: "Ada@ACME.test", FirstName: "Ada", LastName: "L", Role: realm.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if m2.UserID != m.UserID {
		t.Fatalf("second membership made a new console account %s (first %s)", m2.UserID, m.UserID)
	}

	// The last owner can be neither demoted nor removed.
	_, err = e.svc.UpdateMember(e.owner, e.boot.Owner.ID, realm.MemberPatch{Role: ptr(realm.RoleAdmin)})
	wantConflict(t, err, "role")
	err = e.svc.DeleteMember(e.owner, e.boot.Owner.ID)
	wantConflict(t, err, "role")
	// With a second owner it can.
	if _, err := e.svc.UpdateMember(e.owner, m.ID, realm.MemberPatch{Role: ptr(realm.RoleOwner)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateMember(e.owner, e.boot.Owner.ID, realm.MemberPatch{Role: ptr(realm.RoleViewer)}); err != nil {
		t.Fatalf("demote an owner that is not the last: %v", err)
	}
	if err := e.svc.DeleteMember(e.owner, e.boot.Owner.ID); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListMembers(e.owner, realm.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != m.ID {
		t.Fatalf("members = %+v, %v", list.Items, err)
	}
	types := eventTypes(t, e, "")
	for _, want := range []string{"member.created", "member.updated", "member.deleted"} {
		if !types[want] {
			t.Errorf("no %s event (have %v)", want, types)
		}
	}
}

func eventTypes(t *testing.T, e *env, realmName string) map[string]bool {
	t.Helper()
	ev, err := e.svc.ListEvents(e.owner, realmName, realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, x := range ev.Items {
		types[string(x.Type)] = true
		if x.ActorType == "" || x.ActorID == "" || x.Time.IsZero() || x.OrgID != e.orgID {
			t.Errorf("event %+v lacks who/when/org", x)
		}
	}
	return types
}

func TestEffectiveAttributes(t *testing.T) { eachBackend(t, testEffectiveAttributes) }

func testEffectiveAttributes(t *testing.T, open opener) {
	e := newEnv(t, open)
	r := e.realm("shop")
	e.attr("shop", "departments", "string", true)
	e.attr("shop", "admin", "boolean", false)
	e.attr("shop", "level", "integer", false)
	e.attr("shop", "region", "string", false)
	g1 := e.group("shop", "Newsroom", map[string]any{"departments": []any{"sport", "news"}, "admin": true, "level": int64(3), "region": "eu"})
	g2 := e.group("shop", "Finance", map[string]any{"departments": []any{"finance", "news"}, "admin": true, "level": int64(5)})
	g3 := e.group("shop", "US", map[string]any{"region": "us"})
	all := []string{g1.ID, g2.ID, g3.ID}

	// Primary g2: level is g2's; region is absent (g2 does not set it and
	// g1, g3 disagree); admin agreed; departments the sorted union.
	u := e.user("shop", "a@example.com", all, g2.ID)
	want := map[string]any{"departments": []any{"finance", "news", "sport"}, "admin": true, "level": int64(5)}
	if !reflect.DeepEqual(u.EffectiveAttributes, want) {
		t.Fatalf("create: effective = %#v, want %#v", u.EffectiveAttributes, want)
	}
	got, err := e.svc.GetUser(e.viewer, "shop", u.ID)
	if err != nil || !reflect.DeepEqual(got.EffectiveAttributes, want) {
		t.Fatalf("get: effective = %#v, %v", got.EffectiveAttributes, err)
	}
	// Primary g1 settles both disagreements its way.
	v, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{PrimaryGroup: ptr(g1.ID)})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"departments": []any{"finance", "news", "sport"}, "admin": true, "level": int64(3), "region": "eu"}
	if !reflect.DeepEqual(v.EffectiveAttributes, want) {
		t.Fatalf("primary g1: effective = %#v, want %#v", v.EffectiveAttributes, want)
	}
	// No primary: only agreed singles survive.
	w := e.user("shop", "b@example.com", []string{g2.ID, g3.ID, g1.ID}, "")
	want = map[string]any{"departments": []any{"finance", "news", "sport"}, "admin": true}
	if !reflect.DeepEqual(w.EffectiveAttributes, want) {
		t.Fatalf("no primary: effective = %#v, want %#v", w.EffectiveAttributes, want)
	}
	if !reflect.DeepEqual(w.Groups, sorted(all)) {
		t.Fatalf("groups %v not sorted", w.Groups)
	}
	// A single group: its values as they are.
	x := e.user("shop", "c@example.com", []string{g3.ID}, g3.ID)
	if !reflect.DeepEqual(x.EffectiveAttributes, map[string]any{"region": "us"}) {
		t.Fatalf("one group: %#v", x.EffectiveAttributes)
	}
	// Token claims: sorted group names, same merge.
	claimsOf := func(ids []string, primary string) ([]string, map[string]any, error) {
		groups, err := e.store.GetGroups(context.Background(), r.ID, ids)
		if err != nil {
			return nil, nil, err
		}
		defs, err := e.store.ListAttributes(context.Background(), r.ID)
		if err != nil {
			return nil, nil, err
		}
		names, eff := realm.ClaimsOf(defs, groups, primary)
		return names, eff, nil
	}
	names, eff, err := claimsOf(all, g2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"Finance", "Newsroom", "US"}) {
		t.Fatalf("group names %v", names)
	}
	if eff["level"] != int64(5) || eff["admin"] != true {
		t.Fatalf("claims effective %#v", eff)
	}
	names, eff, err = claimsOf(nil, "")
	if err != nil || len(names) != 0 || len(eff) != 0 || eff == nil {
		t.Fatalf("no groups: %v %#v %v", names, eff, err)
	}
	// Service accounts merge the same way.
	c, _, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc", Kind: "service_account", Groups: all, PrimaryGroup: g1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if c.EffectiveAttributes["region"] != "eu" || c.EffectiveAttributes["level"] != int64(3) {
		t.Fatalf("client effective %#v", c.EffectiveAttributes)
	}
}

func sorted(ids []string) []string {
	out := append([]string(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPrimaryGroupRules(t *testing.T) { eachBackend(t, testPrimaryGroupRules) }

func testPrimaryGroupRules(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	g1 := e.group("shop", "One", nil)
	g2 := e.group("shop", "Two", nil)
	u := e.user("shop", "a@example.com", []string{g1.ID, g2.ID}, g1.ID)
	c, _, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc", Kind: "service_account", Groups: []string{g1.ID}, PrimaryGroup: g1.ID})
	if err != nil {
		t.Fatal(err)
	}
	before := e.rows()
	_, err = e.svc.RemoveUserFromGroup(e.admin, "shop", u.ID, g1.ID)
	wantConflict(t, err, "primary_group")
	_, err = e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Groups: &[]string{g2.ID}})
	wantConflict(t, err, "primary_group")
	_, err = e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{PrimaryGroup: ptr("nope")})
	wantInvalid(t, err, "primary_group")
	_, err = e.svc.RemoveClientFromGroup(e.admin, "shop", c.ClientID, g1.ID)
	wantConflict(t, err, "primary_group")
	_, err = e.svc.UpdateClient(e.admin, "shop", c.ClientID, realm.ClientPatch{Groups: &[]string{}})
	wantConflict(t, err, "primary_group")
	err = e.svc.DeleteGroup(e.admin, "shop", g1.ID)
	wantConflict(t, err, "id")
	e.sameRows(before)

	// Replacing groups and primary in one patch is fine.
	v, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Groups: &[]string{g2.ID}, PrimaryGroup: ptr(g2.ID)})
	if err != nil || v.PrimaryGroup != g2.ID || !reflect.DeepEqual(v.Groups, []string{g2.ID}) {
		t.Fatalf("swap primary: %+v, %v", v, err)
	}
	// Add and remove are idempotent and recorded.
	if v, err = e.svc.AddUserToGroup(e.admin, "shop", u.ID, g1.ID); err != nil || len(v.Groups) != 2 {
		t.Fatalf("add: %+v, %v", v, err)
	}
	if v, err = e.svc.AddUserToGroup(e.admin, "shop", u.ID, g1.ID); err != nil || len(v.Groups) != 2 {
		t.Fatalf("add again: %+v, %v", v, err)
	}
	if v, err = e.svc.RemoveUserFromGroup(e.admin, "shop", u.ID, g1.ID); err != nil || len(v.Groups) != 1 {
		t.Fatalf("remove: %+v, %v", v, err)
	}
	types := eventTypes(t, e, "shop")
	if !types["user.group_added"] || !types["user.group_removed"] || !types["user.updated"] {
		t.Fatalf("events %v", types)
	}
}

func TestDeactivateReactivate(t *testing.T) { eachBackend(t, testDeactivateReactivate) }

func testDeactivateReactivate(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	u := e.user("shop", "a@example.com", nil, "")
	v, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: ptr(false)})
	if err != nil || v.Active {
		t.Fatalf("deactivate: %+v, %v", v, err)
	}
	stored, err := e.store.GetUser(t.Context(), u.RealmID, u.ID)
	if err != nil || stored.Active {
		t.Fatalf("stored user still active: %+v, %v", stored, err)
	}
	// A deactivated user gets no set-password link.
	_, err = e.svc.SetPasswordLink(e.sys, u.RealmID, u.ID)
	wantConflict(t, err, "active")
	wantConflict(t, e.svc.SendSetPasswordEmail(e.admin, "shop", u.ID), "active")
	v, err = e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: ptr(true)})
	if err != nil || !v.Active {
		t.Fatalf("reactivate: %+v, %v", v, err)
	}
	ev, err := e.svc.ListEvents(e.viewer, "shop", realm.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, x := range ev.Items {
		if x.TargetID == u.ID {
			seen[string(x.Type)]++
		}
	}
	if seen["user.deactivated"] != 1 || seen["user.reactivated"] != 1 || seen["user.created"] != 1 {
		t.Fatalf("events for the user: %v", seen)
	}
	// Setting the same state again records nothing new.
	if _, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	again, _ := e.svc.ListEvents(e.viewer, "shop", realm.EventFilter{})
	if len(again.Items) != len(ev.Items) {
		t.Fatalf("no-op patch wrote %d events", len(again.Items)-len(ev.Items))
	}
}
