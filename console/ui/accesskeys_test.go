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

// TestGroupPermissions: the picker groups the catalog by resource type,
// one group per type, each permission named by its action.
func TestGroupPermissions(t *testing.T) {
	got := groupPermissions([]realm.Permission{
		{Name: "asset:delete"}, {Name: "asset:read", Description: "Read assets"}, {Name: "report:read"},
	})
	if len(got) != 2 || got[0].Type != "asset" || got[1].Type != "report" {
		t.Fatalf("groups = %+v", got)
	}
	if len(got[0].Perms) != 2 || got[0].Perms[1] != (permissionItem{Name: "asset:read", Action: "read", Description: "Read assets"}) {
		t.Errorf("asset group = %+v", got[0].Perms)
	}
	// The database's collation may interleave types: each still gets one
	// group.
	got = groupPermissions([]realm.Permission{{Name: "a:a"}, {Name: "a_b:c"}, {Name: "a:z"}})
	if len(got) != 2 || got[0].Type != "a" || len(got[0].Perms) != 2 || got[0].Perms[1].Action != "z" || got[1].Type != "a_b" {
		t.Errorf("interleaved catalog: %+v", got)
	}
	if len(groupPermissions(nil)) != 0 {
		t.Error("an empty catalog has groups")
	}
}

// TestParseExpiry: the expiry field is UTC whatever its form; empty is no
// expiry; anything else is refused.
func TestParseExpiry(t *testing.T) {
	want := time.Date(2027, 1, 31, 18, 0, 0, 0, time.UTC)
	for _, s := range []string{"2027-01-31T18:00", "2027-01-31T18:00:00", " 2027-01-31T18:00 ", "2027-01-31T19:00:00+01:00"} {
		got, ok := parseExpiry(s)
		if !ok || got == nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v UTC", s, got, ok, want)
		}
	}
	if got, ok := parseExpiry("2027-01-31"); !ok || !got.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a date alone = %v, %v; want its midnight UTC", got, ok)
	}
	if got, ok := parseExpiry(""); !ok || got != nil {
		t.Errorf("empty = %v, %v; want no expiry", got, ok)
	}
	for _, s := range []string{"tomorrow", "31/01/2027", "2027-13-01T00:00"} {
		if _, ok := parseExpiry(s); ok {
			t.Errorf("parseExpiry(%q) accepted", s)
		}
	}
}

// TestKeyRefused: the service's errors about single permissions land on
// the picker, naming the permission (the first by index); other fields
// keep their names.
func TestKeyRefused(t *testing.T) {
	v := &realm.ValidationError{}
	v.Add("description", "is required")
	v.Add("permissions[2]", "is a duplicate")
	v.Add("permissions[1]", `"x:y" is not in the realm's permission catalog`)
	fe, status, ok := keyRefused(v, []string{"asset:read", "x:y", "asset:read"})
	if !ok || status != http.StatusBadRequest {
		t.Fatalf("ok %v, status %d", ok, status)
	}
	if fe["description"] != "is required" || fe["permissions"] != `"x:y" is not in the realm's permission catalog` || len(fe) != 2 {
		t.Errorf("errors = %v", fe)
	}
	v = &realm.ValidationError{}
	v.Add("permissions[1]", "is a duplicate")
	if fe, _, _ := keyRefused(v, []string{"a:b", "a:b"}); fe["permissions"] != `"a:b" is a duplicate` {
		t.Errorf("duplicate: %v", fe)
	}
	if fe, _, _ := keyRefused(realm.Invalid("permissions", "must name at least one"), nil); fe["permissions"] != "must name at least one" {
		t.Errorf("none chosen: %v", fe)
	}
	if _, _, ok := keyRefused(realm.ErrUnavailable, nil); ok {
		t.Error("an outage is taken for bad input")
	}
}

// TestBulkFlash: the flash says how many keys changed, and how many of the
// selected ones already were in that state.
func TestBulkFlash(t *testing.T) {
	for _, c := range []struct {
		changed, selected int
		active            bool
		want              string
	}{
		{2, 2, false, "2 keys deactivated."},
		{1, 1, true, "1 key reactivated."},
		{1, 3, false, "1 key deactivated. 2 selected keys were already deactivated."},
		{0, 1, true, "0 keys reactivated. 1 selected key was already reactivated."},
	} {
		if got := bulkFlash(c.changed, c.selected, c.active); got != c.want {
			t.Errorf("bulkFlash(%d, %d, %v) = %q, want %q", c.changed, c.selected, c.active, got, c.want)
		}
	}
}

// TestListStateURL: the way back to the list keeps its filters and page,
// escaped, and drops what the list would never make.
func TestListStateURL(t *testing.T) {
	cursor := strings.Repeat("a", 26)
	if got := (listState{Active: "deactivated", Q: "a&b=c", Cursor: cursor}).url("shop"); got != "/console/realms/shop/api-keys?active=deactivated&cursor="+cursor+"&q=a%26b%3Dc" {
		t.Errorf("url = %q", got)
	}
	if got := (listState{Active: "bogus", Q: strings.Repeat("x", realm.MaxQueryLen+1), Cursor: "../x"}).url("shop"); got != "/console/realms/shop/api-keys" {
		t.Errorf("forged state url = %q", got)
	}
	if got := (listState{Active: "all"}).url("my realm"); got != "/console/realms/my%20realm/api-keys" {
		t.Errorf("all url = %q", got)
	}
}

