package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConsoleBrowserEvents: changes made through the admin API appear in
// the realm's event log, newest first; the type and since filters narrow
// it, a bad filter is a field error, the pager keeps the filters (next and
// first page), a broken page link says so, actors and targets are shown by
// name and linked to their pages, and the organization's log lists org
// events without the realm navigation.
func TestConsoleBrowserEvents(t *testing.T) {
	e := newConsoleEnv(t)
	base := "/admin/v1/realms/shop"
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	e.owner.must(201, "POST", base+"/attributes", map[string]any{"name": "level", "type": "integer"})
	// Everything after cut happens at or after it (the server's clock is
	// this machine's).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	cut := time.Now().UTC().Truncate(time.Second)
	fin := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Finance", "attributes": map[string]any{"level": 3}})
	alice := e.owner.must(201, "POST", base+"/users", map[string]any{"email": "alice@shop.test", "first_name": "Alice",
		"last_name": "Archer", "groups": []string{fin["id"].(string)}, "send_set_password_email": false})
	ingest := e.owner.must(201, "POST", base+"/clients", map[string]any{"name": "ingest", "kind": "service_account"})
	e.owner.must(201, "POST", base+"/policies", map[string]any{"name": "finance-reports", "resource_type": "report",
		"actions": []string{"read"}, "condition": `subject.attributes.level >= 3`})
	e.owner.must(200, "PATCH", base+"/users/"+alice["id"].(string), map[string]any{"active": false})

	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 60*time.Second)
	e.visit(t, tab, "/console/realms/shop/events")
	types := func() []string {
		return evalJS[[]string](t, tab, `Array.from(document.querySelectorAll("tr[data-event]"), r => r.dataset.event)`)
	}
	want := "user.deactivated policy.created client.created user.created group.created attribute.created"
	if got := strings.Join(types(), " "); !strings.HasPrefix(got, want) {
		t.Fatalf("realm events, newest first = %q, want %q first", got, want)
	}
	if row := text(t, tab, `tr[data-event="user.created"]`); !strings.Contains(row, "client") || !strings.Contains(row, "alice@shop.test") {
		t.Errorf("the user.created row shows no actor type or details: %q", row)
	}
	// Targets by name, linked to their pages, the recorded ID under the
	// name; group IDs in details as names, the recorded details kept in
	// the title.
	finID, aliceID := fin["id"].(string), alice["id"].(string)
	ref := func(typ, col string) []string {
		t.Helper()
		return evalJS[[]string](t, tab, fmt.Sprintf(`(() => { const c = document.querySelector('tr[data-event=%q] td[data-label=%q]');
			if (!c) return ["", "", "", ""];
			const a = c.querySelector("a"), id = c.querySelector("code.id");
			return [a ? a.getAttribute("href") : "", (a || c.querySelector("[data-ref]")).textContent, id ? id.textContent : "", c.textContent]; })()`, typ, col))
	}
	pol := e.owner.must(200, "GET", base+"/policies", nil)["items"].([]any)[0].(map[string]any)
	for _, c := range []struct{ typ, href, name, id string }{
		{"user.created", "/console/realms/shop/users/" + aliceID, "alice@shop.test", aliceID},
		{"group.created", "/console/realms/shop/groups/" + finID, "Finance", finID},
		{"client.created", "/console/realms/shop/clients/" + ingest["client_id"].(string), "ingest", ingest["client_id"].(string)},
		{"policy.created", "/console/realms/shop/policies/" + pol["id"].(string), "finance-reports", pol["id"].(string)},
		{"attribute.created", "/console/realms/shop/attributes/level", "level", ""},
	} {
		if got := ref(c.typ, "Target"); got[0] != c.href || got[1] != c.name || got[2] != c.id {
			t.Errorf("%s target: href, name, id = %q, want %q %q %q", c.typ, got[:3], c.href, c.name, c.id)
		}
	}
	// An admin (not owner) cannot list the org's clients: the owner
	// client is shown by its client_id, unlinked.
	if got := ref("user.created", "Actor"); !strings.HasPrefix(got[3], "client ") || got[0] != "" || len(got[1]) < 8 {
		t.Errorf("user.created actor: href, name, id, cell = %q, want the owner client by client_id", got)
	}
	details := evalJS[[]string](t, tab, `(() => { const d = document.querySelector('tr[data-event="user.created"] code.details'); return [d.textContent, d.title]; })()`)
	if !strings.Contains(details[0], `groups=["Finance"]`) ||
		strings.Contains(details[0], finID) || !strings.Contains(details[1], finID) {
		t.Errorf("user.created details, title = %q: want group names shown and the IDs in the title", details)
	}

	// A member's change names the member by email, linked to the
	// member's page.
	e.visit(t, tab, "/console/realms/shop/attributes")
	fill(t, tab, map[string]string{"#attr-name": "tier"})
	submit(t, tab, `form[aria-labelledby="new-attribute"] button[type=submit]`)
	e.visit(t, tab, "/console/realms/shop/events")
	if got := ref("attribute.created", "Actor"); got[1] != "ada@acme.test" || !strings.HasPrefix(got[0], "/console/members/") || got[2] == "" {
		t.Errorf("attribute.created by ada: actor href, name, id = %q", got[:3])
	}
	if got := types(); len(got) == 0 || got[0] != "attribute.created" {
		t.Fatalf("after ada's attribute: %q", got)
	}

	// 51 groups in all: two pages of group.created.
	for i := range 50 {
		e.owner.must(201, "POST", base+"/groups", map[string]any{"name": fmt.Sprintf("team-%02d", i)})
	}
	e.visit(t, tab, "/console/realms/shop/events")
	if all := types(); len(all) != 50 || all[0] != "group.created" {
		t.Fatalf("realm events, first page = %q", all)
	}

	// The type filter narrows; the pager keeps it.
	fill(t, tab, map[string]string{"#event-type": "group.created"})
	submit(t, tab, `form.filters button[type=submit]`)
	page1 := types()
	if len(page1) != 50 || !allAre(page1, "group.created") {
		t.Fatalf("type=group.created, first page = %q", page1)
	}
	next := evalJS[string](t, tab, `(document.querySelector("a[rel=next]")||{}).href||""`)
	if u, err := url.Parse(next); err != nil || u.Query().Get("type") != "group.created" || u.Query().Get("cursor") == "" {
		t.Fatalf("next page link = %q", next)
	}
	submit(t, tab, "a[rel=next]")
	if page2 := types(); len(page2) != 1 || page2[0] != "group.created" || evalJS[string](t, tab, `document.querySelector("#event-type").value`) != "group.created" {
		t.Fatalf("type=group.created, second page = %q", page2)
	}
	screenshot(t, tab, "events-filtered")
	if first := evalJS[string](t, tab, `(Array.from(document.querySelectorAll("nav.pager a")).find(a => a.textContent === "First page")||{}).href||""`); first == "" {
		t.Errorf("no First page link on the second page")
	} else if u, err := url.Parse(first); err != nil || u.Query().Get("type") != "group.created" || u.Query().Get("cursor") != "" {
		t.Errorf("First page link = %q, want the filter kept and no cursor", first)
	}
	// A broken page link says so and lists nothing, rather than showing
	// the first page as if it were the one asked for; its link keeps the
	// filter.
	e.visit(t, tab, "/console/realms/shop/events?type=group.created&cursor=not-a-cursor")
	if msg := text(t, tab, "#cursor-error"); !strings.Contains(msg, "broken") || count(t, tab, "tr[data-event]") != 0 ||
		!strings.HasSuffix(evalJS[string](t, tab, `document.querySelector("#cursor-error a").getAttribute("href")`), "/events?type=group.created") {
		t.Fatalf("bad cursor: %s", text(t, tab, "main"))
	}

	// since (UTC) drops what happened before the cut: the attribute and
	// the realm, but not the groups.
	fill(t, tab, map[string]string{"#event-type": ""})
	if _, err := waitJS(t, tab, fmt.Sprintf(`(() => { const s = document.querySelector("#event-since"); s.value = %q; return s.value !== ""; })()`,
		cut.Format("2006-01-02T15:04:05")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form.filters button[type=submit]`)
	since := types()
	if len(since) != 50 || strings.Contains(strings.Join(since, " "), "attribute.created") {
		t.Fatalf("since %s = %q", cut, since)
	}
	e.visit(t, tab, "/console/realms/shop/events?type=attribute.created&since="+url.QueryEscape(cut.Add(-time.Minute).Format("2006-01-02T15:04")))
	if got := types(); len(got) != 2 || !allAre(got, "attribute.created") { // level, and ada's tier
		t.Fatalf("attribute.created since a minute before the cut = %q", got)
	}

	// A bad filter is a field error and lists nothing.
	e.visit(t, tab, "/console/realms/shop/events?since=yesterday")
	if msg := text(t, tab, "#event-since-error"); msg == "" || count(t, tab, "tr[data-event]") != 0 ||
		evalJS[string](t, tab, `document.querySelector("#event-since").getAttribute("aria-invalid")`) != "true" {
		t.Fatalf("since=yesterday: %s", text(t, tab, "main"))
	}

	// The organization's log: org events, no realm navigation.
	e.visit(t, tab, "/console/events")
	org := strings.Join(types(), " ")
	if !strings.Contains(org, "realm.created") || !strings.Contains(org, "member.created") || strings.Contains(org, "group.created") ||
		count(t, tab, "nav.realm-nav") != 0 || text(t, tab, `nav.org-nav a[aria-current="page"]`) != "Organization events" {
		t.Fatalf("org events %q; page:\n%s", org, text(t, tab, "main"))
	}
	// Ward's own events (the org made by bootstrap) say Ward; a member
	// target is named by email and linked.
	if got := evalJS[string](t, tab, `document.querySelector('tr[data-event="org.created"] td[data-label="Actor"]').textContent`); !strings.Contains(got, "Ward") {
		t.Errorf("org.created actor = %q, want Ward", got)
	}
	if n := evalJS[int](t, tab, `Array.from(document.querySelectorAll('tr[data-event="member.created"] td[data-label="Target"] a[href^="/console/members/"]')).filter(a => a.textContent === "ada@acme.test").length`); n != 1 {
		t.Errorf("member.created rows linking ada@acme.test = %d; page:\n%s", n, text(t, tab, "main"))
	}
	// The type menu is the service's list, oauth's types included.
	if n := count(t, tab, `#event-type option[value="realm.key_rotated"], #event-type option[value="user.locked_out"], #event-type option[value="user.group_added"]`); n != 3 {
		t.Errorf("type menu lacks realm.key_rotated/user.locked_out/user.group_added (%d of 3)", n)
	}
	fill(t, tab, map[string]string{"#event-type": "realm.created"})
	submit(t, tab, `form.filters button[type=submit]`)
	if got := types(); len(got) != 1 || got[0] != "realm.created" || !strings.HasPrefix(evalJS[string](t, tab, `location.pathname`), "/console/events") {
		t.Fatalf("org events of type realm.created = %q", got)
	}
}

func allAre(list []string, want string) bool {
	for _, s := range list {
		if s != want {
			return false
		}
	}
	return true
}
