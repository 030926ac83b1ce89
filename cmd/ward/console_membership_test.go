package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserMembership (issue 19): membership at scale, through
// the real ward binary in Chromium. A group of 500 members is searched,
// paged and changed from its own page; the users list finds a full name,
// filters by group and status, shows totals and pages back and forth; a
// user's page chooses among many groups through the filterable picker.
func TestConsoleBrowserMembership(t *testing.T) {
	e := newConsoleEnv(t)
	base := "/admin/v1/realms/shop"
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	traders := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Traders"})["id"].(string)
	for i := range 60 {
		e.owner.must(201, "POST", base+"/groups", map[string]any{"name": fmt.Sprintf("Desk %02d", i)})
	}
	no := false
	for i := range 500 {
		e.owner.must(201, "POST", base+"/users", map[string]any{"email": fmt.Sprintf("user-%04d@shop.test", i), "first_name": "User",
			"last_name": fmt.Sprintf("N%04d", i), "groups": []string{traders}, "send_set_password_email": &no})
	}
	alice := e.owner.must(201, "POST", base+"/users", map[string]any{"email": "alice@shop.test", "first_name": "Alice",
		"last_name": "Trader", "send_set_password_email": &no})["id"].(string)
	bot := e.owner.must(201, "POST", base+"/clients", map[string]any{"name": "Pricing bot", "kind": "service_account"})["client_id"].(string)

	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 150*time.Second)
	members := func() int {
		t.Helper()
		total := e.owner.must(200, "GET", base+"/users?group_id="+traders+"&limit=1", nil)["total"].(float64)
		return int(total)
	}

	// The group's page: 500 members, paged; the search finds one.
	groupPage := "/console/realms/shop/groups/" + traders
	e.visit(t, tab, groupPage)
	if n := count(t, tab, "tr[data-member]"); n != 50 || count(t, tab, `nav.pager a[rel="next"]`) != 1 || text(t, tab, "[data-member-total]") != "500 users in the group." {
		t.Fatalf("the group's first page: %d members, next link %d, %q; want 50, 1, 500 users", n, count(t, tab, `nav.pager a[rel="next"]`), text(t, tab, "[data-member-total]"))
	}
	firstMember := text(t, tab, "tr[data-member]")
	for _, rel := range []string{"next", "next", "prev", "prev"} {
		if err := clickLink(tab, `nav.pager a[rel="`+rel+`"]`); err != nil {
			t.Fatalf("the group's %s page: %v", rel, err)
		}
		waitPage(t, tab, "tr[data-member]")
	}
	if got := text(t, tab, "tr[data-member]"); got != firstMember || count(t, tab, `nav.pager a[rel="prev"]`) != 0 {
		t.Errorf("next, next, previous, previous: first member %q, want %q", got, firstMember)
	}
	screenshot(t, tab, "group-members")
	fill(t, tab, map[string]string{"#member-search": "user-0421"})
	submit(t, tab, `form[aria-label="Search the members"] button[type=submit]`)
	if n := count(t, tab, "tr[data-member]"); n != 1 || !strings.Contains(text(t, tab, "tr[data-member]"), "user-0421@shop.test") {
		t.Fatalf("members matching user-0421: %d\n%s", n, text(t, tab, "main"))
	}
	submit(t, tab, `tr[data-member] button[type=submit]`)
	if flash := text(t, tab, ".flash"); flash != "user-0421@shop.test removed from the group." || members() != 499 {
		t.Fatalf("after removing: flash %q, members %d", flash, members())
	}

	// Adding finds users by email or name and service accounts by name,
	// leaving out members.
	e.visit(t, tab, groupPage+"?add="+url.QueryEscape("user-042"))
	if got := evalJS[[]string](t, tab, `[...document.querySelectorAll("[data-candidate]")].map(li => li.dataset.candidate)`); len(got) != 1 {
		t.Fatalf("candidates for user-042 (only user-0421 is outside the group): %v", got)
	}
	submit(t, tab, `[data-candidate] button[type=submit]`)
	if members() != 500 || !strings.Contains(text(t, tab, ".flash"), "added to the group") {
		t.Fatalf("after adding back: members %d, flash %q", members(), text(t, tab, ".flash"))
	}
	e.visit(t, tab, groupPage+"?add="+url.QueryEscape("pricing"))
	submit(t, tab, `[data-candidate="`+bot+`"] button[type=submit]`)
	c := e.owner.must(200, "GET", base+"/clients/"+bot, nil)
	if fmt.Sprint(c["groups"]) != "["+traders+"]" {
		t.Errorf("the service account's groups after adding it: %v", c["groups"])
	}

	// The users list: a full name, filters, totals, Previous and Next.
	e.visit(t, tab, "/console/realms/shop/users?q="+url.QueryEscape("Alice Trader"))
	if got := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-user]")].map(r => r.dataset.user)`); len(got) != 1 || got[0] != "alice@shop.test" {
		t.Errorf("search for Alice Trader: %v", got)
	}
	e.visit(t, tab, "/console/realms/shop/users")
	fill(t, tab, map[string]string{"#user-group": traders, "#user-status": "invited"})
	submit(t, tab, `form[aria-label="Find users"] button[type=submit]`)
	if got := text(t, tab, "[data-total]"); got != "500 users match." {
		t.Errorf("invited traders: %q, want 500 users match.", got)
	}
	first := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-user]")].map(r => r.dataset.user)`)
	if count(t, tab, `nav.pager a[rel="prev"]`) != 0 {
		t.Error("the first page has a Previous link")
	}
	click := func(sel string) {
		t.Helper()
		if err := clickLink(tab, sel); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		waitPage(t, tab, "[data-total]")
	}
	click(`nav.pager a[rel="next"]`)
	click(`nav.pager a[rel="next"]`)
	third := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-user]")].map(r => r.dataset.user)`)
	click(`nav.pager a[rel="prev"]`)
	click(`nav.pager a[rel="prev"]`)
	again := evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-user]")].map(r => r.dataset.user)`)
	if len(first) != 50 || fmt.Sprint(again) != fmt.Sprint(first) || len(third) != 50 || third[0] == first[0] ||
		evalJS[string](t, tab, `document.querySelector("#user-group").value`) != traders {
		t.Errorf("next, next, previous, previous: back on %d users starting %v (first page started %v), filter kept %v",
			len(again), again[:1], first[:1], evalJS[string](t, tab, `document.querySelector("#user-group").value`))
	}

	// A user's page: 61 groups in one filterable box, ticked ones first.
	e.visit(t, tab, "/console/realms/shop/users/"+alice)
	if h := evalJS[float64](t, tab, `document.querySelector("#edit-group-options").getBoundingClientRect().height`); h > 400 {
		t.Errorf("the group picker is %.0f px high", h)
	}
	if _, err := chromedp.Run(tab, chromedp.SendKeys("#edit-group-filter", "desk 4")); err != nil {
		t.Fatal(err)
	}
	shown := evalJS[[]string](t, tab, `[...document.querySelectorAll("#edit-group-options [data-picker-option]:not([hidden]) label")].map(l => l.textContent)`)
	if len(shown) != 10 || shown[0] != "Desk 40" {
		t.Fatalf("groups shown for \"desk 4\": %v", shown)
	}
	if err := chromedp.Do(tab, chromedp.Click(`#edit-group-options [data-picker-option]:not([hidden]) input`)); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="edit-groups"] button[type=submit]`)
	u := e.owner.must(200, "GET", base+"/users/"+alice, nil)
	if groups, _ := u["groups"].([]any); len(groups) != 1 {
		t.Fatalf("alice's groups after choosing Desk 40: %v", u["groups"])
	}
	if first := text(t, tab, "#edit-group-options [data-picker-option] label"); first != "Desk 40" {
		t.Errorf("the ticked group is not first in the picker: %q", first)
	}
}
