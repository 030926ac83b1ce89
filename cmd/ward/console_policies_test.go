package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestConsoleBrowserPolicies: an admin writes a policy whose condition
// names an undefined attribute on line 2; the console shows the compiler's
// message with the offending line and a caret under the column, keeps what
// was typed and puts the cursor there. Fixed, it is saved. The test panel
// allows a user of the right group and denies another, and says why bad
// JSON is refused. A viewer sees the policy without edit forms but may test.
// The list has a search box (shown always, with Clear search) and a pager
// with a First page link; a broken page link says so. Deleting goes
// through a confirmation page with a plain Cancel link.
func TestConsoleBrowserPolicies(t *testing.T) {
	e := newConsoleEnv(t)
	base := "/admin/v1/realms/shop"
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	e.owner.must(201, "POST", base+"/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	fin := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Finance",
		"attributes": map[string]any{"departments": []string{"finance"}}})
	ops := e.owner.must(201, "POST", base+"/groups", map[string]any{"name": "Ops",
		"attributes": map[string]any{"departments": []string{"ops"}}})
	alice := e.owner.must(201, "POST", base+"/users", map[string]any{"email": "alice@shop.test", "first_name": "Alice", "last_name": "Archer",
		"groups": []string{fin["id"].(string)}, "send_set_password_email": false})
	bob := e.owner.must(201, "POST", base+"/users", map[string]any{"email": "bob@shop.test", "first_name": "Bob", "last_name": "Baker",
		"groups": []string{ops["id"].(string)}, "send_set_password_email": false})
	aliceID, bobID := alice["id"].(string), bob["id"].(string)

	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 60*time.Second)
	e.visit(t, tab, "/console/realms/shop/policies")
	// The search box is there even before there is anything to search.
	if count(t, tab, `form[role="search"] input#policy-search[name="q"]`) != 1 {
		t.Fatalf("no policy search on the empty list:\n%s", text(t, tab, "main"))
	}

	// Line 2 names "department", which the realm does not define: CEL
	// places the error at the "." before it, column 34.
	line2 := `  "finance" in subject.attributes.department`
	bad := "resource.region == \"eu\" &&\n" + line2
	fill(t, tab, map[string]string{"#policy-name": "finance-reports", "#policy-resource-type": "report",
		"#policy-actions": "read, export", "#policy-condition": bad})
	submit(t, tab, `form[aria-labelledby="new-policy"] button[type=submit]`)
	msg := text(t, tab, "#policy-condition-error")
	if !strings.Contains(msg, "line 2, column 34") || !strings.Contains(msg, `"department"`) {
		t.Fatalf("condition error = %q; page:\n%s", msg, text(t, tab, "main"))
	}
	excerpt := evalJS[string](t, tab, `document.querySelector("#policy-condition-excerpt").textContent`)
	ex := strings.Split(excerpt, "\n")
	if len(ex) != 2 || ex[0] != line2 || strings.TrimLeft(ex[1], " ") != "^" || strings.Index(ex[1], "^") != 33 {
		t.Fatalf("caret excerpt = %q, want the line and a caret at index 33", excerpt)
	}
	if !strings.HasPrefix(line2[33:], ".department") {
		t.Fatalf("the test's own column is wrong: %q", line2[33:])
	}
	// What was typed is kept, and policy.js put the cursor at the error.
	got := evalJS[[]any](t, tab, `(() => { const c = document.querySelector("#policy-condition");
		return [c.value, document.activeElement.id, c.selectionStart, document.querySelector("#policy-name").value,
			document.querySelector("#policy-actions").value]; })()`)
	wantAt := len("resource.region == \"eu\" &&\n") + 33
	if got[0] != bad || got[1] != "policy-condition" || got[2] != float64(wantAt) || got[3] != "finance-reports" || got[4] != "read, export" {
		t.Fatalf("after the refused policy: condition, focus, cursor, name, actions = %q (cursor want %d)", got, wantAt)
	}
	screenshot(t, tab, "policy")

	// Fixed, it is created, and the browser is on its page.
	fill(t, tab, map[string]string{"#policy-condition": "resource.region == \"eu\" &&\n  \"finance\" in subject.attributes.departments"})
	submit(t, tab, `form[aria-labelledby="new-policy"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "finance-reports created") || !strings.Contains(text(t, tab, "[data-actions]"), "export") {
		t.Fatalf("after the fix: flash %q; page:\n%s", text(t, tab, ".flash"), text(t, tab, "main"))
	}
	list := e.owner.must(200, "GET", base+"/policies", nil)["items"].([]any)
	if len(list) != 1 || !strings.Contains(list[0].(map[string]any)["condition"].(string), "departments") {
		t.Fatalf("policies after creating: %v", list)
	}
	policyPage := evalJS[string](t, tab, `location.pathname`)

	// The test panel on the policy page: alice (Finance) may read a
	// report in the EU, bob (Ops) may not.
	ask := func(subject, resource string) {
		t.Helper()
		fill(t, tab, map[string]string{"#test-subject": subject, "#test-resource-type": "report", "#test-action": "read",
			"#test-resource": resource})
		submit(t, tab, `form[aria-labelledby="test-policies"] button[type=submit]`)
	}
	ask("user:"+aliceID, `{"region": "eu"}`)
	if count(t, tab, `[data-decision="allowed"]`) != 1 || count(t, tab, `[data-policy-allowed="finance-reports"]`) != 1 {
		t.Fatalf("alice: %s", text(t, tab, "main"))
	}
	if path := evalJS[string](t, tab, `location.pathname + " " + document.querySelector("#test-subject").value`); path != "/console/realms/shop/policies/test user:"+aliceID {
		t.Errorf("after testing: path and subject = %q", path)
	}
	if got := text(t, tab, `tr[data-explain="finance-reports"][data-result="allowed"] td[data-label="Condition"]`); got != "true: allows" {
		t.Errorf("alice's explanation: %q", got)
	}
	ask("user:"+bobID, `{"region": "eu"}`)
	if count(t, tab, `[data-decision="denied"]`) != 1 || count(t, tab, `[data-policy-allowed]`) != 0 {
		t.Fatalf("bob: %s", text(t, tab, "main"))
	}
	// The denial is explained: the one policy of report:read, false.
	if got := text(t, tab, `tr[data-explain="finance-reports"][data-result="denied"] td[data-label="Condition"]`); got != "false: does not allow" || count(t, tab, "tr[data-explain]") != 1 {
		t.Errorf("bob's explanation: %q; page:\n%s", got, text(t, tab, "main"))
	}
	// No policy covers report:delete: the answer says so.
	fill(t, tab, map[string]string{"#test-subject": "user:" + aliceID, "#test-resource-type": "report", "#test-action": "delete",
		"#test-resource": `{"region": "eu"}`})
	submit(t, tab, `form[aria-labelledby="test-policies"] button[type=submit]`)
	if count(t, tab, `[data-decision="denied"]`) != 1 || count(t, tab, "[data-no-policy]") != 1 || count(t, tab, "tr[data-explain]") != 0 {
		t.Errorf("an action no policy covers: %s", text(t, tab, "main"))
	}
	// Bad JSON is a field error; what was typed stays, and the edit form
	// still holds the policy.
	ask("user:"+aliceID, `{"region": eu}`)
	if msg := text(t, tab, "#test-resource-error"); !strings.Contains(msg, "JSON") || count(t, tab, "[data-decision]") != 0 {
		t.Fatalf("bad JSON: error %q; page:\n%s", msg, text(t, tab, "main"))
	}
	if v := evalJS[[]string](t, tab, `[document.querySelector("#test-resource").value, document.querySelector("#policy-name").value]`); v[0] != `{"region": eu}` || v[1] != "finance-reports" {
		t.Errorf("after bad JSON: resource, policy name = %q", v)
	}

	// A viewer sees the policy read-only and may still test.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, 45*time.Second)
	e.visit(t, vtab, policyPage)
	if count(t, vtab, `form[aria-labelledby="edit-policy"]`) != 0 || count(t, vtab, "#policy-condition") != 0 ||
		count(t, vtab, `a[href$="/delete"]`) != 0 || count(t, vtab, ".readonly-note") != 1 ||
		!strings.Contains(text(t, vtab, "[data-condition]"), "subject.attributes.departments") {
		t.Fatalf("viewer's policy page:\n%s", text(t, vtab, "main"))
	}
	fill(t, vtab, map[string]string{"#test-subject-other": "ALICE@shop.test", "#test-resource-type": "report",
		"#test-action": "export", "#test-resource": `{"region": "eu"}`})
	submit(t, vtab, `form[aria-labelledby="test-policies"] button[type=submit]`)
	if count(t, vtab, `[data-decision="allowed"]`) != 1 {
		t.Fatalf("viewer's test: %s", text(t, vtab, "main"))
	}
	// A typed subject that does not exist is named at the field it was
	// typed into, not at the menu.
	fill(t, vtab, map[string]string{"#test-subject-other": "nobody@shop.test"})
	submit(t, vtab, `form[aria-labelledby="test-policies"] button[type=submit]`)
	if msg := text(t, vtab, "#test-subject-other-error"); !strings.Contains(msg, "nobody@shop.test") || text(t, vtab, "#test-subject-error") != "" {
		t.Errorf("unknown typed subject: field error %q, menu error %q", msg, text(t, vtab, "#test-subject-error"))
	}
	e.visit(t, vtab, "/console/realms/shop/policies")
	if count(t, vtab, `form[aria-labelledby="new-policy"]`) != 0 || count(t, vtab, `tr[data-policy="finance-reports"]`) != 1 ||
		count(t, vtab, `form[aria-labelledby="test-policies"]`) != 1 {
		t.Fatalf("viewer's policy list:\n%s", text(t, vtab, "main"))
	}

	// More than a page of policies: the pager links to the next page and
	// back to the first; search narrows and can be cleared; a broken page
	// link says so instead of quietly showing the first page.
	for i := range 50 {
		e.owner.must(201, "POST", base+"/policies", map[string]any{"name": fmt.Sprintf("p-%02d", i), "resource_type": "doc",
			"actions": []string{"read"}, "condition": "true"})
	}
	e.visit(t, tab, "/console/realms/shop/policies")
	if count(t, tab, "tr[data-policy]") != 50 || count(t, tab, "nav.pager a[rel=next]") != 1 || navLinks(t, tab, "First page") != 0 {
		t.Fatalf("first page of 51 policies:\n%s", text(t, tab, "main"))
	}
	submit(t, tab, "nav.pager a[rel=next]")
	if count(t, tab, "tr[data-policy]") != 1 || navLinks(t, tab, "First page") != 1 {
		t.Fatalf("second page of 51 policies:\n%s", text(t, tab, "main"))
	}
	e.visit(t, tab, "/console/realms/shop/policies?q=finance&cursor=bogus")
	if msg := text(t, tab, "#cursor-error"); !strings.Contains(msg, "broken") || count(t, tab, "tr[data-policy]") != 0 ||
		evalJS[string](t, tab, `document.querySelector("#cursor-error a").getAttribute("href")`) != "/console/realms/shop/policies?q=finance" {
		t.Fatalf("bad cursor:\n%s", text(t, tab, "main"))
	}
	e.visit(t, tab, "/console/realms/shop/policies")
	fill(t, tab, map[string]string{"#policy-search": "finance"})
	submit(t, tab, `form[role="search"] button[type=submit]`)
	if count(t, tab, "tr[data-policy]") != 1 || count(t, tab, `tr[data-policy="finance-reports"]`) != 1 {
		t.Fatalf("search finance:\n%s", text(t, tab, "main"))
	}
	submit(t, tab, `form[role="search"] a[href="/console/realms/shop/policies"]`)
	if count(t, tab, "tr[data-policy]") != 50 || evalJS[string](t, tab, `document.querySelector("#policy-search").value`) != "" {
		t.Fatalf("after Clear search:\n%s", text(t, tab, "main"))
	}

	// The admin deletes it through the confirmation page, whose Cancel is
	// a plain link back, as on the other confirmation pages.
	e.visit(t, tab, policyPage+"/delete")
	if got := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll("main .actions a"), a => a.textContent + " " + a.className + " " + a.getAttribute("href"))`); len(got) != 1 || got[0] != "Cancel  "+policyPage {
		t.Errorf("confirmation links = %q, want a plain Cancel link to %s", got, policyPage)
	}
	submit(t, tab, `form[action$="/delete"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "finance-reports deleted") || count(t, tab, `tr[data-policy="finance-reports"]`) != 0 {
		t.Fatalf("after deleting: %s", text(t, tab, "main"))
	}
}

// navLinks counts the pager's links that read label.
func navLinks(t *testing.T, tab context.Context, label string) int {
	t.Helper()
	return evalJS[int](t, tab, fmt.Sprintf(`Array.from(document.querySelectorAll("nav.pager a")).filter(a => a.textContent.trim() === %q).length`, label))
}
