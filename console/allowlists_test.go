package console

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The admin API of IP allow lists (CONTRACT §7, issue 16), each test on
// SQLite and on PostgreSQL (onBothDatabases: realm "vault").

const allowPath = vaultBase + "/ip-allow-list"

// cidrsOf returns the "cidrs" member of an answer, failing unless it is an
// array of strings.
func cidrsOf(t *testing.T, m map[string]any, member string) []string {
	t.Helper()
	raw, ok := m[member].([]any)
	if !ok {
		t.Fatalf("%q is not an array: %v", member, m)
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%q[%d] is not a string: %v", member, i, m)
		}
		out[i] = s
	}
	return out
}

// exactBody fails unless the answer's body is exactly want (after the
// trailing newline echo writes).
func exactBody(t *testing.T, what string, r response, status int, want string) {
	t.Helper()
	if r.status != status || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("%s: %d %s, want %d %s", what, r.status, bytes.TrimSpace(r.body), status, want)
	}
}

// ipEvents returns the details of the realm's events of typ, newest first.
func ipEvents(t *testing.T, e *env, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?limit=200&type="+typ, nil)) {
		d, _ := ev["details"].(map[string]any)
		out = append(out, d)
	}
	return out
}

func TestIPAllowListAPI(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		// A new realm restricts nothing: an empty array, never null.
		exactBody(t, "GET of a new realm", e.do(viewerToken, "GET", allowPath, nil), 200, `{"cidrs":[]}`)

		// PUT: the list as stored, canonical, duplicates dropped, in order.
		exactBody(t, "PUT", e.do(adminToken, "PUT", allowPath, map[string]any{
			"cidrs": []string{"203.0.113.0/24", "2001:DB8::/32", " 203.0.113.0/24 ", "10.1.2.3/32"},
		}), 200, `{"cidrs":["203.0.113.0/24","2001:db8::/32","10.1.2.3/32"]}`)
		want := `{"cidrs":["203.0.113.0/24","2001:db8::/32","10.1.2.3/32"]}`
		exactBody(t, "GET as viewer", e.do(viewerToken, "GET", allowPath, nil), 200, want)
		exactBody(t, "GET as owner", e.do(ownerToken, "GET", allowPath, nil), 200, want)

		// One event naming the new list, by the admin client.
		evs := ipEvents(t, e, "realm.ip_allow_list_updated")
		if len(evs) != 1 || fmt.Sprint(evs[0]["cidrs"]) != "[203.0.113.0/24 2001:db8::/32 10.1.2.3/32]" {
			t.Errorf("realm.ip_allow_list_updated events = %v, want one naming the list", evs)
		}
		ev := items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?type=realm.ip_allow_list_updated", nil))[0]
		if ev["actor_id"] != "acme-admin-client" || ev["target_type"] != "realm" {
			t.Errorf("event = %v, want the admin client acting on the realm", ev)
		}
		// The same list again: 200, no new event.
		exactBody(t, "PUT unchanged", e.do(ownerToken, "PUT", allowPath, map[string]any{
			"cidrs": []string{"203.0.113.0/24", "2001:db8::/32", "10.1.2.3/32"},
		}), 200, want)
		if n := len(ipEvents(t, e, "realm.ip_allow_list_updated")); n != 1 {
			t.Errorf("an unchanged PUT recorded an event: %d events", n)
		}

		// Viewers read but may not write; nothing changes.
		problem(t, e.do(viewerToken, "PUT", allowPath, map[string]any{"cidrs": []string{}}), http.StatusForbidden)
		exactBody(t, "GET after a viewer's PUT", e.do(viewerToken, "GET", allowPath, nil), 200, want)

		// Another org's realm, and an unknown realm: 404 either way.
		problem(t, e.do(otherToken, "GET", allowPath, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "PUT", allowPath, map[string]any{"cidrs": []string{}}), http.StatusNotFound)
		problem(t, e.do(adminToken, "GET", "/admin/v1/realms/nowhere/ip-allow-list", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "PUT", "/admin/v1/realms/nowhere/ip-allow-list", map[string]any{"cidrs": []string{}}), http.StatusNotFound)
		problem(t, e.do(adminToken, "GET", "/admin/v1/realms/console/ip-allow-list", nil), http.StatusNotFound)
		exactBody(t, "GET after another org's PUT", e.do(viewerToken, "GET", allowPath, nil), 200, want)

		// Other methods: 405 with Allow naming GET and PUT.
		for _, m := range []string{"POST", "PATCH", "DELETE"} {
			r := e.do(adminToken, m, allowPath, map[string]any{"cidrs": []string{}})
			problem(t, r, http.StatusMethodNotAllowed)
			if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "PUT") ||
				strings.Contains(allow, m) {
				t.Errorf("%s Allow = %q", m, allow)
			}
		}

		// Emptied: no restriction, and an event naming [].
		exactBody(t, "PUT []", e.do(adminToken, "PUT", allowPath, map[string]any{"cidrs": []string{}}), 200, `{"cidrs":[]}`)
		exactBody(t, "GET after PUT []", e.do(viewerToken, "GET", allowPath, nil), 200, `{"cidrs":[]}`)
		// (IDs order by the millisecond: compare as a set.)
		evs = ipEvents(t, e, "realm.ip_allow_list_updated")
		var lists []string
		for _, ev := range evs {
			lists = append(lists, fmt.Sprint(ev["cidrs"]))
		}
		slices.Sort(lists)
		if !slices.Equal(lists, []string{"[203.0.113.0/24 2001:db8::/32 10.1.2.3/32]", "[]"}) {
			t.Errorf("events after emptying = %v, want the list and []", evs)
		}
	})
}

