package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// setUntil puts a datetime-local value into the support page's until
// input (typing into its date and time segments depends on the locale).
func setUntil(t *testing.T, tab context.Context, v string) {
	t.Helper()
	evalJS[any](t, tab, fmt.Sprintf(`document.querySelector("#support-until").value = %q`, v))
}

// TestConsoleBrowserSupport: support access (CONTRACT §7, issue 16) in
// headless Chromium. An owner finds it off, switches it on with an end
// (the form's default 24 h ahead), and the banner "Support access is on
// until …" appears on another page of the org, linking to the page; an
// end beyond 7 days is refused at the field with the state unchanged. A
// support token (ward support-token) makes one admin API call, which the
// page lists with its method, path and reason, for the owner and for a
// viewer, who sees the state read-only and no form (a forged post is
// refused). Switched off, the banner is gone everywhere.
func TestConsoleBrowserSupport(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "olga@acme.test", "owner")
	tab := e.signedIn(t, "olga@acme.test", pw, 3*time.Minute)
	mainText := func() string { return text(t, tab, "main") }
	const page = "/console/support-access"
	switchOn := `form[aria-labelledby="support-on"] button[type=submit]`
	switchOff := `form[aria-labelledby="support-off"] button[type=submit]`

	// Off at first: no banner; the nav leads to the page.
	e.visit(t, tab, "/console/members")
	if count(t, tab, "[data-support-banner]") != 0 {
		t.Fatal("a banner while support access was never on")
	}
	if err := clickLink(tab, `nav.org-nav a[href="/console/support-access"]`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "[data-support-state]")
	if h1 := text(t, tab, "h1"); h1 != "Support access" || count(t, tab, `[data-support-state="off"]`) != 1 {
		t.Fatalf("support page: %q\n%s", h1, mainText())
	}
	if count(t, tab, "[data-no-support-calls]") != 1 {
		t.Errorf("calls listed before any:\n%s", mainText())
	}
	def := evalJS[string](t, tab, `document.querySelector("#support-until").value`)
	want := time.Now().UTC().Add(24 * time.Hour)
	if d, err := time.Parse("2006-01-02T15:04", def); err != nil || d.Sub(want) > time.Minute || want.Sub(d) > 2*time.Minute {
		t.Errorf("the default end reads %q, want about %s", def, want.Format("2006-01-02T15:04"))
	}

	// Beyond 7 days: refused at the field, nothing switched.
	far := time.Now().UTC().Add(8 * 24 * time.Hour).Format("2006-01-02T15:04")
	setUntil(t, tab, far)
	submit(t, tab, switchOn)
	msg := text(t, tab, "#support-until-error")
	if !strings.Contains(msg, "at most 7 days ahead") || !strings.Contains(text(t, tab, "#error-summary"), msg) {
		t.Fatalf("an end 8 days ahead: error %q\n%s", msg, mainText())
	}
	if v := evalJS[string](t, tab, `document.querySelector("#support-until").value`); v != far {
		t.Errorf("after the refusal the field holds %q, want %q", v, far)
	}
	if got := e.owner.must(200, "GET", "/admin/v1/support-access", nil); got["enabled"] != false {
		t.Fatalf("a refused end switched support access: %v", got)
	}
	if count(t, tab, "[data-support-banner]") != 0 {
		t.Error("a banner after a refused switch")
	}

	// On, 2 days ahead: confirmed, and the banner is on every page.
	until := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	setUntil(t, tab, until.Format("2006-01-02T15:04"))
	submit(t, tab, switchOn)
	wantEnd := until.Format("2006-01-02 15:04:05 UTC")
	if flash := text(t, tab, ".flash"); flash != "Support access is on until "+wantEnd+"." {
		t.Fatalf("switching on: flash %q\n%s", flash, mainText())
	}
	if got := e.owner.must(200, "GET", "/admin/v1/support-access", nil); got["enabled"] != true || got["until"] != until.Format(time.RFC3339) {
		t.Errorf("the admin API reads %v", got)
	}
	e.visit(t, tab, "/console/realms/shop/users")
	if b := text(t, tab, "[data-support-banner]"); !strings.HasPrefix(b, "Support access is on until "+wantEnd) {
		t.Fatalf("banner on the users page: %q", b)
	}
	screenshot(t, tab, "support-banner")
	if err := clickLink(tab, `[data-support-banner] a`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, `[data-support-state="on"]`)

	// One support call with a token; the page lists it with its reason.
	out, errOut, code := e.w.command(t, "support-token", "--public-url", e.s.URL, "--org", "acme", "--reason", "ticket 4711: users missing")
	if code != 0 {
		t.Fatalf("support-token: exit %d: %s", code, errOut)
	}
	if st, m := supportDo(t, e.s.URL, strings.TrimSpace(out), "GET", "/admin/v1/realms/shop/users", nil); st != 200 {
		t.Fatalf("support reading users: %d %v", st, m)
	}
	e.visit(t, tab, page)
	row := text(t, tab, "tr[data-support-call]")
	for _, w := range []string{"GET", "/admin/v1/realms/shop/users", "ticket 4711: users missing"} {
		if !strings.Contains(row, w) {
			t.Errorf("the support call's row %q lacks %q\n%s", row, w, mainText())
		}
	}
	if n := count(t, tab, "tr[data-support-call]"); n != 1 {
		t.Errorf("%d support calls listed, want 1", n)
	}
	screenshot(t, tab, "support-access")

	// A viewer: the state and the calls, read-only.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	if b := text(t, vtab, "[data-support-banner]"); !strings.HasPrefix(b, "Support access is on until "+wantEnd) {
		t.Errorf("viewer's banner: %q", b)
	}
	e.visit(t, vtab, page)
	if count(t, vtab, `[data-support-state="on"]`) != 1 || count(t, vtab, "main form[method=post]") != 0 ||
		!strings.Contains(text(t, vtab, ".readonly-note"), "Only owners") {
		t.Errorf("viewer's support page:\n%s", text(t, vtab, "main"))
	}
	if r := text(t, vtab, "tr[data-support-call] [data-reason]"); r != "ticket 4711: users missing" {
		t.Errorf("viewer sees the reason %q", r)
	}
	if h1 := forgePost(t, vtab, page, map[string]string{"enabled": "false"}); h1 != "Not allowed" {
		t.Errorf("a viewer switching off by hand: %q", h1)
	}
	if got := e.owner.must(200, "GET", "/admin/v1/support-access", nil); got["enabled"] != true {
		t.Errorf("after the viewer's refused post: %v", got)
	}

	// Off: confirmed, the banner gone, the calls still listed.
	e.visit(t, tab, page)
	submit(t, tab, switchOff)
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "Support access is off") {
		t.Fatalf("switching off: flash %q\n%s", flash, mainText())
	}
	if count(t, tab, `[data-support-state="off"]`) != 1 || count(t, tab, "[data-support-banner]") != 0 || count(t, tab, "tr[data-support-call]") != 1 {
		t.Errorf("after switching off:\n%s", mainText())
	}
	if got := e.owner.must(200, "GET", "/admin/v1/support-access", nil); got["enabled"] != false {
		t.Errorf("the admin API reads %v", got)
	}
	e.visit(t, tab, "/console/realms/shop")
	if count(t, tab, "[data-support-banner]") != 0 {
		t.Error("the banner stays after switching off")
	}
	e.visit(t, vtab, "/console")
	if count(t, vtab, "[data-support-banner]") != 0 {
		t.Error("the viewer's banner stays after switching off")
	}
}

