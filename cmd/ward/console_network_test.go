package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// The console's IP allow lists (CONTRACT §7, issue 16) are set on the
// realm "shop"; the console itself signs in on the realm "console", whose
// list is never touched here, so the admin is never locked out.

// TestConsoleBrowserNetwork: an admin sets a realm's IP allow list on its
// overview page, in headless Chromium. A CIDR with host bits set is
// refused at the textarea naming its line (and in the error summary),
// what was typed kept; fixed, it is saved in canonical form with a
// confirmation, the admin API reads the same list, and the change is the
// event realm.ip_allow_list_updated on the realm's events page. A group
// gets its own list on its create and edit forms (a bad line refused the
// same way) and shows it on its page. A viewer sees both lists with no
// form and is refused (403) when posting one by hand. Emptying the list
// lifts the restriction. The realm page's Sign-in card switches password
// sign-in off and on again (RealmPatch.PasswordLogin): each saved with a
// confirmation, read back by the admin API and shown in the realm's
// summary; while off with no identity provider enabled, the page warns
// that nobody can sign in; a viewer sees the summary and no form, and is
// refused when posting one by hand.
func TestConsoleBrowserNetwork(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 3*time.Minute)
	mainText := func() string { return text(t, tab, "main") }
	value := func(sel string) string {
		t.Helper()
		return evalJS[string](t, tab, fmt.Sprintf(`document.querySelector(%q).value`, sel))
	}
	const realmPage = "/console/realms/shop"
	save := `form[aria-labelledby="network"] button[type=submit]`
	storedList := func() string {
		t.Helper()
		out := e.owner.must(200, "GET", "/admin/v1/realms/shop/ip-allow-list", nil)
		b, _ := json.Marshal(out["cidrs"])
		return string(b)
	}

	// The Network card on the realm's overview, empty at first, with its
	// hint.
	e.visit(t, tab, realmPage)
	if h := text(t, tab, "h2#network"); h != "Network" {
		t.Fatalf("no Network card on the realm page:\n%s", mainText())
	}
	if v := value("#realm-cidrs"); v != "" {
		t.Errorf("a new realm's list reads %q", v)
	}
	if hint := text(t, tab, "#realm-cidrs-hint"); hint != "Empty: sign-in and tokens from anywhere. One CIDR per line, e.g. 203.0.113.0/24 or 2001:db8::/32." {
		t.Errorf("hint %q", hint)
	}

	displayName := value("#display-name")

	// A bad line: refused at the textarea naming the line; nothing saved.
	fill(t, tab, map[string]string{"#realm-cidrs": "2001:DB8::/32\n203.0.113.7/24"})
	submit(t, tab, save)
	msg := text(t, tab, "#realm-cidrs-error")
	if !strings.HasPrefix(msg, "line 2 ") || !strings.Contains(msg, "did you mean 203.0.113.0/24?") ||
		!strings.Contains(text(t, tab, "#error-summary"), "IP allow list: "+msg) {
		t.Fatalf("bad CIDR: error %q; page:\n%s", msg, mainText())
	}
	if evalJS[string](t, tab, `document.querySelector("#realm-cidrs").getAttribute("aria-invalid")`) != "true" {
		t.Error("the allow list is not marked invalid")
	}
	if v := value("#realm-cidrs"); v != "2001:DB8::/32\n203.0.113.7/24" {
		t.Errorf("after the refusal the textarea holds %q", v)
	}
	if v := value("#display-name"); v != displayName {
		t.Errorf("the settings form beside it holds %q", v)
	}
	if got := storedList(); got != "[]" {
		t.Fatalf("a refused list was stored: %s", got)
	}
	// The summary's link leads to the textarea.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#error-summary a[href="#realm-cidrs"]`))); err != nil {
		t.Errorf("the error summary has no link to the textarea: %v", err)
	} else if id := evalJS[string](t, tab, `document.activeElement.id`); id != "realm-cidrs" {
		t.Errorf("the summary's link focuses %q", id)
	}

	// Fixed: saved, canonical, confirmed.
	fill(t, tab, map[string]string{"#realm-cidrs": "2001:DB8::/32\n\n203.0.113.0/24"})
	submit(t, tab, save)
	if flash := text(t, tab, ".flash"); flash != "IP allow list saved: sign-in and tokens only from these 2 networks." {
		t.Fatalf("saving: flash %q\n%s", flash, mainText())
	}
	if v := value("#realm-cidrs"); v != "2001:db8::/32\n203.0.113.0/24" {
		t.Errorf("the saved list reads %q", v)
	}
	if got := storedList(); got != `["2001:db8::/32","203.0.113.0/24"]` {
		t.Errorf("the admin API reads %s", got)
	}
	screenshot(t, tab, "realm-network")

	// The change is in the realm's events.
	e.visit(t, tab, realmPage+"/events")
	if row := text(t, tab, `tr[data-event="realm.ip_allow_list_updated"]`); !strings.Contains(row, "203.0.113.0/24") {
		t.Errorf("no realm.ip_allow_list_updated event naming the list: %q\n%s", row, mainText())
	}

	// Sign-in: password sign-in offered at first (ticked, and so in the
	// summary); switched off, then on again.
	e.visit(t, tab, realmPage)
	passwordBox := func() bool {
		t.Helper()
		return evalJS[bool](t, tab, `document.querySelector("#realm-password-login").checked`)
	}
	storedPasswordLogin := func() any {
		t.Helper()
		return e.owner.must(200, "GET", "/admin/v1/realms/shop", nil)["password_login"]
	}
	saveSignIn := `form[aria-labelledby="sign-in"] button[type=submit]`
	tick := func() {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#realm-password-login"))); err != nil {
			t.Fatalf("click the password sign-in box: %v", err)
		}
	}
	if h, l, hint := text(t, tab, "h2#sign-in"), text(t, tab, `label[for="realm-password-login"]`), text(t, tab, "#realm-password-login-hint"); h != "Sign-in" ||
		l != "Offer sign-in with email and password" || hint != "Turn it off to let people sign in only through the realm's identity providers." {
		t.Errorf("the Sign-in card: heading %q, label %q, hint %q", h, l, hint)
	}
	if !passwordBox() || text(t, tab, "[data-password-login]") != "Offered: people may sign in with email and password" || count(t, tab, "[data-nobody-signs-in]") != 0 {
		t.Errorf("a new realm's sign-in: ticked %v, summary %q", passwordBox(), text(t, tab, "[data-password-login]"))
	}
	tick()
	submit(t, tab, saveSignIn)
	if flash := text(t, tab, ".flash"); flash != "Sign-in saved: people sign in only through the realm's identity providers." {
		t.Fatalf("switching password sign-in off: flash %q\n%s", flash, mainText())
	}
	if passwordBox() || text(t, tab, "[data-password-login]") != "Off: people sign in only through the realm's identity providers" {
		t.Errorf("after switching off: ticked %v, summary %q", passwordBox(), text(t, tab, "[data-password-login]"))
	}
	if got := storedPasswordLogin(); got != false {
		t.Errorf("after switching off the admin API reads password_login %v", got)
	}
	if w := text(t, tab, "[data-nobody-signs-in]"); w != "Nobody can sign in to this realm: password sign-in is off and none of its identity providers is enabled." {
		t.Errorf("the warning with no provider: %q", w)
	}
	screenshot(t, tab, "realm-sign-in-off")
	tick()
	submit(t, tab, saveSignIn)
	if flash := text(t, tab, ".flash"); flash != "Sign-in saved: people may sign in with email and password." {
		t.Fatalf("switching password sign-in on: flash %q\n%s", flash, mainText())
	}
	if !passwordBox() || text(t, tab, "[data-password-login]") != "Offered: people may sign in with email and password" || count(t, tab, "[data-nobody-signs-in]") != 0 {
		t.Errorf("after switching on: ticked %v, summary %q", passwordBox(), text(t, tab, "[data-password-login]"))
	}
	if got := storedPasswordLogin(); got != true {
		t.Errorf("after switching on the admin API reads password_login %v", got)
	}
	// Off again, for the viewer below.
	tick()
	submit(t, tab, saveSignIn)
	if got := storedPasswordLogin(); got != false {
		t.Fatalf("switched off again, the admin API reads password_login %v", got)
	}

	// A group with its own list: a bad line refused on the create form,
	// then created; the page shows the list and the edit form holds it.
	e.visit(t, tab, realmPage+"/groups")
	newGroup := `form[aria-labelledby="new-group"] button[type=submit]`
	fill(t, tab, map[string]string{"#group-name": "studio", "#group-ip-allow-list": "198.51.100.0/24\nstudio-wifi"})
	submit(t, tab, newGroup)
	if msg := text(t, tab, "#group-ip-allow-list-error"); !strings.HasPrefix(msg, "line 2 ") {
		t.Fatalf("a group's bad CIDR: error %q\n%s", msg, mainText())
	}
	if v := value("#group-name") + "|" + value("#group-ip-allow-list"); v != "studio|198.51.100.0/24\nstudio-wifi" {
		t.Errorf("after the refusal the form holds %q", v)
	}
	fill(t, tab, map[string]string{"#group-ip-allow-list": "198.51.100.0/24"})
	submit(t, tab, newGroup)
	if flash := text(t, tab, ".flash"); flash != "Group studio created." {
		t.Fatalf("creating the group: flash %q\n%s", flash, mainText())
	}
	groupPath := evalJS[string](t, tab, `location.pathname`)
	if got := text(t, tab, "[data-ip-allow-list]"); got != "198.51.100.0/24" {
		t.Errorf("the group's page shows the list %q", got)
	}
	edit := `form[aria-labelledby="edit-group"] button[type=submit]`
	if v := value("#group-ip-allow-list"); v != "198.51.100.0/24" {
		t.Errorf("the edit form holds %q", v)
	}
	fill(t, tab, map[string]string{"#group-ip-allow-list": "198.51.100.0/24\n2001:db8:1::1/48"})
	submit(t, tab, edit)
	if msg := text(t, tab, "#group-ip-allow-list-error"); !strings.HasPrefix(msg, "line 2 ") || !strings.Contains(msg, "2001:db8:1::/48") {
		t.Errorf("a refused edit: error %q\n%s", msg, mainText())
	}
	fill(t, tab, map[string]string{"#group-ip-allow-list": "198.51.100.0/24\n2001:db8:1::/48"})
	submit(t, tab, edit)
	if flash := text(t, tab, ".flash"); flash != "Group studio saved." {
		t.Fatalf("saving the group: flash %q\n%s", flash, mainText())
	}
	if got := text(t, tab, "[data-ip-allow-list]"); got != "198.51.100.0/24, 2001:db8:1::/48" {
		t.Errorf("the group's page shows the list %q", got)
	}
	groupID := groupPath[strings.LastIndexByte(groupPath, '/')+1:]
	if g := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups/"+groupID, nil); fmt.Sprint(g["ip_allow_list"]) != "[198.51.100.0/24 2001:db8:1::/48]" {
		t.Errorf("the admin API reads the group's list %v", g["ip_allow_list"])
	}

	// A viewer reads both lists and is offered no form; posting one by
	// hand is refused.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	e.visit(t, vtab, realmPage)
	if got := text(t, vtab, "[data-ip-allow-list]"); got != "2001:db8::/32, 203.0.113.0/24" ||
		count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, "textarea") != 0 {
		t.Errorf("viewer's realm page: list %q\n%s", got, text(t, vtab, "main"))
	}
	e.visit(t, vtab, groupPath)
	if got := text(t, vtab, "[data-ip-allow-list]"); got != "198.51.100.0/24, 2001:db8:1::/48" || count(t, vtab, "textarea") != 0 {
		t.Errorf("viewer's group page: list %q", got)
	}
	if h1 := forgePost(t, vtab, realmPage+"/ip-allow-list", map[string]string{"cidrs": ""}); h1 != "Not allowed" {
		t.Errorf("a viewer posting the allow list: %q\n%s", h1, text(t, vtab, "main"))
	}
	// The viewer reads the sign-in setting in the summary.
	e.visit(t, vtab, realmPage)
	if got := text(t, vtab, "[data-password-login]"); got != "Off: people sign in only through the realm's identity providers" || count(t, vtab, "#realm-password-login") != 0 {
		t.Errorf("viewer's realm page: password sign-in %q", got)
	}
	if h1 := forgePost(t, vtab, realmPage+"/sign-in", map[string]string{"password_login": "on"}); h1 != "Not allowed" {
		t.Errorf("a viewer posting the sign-in setting: %q\n%s", h1, text(t, vtab, "main"))
	}
	if got := e.owner.must(200, "GET", "/admin/v1/realms/shop", nil)["password_login"]; got != false {
		t.Errorf("after the viewer's refused post password_login is %v", got)
	}
	if got := storedList(); got != `["2001:db8::/32","203.0.113.0/24"]` {
		t.Errorf("after the viewer's refused post the list is %s", got)
	}

	// Emptied: the restriction is lifted.
	e.visit(t, tab, realmPage)
	fill(t, tab, map[string]string{"#realm-cidrs": ""})
	submit(t, tab, save)
	if flash := text(t, tab, ".flash"); !strings.Contains(flash, "from anywhere") {
		t.Errorf("emptying the list: flash %q", flash)
	}
	if got := storedList(); got != "[]" {
		t.Errorf("after emptying, the list is %s", got)
	}
}

