package main

import (
	"context"
	"fmt"
	"reflect"
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

// TestConsoleBrowserGroups: an admin creates a group in the console with
// values of several types (a boolean checkbox, an integer, a date and
// chips for a multi-valued string); the admin API stores them with their
// types; a bad integer is refused next to its input and everything typed
// stays; removing a chip and unsetting the boolean are saved; the group's
// members link to their pages; a refused deletion says why, then the
// group is deleted; a viewer sees the values and no form.
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
	} {
		e.owner.must(201, "POST", "/admin/v1/realms/shop/attributes", a)
	}
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 90*time.Second)

	e.visit(t, tab, "/console/realms/shop/groups")
	fill(t, tab, map[string]string{"#group-name": "Editors", "#group-description": "They edit",
		"#attr-level": "99999999999999999999", "#attr-score": "2.5"})
	// Ticking "is true" gives the boolean a value (groups.js).
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
	if !strings.Contains(text(t, tab, "#error-summary"), "attributes.level") {
		t.Errorf("error summary: %q", text(t, tab, "#error-summary"))
	}
	kept := evalJS[[]any](t, tab, `[document.querySelector("#group-name").value, document.querySelector("#attr-level").value,
		document.querySelector("#attr-score").value, document.querySelector("#attr-since").value,
		document.querySelector("#attr-admin").checked, document.querySelector("#attr-admin-set").checked,
		[...document.querySelectorAll('#attr-departments-chips input[name="attributes.departments"]')].map(i => i.value).join(",")]`)
	if want := []any{"Editors", "99999999999999999999", "2.5", "2026-03-01", true, true, "news,sport"}; !reflect.DeepEqual(kept, want) {
		t.Fatalf("after the refused form: %v, want %v", kept, want)
	}
	fill(t, tab, map[string]string{"#attr-level": "7"})
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
	screenshot(t, tab, "group")

	// Edit: remove the "news" chip and take the boolean's value away.
	for _, sel := range []string{`button[aria-label="Remove news"]`, "#attr-admin-set"} {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	if evalJS[bool](t, tab, `document.querySelector("#attr-admin").checked`) {
		t.Error("unticking \"has a value\" left \"is true\" ticked")
	}
	// Text left in the chips input is taken as comma-separated values (as
	// when the page runs without JavaScript).
	evalJS[any](t, tab, `document.querySelector("#attr-departments").value = "desk, web"`)
	submit(t, tab, `form[aria-labelledby="edit-group"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "saved") {
		t.Fatalf("after saving: %s", text(t, tab, "main"))
	}
	if attrs := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+id, nil)["attributes"].(map[string]any); !reflect.DeepEqual(attrs, map[string]any{
		"level": float64(7), "score": 2.5, "since": "2026-03-01", "departments": []any{"desk", "sport", "web"},
	}) {
		t.Fatalf("attributes after the edit: %#v", attrs)
	}

	// Search.
	e.visit(t, tab, "/console/realms/shop/groups?q=edit")
	if count(t, tab, `tr[data-group="Editors"]`) != 1 || !strings.Contains(text(t, tab, `tr[data-group="Editors"]`), "desk, sport, web") {
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
	if text(t, vtab, `[data-value="departments"]`) == "" || count(t, vtab, "main form") != 0 || count(t, vtab, ".readonly-note") != 1 {
		t.Fatalf("viewer's group page:\n%s", text(t, vtab, "main"))
	}
	e.visit(t, vtab, "/console/realms/shop/groups")
	if count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, `tr[data-group="Editors"]`) != 1 {
		t.Fatalf("viewer's groups list:\n%s", text(t, vtab, "main"))
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
}
