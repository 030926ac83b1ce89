package ui

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// TestParseTemplateForm: numbers must be whole, an empty limit is no
// limit, an empty lifetime is the default on the new-template form and
// refused on the edit form; the lists are one item a line, blank lines
// dropped, empty meaning none.
func TestParseTemplateForm(t *testing.T) {
	f := url.Values{"description": {"  Uploads  "}, "permissions": {"asset:create", "asset:read"}, "ttl_seconds": {" 600 "},
		"limit_per_minute": {"60"}, "limit_per_source_ip_per_minute": {""},
		"dir_scope": {"/marketing/*\r\n\r\n /press/* \n"}, "ip_ranges": {"203.0.113.0/24\n2001:db8::/32"}, "countries": {""}}
	in, fe := parseTemplateForm(f, false)
	if len(fe) != 0 {
		t.Fatalf("errors %v", fe)
	}
	if in.Description != "Uploads" || strings.Join(in.Permissions, " ") != "asset:create asset:read" || in.TTLSeconds == nil || *in.TTLSeconds != 600 ||
		in.LimitPerMinute == nil || *in.LimitPerMinute != 60 || in.LimitPerIP != nil {
		t.Errorf("parsed %+v", in)
	}
	if strings.Join(in.DirScope, "|") != "/marketing/*|/press/*" || strings.Join(in.IPRanges, "|") != "203.0.113.0/24|2001:db8::/32" ||
		in.Countries == nil || len(in.Countries) != 0 {
		t.Errorf("lists %q %q %#v", in.DirScope, in.IPRanges, in.Countries)
	}
	// The default lifetime on a new template; required on an edit.
	if in, fe := parseTemplateForm(url.Values{}, true); len(fe) != 0 || in.TTLSeconds != nil {
		t.Errorf("new template without a lifetime: %v, %v", in.TTLSeconds, fe)
	}
	if _, fe := parseTemplateForm(url.Values{}, false); !strings.Contains(fe["ttl_seconds"], "required") || len(fe) != 1 {
		t.Errorf("edit without a lifetime: %v", fe)
	}
	_, fe = parseTemplateForm(url.Values{"ttl_seconds": {"20 min"}, "limit_per_minute": {"1.5"}, "limit_per_source_ip_per_minute": {"ten"}}, true)
	if !strings.Contains(fe["ttl_seconds"], "whole number of seconds") || !strings.Contains(fe["limit_per_minute"], "empty for no limit") ||
		!strings.Contains(fe["limit_per_source_ip_per_minute"], "whole number") {
		t.Errorf("bad numbers: %v", fe)
	}
}

// TestTemplateRefused: the service's errors about one line of a list land
// on its textarea as "line N …" (the first bad line), a permission's on
// the picker naming it, the rest on their fields.
func TestTemplateRefused(t *testing.T) {
	v := &realm.ValidationError{}
	v.Add("ip_ranges[1]", "has address bits set beyond the prefix length; did you mean 203.0.113.0/24?")
	v.Add("ip_ranges[0]", `"x" is not a CIDR range`)
	v.Add("dir_scope[0]", "must be an absolute path starting with /")
	v.Add("permissions[0]", "is not in the realm's permission catalog")
	v.Add("ttl_seconds", "must be between 60 and 86400 seconds")
	fe, status, ok := templateRefused(v, []string{"vault:open"})
	if !ok || status != http.StatusBadRequest {
		t.Fatalf("ok %v status %d", ok, status)
	}
	want := fieldErrors{
		"ip_ranges":   `line 1 "x" is not a CIDR range`,
		"dir_scope":   "line 1 must be an absolute path starting with /",
		"permissions": `"vault:open" is not in the realm's permission catalog`,
		"ttl_seconds": "must be between 60 and 86400 seconds",
	}
	if len(fe) != len(want) {
		t.Errorf("errors %v", fe)
	}
	for k, w := range want {
		if fe[k] != w {
			t.Errorf("%s: %q, want %q", k, fe[k], w)
		}
	}
	if fe, status, _ := templateRefused(realm.Conflict("name", `the security template "up" already exists`), nil); status != http.StatusConflict || !strings.Contains(fe["name"], "already exists") {
		t.Errorf("conflict: %d %v", status, fe)
	}
	if _, _, ok := templateRefused(realm.ErrUnavailable, nil); ok {
		t.Error("an outage is taken for bad input")
	}
}