// TestAccessKeyPages renders the new pages: the realm navigation links
// them; an admin gets the bulk checkboxes and buttons, the grouped picker
// and the forms, a viewer none of them; text from outside is escaped; the
// key page shows the once-only dialog only when given the new key.
func TestAccessKeyPages(t *testing.T) {
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
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(-time.Hour)
	used := now.Add(-2 * time.Minute)
	catalog := []realm.Permission{{Name: "asset:read", Description: "Read <assets>"}, {Name: "asset:write"}, {Name: "report:read"}}
	keys := []apiKeyRow{
		{APIKey: realm.APIKey{ID: "k1", Prefix: "ward_AAAAAAAA", Description: `<script>alert(1)</script>`, Permissions: []string{"asset:read"}, Active: true}},
		{APIKey: realm.APIKey{ID: "k2", Prefix: "ward_BBBBBBBB", Description: "old", Permissions: []string{"report:read"}, ExpiresAt: &exp, LastUsedAt: &used}, Expired: true},
	}
	list := func(role realm.Role) string {
		b := base{Role: role, CanWrite: role.CanWrite(), Realm: "shop", Section: "api-keys", Form: url.Values{}, Errors: fieldErrors{}}
		return render("apikeys.html", &apiKeysView{base: b, Keys: keys, Picker: groupPermissions(catalog),
			Filter: url.Values{"active": {""}, "q": {""}}, FilterErrors: fieldErrors{}})
	}
	admin := list(realm.RoleAdmin)
	for _, want := range []string{
		`href="/console/realms/shop/permissions"`, `href="/console/realms/shop/api-keys" aria-current="page"`,
		`name="ids" value="k1"`, `name="action" value="deactivate"`, `name="action" value="reactivate"`,
		`action="/console/realms/shop/api-keys/bulk"`, `data-resource-type="asset"`, `data-resource-type="report"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`, `Read &lt;assets&gt;`, `data-expired`, `type="datetime-local"`, `(UTC)`,
	} {
		if !strings.Contains(admin, want) {
			t.Errorf("admin's key list lacks %s", want)
		}
	}
	if strings.Contains(admin, "<script>alert") {
		t.Error("a key's description is not escaped")
	}
	// The first key has neither expiry nor use: "never" twice; the second
	// has both.
	if n := strings.Count(admin, ">never<"); n != 2 {
		t.Errorf(`"never" shown %d times, want 2`, n)
	}
	if !strings.Contains(admin, "2026-05-01 11:58:00 UTC") {
		t.Error("the last use is not shown")
	}
	viewer := list(realm.RoleViewer)
	for _, bad := range []string{`name="ids"`, `name="action"`, `method="post" action="/console/realms/shop/api-keys"`, "readonly"} {
		if strings.Contains(viewer, bad) != (bad == "readonly") {
			t.Errorf("viewer's key list: %s present = %v", bad, strings.Contains(viewer, bad))
		}
	}

	key := func(role realm.Role, shown *shownSecret) string {
		b := base{Role: role, CanWrite: role.CanWrite(), Realm: "shop", Section: "api-keys", Errors: fieldErrors{},
			Form: url.Values{"description": {"d"}, "permissions": {"asset:read"}}}
		return render("apikey.html", &apiKeyView{base: b, K: keys[0], Key: shown, Picker: groupPermissions(catalog)})
	}
	withKey := key(realm.RoleOwner, &shownSecret{Secret: "ward_secretvalue"})
	if !strings.Contains(withKey, `<dialog open data-modal id="secret-dialog"`) || !strings.Contains(withKey, "ward_secretvalue") ||
		!strings.Contains(withKey, "only time this key is shown") {
		t.Error("the key page with a new key shows no once-only dialog")
	}
	plain := key(realm.RoleOwner, nil)
	if strings.Contains(plain, "<dialog") {
		t.Error("the key page shows a dialog without a new key")
	}
	if !strings.Contains(plain, `value="asset:read" checked`) || strings.Contains(plain, `value="asset:write" checked`) {
		t.Error("the edit picker does not show the key's permissions")
	}
	// A viewer's only form is the layout's sign-out.
	if v := key(realm.RoleViewer, nil); strings.Count(v, `method="post"`) != 1 || strings.Contains(v, "/deactivate") || !strings.Contains(v, "readonly-note") {
		t.Error("a viewer is offered a change on a key's page")
	}

	perms := render("permissions.html", &permissionsView{base: base{Role: realm.RoleViewer, Realm: "shop", Section: "permissions",
		Form: url.Values{}, Errors: fieldErrors{}}, Permissions: catalog})
	if !strings.Contains(perms, `data-permission="asset:read"`) || strings.Contains(perms, `method="post" action="/console/realms/shop/permissions"`) ||
		!strings.Contains(perms, `href="/console/realms/shop/permissions" aria-current="page"`) {
		t.Error("viewer's permissions page")
	}
	refusedDelete := render("permission.html", &permissionView{base: base{Role: realm.RoleAdmin, CanWrite: true, Realm: "shop",
		Form: url.Values{}, Errors: fieldErrors{"": `the permission "asset:read" is held by API key ward_AAAAAAAA (k1)`}}, P: &catalog[0]})
	if !strings.Contains(refusedDelete, `id="error-summary"`) || !strings.Contains(refusedDelete, "held by API key ward_AAAAAAAA (k1)") {
		t.Error("a refused deletion does not name the keys")
	}
}
