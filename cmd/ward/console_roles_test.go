package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestConsoleBrowserRoles: the owner manages members in the console (a
// refused form names the field and keeps the input; the last owner cannot
// demote itself); a viewer sees the org read-only and a forged form is
// refused; another org's realm is not reachable by URL; a member of two
// orgs switches between them.
func TestConsoleBrowserRoles(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop", "display_name": "Shop"})
	e.owner.must(201, "POST", "/admin/v1/realms/shop/attributes", map[string]any{"name": "clearance", "type": "integer"})
	const ownerPW = "owner console horse battery"
	e.resetPassword(t, "owner@acme.test", ownerPW)
	owner := e.signedIn(t, "owner@acme.test", ownerPW, 120*time.Second)

	// Members: an email that is already a member is named and what was
	// typed stays.
	e.visit(t, owner, "/console/members")
	fill(t, owner, map[string]string{"#member-email": "OWNER@acme.test", "#member-first": "Vera",
		"#member-last": "Viewer", "#member-role": "admin"})
	submit(t, owner, `form[aria-labelledby="add-member"] button[type=submit]`)
	if !strings.Contains(text(t, owner, "#member-email-error"), "already a member") {
		t.Fatalf("no field error for an existing member; page:\n%s", text(t, owner, "main"))
	}
	if got := evalJS[[]string](t, owner, `["#member-email","#member-first","#member-last","#member-role"].map(s => document.querySelector(s).value)`); strings.Join(got, "|") != "OWNER@acme.test|Vera|Viewer|admin" {
		t.Errorf("refused member form kept %q", got)
	}
	fill(t, owner, map[string]string{"#member-email": "vera@acme.test"})
	submit(t, owner, `form[aria-labelledby="add-member"] button[type=submit]`)
	if got := text(t, owner, `[data-role-of="vera@acme.test"]`); got != "admin" {
		t.Fatalf("vera's role in the list = %q; page:\n%s", got, text(t, owner, "main"))
	}
	veraPW := "vera viewer horse battery"
	e.setPassword(t, e.mailLink(t, "vera@acme.test"), veraPW)
	// Demoted to viewer on her member page.
	if err := clickLink(owner, `tr[data-member="vera@acme.test"] a`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, owner, "[data-member-role]")
	fill(t, owner, map[string]string{"#member-role": "viewer"})
	submit(t, owner, `form[aria-labelledby="change-role"] button[type=submit]`)
	if got := text(t, owner, `[data-role-of="vera@acme.test"]`); got != "viewer" {
		t.Fatalf("vera's role after the change = %q", got)
	}
	// The last owner cannot demote itself: the role field says why.
	e.visit(t, owner, "/console/members")
	if err := clickLink(owner, `tr[data-member="owner@acme.test"] a`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, owner, "[data-member-role]")
	fill(t, owner, map[string]string{"#member-role": "viewer"})
	submit(t, owner, `form[aria-labelledby="change-role"] button[type=submit]`)
	if msg := text(t, owner, "#member-role-error"); !strings.Contains(msg, "last owner") {
		t.Errorf("demoting the last owner: role error %q; page:\n%s", msg, text(t, owner, "main"))
	}
	// Removing the last owner is refused for the removal as a whole (not
	// at the role menu of the page's other form).
	if err := clickLink(owner, `a[href$="/delete"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, owner, "h1"); h1 != "Remove owner@acme.test from the organization?" {
		t.Fatalf("removal confirmation: %q", h1)
	}
	submit(t, owner, `main form[action$="/delete"] button[type=submit]`)
	if summary := text(t, owner, "#error-summary"); !strings.Contains(summary, "last owner") || text(t, owner, "#member-role-error") != "" {
		t.Errorf("removing the last owner: summary %q, role error %q", summary, text(t, owner, "#member-role-error"))
	}
	// A refused realm deletion keeps the settings form's stored value and
	// the confirmation as typed.
	e.visit(t, owner, "/console/realms/shop")
	fill(t, owner, map[string]string{"#confirm": "shpo"})
	submit(t, owner, `form[aria-labelledby="delete-realm"] button[type=submit]`)
	if got := evalJS[[]string](t, owner, `[document.querySelector("#display-name").value, document.querySelector("#confirm").value]`); text(t, owner, "#confirm-error") == "" || got[0] != "Shop" || got[1] != "shpo" {
		t.Errorf("refused realm deletion: error %q, display name and confirmation %q", text(t, owner, "#confirm-error"), got)
	}
	e.visit(t, owner, "/console/members")
	screenshot(t, owner, "members")

	// The viewer sees every screen without a single form to change it (the
	// policy test panel asks a question and changes nothing), and a form
	// forged with her real session is refused by the service.
	viewer := e.signedIn(t, "vera@acme.test", veraPW, 90*time.Second)
	changing := `main form[method=post]:not([action$="/policies/test"])`
	for _, path := range []string{"/console", "/console/members", "/console/events", "/console/realms/shop",
		"/console/realms/shop/attributes", "/console/realms/shop/attributes/clearance",
		"/console/realms/shop/attributes/clearance/delete", "/console/realms/shop/groups",
		"/console/realms/shop/users", "/console/realms/shop/clients", "/console/realms/shop/policies",
		"/console/realms/shop/events"} {
		e.visit(t, viewer, path)
		if h1 := text(t, viewer, "h1"); h1 == "Not found" || h1 == "Not allowed" || h1 == "" {
			t.Errorf("viewer on %s: %q", path, h1)
		}
		if n := count(t, viewer, changing); n != 0 {
			t.Errorf("viewer on %s: %d forms that change something; page:\n%s", path, n, text(t, viewer, "main"))
		}
		if text(t, viewer, "[data-role]") != "viewer" {
			t.Errorf("viewer on %s: header role %q", path, text(t, viewer, "[data-role]"))
		}
	}
	e.visit(t, viewer, "/console/realms/shop/attributes")
	if h1 := forgePost(t, viewer, "/console/realms/shop/attributes", map[string]string{"name": "forged", "type": "string"}); h1 != "Not allowed" {
		t.Errorf("a viewer's forged attribute form answered %q", h1)
	}
	e.visit(t, viewer, "/console")
	if h1 := forgePost(t, viewer, "/console", map[string]string{"name": "forged-realm"}); h1 != "Not allowed" {
		t.Errorf("a viewer's forged realm form answered %q", h1)
	}
	if n := len(e.owner.must(200, "GET", "/admin/v1/realms/shop/attributes", nil)["items"].([]any)); n != 1 {
		t.Errorf("attributes after the viewer's forged form: %d, want 1", n)
	}
	if code, _, _ := e.owner.do("GET", "/admin/v1/realms/forged-realm", nil); code != 404 {
		t.Errorf("the viewer's forged realm exists (%d)", code)
	}

	// The owner removes a member after a confirmation page; Cancel leads
	// back, and the removed member's next page sends it to sign in again,
	// which its console realm session answers at once: no org, no access.
	carlPW := e.member(t, "carl@acme.test", "admin")
	carl := e.signedIn(t, "carl@acme.test", carlPW, 60*time.Second)
	// An admin changes realms but gets none of the owners' forms: no realm
	// deletion, no member forms.
	for path, sel := range map[string]string{"/console/realms/shop": `form[action$="/delete"]`,
		"/console/members": `form[action="/console/members"]`, "/console/members/" + carlMember(t, e): `main form`} {
		e.visit(t, carl, path)
		if n := count(t, carl, sel); n != 0 {
			t.Errorf("an admin on %s sees %d owner-only forms (%s)", path, n, sel)
		}
	}
	e.visit(t, carl, "/console/realms/shop")
	if count(t, carl, `form[aria-labelledby="realm-settings"]`) != 1 {
		t.Error("an admin cannot edit the realm's settings")
	}
	e.visit(t, owner, "/console/members")
	if err := clickLink(owner, `tr[data-member="carl@acme.test"] a`); err != nil {
		t.Fatal(err)
	}
	if err := clickLink(owner, `a[href$="/delete"]`); err != nil {
		t.Fatal(err)
	}
	submit(t, owner, `main form[action$="/delete"] button[type=submit]`)
	if !strings.Contains(text(t, owner, ".flash"), "removed") || count(t, owner, `tr[data-member="carl@acme.test"]`) != 0 {
		t.Errorf("after removing carl: flash %q\n%s", text(t, owner, ".flash"), text(t, owner, "main"))
	}
	e.visit(t, carl, "/console/realms/shop")
	if h1 := text(t, carl, "h1"); h1 != "Access denied" || strings.Contains(text(t, carl, "body"), "clearance") {
		t.Errorf("the removed member still sees console pages:\n%s", text(t, carl, "body"))
	}

	// Another org's realm is not reachable by URL, whatever the page.
	out, errOut, code := e.w.command(t, "bootstrap", "--org", "globex", "--owner-email", "boss@globex.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap globex: %s", errOut)
	}
	boot := parseBootstrap(t, out)
	globex := e.adminClient(t, boot)
	globex.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	globex.must(201, "POST", "/admin/v1/realms/vault/attributes", map[string]any{"name": "secret_level", "type": "integer"})
	for _, path := range []string{"/console/realms/vault", "/console/realms/vault/attributes",
		"/console/realms/vault/attributes/secret_level", "/console/realms/vault/attributes/secret_level/delete",
		"/console/realms/vault/groups", "/console/realms/vault/users", "/console/realms/vault/clients",
		"/console/realms/vault/policies", "/console/realms/vault/events"} {
		e.visit(t, owner, path)
		if h1 := text(t, owner, "h1"); h1 != "Not found" || strings.Contains(text(t, owner, "body"), "secret_level") {
			t.Errorf("acme's owner on %s sees %q", path, h1)
		}
	}
	e.visit(t, owner, "/console")
	if h1 := forgePost(t, owner, "/console/realms/vault/attributes", map[string]string{"name": "planted", "type": "string"}); h1 != "Not found" {
		t.Errorf("a form posted into another org's realm answered %q", h1)
	}
	if n := len(globex.must(200, "GET", "/admin/v1/realms/vault/attributes", nil)["items"].([]any)); n != 1 {
		t.Errorf("globex's attributes after acme's forged form: %d, want 1", n)
	}

	// A member of both orgs picks one with the switcher; the console signs
	// in again for that org (no password: the console realm's session).
	globex.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "owner@acme.test", "first_name": "Owner", "last_name": "Acme", "role": "admin"})
	e.visit(t, owner, "/console")
	if n := count(t, owner, "#org-switch option"); n != 2 {
		t.Fatalf("switcher offers %d orgs, want 2; header:\n%s", n, text(t, owner, "header"))
	}
	fill(t, owner, map[string]string{"#org-switch": "globex"})
	submit(t, owner, `form.switcher button[type=submit]`)
	waitPage(t, owner, "[data-role]")
	if role, realms := text(t, owner, "[data-role]"), text(t, owner, "main"); role != "admin" ||
		!strings.Contains(realms, "vault") || strings.Contains(realms, "shop") {
		t.Fatalf("after switching to globex: role %q, page:\n%s", role, realms)
	}
	if got := evalJS[string](t, owner, `document.querySelector("#org-switch").selectedOptions[0].value`); got != "globex" {
		t.Errorf("switcher shows %q as current", got)
	}
	e.visit(t, owner, "/console/realms/shop")
	if h1 := text(t, owner, "h1"); h1 != "Not found" {
		t.Errorf("acme's realm while acting for globex: %q", h1)
	}
	e.visit(t, owner, "/console/realms/vault/attributes")
	if !strings.Contains(text(t, owner, "main"), "secret_level") {
		t.Errorf("globex's attributes not shown after the switch:\n%s", text(t, owner, "main"))
	}
}

// TestConsoleBrowserRealmsList: the realms list pages through every realm
// (50 a page) and searches by name.
func TestConsoleBrowserRealmsList(t *testing.T) {
	e := newConsoleEnv(t)
	for i := range 52 {
		e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": fmt.Sprintf("realm-%02d", i)})
	}
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	const ownerPW = "owner realms list horse"
	e.resetPassword(t, "owner@acme.test", ownerPW)
	tab := e.signedIn(t, "owner@acme.test", ownerPW, 60*time.Second)
	first := count(t, tab, "tr[data-realm]")
	submit(t, tab, `a[rel=next]`)
	second := count(t, tab, "tr[data-realm]")
	if first != 50 || second != 3 {
		t.Errorf("pages of %d and %d realms, want 50 and 3", first, second)
	}
	if count(t, tab, `.pager a[href="/console"]`) != 1 {
		t.Error("the second page has no link back to the first")
	}
	// A cursor Ward did not make is a broken link, with a way back.
	e.visit(t, tab, "/console?cursor=garbage")
	if h1 := text(t, tab, "h1"); h1 != "Broken page link" || count(t, tab, `a[href="/console"]`) == 0 {
		t.Errorf("a broken cursor: %q\n%s", h1, text(t, tab, "body"))
	}
	e.visit(t, tab, "/console")
	fill(t, tab, map[string]string{"#realm-search": "vau"})
	submit(t, tab, `form[role=search] button[type=submit]`)
	if n, name := count(t, tab, "tr[data-realm]"), text(t, tab, "tr[data-realm] td"); n != 1 || name != "vault" {
		t.Errorf("search for vau: %d realms, first %q", n, name)
	}
}

// carlMember is the member ID of carl@acme.test.
func carlMember(t *testing.T, e *consoleEnv) string {
	t.Helper()
	for _, m := range e.owner.must(200, "GET", "/admin/v1/members", nil)["items"].([]any) {
		if m := m.(map[string]any); m["email"] == "carl@acme.test" {
			return m["id"].(string)
		}
	}
	t.Fatal("carl is not a member")
	return ""
}
