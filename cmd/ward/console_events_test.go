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
// it, a bad filter is a field error, the pager keeps the filters, and the
// organization's log lists org events without the realm navigation.
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
	e.owner.must(201, "POST", base+"/clients", map[string]any{"name": "ingest", "kind": "service_account"})
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
	screenshot(t, tab, "events")

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
	if got := types(); len(got) != 1 || got[0] != "attribute.created" {
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
