package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// axeVersion is the accessibility engine the console test runs, fetched
// from the npm registry (it is not part of Ward).
const axeVersion = "4.14.1"

// axeViolation is the part of an axe-core result the test reports.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// TestConsoleAccessibility: every console screen passes axe-core's WCAG
// 2.x A and AA rules (labels, names, contrast, landmarks, ARIA), on a
// desktop window and on a phone-sized one, where nothing overflows
// sideways; the keyboard alone reaches "Skip to content" first and can
// fill and send a form.
func TestConsoleAccessibility(t *testing.T) {
	axeFile := npmFile(t, "axe-core", axeVersion, "axe.min.js", "the console's accessibility test runs axe-core")
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t)
	o := e.owner
	o.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop", "display_name": "Shop"})
	o.must(201, "POST", "/admin/v1/realms/shop/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	o.must(201, "POST", "/admin/v1/realms/shop/attributes", map[string]any{"name": "admin", "type": "boolean"})
	o.must(201, "POST", "/admin/v1/realms/shop/attributes", map[string]any{"name": "since", "type": "date"})
	group := o.must(201, "POST", "/admin/v1/realms/shop/groups", map[string]any{"name": "Editors",
		"attributes": map[string]any{"departments": []string{"news", "sport"}, "admin": false, "since": "2026-01-02"}})
	user := o.must(201, "POST", "/admin/v1/realms/shop/users", map[string]any{"email": "ed@shop.test", "first_name": "Ed",
		"last_name": "Itor", "groups": []string{group["id"].(string)}, "send_set_password_email": false})
	client := o.must(201, "POST", "/admin/v1/realms/shop/clients", map[string]any{"name": "Indexer", "kind": "service_account",
		"groups": []string{group["id"].(string)}})
	policy := o.must(201, "POST", "/admin/v1/realms/shop/policies", map[string]any{"name": "read-own-department",
		"resource_type": "asset", "actions": []string{"read"},
		"condition": `resource.department in subject.attributes.departments`})
	const ownerPW = "owner console horse battery"
	e.resetPassword(t, "owner@acme.test", ownerPW)
	tab := e.signedIn(t, "owner@acme.test", ownerPW, 4*time.Minute)
	members := o.must(200, "GET", "/admin/v1/members", nil)["items"].([]any)

	r := "/console/realms/shop"
	pages := []string{
		"/console", "/console/members", "/console/members/" + members[0].(map[string]any)["id"].(string),
		"/console/members/" + members[0].(map[string]any)["id"].(string) + "/delete", "/console/events",
		r, r + "/attributes", r + "/attributes/departments", r + "/attributes/departments/delete",
		r + "/groups", r + "/groups/" + group["id"].(string),
		r + "/users", r + "/users/" + user["id"].(string), r + "/users/" + user["id"].(string) + "/deactivate",
		r + "/clients", r + "/clients/" + client["client_id"].(string), r + "/clients/" + client["client_id"].(string) + "/rotate",
		r + "/policies", r + "/policies/" + policy["id"].(string), r + "/events",
	}
	// audit runs axe on the page as it is now, named what for the report.
	var audit func(t *testing.T, what string, narrow bool)
	check := func(t *testing.T, path string, narrow bool) {
		e.visit(t, tab, path)
		if h1 := text(t, tab, "h1"); h1 == "Not found" || h1 == "" {
			t.Fatalf("%s: no such page (%q)", path, h1)
		}
		audit(t, path, narrow)
	}
	audit = func(t *testing.T, path string, narrow bool) {
		raw := evalJS[string](t, tab, string(axe)+`;
			axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
			   .then(r => JSON.stringify(r.violations))`, awaitPromise)
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatalf("%s: axe answered %s", path, raw)
		}
		for _, v := range vs {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s (narrow=%v): %s [%s] %s at %s", path, narrow, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
		if narrow {
			if w := evalJS[[]int](t, tab, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
				t.Errorf("%s: %d px wide on a %d px screen (scrolls sideways)", path, w[0], w[1])
			}
		}
	}
	for _, p := range pages {
		check(t, p, false)
	}
	if err := chromedp.Do(tab, chromedp.Emulate(device.IPhone8)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		check(t, p, true)
	}
	if err := chromedp.Do(tab, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}

	// States that only a submitted form shows: a refused form (errors,
	// summary, kept input) and the new secret in its modal dialog.
	e.visit(t, tab, r+"/attributes")
	fill(t, tab, map[string]string{"#attr-name": "Bad Name"})
	submit(t, tab, `form[aria-labelledby="new-attribute"] button[type=submit]`)
	if count(t, tab, "#error-summary") != 1 {
		t.Fatal("the refused attribute form shows no error summary")
	}
	audit(t, "a refused form", false)
	e.visit(t, tab, r+"/clients")
	fill(t, tab, map[string]string{"#client-name": "Audited"})
	submit(t, tab, `form[aria-labelledby="new-client"] button[type=submit]`)
	if !evalJS[bool](t, tab, `!!document.querySelector("#secret-dialog") && document.querySelector("#secret-dialog").open`) {
		t.Fatal("no open secret dialog after creating a service account")
	}
	audit(t, "the secret dialog", false)

	// Keyboard only: the first Tab lands on "Skip to content", which moves
	// the focus to the page's main content; a form is filled and sent
	// with keys alone.
	e.visit(t, tab, "/console")
	if err := chromedp.Do(tab, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	if got := evalJS[string](t, tab, `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q", got)
	}
	if err := chromedp.Do(tab, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	if got := evalJS[string](t, tab, `location.hash`); got != "#main" {
		t.Errorf("Skip to content went to %q", got)
	}
	if err := chromedp.Do(tab, chromedp.Focus(chromedp.CSS("#realm-name")), chromedp.KeyEvent("keyboard-realm"),
		chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, ".flash")
	if code, _, _ := o.do("GET", "/admin/v1/realms/keyboard-realm", nil); code != 200 {
		t.Errorf("the realm typed and sent with the keyboard was not created (%d)", code)
	}
}

// awaitPromise makes an evaluation wait for the promise it returns.
func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = &[]bool{true}[0] }
