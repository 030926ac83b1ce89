package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestConsoleBrowserScenario is the console's whole first day, in one
// browser: the bootstrap owner sets a password from the mailed link and
// signs in; creates a realm, two attributes, a group with values, a user
// and a service account; the secret dialog shows the secret once and a
// reload never shows it again; the user is deactivated; the realm's event
// log lists every step (the realm's creation in the organization's log).
func TestConsoleBrowserScenario(t *testing.T) {
	ctx := context.Background()
	e := newConsoleEnv(t)
	tab := newTab(t, e.browser, 3*time.Minute)

	// The owner has no password yet: "Forgot your password?" on the
	// console's sign-in page mails a link, which sets one.
	e.visit(t, tab, "/console")
	waitPage(t, tab, "#password")
	if err := clickLink(tab, `a[href*="reset-password"]`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "#email")
	fill(t, tab, map[string]string{"#email": "owner@acme.test"})
	submit(t, tab, `button[type=submit]`)
	link := e.mailLink(t, "owner@acme.test")
	const password = "owner first day horse battery"
	if err := chromedp.Do(tab, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "#password")
	fill(t, tab, map[string]string{"#password": password, "#password_confirm": password})
	submit(t, tab, `button[type=submit]`)
	// The page goes on to the console, whose sign-in asks for the password.
	if err := clickLink(tab, `.done a[href="/console"]`); err != nil {
		t.Fatalf("no link to the console after setting the password: %v\n%s", err, text(t, tab, "body"))
	}
	signIn(t, tab, "owner@acme.test", password)
	waitPage(t, tab, "[data-role]")
	if role := text(t, tab, "[data-role]"); role != "owner" {
		t.Fatalf("signed in with role %q", role)
	}

	// A realm.
	fill(t, tab, map[string]string{"#realm-name": "shop", "#realm-display-name": "Shop"})
	submit(t, tab, `form[aria-labelledby="create-realm"] button[type=submit]`)
	if h1 := text(t, tab, "h1"); !strings.HasPrefix(h1, "shop") {
		t.Fatalf("after creating the realm: %q", h1)
	}
	screenshot(t, tab, "realm")

	// Two attributes.
	e.visit(t, tab, "/console/realms/shop/attributes")
	fill(t, tab, map[string]string{"#attr-name": "departments", "#attr-type": "string"})
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#attr-multi"))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-attribute"] button[type=submit]`)
	fill(t, tab, map[string]string{"#attr-name": "admin", "#attr-type": "boolean"})
	submit(t, tab, `form[aria-labelledby="new-attribute"] button[type=submit]`)
	if n := count(t, tab, "tr[data-attribute]"); n != 2 {
		t.Fatalf("%d attributes listed, want 2:\n%s", n, text(t, tab, "main"))
	}

	// A group with values: departments as chips, admin ticked.
	e.visit(t, tab, "/console/realms/shop/groups")
	fill(t, tab, map[string]string{"#group-name": "Editors"})
	for _, v := range []string{"news", "sport"} {
		if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#attr-departments"), v)); err != nil {
			t.Fatal(err)
		}
		pressEnter(t, tab)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#attr-admin"))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-group"] button[type=submit]`)
	groups := e.owner.must(200, "GET", "/admin/v1/realms/shop/groups", nil)["items"].([]any)
	if len(groups) != 1 {
		t.Fatalf("groups after the form: %v\npage:\n%s", groups, text(t, tab, "main"))
	}
	group := groups[0].(map[string]any)
	if attrs := group["attributes"].(map[string]any); attrs["admin"] != true ||
		strings.Join(toStrings(attrs["departments"]), ",") != "news,sport" {
		t.Fatalf("group values: %v", attrs)
	}
	groupID := group["id"].(string)

	// A user in the group, mailed a set-password link (the default).
	e.visit(t, tab, "/console/realms/shop/users")
	fill(t, tab, map[string]string{"#user-email": "ann@shop.test", "#user-first": "Ann", "#user-last": "Lee"})
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-user"] input[name=groups][value="`+groupID+`"]`))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-user"] button[type=submit]`)
	e.mailLink(t, "ann@shop.test")
	users := e.owner.must(200, "GET", "/admin/v1/realms/shop/users", nil)["items"].([]any)
	if len(users) != 1 {
		t.Fatalf("users after the form: %v", users)
	}
	userID := users[0].(map[string]any)["id"].(string)
	if got := e.owner.must(200, "GET", "/admin/v1/realms/shop/users/"+userID, nil)["effective_attributes"].(map[string]any); got["admin"] != true {
		t.Errorf("the user's effective attributes: %v", got)
	}

	// A service account: its secret is shown once, works, and a reload
	// never shows it again.
	e.visit(t, tab, "/console/realms/shop/clients")
	fill(t, tab, map[string]string{"#client-name": "Indexer"})
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#client-group-"+groupID))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-client"] button[type=submit]`)
	waitPage(t, tab, "#client-secret")
	if !evalJS[bool](t, tab, `document.querySelector("#secret-dialog").open && document.querySelector("#secret-dialog").matches(":modal")`) {
		t.Error("the secret is not in an open modal dialog")
	}
	secret := strings.TrimSpace(text(t, tab, "#client-secret"))
	clientID := strings.TrimSpace(text(t, tab, "#client-id-value"))
	if !strings.Contains(text(t, tab, "#secret-dialog"), "only time") || secret == "" {
		t.Fatalf("secret dialog:\n%s", text(t, tab, "#secret-dialog"))
	}
	screenshot(t, tab, "client-secret")
	if _, err := clientToken(ctx, e.s.URL, "shop", clientID, secret, oauth2.AuthStyleInHeader); err != nil {
		t.Fatalf("the shown secret does not work: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "#client-id-value")
	if strings.Contains(evalJS[string](t, tab, `document.documentElement.outerHTML`), secret) {
		t.Fatal("the secret is shown again after a reload")
	}
	e.visit(t, tab, "/console/realms/shop/clients/"+clientID)
	if strings.Contains(evalJS[string](t, tab, `document.documentElement.outerHTML`), secret) {
		t.Fatal("the secret is shown again on a later visit")
	}

	// The user is deactivated, after a confirmation.
	e.visit(t, tab, "/console/realms/shop/users/"+userID)
	if err := clickLink(tab, `a[href$="/deactivate"]`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, `form[action$="/deactivate"]`)
	submit(t, tab, `form[action$="/deactivate"] button[type=submit]`)
	if got := e.owner.must(200, "GET", "/admin/v1/realms/shop/users/"+userID, nil)["active"]; got != false {
		t.Fatalf("after deactivating, active = %v", got)
	}

	// The realm's event log lists each step, newest first.
	e.visit(t, tab, "/console/realms/shop/events")
	log := text(t, tab, "main table")
	last := -1
	for _, step := range []string{"user.deactivated", "client.created", "user.created", "group.created",
		"attribute.created"} {
		i := strings.Index(log, step)
		if i < 0 {
			t.Errorf("the event log does not list %s:\n%s", step, log)
			continue
		}
		if i < last {
			t.Errorf("%s is listed out of order:\n%s", step, log)
		}
		last = i
	}
	if strings.Count(log, "attribute.created") != 2 {
		t.Errorf("attribute.created listed %d times, want 2", strings.Count(log, "attribute.created"))
	}
	if strings.Contains(log, secret) || strings.Contains(e.s.logs(), secret) {
		t.Error("the secret appears in the event log or Ward's log")
	}
	screenshot(t, tab, "events")
	// The realm's creation is an organization event.
	e.visit(t, tab, "/console/events")
	if org := text(t, tab, "main table"); !strings.Contains(org, "realm.created") || !strings.Contains(org, "name=shop") {
		t.Errorf("the organization log does not list the realm's creation:\n%s", org)
	}
}

// toStrings converts a JSON array of strings.
func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}
