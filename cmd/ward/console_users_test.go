package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// TestConsoleBrowserUsers: an admin creates users in the console (the
// set-password email on by default, and off), a duplicate email is
// refused at the email field with the input kept, search finds a user, a
// user's page shows the effective attributes of its groups, dropping the
// primary group is refused at the primary group, the set-password email is
// resent (and refused for a user deactivated meanwhile), and a user is
// deactivated through a confirmation page (which, for a user already
// deactivated, says so) and reactivated. A viewer sees users read-only,
// the deactivate page too (the read-only note, as on the client pages).
func TestConsoleBrowserUsers(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	base := "/admin/v1/realms/shop"
	e.owner.must(201, "POST", base+"/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	e.owner.must(201, "POST", base+"/attributes", map[string]any{"name": "level", "type": "integer"})
	eng := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Engineering",
		"attributes": map[string]any{"departments": []string{"platform", "tools"}, "level": 3}})["id"].(string)
	sales := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Sales",
		"attributes": map[string]any{"departments": []string{"emea"}}})["id"].(string)
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 90*time.Second)

	newForm := `form[aria-labelledby="new-user"] `
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	userID := func() string { // the user's page the browser is on
		t.Helper()
		p := evalJS[string](t, tab, `location.pathname`)
		if !strings.HasPrefix(p, "/console/realms/shop/users/") {
			t.Fatalf("not on a user's page: %s\n%s", p, text(t, tab, "main"))
		}
		return strings.TrimPrefix(p, "/console/realms/shop/users/")
	}

	// Created with the email toggle as the page offers it (on): the user
	// gets a set-password mail.
	e.visit(t, tab, "/console/realms/shop/users")
	if !evalJS[bool](t, tab, `document.querySelector("#user-send-email").checked`) {
		t.Fatal(`"Send a set-password email" is not checked by default`)
	}
	fill(t, tab, map[string]string{"#user-email": "ann@shop.test", "#user-first": "Ann", "#user-last": "Lee", "#new-primary": eng})
	click(newForm + `input[name=groups][value="` + eng + `"]`)
	submit(t, tab, newForm+"button[type=submit]")
	annID := userID()
	if text(t, tab, ".flash") != "User ann@shop.test created. A set-password email is on its way." {
		t.Fatalf("after creating: flash %q", text(t, tab, ".flash"))
	}
	firstLink := e.mailLink(t, "ann@shop.test")

	// With the toggle off: no set-password link is issued.
	e.visit(t, tab, "/console/realms/shop/users")
	fill(t, tab, map[string]string{"#user-email": "bob@shop.test", "#user-first": "Bob", "#user-last": "Stone"})
	click("#user-send-email")
	submit(t, tab, newForm+"button[type=submit]")
	bobID := userID()
	issued := map[string]bool{}
	for _, ev := range e.owner.must(200, "GET", base+"/events?type=user.set_password_link_issued", nil)["items"].([]any) {
		issued[ev.(map[string]any)["target_id"].(string)] = true
	}
	if !issued[annID] || issued[bobID] {
		t.Fatalf("set-password links issued to ann: %v, to bob: %v (want true, false)", issued[annID], issued[bobID])
	}

	// A duplicate email is refused at the email field; what was typed and
	// ticked stays.
	e.visit(t, tab, "/console/realms/shop/users")
	fill(t, tab, map[string]string{"#user-email": "ANN@shop.test", "#user-first": "Annie", "#user-last": "Other"})
	click(newForm + `input[name=groups][value="` + sales + `"]`)
	submit(t, tab, newForm+"button[type=submit]")
	if msg := text(t, tab, "#user-email-error"); !strings.Contains(msg, "already exists") {
		t.Fatalf("duplicate email: field error %q; page:\n%s", msg, text(t, tab, "main"))
	}
	kept := evalJS[[]any](t, tab, fmt.Sprintf(`[document.querySelector("#user-email").value, document.querySelector("#user-first").value,
		document.querySelector("#user-last").value, document.querySelector('%sinput[value="%s"]').checked, document.querySelector("#user-send-email").checked]`, newForm, sales))
	if fmt.Sprint(kept) != "[ANN@shop.test Annie Other true true]" {
		t.Errorf("after the refused form: email, first, last, sales ticked, send email = %v", kept)
	}
	if n := len(e.owner.must(200, "GET", base+"/users", nil)["items"].([]any)); n != 2 {
		t.Errorf("%d users after the refused duplicate, want 2", n)
	}

	// Search finds one user by part of its name.
	fill(t, tab, map[string]string{"#user-search": "ston"})
	submit(t, tab, `form[role=search] button[type=submit]`)
	if n, bob := count(t, tab, "tr[data-user]"), count(t, tab, `tr[data-user="bob@shop.test"]`); n != 1 || bob != 1 {
		t.Fatalf("search for ston: %d rows, bob %d; page:\n%s", n, bob, text(t, tab, "main"))
	}
	if !strings.Contains(text(t, tab, `tr[data-user="bob@shop.test"] [data-status]`), "Active") {
		t.Errorf("bob's status in the list: %q", text(t, tab, `tr[data-user="bob@shop.test"]`))
	}
	e.visit(t, tab, "/console/realms/shop/users")
	screenshot(t, tab, "users")

	// Ann's page shows the effective attributes of her group.
	e.visit(t, tab, "/console/realms/shop/users/"+annID)
	deps := evalJS[[]string](t, tab, `[...document.querySelectorAll('tr[data-attribute="departments"] li')].map(li => li.innerText)`)
	if fmt.Sprint(deps) != "[platform tools]" || strings.TrimSpace(text(t, tab, `tr[data-attribute="level"] td:last-child`)) != "3" {
		t.Fatalf("effective attributes: departments %v, level %q; page:\n%s", deps, text(t, tab, `tr[data-attribute="level"]`), text(t, tab, "main"))
	}
	if got := text(t, tab, "[data-primary]"); got != "Engineering" {
		t.Errorf("primary group shown as %q", got)
	}
	if n := evalJS[int](t, tab, `[...document.querySelectorAll("button, a")].filter(b => /delete/i.test(b.innerText)).length`); n != 0 {
		t.Errorf("a user's page offers %d delete actions; users are never deleted", n)
	}
	screenshot(t, tab, "user")

	// Unticking the primary group without choosing another is the
	// service's conflict, shown at the primary group; the tick stays off.
	editForm := `form[aria-labelledby="edit-groups"] `
	click(editForm + `input[name=groups][value="` + eng + `"]`)
	click(editForm + `input[name=groups][value="` + sales + `"]`)
	submit(t, tab, editForm+"button[type=submit]")
	if msg := text(t, tab, "#edit-primary-error"); !strings.Contains(msg, "primary group") {
		t.Fatalf("dropping the primary group: error %q; page:\n%s", msg, text(t, tab, "main"))
	}
	if evalJS[bool](t, tab, fmt.Sprintf(`document.querySelector('%sinput[value="%s"]').checked || !document.querySelector('%sinput[value="%s"]').checked`, editForm, eng, editForm, sales)) {
		t.Error("the refused groups form did not keep what was ticked")
	}
	// Choosing Sales as primary too, it is saved.
	fill(t, tab, map[string]string{"#edit-primary": sales})
	submit(t, tab, editForm+"button[type=submit]")
	u := e.owner.must(200, "GET", base+"/users/"+annID, nil)
	if fmt.Sprint(u["groups"]) != "["+sales+"]" || u["primary_group"] != sales {
		t.Fatalf("after saving groups: %v, primary %v", u["groups"], u["primary_group"])
	}
	if deps := evalJS[[]string](t, tab, `[...document.querySelectorAll('tr[data-attribute="departments"] li')].map(li => li.innerText)`); fmt.Sprint(deps) != "[emea]" {
		t.Errorf("effective departments after the move: %v", deps)
	}

	// Resending mails a new link.
	submit(t, tab, `form[action$="/set-password-email"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "sent to ann@shop.test") {
		t.Fatalf("after resending: flash %q", text(t, tab, ".flash"))
	}
	if second := e.mailLink(t, "ann@shop.test"); second == firstLink {
		t.Error("the resent mail carries the first link")
	}

	// Deactivating goes through a confirmation page.
	click(`a[href$="/deactivate"]`)
	waitPage(t, tab, `form[action$="/deactivate"]`)
	if h := text(t, tab, "h1"); h != "Deactivate Ann Lee?" || !strings.Contains(text(t, tab, "main"), "refresh tokens are revoked") || count(t, tab, `a[href$="/users/`+annID+`"]`) == 0 {
		t.Fatalf("confirmation page: %q\n%s", h, text(t, tab, "main"))
	}
	submit(t, tab, `form[action$="/deactivate"] button[type=submit]`)
	if got := e.owner.must(200, "GET", base+"/users/"+annID, nil)["active"]; got != false {
		t.Fatalf("after deactivating in the console the API says active=%v", got)
	}
	if text(t, tab, "h1 [data-status]") != "Deactivated" || count(t, tab, `form[action$="/set-password-email"]`) != 0 {
		t.Errorf("a deactivated user's page: %q, resend forms %d", text(t, tab, "h1"), count(t, tab, `form[action$="/set-password-email"]`))
	}
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "User Ann Lee deactivated.") {
		t.Errorf("after deactivating: flash %q", flash)
	}
	// Its confirmation page, opened again, says it is already done (as a
	// client's does) and offers nothing to confirm.
	e.visit(t, tab, "/console/realms/shop/users/"+annID+"/deactivate")
	if count(t, tab, "[data-already]") != 1 || count(t, tab, `form[action$="/deactivate"]`) != 0 {
		t.Errorf("deactivate page of a deactivated user:\n%s", text(t, tab, "main"))
	}
	e.visit(t, tab, "/console/realms/shop/users/"+annID)
	submit(t, tab, `form[action$="/reactivate"] button[type=submit]`)
	if got := e.owner.must(200, "GET", base+"/users/"+annID, nil)["active"]; got != true {
		t.Fatalf("after reactivating the API says active=%v", got)
	}

	// A page opened while the user was active, deactivated meanwhile: the
	// resend is refused and says why.
	e.owner.must(200, "PATCH", base+"/users/"+annID, map[string]any{"active": false})
	submit(t, tab, `form[action$="/set-password-email"] button[type=submit]`)
	if msg := text(t, tab, "#resend-error"); !strings.Contains(msg, "deactivated") {
		t.Fatalf("resend for a deactivated user: error %q; page:\n%s", msg, text(t, tab, "main"))
	}

	// Another user's email on the name form is refused at the email field,
	// keeping what was typed there while the groups form shows what is
	// stored; fixed, the names are saved.
	fill(t, tab, map[string]string{"#edit-email": "bob@shop.test", "#edit-first": "Annabel"})
	submit(t, tab, `form[aria-labelledby="edit-user"] button[type=submit]`)
	if msg := text(t, tab, "#edit-email-error"); !strings.Contains(msg, "already exists") {
		t.Fatalf("email of another user: error %q; page:\n%s", msg, text(t, tab, "main"))
	}
	if got := evalJS[[]string](t, tab, `[document.querySelector("#edit-email").value, document.querySelector("#edit-first").value, document.querySelector("#edit-primary").value]`); fmt.Sprint(got) != fmt.Sprint([]string{"bob@shop.test", "Annabel", sales}) {
		t.Errorf("after the refused name form: email, first name, primary = %q", got)
	}
	fill(t, tab, map[string]string{"#edit-email": "ann@shop.test"})
	submit(t, tab, `form[aria-labelledby="edit-user"] button[type=submit]`)
	if u := e.owner.must(200, "GET", base+"/users/"+annID, nil); u["first_name"] != "Annabel" || u["email"] != "ann@shop.test" {
		t.Errorf("after saving the names: %v %v", u["first_name"], u["email"])
	}
	if flash := text(t, tab, ".flash"); flash != "User Annabel Lee saved." {
		t.Errorf("after saving the names: flash %q", flash)
	}

	// Bob never got a mail (the mails to Ann, sent after his creation, have
	// all arrived by now).
	dir := filepath.Join(e.w.dataDir, "outbox")
	entries, _ := os.ReadDir(dir)
	for _, f := range entries {
		if !strings.HasSuffix(f.Name(), ".eml") || strings.HasPrefix(f.Name(), ".tmp-") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if m := mailtest.Parse(t, raw); strings.Contains(m.To, "bob@shop.test") {
			t.Errorf("bob, created without the email, got a mail:\n%s", m.Text)
		}
	}

	// 51 users are two pages; the next page of a search keeps the search.
	for i := range 49 {
		e.owner.must(201, "POST", base+"/users", map[string]any{"email": fmt.Sprintf("p%02d@shop.test", i),
			"first_name": "Paged", "last_name": fmt.Sprint(i), "send_set_password_email": false})
	}
	e.visit(t, tab, "/console/realms/shop/users")
	if n := count(t, tab, "tr[data-user]"); n != 50 {
		t.Fatalf("first page: %d rows, want 50", n)
	}
	submit(t, tab, `a[rel=next]`)
	if n := count(t, tab, "tr[data-user]"); n != 1 || count(t, tab, `a[rel=next]`) != 0 {
		t.Errorf("second page: %d rows, next links %d", n, count(t, tab, `a[rel=next]`))
	}
	// The second page links back to the first (issue 19: as Previous).
	if got := evalJS[[]string](t, tab, `[...document.querySelectorAll("nav.pager a")].map(a => a.innerText + " " + a.getAttribute("href"))`); fmt.Sprint(got) != "[Previous page /console/realms/shop/users]" {
		t.Errorf("second page: pager links %q", got)
	}
	e.visit(t, tab, "/console/realms/shop/users?q=paged")
	if n := count(t, tab, "tr[data-user]"); n != 49 || count(t, tab, `a[rel=next]`) != 0 {
		t.Errorf("search paged: %d rows, next links %d", n, count(t, tab, `a[rel=next]`))
	}
	e.visit(t, tab, "/console/realms/shop/users?q=shop.test")
	submit(t, tab, `a[rel=next]`)
	if n, q := count(t, tab, "tr[data-user]"), evalJS[string](t, tab, `document.querySelector("#user-search").value`); n != 1 || q != "shop.test" {
		t.Errorf("second page of a search: %d rows, search %q", n, q)
	}

	// A viewer sees users and their attributes, and no form that changes them.
	vpw := e.member(t, "vic@acme.test", "viewer")
	view := e.signedIn(t, "vic@acme.test", vpw, 30*time.Second)
	e.visit(t, view, "/console/realms/shop/users?q=shop.test")
	if count(t, view, `tr[data-user]`) != 50 || count(t, view, `main form[method=post]`) != 0 || count(t, view, ".readonly-note") != 1 {
		t.Errorf("viewer's users list:\n%s", text(t, view, "main"))
	}
	e.visit(t, view, "/console/realms/shop/users/"+annID)
	if count(t, view, `tr[data-attribute="departments"]`) != 1 || count(t, view, `main form[method=post]`) != 0 || count(t, view, `a[href$="/deactivate"]`) != 0 {
		t.Errorf("viewer's user page:\n%s", text(t, view, "main"))
	}
	e.visit(t, view, "/console/realms/shop/users/"+url.PathEscape(bobID)+"/deactivate")
	if count(t, view, `form[action$="/deactivate"]`) != 0 || count(t, view, ".readonly-note") != 1 || text(t, view, "h1") != "Deactivate Bob Stone?" {
		t.Errorf("viewer's deactivate page:\n%s", text(t, view, "body"))
	}
}
