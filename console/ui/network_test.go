package ui

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// TestAllowListForm: the allow list textareas are one CIDR a line, blank
// lines and surrounding spaces dropped; an empty textarea is an empty
// list (never nil: it lifts the restriction).
func TestAllowListForm(t *testing.T) {
	got := allowListForm(url.Values{"cidrs": {" 203.0.113.0/24 \r\n\r\n2001:DB8::/32\n"}}, "cidrs")
	if strings.Join(got, "|") != "203.0.113.0/24|2001:DB8::/32" {
		t.Errorf("parsed %q", got)
	}
	// The textareas may hold line breaks (req.form refuses them elsewhere).
	if err := realm.CheckValues(url.Values{"cidrs": {"10.0.0.0/8\r\n::/0"}, "ip_allow_list": {"a\nb"}}, multilineFields...); err != nil {
		t.Errorf("line breaks refused: %v", err)
	}
	for _, f := range []url.Values{{}, {"ip_allow_list": {" \n\r\n "}}} {
		if got := allowListForm(f, "ip_allow_list"); got == nil || len(got) != 0 {
			t.Errorf("%v: %#v, want an empty list", f, got)
		}
	}
}

// TestAllowListRefused: the service's error about one CIDR (cidrs[i] on
// the realm, ip_allow_list[i] on a group) lands on its textarea naming
// the line, the first bad line shown; the error summary labels it "IP
// allow list, line N"; an error about the whole list stays on it.
func TestAllowListRefused(t *testing.T) {
	for _, field := range []string{"cidrs", "ip_allow_list"} {
		in := allowListForm(url.Values{field: {"10.0.0.0/8\n\n203.0.113.7/24\nnot-a-cidr\n2001:db8::/32"}}, field)
		v := &realm.ValidationError{}
		realm.CheckIPAllowList(v, field, in)
		if v.OrNil() == nil {
			t.Fatalf("%s: %q accepted", field, in)
		}
		fe, status, ok := refusedForm(v)
		if !ok || status != http.StatusBadRequest {
			t.Fatalf("%s: ok %v status %d", field, ok, status)
		}
		if msg := fe[field]; !strings.HasPrefix(msg, "line 2 ") || !strings.Contains(msg, "203.0.113.0/24") || len(fe) != 1 {
			t.Errorf("%s: errors %v", field, fe)
		}
		if l := fieldLabel(field + "[1]"); l != "IP allow list, line 2" {
			t.Errorf("label of %s[1]: %q", field, l)
		}
		if l := fieldLabel(field); l != "IP allow list" {
			t.Errorf("label of %s: %q", field, l)
		}
	}
	too := make([]string, realm.MaxIPAllowList+1)
	for i := range too {
		too[i] = "10.0.0.0/8"
	}
	v := &realm.ValidationError{}
	realm.CheckIPAllowList(v, "cidrs", too)
	if fe, _, ok := refusedForm(v.OrNil()); !ok || fe["cidrs"] == "" || strings.HasPrefix(fe["cidrs"], "line") {
		t.Errorf("too many entries: %v", fe)
	}
}

// TestAllowListSaved: the confirmation says what the realm now allows.
func TestAllowListSaved(t *testing.T) {
	for _, c := range []struct {
		list []string
		want string
	}{
		{[]string{}, "from anywhere"},
		{[]string{"203.0.113.0/24"}, "only from 203.0.113.0/24."},
		{[]string{"203.0.113.0/24", "2001:db8::/32"}, "only from these 2 networks."},
	} {
		if got := allowListSaved(c.list); !strings.Contains(got, c.want) || !strings.HasPrefix(got, "IP allow list saved") {
			t.Errorf("%q: %q", c.list, got)
		}
	}
}

// TestNetworkCardRendered: the realm page's Network card is a form with
// the one-CIDR-a-line textarea for a writer (a refused line marked at it)
// and the list read-only for a viewer; a group's page shows its list and
// its edit form holds it.
func TestNetworkCardRendered(t *testing.T) {
	pages, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string, data nonced) string {
		t.Helper()
		var buf bytes.Buffer
		if err := mustPage(t, pages, name).Execute(&buf, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return buf.String()
	}
	rm := &realm.Realm{Name: "shop", IPAllowList: []string{"203.0.113.0/24", "2001:db8::/32"}}
	writer := base{Realm: "shop", CanWrite: true, Role: realm.RoleAdmin,
		Form:   url.Values{"cidrs": {"203.0.113.7/24"}},
		Errors: fieldErrors{"cidrs": "line 1 has address bits set beyond the prefix length; did you mean 203.0.113.0/24?"}}
	html := render("realm.html", &realmOverview{base: writer, R: rm})
	for _, want := range []string{`action="/console/realms/shop/ip-allow-list"`, `name="cidrs"`, `id="realm-cidrs"`,
		"203.0.113.7/24</textarea>", `aria-invalid="true"`, `id="realm-cidrs-error">line 1 has address bits`,
		"Empty: sign-in and tokens from anywhere. One CIDR per line, e.g. 203.0.113.0/24 or 2001:db8::/32.",
		`name="csrf_token"`, `name="form_id"`} {
		if !strings.Contains(html, want) {
			t.Errorf("writer's realm page lacks %s", want)
		}
	}
	viewer := base{Realm: "shop", Role: realm.RoleViewer, Form: url.Values{}}
	html = render("realm.html", &realmOverview{base: viewer, R: rm})
	if strings.Contains(html, `name="cidrs"`) || strings.Contains(html, "ip-allow-list\"") {
		t.Error("a viewer is offered the allow list form")
	}
	if !strings.Contains(html, "<code>203.0.113.0/24</code>, <code>2001:db8::/32</code>") {
		t.Error("a viewer does not see the list")
	}
	html = render("realm.html", &realmOverview{base: viewer, R: &realm.Realm{Name: "shop", IPAllowList: []string{}}})
	if !strings.Contains(html, "from anywhere") {
		t.Error("an empty list does not say sign-in is allowed from anywhere")
	}

	g := &realm.Group{ID: "g1", Name: "studio", IPAllowList: []string{"198.51.100.0/24"}}
	gb := base{Realm: "shop", CanWrite: true, Role: realm.RoleAdmin, Form: groupForm(nil, g)}
	html = render("group.html", &groupView{base: gb, G: g})
	if !strings.Contains(html, `data-ip-allow-list><code>198.51.100.0/24</code>`) ||
		!strings.Contains(html, `name="ip_allow_list"`) || !strings.Contains(html, "198.51.100.0/24</textarea>") {
		t.Errorf("group page:\n%s", html)
	}
}