// TestConsoleNetworkAccessibility: the Network card (empty, saved, and
// refused at the textarea) and a group's page with its list pass axe-core's
// WCAG 2.x A and AA rules, on a desktop window and a phone-sized one where
// nothing overflows sideways; a viewer's read-only card too.
func TestConsoleNetworkAccessibility(t *testing.T) {
	axeFile := npmFile(t, "axe-core", axeVersion, "axe.min.js", "the console's accessibility test runs axe-core")
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	g := e.owner.must(201, "POST", "/admin/v1/realms/shop/groups", map[string]any{"name": "studio",
		"ip_allow_list": []string{"198.51.100.0/24", "2001:db8:1::/48"}})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 4*time.Minute)
	run := func(what string, narrow bool) { t.Helper(); networkAxe(t, tab, string(axe), what, narrow) }

	r := "/console/realms/shop"
	e.visit(t, tab, r)
	run("the Network card, empty", false)
	fill(t, tab, map[string]string{"#realm-cidrs": "203.0.113.0/24\n10.1.2.3/8"})
	submit(t, tab, `form[aria-labelledby="network"] button[type=submit]`)
	if count(t, tab, "#realm-cidrs-error") != 1 {
		t.Fatalf("the refused list shows no error:\n%s", text(t, tab, "main"))
	}
	run("the Network card refused at its textarea", false)
	fill(t, tab, map[string]string{"#realm-cidrs": "203.0.113.0/24\n10.0.0.0/8"})
	submit(t, tab, `form[aria-labelledby="network"] button[type=submit]`)
	run("the Network card saved", false)

	pages := []string{r, r + "/groups", r + "/groups/" + g["id"].(string)}
	for _, narrow := range []bool{false, true} {
		if narrow {
			if err := chromedp.Do(tab, chromedp.Emulate(device.IPhone8)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range pages {
			e.visit(t, tab, p)
			if h1 := text(t, tab, "h1"); h1 == "Not found" || h1 == "" {
				t.Fatalf("%s: no such page (%q)", p, h1)
			}
			run(p, narrow)
		}
	}

	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	e.visit(t, vtab, r)
	networkAxe(t, vtab, string(axe), "a viewer's Network card", false)
}

// networkAxe runs axe-core's WCAG 2.x A and AA rules on the page in tab
// (as TestConsoleSecurityTemplatesAccessibility does) and, when narrow,
// checks that nothing scrolls sideways.
func networkAxe(t *testing.T, tab context.Context, axe, what string, narrow bool) {
	t.Helper()
	raw := evalJS[string](t, tab, axe+`;
		axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		   .then(r => JSON.stringify(r.violations))`, awaitPromise)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe answered %s", what, raw)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		t.Errorf("%s (narrow=%v): %s [%s] %s at %s", what, narrow, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
	}
	if narrow {
		if w := evalJS[[]int](t, tab, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("%s: %d px wide on a %d px screen (scrolls sideways)", what, w[0], w[1])
		}
	}
}
