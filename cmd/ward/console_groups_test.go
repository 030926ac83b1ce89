package main

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// pressEnter presses Enter in the focused element as a keyboard does: one
// keyDown carrying the text, so that a handler cancelling the keydown also
// cancels the form's implicit submission. (chromedp's SendKeys sends "\r"
// as a keyDown and a separate char event, and the char event submits the
// form whatever the keydown handler did.)
func pressEnter(t *testing.T, tab context.Context) {
	t.Helper()
	key := input.DispatchKeyEventParams{Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
	down, up := key, key
	down.Type, down.Text, down.UnmodifiedText = input.DispatchKeyEventTypeKeyDown, "\r", "\r"
	up.Type = input.DispatchKeyEventTypeKeyUp
	for _, p := range []input.DispatchKeyEventParams{down, up} {
		if _, err := chromedp.Call(tab, input.DispatchKeyEvent, p); err != nil {
			t.Fatalf("press Enter: %v", err)
		}
	}
}

// pressEnterIn focuses sel, presses Enter there and waits for the page the
// form's submission loads.
func pressEnterIn(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Focus(chromedp.CSS(sel))); err != nil {
		t.Fatalf("focus %s: %v", sel, err)
	}
	evalJS[any](t, tab, `window.__wardOldPage = true`)
	pressEnter(t, tab)
	if _, err := waitJS(t, tab, `window.__wardOldPage !== true && document.readyState === "complete"`, 10*time.Second); err != nil {
		t.Fatalf("Enter in %s sent no form: %v", sel, err)
	}
}

// chipValues are the values the chips box of attribute name would send.
func chipValues(t *testing.T, tab context.Context, name string) []string {
	t.Helper()
	return evalJS[[]string](t, tab, fmt.Sprintf(`[...document.querySelectorAll('#attr-%s-chips input[name="attributes.%s"]')]
		.filter(i => i.type !== "checkbox" || i.checked).map(i => i.value)`, name, name))
}