// TestSecurityTemplatePages renders the new pages: the realm navigation
// links them; the list shows each template's summary; an admin gets the
// forms, the mint button and the delete link, a viewer none of them; text
// from outside is escaped; the test key dialog shows only when given a
// key, with its expiry and the ten-minute note.
func TestSecurityTemplatePages(t *testing.T) {
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
	catalog := []realm.Permission{{Name: "asset:create"}, {Name: "asset:read"}}
	tpl := realm.SecurityTemplate{ID: "t1", Name: "uploader", Description: "<b>Widget</b>", Permissions: []string{"asset:create"},
		TTLSeconds: 1200, LimitPerMinute: intp(60), DirScope: []string{"/marketing/*"}, IPRanges: []string{"203.0.113.0/24"}}
	list := func(role realm.Role) string {
		b := base{Role: role, CanWrite: role.CanWrite(), Realm: "shop", Section: "security-templates",
			Form: url.Values{"ttl_seconds": {"1200"}}, Errors: fieldErrors{}}
		return render("sectemplates.html", &templatesView{base: b, Templates: []templateRow{rowOf(tpl)}, Picker: groupPermissions(catalog)})
	}
	admin := list(realm.RoleAdmin)
	for _, want := range []string{
		`href="/console/realms/shop/security-templates" aria-current="page"`, `href="/console/realms/shop/api-keys"`,
		`data-template="uploader"`, "Upload to /marketing/* for 20 min, 60 requests a minute, from 203.0.113.0/24",
		`&lt;b&gt;Widget&lt;/b&gt;`, `method="post" action="/console/realms/shop/security-templates"`,
		`name="ttl_seconds" type="number" value="1200"`, `name="dir_scope"`, `name="ip_ranges"`, `name="countries"`,
		`data-resource-type="asset"`,
	} {
		if !strings.Contains(admin, want) {
			t.Errorf("admin's template list lacks %s", want)
		}
	}
	if strings.Contains(admin, "<b>Widget") {
		t.Error("a description is not escaped")
	}
	viewer := list(realm.RoleViewer)
	if strings.Contains(viewer, `action="/console/realms/shop/security-templates"`) || !strings.Contains(viewer, "readonly-note") ||
		!strings.Contains(viewer, `data-template="uploader"`) {
		t.Error("viewer's template list")
	}

	exp := time.Date(2026, 5, 1, 12, 10, 0, 0, time.UTC)
	page := func(role realm.Role, key *shownSecret, canMint bool) string {
		b := base{Role: role, CanWrite: role.CanWrite(), Realm: "shop", Section: "security-templates", Errors: fieldErrors{},
			Form: templateFormOf(&tpl)}
		v := &templateView{base: b, T: rowOf(tpl), Picker: groupPermissions(catalog), CanMint: canMint, TestKey: key}
		if key != nil {
			v.TestKeyExpires = key.Until
		}
		return render("sectemplate.html", v)
	}
	withKey := page(realm.RoleAdmin, &shownSecret{Secret: "eyJ.test.key", Until: exp}, true)
	for _, want := range []string{`<dialog open data-modal id="secret-dialog"`, "eyJ.test.key", "only time this key is shown",
		`datetime="2026-05-01T12:10:00Z"`, "2026-05-01 12:10:00 UTC", "at most 10 minutes", "Upload to /marketing/*"} {
		if !strings.Contains(withKey, want) {
			t.Errorf("the page with a test key lacks %s", want)
		}
	}
	plain := page(realm.RoleAdmin, nil, true)
	for _, want := range []string{`action="/console/realms/shop/security-templates/uploader/test-key"`, "Mint a test key",
		`href="/console/realms/shop/security-templates/uploader/delete"`, `value="asset:create" checked`,
		`name="limit_per_minute" type="number" value="60"`, `name="limit_per_source_ip_per_minute" type="number" value=""`,
		">\n/marketing/*</textarea>"} {
		if !strings.Contains(plain, want) {
			t.Errorf("the admin's template page lacks %s", want)
		}
	}
	if strings.Contains(plain, "<dialog") || strings.Contains(plain, `value="asset:read" checked`) {
		t.Error("the template page shows a dialog without a key, or a permission the template lacks")
	}
	if noMint := page(realm.RoleAdmin, nil, false); strings.Contains(noMint, "/test-key") {
		t.Error("the mint button shows on a server that cannot mint")
	}
	// A viewer's only form is the layout's sign-out.
	if v := page(realm.RoleViewer, nil, false); strings.Count(v, `method="post"`) != 1 || strings.Contains(v, "/delete") ||
		strings.Contains(v, "/test-key") || !strings.Contains(v, "readonly-note") {
		t.Error("a viewer is offered a change on a template's page")
	}
}
