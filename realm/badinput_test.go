package realm_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// The "Bad input" list of issue 3 as the service sees it: each case names
// the field, has the right kind, and leaves no rows behind.

func TestRealmNameRules(t *testing.T) { eachBackend(t, testRealmNameRules) }

func testRealmNameRules(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	before := e.rows()
	for _, name := range []string{"console", "admin", "master"} {
		_, err := e.svc.CreateRealm(e.admin, realm.RealmInput{Name: name})
		wantInvalid(t, err, "name")
		if !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%s: message %q does not say reserved", name, err)
		}
	}
	for _, name := range []string{"", "a", "Shop", "-shop", "shop_1", "shop.eu", strings.Repeat("a", 64)} {
		_, err := e.svc.CreateRealm(e.admin, realm.RealmInput{Name: name})
		wantInvalid(t, err, "name")
	}
	_, err := e.svc.CreateRealm(e.admin, realm.RealmInput{Name: "shop"})
	wantConflict(t, err, "name")
	e.sameRows(before)

	// A realm name is unique across the server, not per org.
	other := e.secondOrg("globex")
	_, err = e.svc.CreateRealm(other, realm.RealmInput{Name: "shop"})
	wantConflict(t, err, "name")
}

func TestRealmCreationMakesKeyAndEvent(t *testing.T) {
	eachBackend(t, testRealmCreationMakesKeyAndEvent)
}

func testRealmCreationMakesKeyAndEvent(t *testing.T, open opener) {
	e := newEnv(t, open)
	r := e.realm("shop")
	if r.DisplayName != "shop" || r.OrgID != e.orgID {
		t.Fatalf("realm = %+v", r)
	}
	keys, err := e.store.ListSigningKeys(t.Context(), r.ID)
	if err != nil || len(keys) != 1 || keys[0].Algorithm != "ES256" {
		t.Fatalf("keys = %+v, %v; want one ES256 key", keys, err)
	}
	ev, _ := e.svc.ListEvents(e.viewer, "", realm.EventFilter{Type: "realm.created"})
	if len(ev.Items) != 1 || ev.Items[0].TargetID != r.ID || ev.Items[0].ActorID != "admin-user" || ev.Items[0].RealmID != "" {
		t.Fatalf("realm.created events = %+v", ev.Items)
	}
}

func TestGroupAttributeValues(t *testing.T) { eachBackend(t, testGroupAttributeValues) }

func testGroupAttributeValues(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	e.attr("shop", "departments", "string", true)
	e.attr("shop", "admin", "boolean", false)
	e.attr("shop", "level", "integer", false)
	e.attr("shop", "since", "date", false)
	before := e.rows()

	cases := []struct {
		name  string
		attrs map[string]any
		field string
	}{
		{"wrong type", map[string]any{"admin": "yes"}, "attributes.admin"},
		{"wrong type in list", map[string]any{"departments": []any{"news", json.Number("1")}}, "attributes.departments"},
		{"not an integer", map[string]any{"level": json.Number("1.5")}, "attributes.level"},
		{"bad date", map[string]any{"since": "2024-13-01"}, "attributes.since"},
		{"undefined attribute", map[string]any{"colour": "red"}, "attributes.colour"},
		{"list for single", map[string]any{"level": []any{json.Number("1"), json.Number("2")}}, "attributes.level"},
		{"single for multi", map[string]any{"departments": "news"}, "attributes.departments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "Editors", Attributes: c.attrs})
			wantInvalid(t, err, c.field)
		})
	}
	// Every bad field at once, with the name missing too.
	_, err := e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "  ", Attributes: map[string]any{
		"admin": "yes", "colour": "red", "level": []any{json.Number("1")},
	}})
	wantInvalid(t, err, "name", "attributes.admin", "attributes.colour", "attributes.level")
	if !strings.Contains(err.Error(), "undefined attribute") {
		t.Errorf("message %q does not say undefined attribute", err)
	}
	e.sameRows(before)

	// Valid values are stored normalized.
	g := e.group("shop", "Editors", map[string]any{
		"departments": []any{"sport", "news", "sport"}, "admin": false, "level": json.Number("3"), "since": "2024-02-29",
	})
	got, err := e.svc.GetGroup(e.viewer, "shop", g.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"departments": []any{"news", "sport"}, "admin": false, "level": int64(3), "since": "2024-02-29"}
	if !reflect.DeepEqual(canonical(t, e, got.Attributes), want) {
		t.Fatalf("stored attributes %#v, want %#v", got.Attributes, want)
	}

	// Group names are unique case-insensitively.
	before = e.rows()
	_, err = e.svc.CreateGroup(e.admin, "shop", realm.GroupInput{Name: "editors"})
	wantConflict(t, err, "name")
	// A bad PATCH changes nothing.
	_, err = e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{Name: ptr("Renamed"), Attributes: map[string]any{"admin": json.Number("1")}})
	wantInvalid(t, err, "attributes.admin")
	e.sameRows(before)
	again, _ := e.svc.GetGroup(e.viewer, "shop", g.ID)
	if again.Name != "Editors" {
		t.Fatalf("failed patch renamed the group to %q", again.Name)
	}
}