// TestConsoleBrowserGroups: an admin creates a group in the console with
// values of several types (a boolean radio group, an integer, a date and
// chips for a multi-valued string) and a primary group priority for
// identity providers (0 to start with); the admin API stores them with
// their types; a bad integer and a priority out of range are refused next
// to their inputs and everything typed stays; on the group page, the
// priority is shown and edited (a bad one refused, 0 shown in words), a click on a chip's text keeps the value, a
// value typed twice is one chip, Backspace removes a chip and says so,
// Enter in the empty chips input sends the form, False is saved as false;
// removing a chip and "Not set" are saved; the date hints are true in
// every locale; the group's members link to their pages; a viewer sees the
// values and the priority, no form, and the read-only note on the delete page; a refused
// deletion says why, then the group is deleted; the search box is the
// shared one and the pager links back to the first page.
func TestConsoleBrowserGroups(t *testing.T) {
	e := newConsoleEnv(t)
	t.Cleanup(func() {
		// A failed page is easier to read with the server's errors.
		if t.Failed() {
			for _, l := range strings.Split(e.s.logs(), "\n") {
				if strings.Contains(l, `"ERROR"`) || strings.Contains(l, "panic") {
					t.Log(l)
				}
			}
		}
	})
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	for _, a := range []map[string]any{
		{"name": "admin", "type": "boolean"},
		{"name": "level", "type": "integer"},
		{"name": "score", "type": "number"},
		{"name": "since", "type": "date"},
		{"name": "departments", "type": "string", "multi": true},
		{"name": "holidays", "type": "date", "multi": true},
	} {
		e.owner.must(201, "POST", "/admin/v1/realms/shop/attributes", a)
	}
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 90*time.Second)

	e.visit(t, tab, "/console/realms/shop/groups")
	// The shared search box (a list that searches has a "Clear search" link
	// once a search is made, checked below).
	if count(t, tab, `form.search[role=search] input#group-q[type=search]`) != 1 {
		t.Errorf("no search box:\n%s", evalJS[string](t, tab, `document.querySelector("main").innerHTML`))
	}
	// The date picker shows the browser's locale format, so its hint names
	// none; dates typed as chips are text and the hint gives the format.
	if h := text(t, tab, "#attr-since-hint"); !strings.Contains(h, "Pick a date") || strings.Contains(h, "YYYY") {
		t.Errorf("single date hint: %q", h)
	}
	if h := text(t, tab, "#attr-holidays-hint"); !strings.Contains(h, "YYYY-MM-DD") {
		t.Errorf("multi-valued date hint: %q", h)
	}
	// The boolean is a radio group in a fieldset with a legend, "Not set"
	// to start with.
	if got := evalJS[[]string](t, tab, `[...document.querySelectorAll('fieldset[data-attr="admin"] input[type=radio][name="attributes.admin"]')]
		.map(i => i.value + "=" + document.querySelector('label[for="' + i.id + '"]').innerText + (i.checked ? "*" : ""))`); !reflect.DeepEqual(got, []string{"=Not set*", "true=True", "false=False"}) ||
		!strings.Contains(text(t, tab, `fieldset[data-attr="admin"] > legend`), "admin") {
		t.Errorf("boolean radios: %q", got)
	}
	// The primary group priority: 0 (never) on a new group, with its hint.
	if got := evalJS[[]string](t, tab, `[document.querySelector('label[for="group-idp-priority"]').innerText,
		document.querySelector("#group-idp-priority").type, document.querySelector("#group-idp-priority").value]`); !reflect.DeepEqual(got,
		[]string{"Primary group priority for identity providers", "number", "0"}) {
		t.Errorf("priority input: %q", got)
	}
	if h := text(t, tab, "#group-idp-priority-hint"); h != "When people sign in through an identity provider, the mapped group with the highest priority becomes their primary group. 0: never." {
		t.Errorf("priority hint: %q", h)
	}
	fill(t, tab, map[string]string{"#group-name": "Editors", "#group-description": "They edit",
		"#attr-level": "99999999999999999999", "#attr-score": "2.5", "#group-idp-priority": "1001"})
	// The boolean: True.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#attr-admin"))); err != nil {
		t.Fatal(err)
	}
	// The date picker's text depends on the locale: set its value.
	evalJS[any](t, tab, `document.querySelector("#attr-since").value = "2026-03-01"`)
	// Chips: typed, each ended with Enter.
	for _, v := range []string{"news", "sport"} {
		if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#attr-departments"), v)); err != nil {
			t.Fatal(err)
		}
		pressEnter(t, tab)
	}
	if got := evalJS[[]string](t, tab, `[...document.querySelectorAll('#attr-departments-chips input[type=hidden]')].map(i => i.value)`); !reflect.DeepEqual(got, []string{"news", "sport"}) {
		t.Fatalf("chips after typing: %q; box: %s", got, evalJS[string](t, tab, `location.href + document.body.innerHTML`))
	}
	submit(t, tab, `form[aria-labelledby="new-group"] button[type=submit]`)

	// An integer out of range passes the browser's checks but not the
	// service's: the error is next to the input, and nothing typed is lost.
	if msg := text(t, tab, "#attr-level-error"); !strings.Contains(msg, "integer") {
		t.Fatalf("no field error for the bad integer; page:\n%s", evalJS[string](t, tab, `location.href + document.body.innerText`))
	}
	if !strings.Contains(text(t, tab, "#error-summary"), "level") {
		t.Errorf("error summary: %q", text(t, tab, "#error-summary"))
	}
	// So is the priority out of range, in the service's words.
	if msg := text(t, tab, "#group-idp-priority-error"); msg != "must be an integer from 0 to 1000" ||
		!strings.Contains(text(t, tab, "#error-summary"), "Primary group priority for identity providers: must be an integer from 0 to 1000") {
		t.Errorf("priority 1001: error %q, summary %q", msg, text(t, tab, "#error-summary"))
	}
	kept := evalJS[[]any](t, tab, `[document.querySelector("#group-name").value, document.querySelector("#attr-level").value,
		document.querySelector("#attr-score").value, document.querySelector("#attr-since").value,
		document.querySelector('input[name="attributes.admin"]:checked').value,
		[...document.querySelectorAll('#attr-departments-chips input[name="attributes.departments"]')].map(i => i.value).join(","),
		document.querySelector("#group-idp-priority").value]`)
	if want := []any{"Editors", "99999999999999999999", "2.5", "2026-03-01", "true", "news,sport", "1001"}; !reflect.DeepEqual(kept, want) {
		t.Fatalf("after the refused form: %v, want %v", kept, want)
	}
	fill(t, tab, map[string]string{"#attr-level": "7", "#group-idp-priority": "250"})
	submit(t, tab, `form[aria-labelledby="new-group"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "Editors") || !strings.Contains(text(t, tab, "h1"), "Editors") {
		t.Fatalf("after creating: flash %q, page:\n%s", text(t, tab, ".flash"), text(t, tab, "main"))
	}

	groups := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups", nil)["items"].([]any)
	if len(groups) != 1 {
		t.Fatalf("groups: %v", groups)
	}
	g := groups[0].(map[string]any)
	id := g["id"].(string)
	// JSON types: a boolean, numbers (not strings), a date string and a list.
	if attrs := g["attributes"].(map[string]any); !reflect.DeepEqual(attrs, map[string]any{
		"admin": true, "level": float64(7), "score": 2.5, "since": "2026-03-01", "departments": []any{"news", "sport"},
	}) {
		t.Fatalf("stored attributes: %#v", attrs)
	}
	if p := g["idp_primary_priority"]; p != float64(250) {
		t.Errorf("stored priority: %v", p)
	}

	// Members: a user (whose primary group it is) and a service account.
	user := e.owner.must(201, "POST", "/admin/v1/realms/shop/users", map[string]any{"email": "eve@shop.test", "first_name": "Eve",
		"last_name": "Editor", "groups": []string{id}, "primary_group": id, "send_set_password_email": false})
	robot := e.owner.must(201, "POST", "/admin/v1/realms/shop/clients", map[string]any{"name": "robot", "kind": "service_account", "groups": []string{id}})
	e.visit(t, tab, "/console/realms/shop/groups/"+id)
	userLink := fmt.Sprintf(`a[href="/console/realms/shop/users/%s"]`, user["id"])
	robotLink := fmt.Sprintf(`a[href="/console/realms/shop/clients/%s"]`, robot["client_id"])
	if text(t, tab, userLink) != "eve@shop.test" || text(t, tab, robotLink) != "robot" {
		t.Fatalf("members on the group page:\n%s", text(t, tab, "main"))
	}
	if got := text(t, tab, `[data-value="departments"]`); !strings.Contains(got, "news") || !strings.Contains(got, "sport") {
		t.Errorf("shown departments: %q", got)
	}
	if got := text(t, tab, "[data-idp-primary-priority]"); got != "250" {
		t.Errorf("shown priority: %q", got)
	}
	screenshot(t, tab, "group")

	// Chips the page starts with are the same chips as typed ones: the
	// value's text is no <label> of a hidden checkbox, so clicking it
	// changes nothing that is sent.
	if n := count(t, tab, "#attr-departments-chips label, #attr-departments-chips input[type=checkbox]"); n != 0 {
		t.Errorf("%d labels/checkboxes left in the chips box", n)
	}
	// (The first chip is news; before the fix its text was a <label>.)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#attr-departments-chips .chip:first-of-type > :is(span, label)`))); err != nil {
		t.Fatalf("click the chip's text: %v", err)
	}
	if got := chipValues(t, tab, "departments"); !reflect.DeepEqual(got, []string{"news", "sport"}) {
		t.Errorf("after clicking the text of news: the form sends %q", got)
	}
	// A value typed again is not added twice, and the status says why.
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#attr-departments"), "news")); err != nil {
		t.Fatal(err)
	}
	pressEnter(t, tab)
	if got := chipValues(t, tab, "departments"); !reflect.DeepEqual(got, []string{"news", "sport"}) {
		t.Errorf("after typing news again: %q", got)
	}
	status := `#attr-departments-status[role=status][aria-live=polite]`
	if got := text(t, tab, status); got != "news is already there." {
		t.Errorf("status after a duplicate: %q", got)
	}
	// Backspace in the empty input removes the last chip, and says so.
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#attr-departments"), "\b")); err != nil {
		t.Fatal(err)
	}
	if got := chipValues(t, tab, "departments"); !reflect.DeepEqual(got, []string{"news"}) {
		t.Errorf("after Backspace: %q", got)
	}
	if got := text(t, tab, status); got != "sport removed." {
		t.Errorf("status after Backspace: %q", got)
	}
	// False is a value of its own.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#attr-admin-false"))); err != nil {
		t.Fatal(err)
	}
	// Enter in the empty chips input sends the form like any text field.
	pressEnterIn(t, tab, "#attr-departments")
	if !strings.Contains(text(t, tab, ".flash"), "saved") {
		t.Fatalf("after Enter in the empty chips input: %s", text(t, tab, "main"))
	}
	if attrs := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+id, nil)["attributes"].(map[string]any); !reflect.DeepEqual(attrs, map[string]any{
		"admin": false, "level": float64(7), "score": 2.5, "since": "2026-03-01", "departments": []any{"news"},
	}) {
		t.Fatalf("attributes after the first edit: %#v", attrs)
	}
	if got := evalJS[string](t, tab, `document.querySelector('input[name="attributes.admin"]:checked').id`); got != "attr-admin-false" {
		t.Errorf("checked radio after saving false: %q", got)
	}

	// Remove the "news" chip with its button (the status says so) and take
	// the boolean's value away.
	for _, sel := range []string{`button[aria-label="Remove news"]`, "#attr-admin-unset"} {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	if got := text(t, tab, status); got != "news removed." {
		t.Errorf("status after the remove button: %q", got)
	}
	// Text left in the chips input is taken as comma-separated values (as
	// when the page runs without JavaScript).
	evalJS[any](t, tab, `document.querySelector("#attr-departments").value = "desk, web"`)
	submit(t, tab, `form[aria-labelledby="edit-group"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "saved") {
		t.Fatalf("after saving: %s", text(t, tab, "main"))
	}
	if attrs := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+id, nil)["attributes"].(map[string]any); !reflect.DeepEqual(attrs, map[string]any{
		"level": float64(7), "score": 2.5, "since": "2026-03-01", "departments": []any{"desk", "web"},
	}) {
		t.Fatalf("attributes after the edit: %#v", attrs)
	}

	// The priority on the edit form: the stored value; one out of range
	// refused at its input and kept; 0 saved and shown in words.
	priority := func() string { return evalJS[string](t, tab, `document.querySelector("#group-idp-priority").value`) }
	if v := priority(); v != "250" {
		t.Errorf("the edit form's priority: %q", v)
	}
	fill(t, tab, map[string]string{"#group-idp-priority": "-1"})
	submit(t, tab, `form[aria-labelledby="edit-group"] button[type=submit]`)
	if msg := text(t, tab, "#group-idp-priority-error"); msg != "must be an integer from 0 to 1000" || priority() != "-1" {
		t.Fatalf("priority -1: error %q, input %q\n%s", msg, priority(), text(t, tab, "main"))
	}
	if got := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+id, nil)["idp_primary_priority"]; got != float64(250) {
		t.Errorf("after the refused priority the admin API reads %v", got)
	}
	fill(t, tab, map[string]string{"#group-idp-priority": "1000"})
	submit(t, tab, `form[aria-labelledby="edit-group"] button[type=submit]`)
	if flash, got := text(t, tab, ".flash"), text(t, tab, "[data-idp-primary-priority]"); flash != "Group Editors saved." || got != "1000" || priority() != "1000" {
		t.Fatalf("priority 1000: flash %q, shown %q, input %q", flash, got, priority())
	}
	fill(t, tab, map[string]string{"#group-idp-priority": "0"})
	submit(t, tab, `form[aria-labelledby="edit-group"] button[type=submit]`)
	if got := text(t, tab, "[data-idp-primary-priority]"); got != "0: never the primary group" {
		t.Errorf("priority 0 shown as %q", got)
	}
	g = e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+id, nil)
	if g["idp_primary_priority"] != float64(0) || fmt.Sprint(g["attributes"].(map[string]any)["departments"]) != "[desk web]" {
		t.Errorf("after saving priority 0: %v", g)
	}
	e.owner.must(200, "PATCH", "/admin/v1/realms/shop/groups/"+id, map[string]any{"idp_primary_priority": 40})

	// Search.
	e.visit(t, tab, "/console/realms/shop/groups?q=edit")
	if count(t, tab, `tr[data-group="Editors"]`) != 1 || !strings.Contains(text(t, tab, `tr[data-group="Editors"]`), "desk, web") {
		t.Errorf("searching \"edit\":\n%s", text(t, tab, "main"))
	}
	if text(t, tab, `form.search a[href="/console/realms/shop/groups"]`) != "Clear search" {
		t.Errorf("searching \"edit\":\n%s", text(t, tab, "main"))
	}
	e.visit(t, tab, "/console/realms/shop/groups?q=nomatch")
	if count(t, tab, `tr[data-group]`) != 0 || !strings.Contains(text(t, tab, "main"), "No group matches") {
		t.Errorf("searching \"nomatch\":\n%s", text(t, tab, "main"))
	}

	// A viewer sees the values, and no form but signing out.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, 60*time.Second)
	e.visit(t, vtab, "/console/realms/shop/groups/"+id)
	if text(t, vtab, `[data-value="departments"]`) == "" || text(t, vtab, "[data-idp-primary-priority]") != "40" ||
		count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, ".readonly-note") != 1 {
		t.Fatalf("viewer's group page:\n%s", text(t, vtab, "main"))
	}
	e.visit(t, vtab, "/console/realms/shop/groups")
	if count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, `tr[data-group="Editors"]`) != 1 {
		t.Fatalf("viewer's groups list:\n%s", text(t, vtab, "main"))
	}
	// The delete confirmation: the read-only note, not a refusal.
	e.visit(t, vtab, "/console/realms/shop/groups/"+id+"/delete")
	if !strings.Contains(text(t, vtab, "h1"), "Delete group Editors") || count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, ".readonly-note") != 1 {
		t.Fatalf("viewer's delete page: h1 %q\n%s", text(t, vtab, "h1"), text(t, vtab, "main"))
	}

	// Delete: refused while it is Eve's primary group, with the reason;
	// then done.
	e.visit(t, tab, "/console/realms/shop/groups/"+id+"/delete")
	submit(t, tab, `form[action$="/delete"] button[type=submit]`)
	if !strings.Contains(text(t, tab, "#error-summary"), "primary group") {
		t.Fatalf("refused deletion:\n%s", text(t, tab, "main"))
	}
	e.owner.must(200, "PATCH", fmt.Sprintf("/admin/v1/realms/shop/users/%s", user["id"]), map[string]any{"primary_group": nil})
	submit(t, tab, `form[action$="/delete"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "deleted") || count(t, tab, `tr[data-group]`) != 0 {
		t.Fatalf("after deleting:\n%s", text(t, tab, "main"))
	}
	e.owner.must(404, "GET", "/admin/v1/realms/shop/groups/"+id, nil)

	// More groups than a page (50): the next page links back to the first.
	for i := range 51 {
		e.owner.must(201, "POST", "/admin/v1/realms/shop/groups", map[string]any{"name": fmt.Sprintf("team-%02d", i)})
	}
	// Pages follow IDs, and IDs made in the same millisecond sort in random
	// order: the second page holds exactly the one group the first lacks.
	e.visit(t, tab, "/console/realms/shop/groups")
	if count(t, tab, `nav.pager a[rel=next]`) != 1 || count(t, tab, `nav.pager a[href="/console/realms/shop/groups"]`) != 0 {
		t.Fatalf("first page's pager: %s", evalJS[string](t, tab, `(document.querySelector("nav.pager")||{}).outerHTML||"none"`))
	}
	firstPage := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-group]")].map(r => r.dataset.group)`)
	if len(firstPage) != 50 {
		t.Fatalf("first page lists %d groups, want 50: %v", len(firstPage), firstPage)
	}
	if err := clickLink(tab, `nav.pager a[rel=next]`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "h1")
	secondPage := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-group]")].map(r => r.dataset.group)`)
	if len(secondPage) != 1 || slices.Contains(firstPage, secondPage[0]) || !strings.HasPrefix(secondPage[0], "team-") {
		t.Fatalf("second page lists %v; first page %v", secondPage, firstPage)
	}
	if text(t, tab, `nav.pager a[href="/console/realms/shop/groups"]`) != "First page" {
		t.Fatalf("second page: %s\n%s", evalJS[string](t, tab, `location.href`), text(t, tab, "main"))
	}
}