// TestConsoleSupportAccessibility: the support page (off, refused at its
// field, on with a call listed; a viewer's read-only page) and the banner
// pass axe-core's WCAG 2.x A and AA rules, on a desktop window and a
// phone-sized one where nothing overflows sideways.
func TestConsoleSupportAccessibility(t *testing.T) {
	axeFile := npmFile(t, "axe-core", axeVersion, "axe.min.js", "the console's accessibility test runs axe-core")
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "olga@acme.test", "owner")
	tab := e.signedIn(t, "olga@acme.test", pw, 4*time.Minute)
	run := func(tab context.Context, what string, narrow bool) {
		t.Helper()
		networkAxe(t, tab, string(axe), what, narrow)
	}
	const page = "/console/support-access"

	e.visit(t, tab, page)
	run(tab, "support access off", false)
	setUntil(t, tab, time.Now().UTC().Add(9*24*time.Hour).Format("2006-01-02T15:04"))
	submit(t, tab, `form[aria-labelledby="support-on"] button[type=submit]`)
	if count(t, tab, "#support-until-error") != 1 {
		t.Fatalf("no error at the field:\n%s", text(t, tab, "main"))
	}
	run(tab, "support access refused at its field", false)
	setUntil(t, tab, "")
	submit(t, tab, `form[aria-labelledby="support-on"] button[type=submit]`)
	if count(t, tab, "[data-support-banner]") != 1 {
		t.Fatalf("not switched on:\n%s", text(t, tab, "main"))
	}
	out, errOut, code := e.w.command(t, "support-token", "--public-url", e.s.URL, "--org", "acme", "--reason", "ticket 7")
	if code != 0 {
		t.Fatalf("support-token: exit %d: %s", code, errOut)
	}
	if st, _ := supportDo(t, e.s.URL, strings.TrimSpace(out), "GET", "/admin/v1/realms/shop/users", nil); st != 200 {
		t.Fatalf("support call: %d", st)
	}
	for _, narrow := range []bool{false, true} {
		if narrow {
			if err := chromedp.Do(tab, chromedp.Emulate(device.IPhone8)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{page, "/console/realms/shop"} {
			e.visit(t, tab, p)
			if count(t, tab, "[data-support-banner]") != 1 {
				t.Fatalf("%s: no banner", p)
			}
			run(tab, p+" with support access on", narrow)
		}
	}
	e.visit(t, tab, page)
	if count(t, tab, "tr[data-support-call]") != 1 {
		t.Errorf("the support call is not listed:\n%s", text(t, tab, "main"))
	}
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	e.visit(t, vtab, page)
	run(vtab, "a viewer's support page", false)
}