// canonical compares stored values whatever numeric type the store returns.
func canonical(t *testing.T, e *env, values map[string]any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(values)
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	if n, ok := back["level"].(float64); ok {
		back["level"] = int64(n)
	}
	return back
}

func TestAttributeDefinitionRules(t *testing.T) { eachBackend(t, testAttributeDefinitionRules) }

func testAttributeDefinitionRules(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	before := e.rows()
	_, err := e.svc.CreateAttribute(e.admin, "shop", realm.AttributeInput{Name: "Bad-Name", Type: "colour"})
	wantInvalid(t, err, "name", "type")
	e.sameRows(before)

	e.attr("shop", "level", "integer", false)
	_, err = e.svc.CreateAttribute(e.admin, "shop", realm.AttributeInput{Name: "level", Type: "string"})
	wantConflict(t, err, "name")

	// Unused: type and multi may change.
	if _, err := e.svc.UpdateAttribute(e.admin, "shop", "level", realm.AttributePatch{Type: ptr("number")}); err != nil {
		t.Fatalf("changing an unused attribute: %v", err)
	}
	g := e.group("shop", "G", map[string]any{"level": json.Number("2.5")})
	before = e.rows()
	_, err = e.svc.UpdateAttribute(e.admin, "shop", "level", realm.AttributePatch{Type: ptr("integer")})
	wantConflict(t, err, "type")
	_, err = e.svc.UpdateAttribute(e.admin, "shop", "level", realm.AttributePatch{Multi: ptr(true)})
	wantConflict(t, err, "multi")
	err = e.svc.DeleteAttribute(e.admin, "shop", "level")
	wantConflict(t, err, "name")
	e.sameRows(before)
	// The description can always change.
	a, err := e.svc.UpdateAttribute(e.admin, "shop", "level", realm.AttributePatch{Description: ptr("clearance")})
	if err != nil || a.Description != "clearance" || a.Type != "number" {
		t.Fatalf("description change: %+v, %v", a, err)
	}
	// Once no group uses it, it can go.
	if _, err := e.svc.UpdateGroup(e.admin, "shop", g.ID, realm.GroupPatch{Attributes: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteAttribute(e.admin, "shop", "level"); err != nil {
		t.Fatalf("delete unused attribute: %v", err)
	}
	_, err = e.svc.GetAttribute(e.viewer, "shop", "level")
	wantIs(t, err, realm.ErrNotFound)
}

func TestUserInput(t *testing.T) { eachBackend(t, testUserInput) }

func testUserInput(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	g := e.group("shop", "Staff", nil)
	e.user("shop", "Ann.Lee@Example.com", []string{g.ID}, g.ID)
	before := e.rows()

	_, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{})
	wantInvalid(t, err, "email", "first_name", "last_name")
	_, err = e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "Ann <ann@example.com>", FirstName: " ", LastName: strings.Repeat("x", 201)})
	wantInvalid(t, err, "email", "first_name", "last_name")
	_, err = e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "not-an-address", FirstName: "A", LastName: "B"})
	wantInvalid(t, err, "email")
	_, err = e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "b@example.com", FirstName: "A", LastName: "B",
		Groups: []string{g.ID, "nope"}, PrimaryGroup: "other"})
	wantInvalid(t, err, "groups[1]", "primary_group")

	// Email is unique per realm case-insensitively.
	_, err = e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "ann.lee@example.COM", FirstName: "A", LastName: "B"})
	wantConflict(t, err, "email")
	e.sameRows(before)

	// ...but only per realm.
	e.realm("blog")
	if _, err := e.svc.CreateUser(e.admin, "blog", realm.UserInput{Email: "ann.lee@example.com", FirstName: "A", LastName: "B"}); err != nil {
		t.Fatalf("same email in another realm: %v", err)
	}

	// Names are trimmed, the email is kept as given.
	u, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "Bo@Example.com", FirstName: "  Bo ", LastName: " Tan"})
	if err != nil || u.Email != "Bo@Example.com" || u.FirstName != "Bo" || u.LastName != "Tan" || !u.Active {
		t.Fatalf("created %+v, %v", u, err)
	}
	// Changing an email to another user's, in any case, is a conflict.
	_, err = e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Email: ptr("ANN.LEE@example.com")})
	wantConflict(t, err, "email")
	// Changing the case of one's own email is fine.
	if v, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Email: ptr("bo@example.com")}); err != nil || v.Email != "bo@example.com" {
		t.Fatalf("own email case change: %+v, %v", v, err)
	}
}