// TestIPAllowListBadInput: each bad body is a 400 (413, 415) naming the
// field, never a 5xx, and changes nothing.
func TestIPAllowListBadInput(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		e.must(200, adminToken, "PUT", allowPath, map[string]any{"cidrs": []string{"192.0.2.0/24"}})
		const kept = `{"cidrs":["192.0.2.0/24"]}`
		tooMany := make([]string, 1001)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		}
		for _, tc := range []struct {
			name  string
			body  string
			field string
			says  string
		}{
			{"not a CIDR", `{"cidrs":["not-a-cidr"]}`, "cidrs[0]", "is not a CIDR range"},
			{"host bits set", `{"cidrs":["198.51.100.0/24","203.0.113.7/24"]}`, "cidrs[1]", "did you mean 203.0.113.0/24?"},
			{"IPv6 host bits set", `{"cidrs":["2001:db8::1/32"]}`, "cidrs[0]", "did you mean 2001:db8::/32?"},
			{"a bare address", `{"cidrs":["203.0.113.7"]}`, "cidrs[0]", "for one address write 203.0.113.7/32"},
			{"prefix too long", `{"cidrs":["10.0.0.0/33"]}`, "cidrs[0]", "is not a CIDR range"},
			{"IPv6 zone", `{"cidrs":["fe80::%eth0/64"]}`, "cidrs[0]", ""},
			{"empty string", `{"cidrs":[""]}`, "cidrs[0]", "is not a CIDR range"},
			{"null entry", `{"cidrs":[null]}`, "cidrs[0]", "is not a CIDR range"},
			{"1001 entries", `{"cidrs":["` + strings.Join(tooMany, `","`) + `"]}`, "cidrs", "at most 1000"},
			{"a number in the list", `{"cidrs":[1]}`, "cidrs", ""},
			{"a string, not a list", `{"cidrs":"10.0.0.0/8"}`, "cidrs", ""},
			{"null", `{"cidrs":null}`, "cidrs", "must not be null"},
			{"left out", `{}`, "cidrs", "is required"},
			{"unknown field", `{"cidrs":[],"groups":[]}`, "groups", "unknown field"},
			{"control character", `{"cidrs":["10.0.0.0/8\u0000"]}`, "cidrs[0]", ""},
		} {
			r := e.raw(adminToken, "PUT", allowPath, "application/json", strings.NewReader(tc.body))
			if r.status >= 500 {
				t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
			}
			p := problem(t, r, http.StatusBadRequest)
			fieldNamed(t, p, tc.field)
			if tc.says != "" && !strings.Contains(string(r.body), tc.says) {
				t.Errorf("%s: %s, want it to say %q", tc.name, r.body, tc.says)
			}
		}
		// Not JSON, not an object, too large.
		for _, tc := range []struct {
			name, ct, body string
			status         int
		}{
			{"malformed", "application/json", `{"cidrs":[`, 400},
			{"an array", "application/json", `["10.0.0.0/8"]`, 400},
			{"null body", "application/json", `null`, 400},
			{"empty body", "application/json", ``, 400},
			{"text", "text/plain", `{"cidrs":[]}`, 415},
			{"too large", "application/json", `{"cidrs":["` + strings.Repeat("1", 1<<20) + `"]}`, 413},
		} {
			r := e.raw(adminToken, "PUT", allowPath, tc.ct, strings.NewReader(tc.body))
			problem(t, r, tc.status)
		}
		exactBody(t, "GET after refused PUTs", e.do(viewerToken, "GET", allowPath, nil), 200, kept)
		if n := len(ipEvents(t, e, "realm.ip_allow_list_updated")); n != 1 {
			t.Errorf("refused PUTs recorded events: %d events, want 1", n)
		}
	})
}

