package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/wardiam/ward/storage/sql"
)

// TestConsoleBrowserSecurityTemplates: an admin manages a realm's security
// templates in the console, in headless Chromium. The screen is in the
// realm's navigation; a template with a bad CIDR is refused at the IP
// ranges field, keeping what was typed; fixed, it is created and listed
// with its plain-language summary. A refused edit names the lifetime; an
// edited limit changes the summary and the stored template. "Mint a test
// key" shows a key once, in the modal dialog, with its expiry at most ten
// minutes away: a JWS of type ward-tk+jwt carrying the template's rules;
// a reload never shows it again, and the minting is in the realm's
// events. A viewer sees the screens without any change control and is
// refused (403) when posting the mint or delete form by hand. The
// template is deleted through its confirmation page, and no key reaches
// Ward's logs.
func TestConsoleBrowserSecurityTemplates(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 3*time.Minute)

	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	mainText := func() string { return text(t, tab, "main") }
	html := func() string { return evalJS[string](t, tab, `document.documentElement.outerHTML`) }
	value := func(sel string) string {
		t.Helper()
		return evalJS[string](t, tab, fmt.Sprintf(`document.querySelector(%q).value`, sel))
	}
	const tplPath = "/console/realms/shop/security-templates"

	// The permission the template grants, made in the console.
	e.visit(t, tab, "/console/realms/shop/permissions")
	fill(t, tab, map[string]string{"#perm-name": "asset:create", "#perm-description": "Upload assets"})
	submit(t, tab, `form[aria-labelledby="new-permission"] button[type=submit]`)
	if flash := text(t, tab, ".flash"); flash != "Permission asset:create created." {
		t.Fatalf("creating the permission: %q\n%s", flash, mainText())
	}

	// The screen is in the realm's navigation, beside API keys; empty at
	// first, its lifetime field holding the default.
	if err := clickLink(tab, `nav.realm-nav a[href="`+tplPath+`"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "Security templates" || count(t, tab, `nav.realm-nav a[aria-current="page"][href="`+tplPath+`"]`) != 1 ||
		count(t, tab, "[data-empty]") != 1 {
		t.Fatalf("the Security templates link leads to %q:\n%s", h1, mainText())
	}
	if next := evalJS[string](t, tab, `document.querySelector('nav.realm-nav a[href="/console/realms/shop/api-keys"]').nextElementSibling.getAttribute("href")`); next != tplPath {
		t.Errorf("the entry after API keys is %q", next)
	}
	if ttl := value("#new-tpl-ttl"); ttl != "1200" {
		t.Errorf("default lifetime %q", ttl)
	}

	// A bad CIDR: refused at its field, everything typed kept.
	newTpl := `form[aria-labelledby="new-template"] button[type=submit]`
	fill(t, tab, map[string]string{"#new-tpl-name": "uploader", "#new-tpl-description": "Marketing widget",
		"#new-tpl-limit": "60", "#new-tpl-limit-ip": "10", "#new-tpl-dir-scope": "/marketing/*",
		"#new-tpl-ip-ranges": "203.0.113.7/24", "#new-tpl-countries": "fr\nDE"})
	click(`form[aria-labelledby="new-template"] input[name=permissions][value="asset:create"]`)
	submit(t, tab, newTpl)
	msg := text(t, tab, "#new-tpl-ip-ranges-error")
	if !strings.Contains(msg, "line 1") || !strings.Contains(msg, "did you mean 203.0.113.0/24?") ||
		!strings.Contains(text(t, tab, "#error-summary"), "IP ranges: "+msg) {
		t.Fatalf("bad CIDR: error %q; page:\n%s", msg, mainText())
	}
	if evalJS[string](t, tab, `document.querySelector("#new-tpl-ip-ranges").getAttribute("aria-invalid")`) != "true" {
		t.Error("the IP ranges field is not marked invalid")
	}
	for sel, want := range map[string]string{"#new-tpl-name": "uploader", "#new-tpl-limit": "60", "#new-tpl-limit-ip": "10",
		"#new-tpl-dir-scope": "/marketing/*", "#new-tpl-countries": "fr\nDE", "#new-tpl-ttl": "1200"} {
		if got := value(sel); got != want {
			t.Errorf("after the refused form, %s = %q, want %q", sel, got, want)
		}
	}
	if !evalJS[bool](t, tab, `document.querySelector('form[aria-labelledby="new-template"] input[value="asset:create"]').checked`) {
		t.Error("the ticked permission is not kept")
	}
	if count(t, tab, "tr[data-template]") != 0 {
		t.Fatal("a refused template is listed")
	}

	// Fixed: created, on its own page, then listed with its summary.
	fill(t, tab, map[string]string{"#new-tpl-ip-ranges": "203.0.113.0/24"})
	submit(t, tab, newTpl)
	if flash := text(t, tab, ".flash"); flash != "Security template uploader created." {
		t.Fatalf("creating the template: flash %q\n%s", flash, mainText())
	}
	const summary = "Upload to /marketing/* for 20 min, 60 requests a minute (10 per address), from 203.0.113.0/24, in DE, FR"
	if got := text(t, tab, "main [data-summary]"); got != summary {
		t.Errorf("summary on the template's page: %q", got)
	}
	if got := text(t, tab, "[data-countries]"); got != "DE, FR" {
		t.Errorf("countries %q", got)
	}
	e.visit(t, tab, tplPath)
	if got := text(t, tab, `tr[data-template="uploader"] [data-summary]`); got != summary {
		t.Errorf("summary in the list: %q\n%s", got, mainText())
	}
	if row := text(t, tab, `tr[data-template="uploader"]`); !strings.Contains(row, "Marketing widget") {
		t.Errorf("list row: %q", row)
	}
	screenshot(t, tab, "security-templates")

	// Edit: a lifetime out of range is refused at its field; then the
	// total limit raised and the per-address one removed.
	if err := clickLink(tab, `tr[data-template="uploader"] a`); err != nil {
		t.Fatal(err)
	}
	edit := `form[aria-labelledby="edit-template"] button[type=submit]`
	if got := value("#edit-tpl-ip-ranges") + "|" + value("#edit-tpl-limit") + "|" + value("#edit-tpl-countries"); got != "203.0.113.0/24|60|DE\nFR" {
		t.Errorf("the edit form holds %q", got)
	}
	fill(t, tab, map[string]string{"#edit-tpl-ttl": "30"})
	submit(t, tab, edit)
	if msg := text(t, tab, "#edit-tpl-ttl-error"); !strings.Contains(msg, "between 60 and 86400") {
		t.Errorf("a lifetime of 30 s: error %q\n%s", msg, mainText())
	}
	fill(t, tab, map[string]string{"#edit-tpl-ttl": "1200", "#edit-tpl-limit": "120", "#edit-tpl-limit-ip": ""})
	submit(t, tab, edit)
	if flash := text(t, tab, ".flash"); flash != "Security template uploader saved." {
		t.Fatalf("saving: flash %q\n%s", flash, mainText())
	}
	const edited = "Upload to /marketing/* for 20 min, 120 requests a minute, from 203.0.113.0/24, in DE, FR"
	if got, limits := text(t, tab, "main [data-summary]"), text(t, tab, "[data-limits]"); got != edited || limits != "120 a minute in all; no limit per address" {
		t.Errorf("after editing the limit: summary %q, limits %q", got, limits)
	}
	store, err := sql.Open(context.Background(), sql.Config{DSN: e.w.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	shop, err := store.GetRealmByName(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := store.GetSecurityTemplate(context.Background(), shop.ID, "uploader"); err != nil ||
		st.LimitPerMinute == nil || *st.LimitPerMinute != 120 || st.LimitPerSourceIPPerMinute != nil {
		t.Fatalf("stored template after the edit: %+v (%v)", st, err)
	}

	// Mint a test key: shown once in the modal dialog, with its expiry
	// and what it may do.
	before := time.Now().Add(-time.Second)
	submit(t, tab, `form[action$="/uploader/test-key"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	screenshot(t, tab, "security-template-test-key")
	if !evalJS[bool](t, tab, `document.querySelector("#secret-dialog").matches(":modal")`) {
		t.Error("the test key dialog is not modal")
	}
	if flash := text(t, tab, ".flash"); flash != "Test key minted from uploader." {
		t.Errorf("flash after minting: %q", flash)
	}
	key := strings.TrimSpace(text(t, tab, "#test-key-secret"))
	if note := text(t, tab, "#test-key-note"); !strings.Contains(note, "at most 10 minutes") || !strings.Contains(note, edited) {
		t.Errorf("the dialog's note: %q", note)
	}
	if w := text(t, tab, "#secret-warning"); !strings.Contains(w, "only time") {
		t.Errorf("the dialog's warning: %q", w)
	}
	expires, err := time.Parse(time.RFC3339, evalJS[string](t, tab, `document.querySelector("#test-key-expires").getAttribute("datetime")`))
	if err != nil {
		t.Fatal(err)
	}
	if d := expires.Sub(before); d <= 0 || d > 10*time.Minute+2*time.Second {
		t.Errorf("the test key expires %v after minting; want at most 10 minutes", d)
	}
	// A JWS of type ward-tk+jwt carrying the template's rules.
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		t.Fatalf("the test key is not a compact JWS: %q", key)
	}
	var header struct{ Typ, Alg string }
	var claims struct {
		Exp            int64    `json:"exp"`
		Permissions    []string `json:"permissions"`
		DirScope       []string `json:"dir_scope"`
		IPRanges       []string `json:"ip_ranges"`
		LimitPerMinute *int     `json:"limit_per_minute"`
	}
	for i, v := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d of the key: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("part %d of the key: %v: %s", i, err, raw)
		}
	}
	if header.Typ != "ward-tk+jwt" || header.Alg != "ES256" {
		t.Errorf("key header: %+v", header)
	}
	if fmt.Sprint(claims.Permissions, claims.DirScope, claims.IPRanges) != "[asset:create] [/marketing/*] [203.0.113.0/24]" ||
		claims.LimitPerMinute == nil || *claims.LimitPerMinute != 120 || claims.Exp != expires.Unix() {
		t.Errorf("key claims: %+v (expires %v)", claims, expires)
	}
	click("#secret-close")
	if _, err := waitJS(t, tab, `!document.querySelector("#secret-dialog").open`, 5*time.Second); err != nil {
		t.Error("the close button does not close the dialog")
	}
	// A reload never shows it again.
	e.visit(t, tab, tplPath+"/uploader")
	waitPage(t, tab, "#template-name")
	if strings.Contains(html(), key) || count(t, tab, "dialog") != 0 {
		t.Fatal("the test key is still in the page after a reload")
	}
	// The minting is in the realm's events, linked to the template.
	e.visit(t, tab, "/console/realms/shop/events")
	if !strings.Contains(mainText(), "security_template.test_key_minted") ||
		count(t, tab, `a[data-ref="security_template"][href="`+tplPath+`/uploader"]`) == 0 {
		t.Errorf("no minting event linked to the template:\n%s", mainText())
	}

	// A viewer sees the screens and no change control; posting the
	// forms by hand is refused.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	for _, p := range []string{tplPath, tplPath + "/uploader", tplPath + "/uploader/delete"} {
		e.visit(t, vtab, p)
		if count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, `main a[href$="/delete"]`) != 0 ||
			count(t, vtab, ".readonly-note") != 1 {
			t.Errorf("viewer is offered a change on %s:\n%s", p, text(t, vtab, "main"))
		}
	}
	e.visit(t, vtab, tplPath)
	if got := text(t, vtab, `tr[data-template="uploader"] [data-summary]`); got != edited {
		t.Errorf("viewer's list: %q", got)
	}
	vcsrf := evalJS[string](t, vtab, `document.querySelector('form[action="/console/logout"] input[name=csrf_token]').value`)
	for _, action := range []string{tplPath + "/uploader/test-key", tplPath + "/uploader/delete", tplPath + "/uploader"} {
		out := evalJS[[]any](t, vtab, fmt.Sprintf(`(async () => {
			const r = await fetch(%q, {method: "POST", body: new URLSearchParams({csrf_token: %q, ttl_seconds: "600"})});
			const doc = new DOMParser().parseFromString(await r.text(), "text/html");
			return [r.status, (doc.querySelector("main, body")||{}).textContent||""];
		})()`, action, vcsrf), awaitPromise)
		if status := int(out[0].(float64)); status != 403 || !strings.Contains(out[1].(string), "does not allow") {
			t.Errorf("viewer posting %s: %d\n%s", action, status, out[1])
		}
	}
	if _, err := store.GetSecurityTemplate(context.Background(), shop.ID, "uploader"); err != nil {
		t.Fatalf("the viewer's refused delete: %v", err)
	}

	// Delete, through the confirmation page.
	e.visit(t, tab, tplPath+"/uploader")
	if err := clickLink(tab, `a[href$="/uploader/delete"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "Delete the security template uploader?" || !strings.Contains(mainText(), edited) {
		t.Fatalf("confirmation page: %q\n%s", h1, mainText())
	}
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	if flash := text(t, tab, ".flash"); flash != "Security template uploader deleted." || count(t, tab, "tr[data-template]") != 0 ||
		count(t, tab, "[data-empty]") != 1 {
		t.Errorf("after deleting: flash %q\n%s", flash, mainText())
	}
	e.visit(t, tab, tplPath+"/uploader")
	if h1 := text(t, tab, "h1"); h1 != "Not found" {
		t.Errorf("a deleted template's page: %q", h1)
	}

	if strings.Contains(e.s.logs(), key) {
		t.Error("the test key is in Ward's logs")
	}
}

// TestConsoleSecurityTemplatesAccessibility: the security template pages
// pass axe-core's WCAG 2.x A and AA rules, on a desktop window and a
// phone-sized one where nothing overflows sideways: the list with its new
// template form, a template's page, the delete confirmation, the test
// key dialog and a refused form (errors at a textarea and the picker).
func TestConsoleSecurityTemplatesAccessibility(t *testing.T) {
	axeFile := npmFile(t, "axe-core", axeVersion, "axe.min.js", "the console's accessibility test runs axe-core")
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 4*time.Minute)
	audit := func(what string, narrow bool) {
		t.Helper()
		raw := evalJS[string](t, tab, string(axe)+`;
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

	r := "/console/realms/shop"
	e.visit(t, tab, r+"/permissions")
	for _, name := range []string{"asset:create", "asset:read"} {
		fill(t, tab, map[string]string{"#perm-name": name, "#perm-description": "Allows " + name})
		submit(t, tab, `form[aria-labelledby="new-permission"] button[type=submit]`)
	}
	// Refused forms: a bad path (the lists are checked first), then no
	// permission ticked.
	e.visit(t, tab, r+"/security-templates")
	fill(t, tab, map[string]string{"#new-tpl-name": "uploader", "#new-tpl-dir-scope": "marketing/*",
		"#new-tpl-ip-ranges": "203.0.113.0/24\n2001:db8::/32", "#new-tpl-countries": "DE"})
	submit(t, tab, `form[aria-labelledby="new-template"] button[type=submit]`)
	if count(t, tab, "#new-tpl-dir-scope-error") != 1 {
		t.Fatalf("the refused template form shows no path error:\n%s", text(t, tab, "main"))
	}
	audit("a template form refused at a textarea", false)
	fill(t, tab, map[string]string{"#new-tpl-dir-scope": "/marketing/*", "#new-tpl-limit": "60"})
	submit(t, tab, `form[aria-labelledby="new-template"] button[type=submit]`)
	if count(t, tab, "#new-permissions-error") != 1 {
		t.Fatalf("the refused template form shows no picker error:\n%s", text(t, tab, "main"))
	}
	audit("a template form refused at the picker", false)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`input[name=permissions][value="asset:create"]`))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-template"] button[type=submit]`)
	submit(t, tab, `form[action$="/uploader/test-key"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	audit("the test key dialog", false)

	pages := []string{r + "/security-templates", r + "/security-templates/uploader", r + "/security-templates/uploader/delete"}
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
			audit(p, narrow)
		}
	}
	// The dialog on a phone: the long key wraps.
	e.visit(t, tab, r+"/security-templates/uploader")
	submit(t, tab, `form[action$="/uploader/test-key"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	audit("the test key dialog", true)
}