func TestIDsFromAnotherRealmOrOrg(t *testing.T) { eachBackend(t, testIDsFromAnotherRealmOrOrg) }

func testIDsFromAnotherRealmOrOrg(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	e.realm("blog")
	shopGroup := e.group("shop", "Staff", nil)
	blogGroup := e.group("blog", "Writers", nil)
	shopUser := e.user("shop", "a@example.com", nil, "")
	shopClient, _, err := e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "svc", Kind: "service_account"})
	if err != nil {
		t.Fatal(err)
	}
	before := e.rows()

	// Group IDs of another realm in a body are unknown groups (400).
	_, err = e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "b@example.com", FirstName: "B", LastName: "C", Groups: []string{blogGroup.ID}})
	wantInvalid(t, err, "groups[0]")
	_, _, err = e.svc.CreateClient(e.admin, "shop", realm.ClientInput{Name: "x", Kind: "service_account", Groups: []string{shopGroup.ID, blogGroup.ID}})
	wantInvalid(t, err, "groups[1]")
	_, err = e.svc.UpdateUser(e.admin, "shop", shopUser.ID, realm.UserPatch{Groups: &[]string{blogGroup.ID}})
	wantInvalid(t, err, "groups[0]")

	// IDs of another realm in a path are not found.
	_, err = e.svc.GetGroup(e.viewer, "blog", shopGroup.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.GetUser(e.viewer, "blog", shopUser.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.GetClient(e.viewer, "blog", shopClient.ClientID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.AddUserToGroup(e.admin, "shop", shopUser.ID, blogGroup.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.AddClientToGroup(e.admin, "shop", shopClient.ClientID, blogGroup.ID)
	wantIs(t, err, realm.ErrNotFound)
	err = e.svc.DeleteGroup(e.admin, "blog", shopGroup.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.UpdateUser(e.admin, "blog", shopUser.ID, realm.UserPatch{Active: ptr(false)})
	wantIs(t, err, realm.ErrNotFound)

	// Another org sees none of it, not even that the realm exists.
	other := e.secondOrg("globex")
	before = e.rows()
	_, err = e.svc.GetRealm(other, "shop")
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.ListUsers(other, "shop", realm.ListOptions{})
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.CreateUser(other, "shop", realm.UserInput{Email: "x@example.com", FirstName: "X", LastName: "Y"})
	wantIs(t, err, realm.ErrNotFound)
	err = e.svc.DeleteRealm(other, "shop", "shop")
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.GetOrgClient(other, e.boot.Client.ClientID)
	wantIs(t, err, realm.ErrNotFound)
	_, _, err = e.svc.RotateOrgClientSecret(other, e.boot.Client.ClientID, 0)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.GetMember(other, e.boot.Owner.ID)
	wantIs(t, err, realm.ErrNotFound)
	_, err = e.svc.UpdateMember(other, e.boot.Owner.ID, realm.MemberPatch{Role: ptr(realm.RoleViewer)})
	wantIs(t, err, realm.ErrNotFound)

	// The console realm is nobody's.
	for _, ctx := range []contextT{e.owner, other} {
		_, err = e.svc.GetRealm(ctx, realm.ConsoleRealm)
		wantIs(t, err, realm.ErrNotFound)
		_, err = e.svc.ListClients(ctx, realm.ConsoleRealm, realm.ListOptions{})
		wantIs(t, err, realm.ErrNotFound)
		_, err = e.svc.ListUsers(ctx, realm.ConsoleRealm, realm.ListOptions{})
		wantIs(t, err, realm.ErrNotFound)
	}
	e.sameRows(before)
}