// TestGroupIPAllowListAPI: groups carry ip_allow_list in every answer,
// take it on POST and PATCH (absent: unchanged; null: 400), checked like
// the realm's under the field ip_allow_list.
func TestGroupIPAllowListAPI(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		groups := vaultBase + "/groups"
		g := e.must(201, adminToken, "POST", groups, map[string]any{"name": "Office",
			"ip_allow_list": []string{"203.0.113.0/25", "2001:DB8:1::/48", "203.0.113.0/25"}})
		if got := cidrsOf(t, g, "ip_allow_list"); !slices.Equal(got, []string{"203.0.113.0/25", "2001:db8:1::/48"}) {
			t.Errorf("POST answer ip_allow_list = %q", got)
		}
		id := str(g["id"])
		plain := e.must(201, adminToken, "POST", groups, map[string]any{"name": "Plain"})
		if got := cidrsOf(t, plain, "ip_allow_list"); len(got) != 0 {
			t.Errorf("group without a list: %q, want []", got)
		}
		nulled := e.must(201, adminToken, "POST", groups, map[string]any{"name": "Nulled", "ip_allow_list": nil})
		if got := cidrsOf(t, nulled, "ip_allow_list"); len(got) != 0 {
			t.Errorf("group with a null list: %q, want []", got)
		}
		got := e.must(200, viewerToken, "GET", groups+"/"+id, nil)
		if l := cidrsOf(t, got, "ip_allow_list"); !slices.Equal(l, []string{"203.0.113.0/25", "2001:db8:1::/48"}) {
			t.Errorf("GET ip_allow_list = %q", l)
		}
		for _, it := range items(t, e.must(200, viewerToken, "GET", groups, nil)) {
			cidrsOf(t, it, "ip_allow_list") // present and an array in every item
		}

		// PATCH: given replaces; absent leaves it; [] removes it.
		p := e.must(200, adminToken, "PATCH", groups+"/"+id, map[string]any{"ip_allow_list": []string{"198.51.100.0/24"}})
		if l := cidrsOf(t, p, "ip_allow_list"); !slices.Equal(l, []string{"198.51.100.0/24"}) {
			t.Errorf("PATCH ip_allow_list = %q", l)
		}
		p = e.must(200, adminToken, "PATCH", groups+"/"+id, map[string]any{"description": "front desk"})
		if l := cidrsOf(t, p, "ip_allow_list"); !slices.Equal(l, []string{"198.51.100.0/24"}) {
			t.Errorf("a PATCH without ip_allow_list changed it: %q", l)
		}
		var changes []string
		for _, d := range ipEvents(t, e, "group.updated") {
			changes = append(changes, fmt.Sprint(d["fields"], d["ip_allow_list"]))
		}
		slices.Sort(changes)
		if !slices.Equal(changes, []string{"[description] <nil>", "[ip_allow_list] [198.51.100.0/24]"}) {
			t.Errorf("group.updated events = %q, want the list change (naming the list) and the description's", changes)
		}

		// Bad input: 400 naming the field, nothing changes, never a 5xx.
		for _, tc := range []struct {
			method, path, body, field string
		}{
			{"PATCH", groups + "/" + id, `{"ip_allow_list":null}`, "ip_allow_list"},
			{"PATCH", groups + "/" + id, `{"ip_allow_list":["192.0.2.0/24","192.0.2.1/24"]}`, "ip_allow_list[1]"},
			{"PATCH", groups + "/" + id, `{"ip_allow_list":["nope"]}`, "ip_allow_list[0]"},
			{"PATCH", groups + "/" + id, `{"ip_allow_list":[1]}`, "ip_allow_list"},
			{"PATCH", groups + "/" + id, `{"ip_allow_list":"10.0.0.0/8"}`, "ip_allow_list"},
			{"PATCH", groups + "/" + id, `{"ip_allow_list":["` + strings.Repeat(`10.0.0.0/8","`, 1000) + `10.0.0.0/8"]}`, "ip_allow_list"},
			{"POST", groups, `{"name":"Bad","ip_allow_list":["192.0.2.0/24","2001:db8::1/32"]}`, "ip_allow_list[1]"},
			{"POST", groups, `{"name":"Bad","ip_allow_list":[1]}`, "ip_allow_list"},
			{"POST", groups, `{"name":"Bad","ip_allow_list":{}}`, "ip_allow_list"},
		} {
			r := e.raw(adminToken, tc.method, tc.path, "application/json", strings.NewReader(tc.body))
			if r.status >= 500 {
				t.Fatalf("%s %.80s: %d %s", tc.method, tc.body, r.status, r.body)
			}
			fieldNamed(t, problem(t, r, http.StatusBadRequest), tc.field)
		}
		problem(t, e.do(viewerToken, "PATCH", groups+"/"+id, map[string]any{"ip_allow_list": []string{}}), http.StatusForbidden)
		problem(t, e.do(otherToken, "PATCH", groups+"/"+id, map[string]any{"ip_allow_list": []string{}}), http.StatusNotFound)
		got = e.must(200, viewerToken, "GET", groups+"/"+id, nil)
		if l := cidrsOf(t, got, "ip_allow_list"); !slices.Equal(l, []string{"198.51.100.0/24"}) {
			t.Errorf("list after refused changes = %q", l)
		}
		if n := len(items(t, e.must(200, viewerToken, "GET", groups, nil))); n != 3 {
			t.Errorf("%d groups after refused creations, want 3", n)
		}
		if n := len(ipEvents(t, e, "group.updated")); n != 2 {
			t.Errorf("refused changes recorded events: %d group.updated events, want 2", n)
		}

		p = e.must(200, adminToken, "PATCH", groups+"/"+id, map[string]any{"ip_allow_list": []string{}})
		if l := cidrsOf(t, p, "ip_allow_list"); len(l) != 0 {
			t.Errorf("PATCH [] left %q", l)
		}
	})
}
