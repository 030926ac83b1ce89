package ui

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// TestSupportForm: the switch reads enabled true with a datetime-local
// until (UTC; seconds allowed; empty is the service's default) or enabled
// false; an until that is not a time is an error at the field, a form
// with neither on nor off an error of the whole form.
func TestSupportForm(t *testing.T) {
	in, fe := supportForm(url.Values{"enabled": {"true"}, "until": {"2026-12-07T09:30"}})
	if len(fe) != 0 || in.Enabled == nil || !*in.Enabled || in.Until == nil ||
		!in.Until.Equal(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("on with until: %+v %v", in, fe)
	}
	if in, fe := supportForm(url.Values{"enabled": {"true"}, "until": {"2026-12-07T09:30:15"}}); len(fe) != 0 || in.Until.Second() != 15 {
		t.Errorf("until with seconds: %+v %v", in, fe)
	}
	if in, fe := supportForm(url.Values{"enabled": {"true"}, "until": {" "}}); len(fe) != 0 || in.Until != nil || !*in.Enabled {
		t.Errorf("on without until: %+v %v", in, fe)
	}
	if _, fe := supportForm(url.Values{"enabled": {"true"}, "until": {"tomorrow"}}); !strings.Contains(fe["until"], "date and time") {
		t.Errorf("until not a time: %v", fe)
	}
	// Off ignores the (hidden) until: the off form sends none.
	if in, fe := supportForm(url.Values{"enabled": {"false"}}); len(fe) != 0 || *in.Enabled || in.Until != nil {
		t.Errorf("off: %+v %v", in, fe)
	}
	if _, fe := supportForm(url.Values{"enabled": {"maybe"}}); fe[""] == "" {
		t.Errorf("neither on nor off: %v", fe)
	}
	// The service's refusal lands at the field.
	v := &realm.ValidationError{}
	v.Add("until", "must be at most 7 days ahead")
	if fe, status, ok := refused(v); !ok || status != 400 || fe["until"] != "must be at most 7 days ahead" {
		t.Errorf("refused: %v %d %v", fe, status, ok)
	}
	if l := fieldLabel("until"); l != "Until" {
		t.Errorf("label %q", l)
	}
}

// TestSupportCalls: support.call events become rows with time, method,
// path, reason and the token (the actor ID).
func TestSupportCalls(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rows := supportCalls([]realm.Event{{Type: realm.EventSupportCall, ActorType: realm.ActorSupport, ActorID: "jti1", Time: at,
		Details: map[string]any{"method": "GET", "route": "/admin/v1/realms", "path": "/admin/v1/realms", "reason": "ticket 42"}}})
	if len(rows) != 1 || rows[0] != (supportCall{Time: at, Method: "GET", Path: "/admin/v1/realms", Route: "/admin/v1/realms", Token: "jti1", Reason: "ticket 42"}) {
		t.Errorf("rows %+v", rows)
	}
}

// TestSupportPages: the support page for an owner (on: the end, the form
// to move it and the switch-off form; off: the switch-on form, the end
// that passed), for a viewer (the state, no form), the calls listed with
// their reasons (escaped), a refused until at its field; and the banner
// on another page of the org while support access is on, none while off.
func TestSupportPages(t *testing.T) {
	pages, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string, data nonced) string {
		t.Helper()
		data.setNonce("n")
		var buf bytes.Buffer
		if err := mustPage(t, pages, name).Execute(&buf, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return buf.String()
	}
	until := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	b := func(role realm.Role, on bool) base {
		x := base{Role: role, CanWrite: role.CanWrite(), IsOwner: role == realm.RoleOwner, Section: "support",
			Form: url.Values{"until": {"2026-12-07T09:30"}}, Errors: fieldErrors{}}
		if on {
			x.SupportUntil = &until
		}
		return x
	}
	calls := []supportCall{{Time: until.Add(-time.Hour), Method: "GET", Path: "/admin/v1/realms/shop/users", Reason: "ticket <42>", Token: "jti1"}}
	has := func(what, page string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: no %q in\n%s", what, w, page)
			}
		}
	}
	hasNot := func(what, page string, unwanted ...string) {
		t.Helper()
		for _, w := range unwanted {
			if strings.Contains(page, w) {
				t.Errorf("%s: %q in\n%s", what, w, page)
			}
		}
	}

	on := render("support.html", &supportView{base: b(realm.RoleOwner, true), Access: &realm.SupportAccessView{Enabled: true, Until: &until},
		Calls: calls, MaxUntil: "2026-12-13 09:00 UTC", EventsURL: "/console/events?type=support.call"})
	has("owner, on", on, `href="/console/support-access" aria-current="page"`, "data-support-banner",
		"Support access is on until <time datetime=\"2026-12-07T09:30:00Z\">2026-12-07 09:30:00 UTC</time>",
		`data-support-state="on"`, `type="datetime-local"`, `value="2026-12-07T09:30"`, `name="enabled" value="true"`,
		`name="enabled" value="false"`, "Switch support access off", "no later than 2026-12-13 09:00 UTC",
		`data-reason>ticket &lt;42&gt;</td>`, "<code>/admin/v1/realms/shop/users</code>", `name="csrf_token"`, `name="form_id"`)

	more := render("support.html", &supportView{base: b(realm.RoleAdmin, true), Calls: calls, More: true, EventsURL: "/console/events?type=support.call"})
	has("more calls", more, "the latest 1: older calls are on", `href="/console/events?type=support.call"`)

	ended := until.Add(-48 * time.Hour)
	off := render("support.html", &supportView{base: b(realm.RoleOwner, false), Access: &realm.SupportAccessView{Until: &ended}, Ended: &ended})
	has("owner, ended", off, `data-support-state="off"`, "it ended at", "Switch support access on", "data-no-support-calls")
	hasNot("owner, ended", off, "data-support-banner", `value="false"`)

	viewer := render("support.html", &supportView{base: b(realm.RoleViewer, true), Calls: calls})
	has("viewer", viewer, `data-support-state="on"`, "Only owners switch support access on or off.", "data-support-call")
	hasNot("viewer", viewer, `method="post" action="/console/support-access"`, "datetime-local")

	refusedPage := b(realm.RoleOwner, false)
	refusedPage.Errors = fieldErrors{"until": "must be at most 7 days ahead"}
	bad := render("support.html", &supportView{base: refusedPage, Access: &realm.SupportAccessView{}})
	has("refused", bad, `id="support-until-error"`, "must be at most 7 days ahead", `aria-invalid="true"`, `data-field="until"`)

	members := render("members.html", &membersView{base: b(realm.RoleViewer, true)})
	has("members, on", members, "data-support-banner", `<a href="/console/support-access">Support access</a></p>`)
	members = render("members.html", &membersView{base: b(realm.RoleViewer, false)})
	hasNot("members, off", members, "data-support-banner")
}
