package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
)

// TestConsoleBrowserAPIKeys: an admin builds a realm's permission catalog
// and API keys in the console, in headless Chromium. A bad permission name
// is refused at its field; the picker groups permissions by resource type;
// a key form without permissions or with a past expiry names those fields
// and keeps what was typed; the expiry is read as UTC. A new key is shown
// once, in the modal secret dialog (it is the key whose hash Ward stored),
// and never again on reload; it is in the list with its prefix,
// permissions and "never" used. Two keys are deactivated at once with the
// row checkboxes, the state filter and search narrow the list, and a bulk
// change from a filtered list comes back to it; the list pages by 50 with
// its filters kept, and a bulk change on page 2 returns there. Deleting a
// permission a key holds is refused naming the key; one no key holds is
// deleted. A key's page edits it and deactivates (confirmed) and
// reactivates it. Forged forms get clear 4xx pages, never a 5xx. A viewer
// sees the screens without any change control, and no key reaches Ward's
// logs.
func TestConsoleBrowserAPIKeys(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 3*time.Minute)

	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	mainText := func() string { return text(t, tab, "main") }
	html := func() string { return evalJS[string](t, tab, `document.documentElement.outerHTML`) }
	setValue := func(sel, v string) {
		t.Helper()
		evalJS[bool](t, tab, fmt.Sprintf(`document.querySelector(%q).value = %q; true`, sel, v))
	}

	// Both screens are in the realm's navigation.
	e.visit(t, tab, "/console/realms/shop")
	if err := clickLink(tab, `nav.realm-nav a[href="/console/realms/shop/permissions"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "Permissions" || count(t, tab, `nav.realm-nav a[aria-current="page"][href$="/permissions"]`) != 1 {
		t.Fatalf("the Permissions link leads to %q", h1)
	}

	// Permissions: a bad name is refused at its field, with what was typed.
	newPerm := `form[aria-labelledby="new-permission"] button[type=submit]`
	fill(t, tab, map[string]string{"#perm-name": "Asset Read", "#perm-description": "kept"})
	submit(t, tab, newPerm)
	if msg := text(t, tab, "#perm-name-error"); !strings.Contains(msg, "resource_type:action") ||
		!strings.Contains(text(t, tab, "#error-summary"), "Name: "+msg) {
		t.Fatalf("bad permission name: error %q; page:\n%s", msg, mainText())
	}
	if got := evalJS[[]string](t, tab, `[document.querySelector("#perm-name").value, document.querySelector("#perm-description").value]`); got[0] != "Asset Read" || got[1] != "kept" {
		t.Errorf("after the refused form: %q", got)
	}
	for name, desc := range map[string]string{"asset:read": "Read assets", "asset:write": "Change assets", "report:read": "Read reports"} {
		fill(t, tab, map[string]string{"#perm-name": name, "#perm-description": desc})
		submit(t, tab, newPerm)
		if flash := text(t, tab, ".flash"); flash != "Permission "+name+" created." {
			t.Fatalf("creating %s: flash %q; page:\n%s", name, flash, mainText())
		}
	}
	if n := count(t, tab, "tr[data-permission]"); n != 3 {
		t.Fatalf("%d permissions listed, want 3", n)
	}
	// The same name again is a conflict at the name field.
	fill(t, tab, map[string]string{"#perm-name": "asset:read"})
	submit(t, tab, newPerm)
	if msg := text(t, tab, "#perm-name-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("a duplicate permission: %q", msg)
	}
	// Its description can be edited.
	e.visit(t, tab, "/console/realms/shop/permissions/asset:read")
	fill(t, tab, map[string]string{"#perm-description": "Read any asset"})
	submit(t, tab, `form[aria-labelledby="edit-permission"] button[type=submit]`)
	if flash, d := text(t, tab, ".flash"), text(t, tab, "[data-description]"); flash != "Permission asset:read saved." || d != "Read any asset" {
		t.Errorf("edit permission: flash %q, description %q", flash, d)
	}

	// API keys: reached from the navigation; empty at first.
	if err := clickLink(tab, `nav.realm-nav a[href="/console/realms/shop/api-keys"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "API keys" || count(t, tab, "[data-empty]") != 1 {
		t.Fatalf("API keys page: %q\n%s", h1, mainText())
	}
	// The picker: one fieldset per resource type, each permission by its
	// action.
	picker := `form[aria-labelledby="new-key"] fieldset.picker`
	if got := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('`+picker+` fieldset.resource-type')).map(f =>
		f.querySelector("legend").textContent + ": " + Array.from(f.querySelectorAll("input[name=permissions]")).map(i => i.value).join(" "))`); fmt.Sprint(got) != "[asset: asset:read asset:write report: report:read]" {
		t.Errorf("picker groups = %q", got)
	}
	if hint := text(t, tab, "#key-expires-hint"); !strings.Contains(hint, "UTC") {
		t.Errorf("the expiry does not say it is UTC: %q", hint)
	}
	box := func(perm string) string { return picker + ` input[name=permissions][value="` + perm + `"]` }
	newKey := `form[aria-labelledby="new-key"] button[type=submit]`

	// No permission and a past expiry: both named, the description kept.
	fill(t, tab, map[string]string{"#key-description": "Billing backend"})
	setValue("#key-expires", "2020-01-01T00:00")
	submit(t, tab, newKey)
	if msg := text(t, tab, "#new-permissions-error"); !strings.Contains(msg, "at least one") {
		t.Errorf("no permission: error %q; page:\n%s", msg, mainText())
	}
	if msg := text(t, tab, "#key-expires-error"); !strings.Contains(msg, "future") {
		t.Errorf("past expiry: error %q", msg)
	}
	if count(t, tab, "dialog") != 0 || evalJS[string](t, tab, `document.querySelector("#key-description").value`) != "Billing backend" {
		t.Fatalf("after the refused key form:\n%s", mainText())
	}

	// shownKey waits for the once-only dialog, checks it is a modal with
	// the warning and a working copy button, saves a screenshot named shot
	// (if any), closes it and returns the key and the key's ID.
	keyShape := regexp.MustCompile(`^ward_[0-9A-Za-z]{43}$`)
	shownKey := func(shot string) (key, id string) {
		t.Helper()
		waitPage(t, tab, "dialog#secret-dialog[open]")
		if shot != "" {
			screenshot(t, tab, shot)
		}
		if !evalJS[bool](t, tab, `document.querySelector("#secret-dialog").matches(":modal")`) {
			t.Error("the key dialog is not modal")
		}
		warning := text(t, tab, "#secret-warning")
		for _, w := range []string{"only time", "Store it now", "only a hash"} {
			if !strings.Contains(warning, w) {
				t.Errorf("the key warning %q does not say %q", warning, w)
			}
		}
		key = strings.TrimSpace(text(t, tab, "#api-key-secret"))
		if !keyShape.MatchString(key) {
			t.Fatalf("key in the dialog = %q", key)
		}
		click(`#secret-dialog [data-secret-copy="api-key-secret"]`)
		if _, err := waitJS(t, tab, `document.querySelector("#api-key-secret-status").textContent.includes("Copied") ||
			window.getSelection().toString().trim() === document.querySelector("#api-key-secret").textContent.trim()`, 5*time.Second); err != nil {
			t.Error("the copy button neither copied nor selected the key")
		}
		click("#secret-close")
		if _, err := waitJS(t, tab, `!document.querySelector("#secret-dialog").open`, 5*time.Second); err != nil {
			t.Error("the close button does not close the key dialog")
		}
		id = strings.TrimSpace(text(t, tab, "#key-id"))
		if prefix := strings.TrimSpace(text(t, tab, "#key-prefix")); !strings.HasPrefix(key, prefix) || len(prefix) < len("ward_")+4 {
			t.Errorf("prefix %q of key %q", prefix, key)
		}
		return key, id
	}

	// Fixed: asset:read ticked in the picker, an expiry in the future.
	click(box("asset:read"))
	setValue("#key-expires", "2099-01-31T18:00")
	submit(t, tab, newKey)
	key1, id1 := shownKey("api-key-secret")
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "API key ward_") || strings.Contains(flash, key1) {
		t.Errorf("flash after creating: %q", flash)
	}
	// The expiry was read as UTC; the key holds what was ticked.
	if got := text(t, tab, "[data-expires]"); got != "2099-01-31 18:00:00 UTC" {
		t.Errorf("expiry shown as %q", got)
	}
	if got, used := text(t, tab, "[data-permissions]"), text(t, tab, "[data-last-used]"); got != "asset:read" || used != "never" {
		t.Errorf("key page: permissions %q, last used %q", got, used)
	}
	// The key shown is the one Ward keeps the hash of.
	store, err := sql.Open(context.Background(), sql.Config{DSN: e.w.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	shop, err := store.GetRealmByName(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := store.GetAPIKeyByHash(context.Background(), shop.ID, realm.HashSecret(key1)); err != nil || k.ID != id1 {
		t.Fatalf("the key shown is not the stored key %s: %v, %v", id1, k, err)
	}
	// A reload never shows it again.
	e.visit(t, tab, "/console/realms/shop/api-keys/"+id1)
	waitPage(t, tab, "#key-id")
	if strings.Contains(html(), key1) || count(t, tab, "dialog") != 0 {
		t.Fatal("the key is still in the page after a reload")
	}

	// Two more keys, created the same way.
	create := func(desc string, perms ...string) (string, string) {
		t.Helper()
		e.visit(t, tab, "/console/realms/shop/api-keys")
		fill(t, tab, map[string]string{"#key-description": desc})
		for _, p := range perms {
			click(box(p))
		}
		submit(t, tab, newKey)
		return shownKey("")
	}
	key2, id2 := create("Nightly export", "report:read", "asset:read")
	key3, id3 := create("Keep me", "asset:write")

	// The list: prefix, description, permissions, state, expiry, last use.
	e.visit(t, tab, "/console/realms/shop/api-keys")
	row := func(id string) string { return text(t, tab, `tr[data-key="`+id+`"]`) }
	if r := row(id1); !strings.Contains(r, key1[:len("ward_")+8]) || !strings.Contains(r, "Billing backend") ||
		!strings.Contains(r, "asset:read") || !strings.Contains(r, "Active") || !strings.Contains(r, "2099-01-31 18:00:00 UTC") {
		t.Errorf("list row of the first key: %q", r)
	}
	if used := text(t, tab, `tr[data-key="`+id1+`"] [data-last-used]`); used != "never" {
		t.Errorf("last used of an unused key: %q", used)
	}
	if expires := text(t, tab, `tr[data-key="`+id2+`"] [data-expires]`); expires != "never" {
		t.Errorf("expiry of a key without one: %q", expires)
	}
	if r := row(id2); !strings.Contains(r, "asset:read, report:read") {
		t.Errorf("list row of the second key: %q", r)
	}
	if n := count(t, tab, "tr[data-key]"); n != 3 {
		t.Fatalf("%d keys listed, want 3", n)
	}
	screenshot(t, tab, "api-keys")

	// Bulk: nothing ticked is refused, saying so, and changes nothing.
	bulk := func(action string) {
		t.Helper()
		submit(t, tab, `form[data-bulk-form] button[name=action][value=`+action+`]`)
	}
	bulk("deactivate")
	if summary := text(t, tab, "#error-summary"); !strings.Contains(summary, "select at least one key") {
		t.Errorf("bulk without a key: %q", summary)
	}
	// The first two ticked: both deactivated at once.
	click("#select-" + id1)
	click("#select-" + id2)
	bulk("deactivate")
	if flash := text(t, tab, ".flash"); flash != "2 keys deactivated." {
		t.Fatalf("bulk deactivate: flash %q; page:\n%s", flash, mainText())
	}
	state := func(id string) string {
		return evalJS[string](t, tab, `(document.querySelector('tr[data-key="`+id+`"] [data-status]')||{}).dataset?.status||""`)
	}
	if s1, s2, s3 := state(id1), state(id2), state(id3); s1 != "deactivated" || s2 != "deactivated" || s3 != "active" {
		t.Errorf("after the bulk change: %s %s %s", s1, s2, s3)
	}
	for id, want := range map[string]bool{id1: false, id2: false, id3: true} {
		if k, err := store.GetAPIKey(context.Background(), shop.ID, id); err != nil || k.Active != want {
			t.Errorf("key %s active in the database: %v (err %v), want %v", id, k.Active, err, want)
		}
	}

	// Filters: by state, and by text.
	filter := func(active, q string) {
		t.Helper()
		fill(t, tab, map[string]string{"#key-active": active, "#key-search": q})
		submit(t, tab, `form[role=search] button[type=submit]`)
	}
	listed := func() string {
		return fmt.Sprint(evalJS[[]string](t, tab, `Array.from(document.querySelectorAll("tr[data-key]")).map(r => r.dataset.key).sort()`))
	}
	sorted := func(ids ...string) string {
		out := slices.Clone(ids)
		slices.Sort(out)
		return fmt.Sprint(out)
	}
	filter("deactivated", "")
	if got := listed(); got != sorted(id1, id2) {
		t.Errorf("deactivated keys: %s, want %s", got, sorted(id1, id2))
	}
	if !strings.Contains(evalJS[string](t, tab, `location.search`), "active=deactivated") {
		t.Errorf("the filter is not in the address: %s", evalJS[string](t, tab, `location.href`))
	}
	filter("active", "")
	if got := listed(); got != sorted(id3) {
		t.Errorf("active keys: %s, want %s", got, sorted(id3))
	}
	filter("all", "nightly")
	if got := listed(); got != sorted(id2) {
		t.Errorf("search nightly: %s, want %s", got, sorted(id2))
	}
	filter("active", "nightly")
	if count(t, tab, "tr[data-key]") != 0 || !strings.Contains(text(t, tab, "[data-empty]"), "No key matches") {
		t.Errorf("active and nightly:\n%s", mainText())
	}
	// A bulk change from a filtered list comes back to that list.
	filter("deactivated", "")
	click("#select-" + id2)
	bulk("reactivate")
	if flash := text(t, tab, ".flash"); flash != "1 key reactivated." {
		t.Errorf("bulk reactivate: flash %q", flash)
	}
	if got, search := listed(), evalJS[string](t, tab, `location.search`); got != sorted(id1) || !strings.Contains(search, "active=deactivated") {
		t.Errorf("after reactivating from the deactivated list: %s at %s", got, search)
	}

	// Forged requests get a clear 4xx page naming the problem.
	csrf := evalJS[string](t, tab, `document.querySelector('form[action="/console/logout"] input[name=csrf_token]').value`)
	fetchPage := func(method, path string, fields map[string][]string) (int, string) {
		t.Helper()
		out := evalJS[[]any](t, tab, fmt.Sprintf(`(async () => {
			const body = new URLSearchParams();
			const fields = %s;
			for (const k in fields) for (const v of fields[k]) body.append(k, v);
			const init = %q === "POST" ? {method: "POST", body} : {};
			const r = await fetch(%q, init);
			const doc = new DOMParser().parseFromString(await r.text(), "text/html");
			return [r.status, (doc.querySelector("#error-summary, main, body")||{}).textContent||""];
		})()`, mustJSON(t, fields), method, path), awaitPromise)
		return int(out[0].(float64)), out[1].(string)
	}
	const keysPath = "/console/realms/shop/api-keys"
	for _, c := range []struct {
		name, method, path string
		fields             map[string][]string
		status             int
		says               string
	}{
		{"bulk with a key of no realm", "POST", keysPath + "/bulk", map[string][]string{"action": {"deactivate"},
			"ids": {id3, "01hzzzzzzzzzzzzzzzzzzzzzzz"}}, 404, "no API key"},
		{"bulk with a made-up action", "POST", keysPath + "/bulk", map[string][]string{"action": {"delete"}, "ids": {id3}}, 400, "Deactivate selected"},
		{"bulk naming a key twice", "POST", keysPath + "/bulk", map[string][]string{"action": {"deactivate"}, "ids": {id3, id3}}, 400, "duplicate"},
		{"an expiry that is not a time", "POST", keysPath, map[string][]string{"description": {"x"}, "permissions": {"asset:read"},
			"expires_at": {"next tuesday"}}, 400, "Expires at"},
		{"a permission not in the catalog", "POST", keysPath, map[string][]string{"description": {"x"}, "permissions": {"asset:read", "vault:open"}}, 400, "vault:open"},
		{"an unknown state filter", "GET", keysPath + "?active=maybe", nil, 400, "all, active or deactivated"},
		{"a broken page link", "GET", keysPath + "?cursor=nope", nil, 400, "page link"},
		{"an unknown key", "GET", keysPath + "/01hzzzzzzzzzzzzzzzzzzzzzzz", nil, 404, "Not found"},
	} {
		if c.method == "POST" {
			c.fields["csrf_token"] = []string{csrf}
		}
		status, body := fetchPage(c.method, c.path, c.fields)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", c.name, status, c.status, c.says, body)
		}
	}
	if k, err := store.GetAPIKey(context.Background(), shop.ID, id3); err != nil || !k.Active {
		t.Errorf("a refused bulk change deactivated %s (%v)", id3, err)
	}
	if n, err := store.CountPermissions(context.Background(), shop.ID); err != nil || n != 3 {
		t.Errorf("permissions after forged forms: %d (%v)", n, err)
	}

	// Deleting a permission that keys hold: confirmed, then refused
	// naming the keys; asset:write, once no key holds it, is deleted.
	e.visit(t, tab, "/console/realms/shop/permissions/asset:read")
	if err := clickLink(tab, `a[href$="/asset:read/delete"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "Delete the permission asset:read?" {
		t.Fatalf("confirmation page: %q", h1)
	}
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	summary := text(t, tab, "#error-summary")
	for _, want := range []string{"held by", key1[:len("ward_")+8], id1, key2[:len("ward_")+8], id2} {
		if !strings.Contains(summary, want) {
			t.Errorf("the refused deletion does not name %q: %q", want, summary)
		}
	}
	if status, body := fetchPage("POST", "/console/realms/shop/permissions/asset:read/delete",
		map[string][]string{"csrf_token": {csrf}}); status != 409 || !strings.Contains(body, "held by") {
		t.Errorf("deleting a held permission: %d\n%s", status, body)
	}
	// The key's page: its edit form takes asset:write away and adds
	// report:read (the same picker); refused without any permission.
	e.visit(t, tab, "/console/realms/shop/api-keys/"+id3)
	editPicker := `form[aria-labelledby="edit-key"] fieldset.picker`
	if !evalJS[bool](t, tab, `document.querySelector('`+editPicker+` input[value="asset:write"]').checked`) {
		t.Error("the edit picker does not show the key's permission")
	}
	click(editPicker + ` input[value="asset:write"]`)
	submit(t, tab, `form[aria-labelledby="edit-key"] button[type=submit]`)
	if msg := text(t, tab, "#edit-permissions-error"); !strings.Contains(msg, "at least one") {
		t.Errorf("a key without permissions: %q", msg)
	}
	click(editPicker + ` input[value="report:read"]`)
	fill(t, tab, map[string]string{"#key-description": "Kept, renamed"})
	submit(t, tab, `form[aria-labelledby="edit-key"] button[type=submit]`)
	if flash, perms, d := text(t, tab, ".flash"), text(t, tab, "[data-permissions]"), text(t, tab, "[data-description]"); !strings.HasSuffix(flash, "saved.") || perms != "report:read" || d != "Kept, renamed" {
		t.Errorf("edited key: flash %q, permissions %q, description %q", flash, perms, d)
	}
	e.visit(t, tab, "/console/realms/shop/permissions/asset:write/delete")
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	if flash := text(t, tab, ".flash"); flash != "Permission asset:write deleted." || count(t, tab, `tr[data-permission="asset:write"]`) != 0 {
		t.Errorf("deleting an unheld permission: flash %q\n%s", flash, mainText())
	}

	// One key: reactivated from its page, deactivated through its
	// confirmation page.
	e.visit(t, tab, "/console/realms/shop/api-keys/"+id1)
	submit(t, tab, `form[action$="/reactivate"] button[type=submit]`)
	if s := evalJS[string](t, tab, `document.querySelector("main [data-status]").dataset.status`); s != "active" {
		t.Errorf("after reactivating: %s", s)
	}
	if err := clickLink(tab, `a[href$="/`+id1+`/deactivate"]`); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `main form[action$="/deactivate"] button[type=submit]`)
	if s, flash := evalJS[string](t, tab, `document.querySelector("main [data-status]").dataset.status`), text(t, tab, ".flash"); s != "deactivated" || !strings.Contains(flash, "deactivated") {
		t.Errorf("after deactivating: %s, flash %q", s, flash)
	}
	e.visit(t, tab, "/console/realms/shop/api-keys/"+id1+"/deactivate")
	if count(t, tab, `main form[action$="/deactivate"]`) != 0 || !strings.Contains(text(t, tab, "h1"), "already deactivated") {
		t.Errorf("deactivate page of a deactivated key:\n%s", mainText())
	}
	// The realm's log links the key's events to its page.
	e.visit(t, tab, "/console/realms/shop/events")
	if n := count(t, tab, `a[data-ref="api_key"][href="/console/realms/shop/api-keys/`+id1+`"]`); n == 0 {
		t.Errorf("no event links to the key's page:\n%s", mainText())
	}

	// Paging: 50 keys a page, the filters kept on every page link. The
	// other 50 active keys are written straight to the database (the
	// console would take minutes to make them).
	now := time.Now().UTC()
	for i := range 50 {
		_, prefix, hash := realm.NewAPIKey(nil)
		k := &realm.APIKey{ID: realm.NewID(now, nil), RealmID: shop.ID, Prefix: prefix, Hash: hash, Active: true,
			Description: fmt.Sprintf("Seeded %02d", i), Permissions: []string{"report:read"}, CreatedAt: now, UpdatedAt: now}
		if err := store.CreateAPIKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	e.visit(t, tab, keysPath+"?active=active")
	if n, next := count(t, tab, "tr[data-key]"), evalJS[string](t, tab, `(document.querySelector("nav.pager a[rel=next]")||{}).href||""`); n != 50 || !strings.Contains(next, "active=active") || !strings.Contains(next, "cursor=") {
		t.Fatalf("first page of active keys: %d rows, next %q", n, next)
	}
	firstPage := listed()
	if err := clickLink(tab, "nav.pager a[rel=next]"); err != nil {
		t.Fatal(err)
	}
	// 52 active keys (id2, id3 and the 50 seeded): two on the second page,
	// none of them on the first, and a link back to the first.
	second := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll("tr[data-key]")).map(r => r.dataset.key)`)
	if len(second) != 2 || strings.Contains(firstPage, second[0]) || strings.Contains(firstPage, second[1]) ||
		count(t, tab, "nav.pager a[rel=next]") != 0 || !strings.HasSuffix(evalJS[string](t, tab, `document.querySelector("nav.pager a").href`), keysPath+"?active=active") {
		t.Errorf("second page: %v (first page %s)\n%s", second, firstPage, mainText())
	}
	// A bulk change on the second page comes back to it.
	click("#select-" + second[0])
	bulk("deactivate")
	if flash, search := text(t, tab, ".flash"), evalJS[string](t, tab, `location.search`); flash != "1 key deactivated." || !strings.Contains(search, "cursor=") || !strings.Contains(search, "active=active") {
		t.Errorf("bulk on page 2: flash %q at %s", flash, search)
	}
	if n := count(t, tab, "tr[data-key]"); n != 1 {
		t.Errorf("page 2 after deactivating one of its two keys: %d rows", n)
	}

	// A viewer sees both screens and no change control.
	vpw := e.member(t, "vic@acme.test", "viewer")
	vtab := e.signedIn(t, "vic@acme.test", vpw, time.Minute)
	for _, p := range []string{"/console/realms/shop/permissions", "/console/realms/shop/permissions/asset:read",
		keysPath, keysPath + "/" + id3, keysPath + "/" + id3 + "/deactivate"} {
		e.visit(t, vtab, p)
		if count(t, vtab, "main form[method=post]") != 0 || count(t, vtab, `main input[name=ids], a[href$="/delete"], a[href$="/deactivate"]`) != 0 ||
			count(t, vtab, ".readonly-note") != 1 {
			t.Errorf("viewer is offered a change on %s:\n%s", p, text(t, vtab, "main"))
		}
	}
	e.visit(t, vtab, keysPath+"?q=kept")
	if count(t, vtab, "tr[data-key]") != 1 {
		t.Errorf("viewer's key list:\n%s", text(t, vtab, "main"))
	}

	// No key ever reaches Ward's logs.
	logs := e.s.logs()
	for i, k := range []string{key1, key2, key3} {
		if strings.Contains(logs, k) {
			t.Errorf("key %d is in Ward's logs", i+1)
		}
	}
}

// TestConsoleAPIKeysAccessibility: the permissions and API keys screens
// pass axe-core's WCAG 2.x A and AA rules (as TestConsoleAccessibility
// checks the other screens), on a desktop window and a phone-sized one
// where nothing overflows sideways: the lists, a key's page, the
// confirmations, the once-only dialog, a refused key form (the picker's
// error) and a refused filter.
func TestConsoleAPIKeysAccessibility(t *testing.T) {
	axeFile := npmFile(t, "axe-core", axeVersion, "axe.min.js", "the console's accessibility test runs axe-core")
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 4*time.Minute)
	audit := func(what string, narrow bool) {
		t.Helper()
		raw := evalJS[string](t, tab, string(axe)+`;
			axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
			   .then(r => JSON.stringify(r.violations))`, awaitPromise)
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatalf("%s: axe answered %s", what, raw)
		}
		for _, v := range vs {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s (narrow=%v): %s [%s] %s at %s", what, narrow, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
		if narrow {
			if w := evalJS[[]int](t, tab, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
				t.Errorf("%s: %d px wide on a %d px screen (scrolls sideways)", what, w[0], w[1])
			}
		}
	}

	// Set-up through the console itself.
	e.visit(t, tab, "/console/realms/shop/permissions")
	for _, name := range []string{"asset:read", "asset:write", "report:read"} {
		fill(t, tab, map[string]string{"#perm-name": name, "#perm-description": "Allows " + name})
		submit(t, tab, `form[aria-labelledby="new-permission"] button[type=submit]`)
	}
	e.visit(t, tab, "/console/realms/shop/api-keys")
	fill(t, tab, map[string]string{"#key-description": "Billing backend"})
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`input[name=permissions][value="asset:read"]`))); err != nil {
		t.Fatal(err)
	}
	submit(t, tab, `form[aria-labelledby="new-key"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	audit("the once-only key dialog", false)
	id := strings.TrimSpace(text(t, tab, "#key-id"))

	r := "/console/realms/shop"
	pages := []string{r + "/permissions", r + "/permissions/asset:read", r + "/permissions/asset:read/delete",
		r + "/api-keys", r + "/api-keys/" + id, r + "/api-keys/" + id + "/deactivate"}
	for _, narrow := range []bool{false, true} {
		if narrow {
			if err := chromedp.Do(tab, chromedp.Emulate(device.IPhone8)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range pages {
			e.visit(t, tab, p)
			if h1 := text(t, tab, "h1"); h1 == "Not found" || h1 == "" {
				t.Fatalf("%s: no such page (%q)", p, h1)
			}
			audit(p, narrow)
		}
	}
	if err := chromedp.Do(tab, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}

	// States only a sent form or a bad address shows.
	e.visit(t, tab, r+"/api-keys")
	fill(t, tab, map[string]string{"#key-description": "No permissions"})
	submit(t, tab, `form[aria-labelledby="new-key"] button[type=submit]`)
	if count(t, tab, "#new-permissions-error") != 1 {
		t.Fatalf("the refused key form shows no picker error:\n%s", text(t, tab, "main"))
	}
	audit("a refused key form", false)
	e.visit(t, tab, r+"/api-keys?active=maybe")
	if count(t, tab, "#key-active-error") != 1 {
		t.Fatalf("a bad state filter shows no error:\n%s", text(t, tab, "main"))
	}
	audit("a refused filter", false)
}
