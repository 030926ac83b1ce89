package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/storage/sqltest"
)

// The admin API of the permission catalog and API keys (CONTRACT §6, issue
// 14), each test on SQLite and on PostgreSQL: a behaviour only one database
// has is a bug.

// onBothDatabases runs f on a fresh admin API over SQLite and over
// PostgreSQL, each with a realm "vault" holding the permissions
// asset:read, asset:write and folder:list.
func onBothDatabases(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("SQLite", func(t *testing.T) { f(t, keysEnv(newEnv(t))) })
	t.Run("Postgres", func(t *testing.T) { f(t, keysEnv(newEnvOn(t, sqltest.OpenPostgres(t)))) })
}

const (
	vaultBase = "/admin/v1/realms/vault"
	permsPath = vaultBase + "/permissions"
	keysPath  = vaultBase + "/api-keys"
	bulkPath  = vaultBase + "/api-keys:bulk"
)

func keysEnv(e *env) *env {
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	for _, p := range []string{"asset:read", "asset:write", "folder:list"} {
		e.must(201, adminToken, "POST", permsPath, map[string]any{"name": p, "description": "may " + p})
	}
	return e
}

// keyShape is what a created key must look like: "ward_" and at least 40
// base62 characters.
var keyShape = regexp.MustCompile(`^ward_[0-9A-Za-z]{40,}$`)

// newKey creates a key and returns its answer; the secret is in "key".
func newKey(t *testing.T, e *env, desc string, perms ...string) map[string]any {
	t.Helper()
	k := e.must(201, adminToken, "POST", keysPath, map[string]any{"description": desc, "permissions": perms})
	if !keyShape.MatchString(str(k["key"])) {
		t.Fatalf("created key %q is not ward_ and 40+ base62 characters", k["key"])
	}
	return k
}

func str(v any) string { s, _ := v.(string); return s }

// items returns a list answer's items.
func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("not a list answer: %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// ids returns the "id" (or "name") of each item.
func idsOf(list []map[string]any, field string) []string {
	out := make([]string, len(list))
	for i, it := range list {
		out[i] = str(it[field])
	}
	return out
}

// getKey reads one key and fails unless it is 200.
func getKey(t *testing.T, e *env, id string) map[string]any {
	t.Helper()
	return e.must(200, viewerToken, "GET", keysPath+"/"+id, nil)
}

// hasNoSecret fails when a raw answer carries a "key" member (anywhere) or
// any of the secrets.
func hasNoSecret(t *testing.T, what string, r response, secrets ...string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
	body := string(r.body)
	if strings.Contains(body, `"key"`) || strings.Contains(strings.ToLower(body), "hash") {
		t.Errorf("%s shows a key or hash member: %s", what, body)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("empty secret")
		}
		if strings.Contains(body, s) {
			t.Errorf("%s shows a key's secret: %s", what, body)
		}
	}
}

func TestPermissionCatalog(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		// Create: 201 with the permission and its Location.
		r := e.do(adminToken, "POST", permsPath, map[string]any{"name": "share-link:create_v2", "description": "Create share links"})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		p := r.json(t)
		if p["name"] != "share-link:create_v2" || p["description"] != "Create share links" || str(p["created_at"]) == "" || str(p["updated_at"]) == "" {
			t.Errorf("create answer %v", p)
		}
		if loc := r.header.Get("Location"); loc != permsPath+"/share-link:create_v2" {
			t.Errorf("Location = %q", loc)
		}
		// A description is optional.
		if p := e.must(201, adminToken, "POST", permsPath, map[string]any{"name": "asset:delete"}); p["description"] != "" {
			t.Errorf("permission without description: %v", p)
		}

		// List: the whole catalog by name, one page.
		list := e.must(200, viewerToken, "GET", permsPath, nil)
		want := []string{"asset:delete", "asset:read", "asset:write", "folder:list", "share-link:create_v2"}
		if got := idsOf(items(t, list), "name"); !slices.Equal(got, want) {
			t.Errorf("catalog = %v, want %v", got, want)
		}
		if _, ok := list["next_cursor"]; ok {
			t.Errorf("catalog list has next_cursor: %v", list)
		}

		// Get one.
		if got := e.must(200, viewerToken, "GET", permsPath+"/asset:read", nil); got["name"] != "asset:read" || got["description"] != "may asset:read" {
			t.Errorf("GET asset:read = %v", got)
		}
		problem(t, e.do(viewerToken, "GET", permsPath+"/asset:nope", nil), http.StatusNotFound)

		// Patch the description; null clears it; the name cannot change.
		if got := e.must(200, adminToken, "PATCH", permsPath+"/asset:read", map[string]any{"description": "Read any asset"}); got["name"] != "asset:read" || got["description"] != "Read any asset" {
			t.Errorf("PATCH description = %v", got)
		}
		if got := e.must(200, viewerToken, "GET", permsPath+"/asset:read", nil); got["description"] != "Read any asset" {
			t.Errorf("description after PATCH = %v", got)
		}
		if got := e.must(200, adminToken, "PATCH", permsPath+"/asset:delete", map[string]any{"description": nil}); got["description"] != "" {
			t.Errorf("PATCH description null = %v", got)
		}
		fieldNamed(t, problem(t, e.do(adminToken, "PATCH", permsPath+"/asset:read", map[string]any{"name": "asset:see"}), http.StatusBadRequest), "name")
		fieldNamed(t, problem(t, e.do(adminToken, "PATCH", permsPath+"/asset:read", map[string]any{"description": strings.Repeat("d", 2001)}), http.StatusBadRequest), "description")
		problem(t, e.do(adminToken, "PATCH", permsPath+"/asset:nope", map[string]any{"description": "x"}), http.StatusNotFound)

		// Invalid names: 400 naming name.
		for _, name := range []string{"", "  ", "asset", "asset:", ":read", "Asset:read", "asset:Read", "asset:read:all",
			"1asset:read", "asset:1read", "asset :read", "asset:re ad", "_asset:read", "asset.x:read", "ässet:read",
			strings.Repeat("a", 64) + ":read", "asset:" + strings.Repeat("r", 64)} {
			p := problem(t, e.do(adminToken, "POST", permsPath, map[string]any{"name": name}), http.StatusBadRequest)
			fieldNamed(t, p, "name")
		}
		fieldNamed(t, problem(t, e.do(adminToken, "POST", permsPath, map[string]any{"description": "no name"}), http.StatusBadRequest), "name")
		// The longest parts are fine.
		long := strings.Repeat("a", 63) + ":" + strings.Repeat("b", 63)
		e.must(201, adminToken, "POST", permsPath, map[string]any{"name": long})
		e.must(200, viewerToken, "GET", permsPath+"/"+long, nil)

		// Duplicate: 409 naming name.
		fieldNamed(t, problem(t, e.do(adminToken, "POST", permsPath, map[string]any{"name": "asset:read"}), http.StatusConflict), "name")

		// Delete: 204, then gone.
		e.must(204, adminToken, "DELETE", permsPath+"/"+long, nil)
		problem(t, e.do(viewerToken, "GET", permsPath+"/"+long, nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "DELETE", permsPath+"/"+long, nil), http.StatusNotFound)

		// A permission a key holds cannot be deleted: 409 naming the key
		// by its prefix.
		k := newKey(t, e, "reader", "asset:read", "folder:list")
		k2 := newKey(t, e, "second reader", "asset:read")
		held := problem(t, e.do(adminToken, "DELETE", permsPath+"/asset:read", nil), http.StatusConflict)
		fieldNamed(t, held, "name")
		for _, hk := range []map[string]any{k, k2} {
			if !strings.Contains(held.Detail, str(hk["prefix"])) || !strings.Contains(held.Detail, str(hk["id"])) {
				t.Errorf("409 detail %q does not name key %s (%s)", held.Detail, hk["prefix"], hk["id"])
			}
		}
		if strings.Contains(string(e.do(adminToken, "DELETE", permsPath+"/asset:read", nil).body), str(k["key"])) {
			t.Error("the 409 shows a key's secret")
		}
		e.must(200, viewerToken, "GET", permsPath+"/asset:read", nil)
		// Once the keys no longer hold it, it goes.
		e.must(200, adminToken, "PATCH", keysPath+"/"+str(k["id"]), map[string]any{"permissions": []string{"folder:list"}})
		problem(t, e.do(adminToken, "DELETE", permsPath+"/asset:read", nil), http.StatusConflict)
		e.must(200, adminToken, "PATCH", keysPath+"/"+str(k2["id"]), map[string]any{"permissions": []string{"asset:write"}})
		e.must(204, adminToken, "DELETE", permsPath+"/asset:read", nil)
		// A deactivated key still holds its permissions.
		e.must(200, adminToken, "PATCH", keysPath+"/"+str(k["id"]), map[string]any{"active": false})
		fieldNamed(t, problem(t, e.do(adminToken, "DELETE", permsPath+"/folder:list", nil), http.StatusConflict), "name")

		// Unknown realm.
		problem(t, e.do(adminToken, "GET", "/admin/v1/realms/nowhere/permissions", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "POST", "/admin/v1/realms/nowhere/permissions", map[string]any{"name": "a:b"}), http.StatusNotFound)
	})
}

func TestAPIKeyCreateShowsKeyOnce(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		r := e.do(adminToken, "POST", keysPath, map[string]any{"description": "Nightly import",
			"permissions": []string{"asset:write", "asset:read"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		k := r.json(t)
		secret, id, prefix := str(k["key"]), str(k["id"]), str(k["prefix"])
		if !keyShape.MatchString(secret) {
			t.Errorf("key %q is not ward_ and 40+ base62 characters", secret)
		}
		if id == "" || len(prefix) <= len("ward_") || !strings.HasPrefix(secret, prefix) || len(prefix) >= len(secret)-30 {
			t.Errorf("id %q, prefix %q: the prefix must be the key's start and hide most of it (key %q)", id, prefix, secret)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("create answer with a key has Cache-Control %q", cc)
		}
		if loc := r.header.Get("Location"); loc != keysPath+"/"+id {
			t.Errorf("Location = %q", loc)
		}
		if k["description"] != "Nightly import" || k["active"] != true || k["expires_at"] != nil || k["last_used_at"] != nil ||
			str(k["created_at"]) == "" || str(k["updated_at"]) == "" {
			t.Errorf("create answer %v", k)
		}
		if got := fmt.Sprint(k["permissions"]); got != "[asset:read asset:write]" {
			t.Errorf("permissions = %s, want sorted [asset:read asset:write]", got)
		}
		for _, f := range []string{"id", "key", "prefix", "description", "permissions", "active", "created_at", "expires_at", "last_used_at"} {
			if _, ok := k[f]; !ok {
				t.Errorf("create answer lacks %q: %v", f, k)
			}
		}
		// Two keys never share a secret or a prefix.
		k2 := newKey(t, e, "Second", "folder:list")
		if k2["key"] == secret || k2["prefix"] == prefix || k2["id"] == id {
			t.Errorf("two keys alike: %v and %v", k, k2)
		}

		// GET one, list, PATCH and events never show the key.
		r = e.do(viewerToken, "GET", keysPath+"/"+id, nil)
		hasNoSecret(t, "GET key", r, secret)
		got := r.json(t)
		for _, f := range []string{"id", "prefix", "description", "permissions", "active", "created_at", "expires_at", "last_used_at"} {
			if fmt.Sprint(got[f]) != fmt.Sprint(k[f]) {
				t.Errorf("GET %s = %v, created with %v", f, got[f], k[f])
			}
		}
		hasNoSecret(t, "list keys", e.do(viewerToken, "GET", keysPath, nil), secret, str(k2["key"]))
		hasNoSecret(t, "list keys ?q=", e.do(viewerToken, "GET", keysPath+"?q=ward_", nil), secret, str(k2["key"]))
		hasNoSecret(t, "PATCH key", e.do(adminToken, "PATCH", keysPath+"/"+id, map[string]any{"description": "Nightly"}), secret)
		hasNoSecret(t, "PATCH key active", e.do(adminToken, "PATCH", keysPath+"/"+id, map[string]any{"active": false}), secret)
		if r := e.do(adminToken, "POST", bulkPath, map[string]any{"ids": []string{id}, "active": true}); r.status != 200 || strings.Contains(string(r.body), secret) {
			t.Errorf("bulk: %d %s", r.status, r.body)
		}
		hasNoSecret(t, "events", e.do(viewerToken, "GET", vaultBase+"/events?limit=200", nil), secret, str(k2["key"]))
		if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, str(k2["key"])) {
			t.Error("a key reached the log")
		}

		// Expiry: stored in UTC; in the past, or not RFC 3339, a 400
		// naming expires_at.
		x := e.must(201, adminToken, "POST", keysPath, map[string]any{"description": "expiring",
			"permissions": []string{"asset:read"}, "expires_at": "2099-01-01T02:00:00+02:00"})
		if x["expires_at"] != "2099-01-01T00:00:00Z" {
			t.Errorf("expires_at = %v, want 2099-01-01T00:00:00Z", x["expires_at"])
		}
		if got := getKey(t, e, str(x["id"])); got["expires_at"] != "2099-01-01T00:00:00Z" {
			t.Errorf("GET expires_at = %v", got["expires_at"])
		}
		for _, at := range []string{"2020-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"} {
			fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "old",
				"permissions": []string{"asset:read"}, "expires_at": at}), http.StatusBadRequest), "expires_at")
		}
		for _, at := range []string{"", "tomorrow", "2099-01-01", "2099-01-01 00:00:00", "2099-01-01T00:00:00",
			"2099-13-01T00:00:00Z", "99-01-01T00:00:00Z", "+2099-01-01T00:00:00Z", "2099-01-01T00:00:00 Z"} {
			fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "bad",
				"permissions": []string{"asset:read"}, "expires_at": at}), http.StatusBadRequest), "expires_at")
		}
		// Past the year 9999 in UTC is no timestamp an answer could show.
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "far",
			"permissions": []string{"asset:read"}, "expires_at": "9999-12-31T23:59:59-23:59"}), http.StatusBadRequest), "expires_at")
		// null is the same as leaving it out.
		if n := e.must(201, adminToken, "POST", keysPath, map[string]any{"description": "no expiry",
			"permissions": []string{"asset:read"}, "expires_at": nil}); n["expires_at"] != nil {
			t.Errorf("expires_at null: %v", n)
		}

		// Permissions: an unknown one is a 400 naming its index.
		p := problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "bad",
			"permissions": []string{"asset:read", "asset:nope"}}), http.StatusBadRequest)
		fieldNamed(t, p, "permissions[1]")
		if len(p.Errors) != 1 {
			t.Errorf("errors = %+v, want only permissions[1]", p.Errors)
		}
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "bad",
			"permissions": []string{"nope:nope", "asset:read", "folder:list", "Asset:READ"}}), http.StatusBadRequest), "permissions[3]")
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "dup",
			"permissions": []string{"asset:read", "asset:read"}}), http.StatusBadRequest), "permissions[1]")
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "empty",
			"permissions": []string{}}), http.StatusBadRequest), "permissions")
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "none"}), http.StatusBadRequest), "permissions")
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "null",
			"permissions": nil}), http.StatusBadRequest), "permissions")
		many := make([]string, 101)
		for i := range many {
			many[i] = "asset:read"
		}
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "many",
			"permissions": many}), http.StatusBadRequest), "permissions")
		// A description is required.
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"permissions": []string{"asset:read"}}), http.StatusBadRequest), "description")
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "   ", "permissions": []string{"asset:read"}}), http.StatusBadRequest), "description")
		// Several bad fields are all named.
		p = problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "", "permissions": []string{"x:y"},
			"expires_at": "2000-01-01T00:00:00Z"}), http.StatusBadRequest)
		for _, f := range []string{"description", "permissions[0]", "expires_at"} {
			fieldNamed(t, p, f)
		}
		fieldNamed(t, problem(t, e.do(adminToken, "POST", keysPath, map[string]any{"description": "x", "permissions": []string{"asset:read"},
			"key": "ward_mine"}), http.StatusBadRequest), "key")
		problem(t, e.do(adminToken, "POST", "/admin/v1/realms/nowhere/api-keys", map[string]any{"description": "x", "permissions": []string{"asset:read"}}), http.StatusNotFound)

		// None of the refused requests made a key.
		if n := len(items(t, e.must(200, viewerToken, "GET", keysPath, nil))); n != 4 {
			t.Errorf("%d keys after the refused requests, want 4", n)
		}
	})
}

func TestAPIKeyListAndPatch(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		a := newKey(t, e, "Nightly IMPORT job", "asset:write")
		b := newKey(t, e, "Thumbnailer", "asset:read")
		c := newKey(t, e, "100% coverage_bot", "folder:list")
		aID, bID, cID := str(a["id"]), str(b["id"]), str(c["id"])

		// Lists are ordered by ID (IDs of one millisecond in no
		// particular order, so compare sorted).
		all := idsOf(items(t, e.must(200, viewerToken, "GET", keysPath, nil)), "id")
		sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
		if !slices.Equal(all, sorted(aID, bID, cID)) {
			t.Fatalf("list = %v, want %v", all, sorted(aID, bID, cID))
		}
		for _, it := range items(t, e.must(200, viewerToken, "GET", keysPath, nil)) {
			for _, f := range []string{"id", "prefix", "description", "permissions", "active", "created_at", "expires_at", "last_used_at"} {
				if _, ok := it[f]; !ok {
					t.Errorf("list item lacks %q: %v", f, it)
				}
			}
		}

		// PATCH: description, permissions, active; the rest stays.
		got := e.must(200, adminToken, "PATCH", keysPath+"/"+bID, map[string]any{"description": "Thumbnails v2"})
		if got["description"] != "Thumbnails v2" || fmt.Sprint(got["permissions"]) != "[asset:read]" || got["active"] != true || got["prefix"] != b["prefix"] {
			t.Errorf("PATCH description = %v", got)
		}
		got = e.must(200, adminToken, "PATCH", keysPath+"/"+bID, map[string]any{"permissions": []string{"folder:list", "asset:read", "asset:write"}})
		if fmt.Sprint(got["permissions"]) != "[asset:read asset:write folder:list]" || got["description"] != "Thumbnails v2" {
			t.Errorf("PATCH permissions = %v", got)
		}
		got = e.must(200, adminToken, "PATCH", keysPath+"/"+bID, map[string]any{"active": false})
		if got["active"] != false || fmt.Sprint(got["permissions"]) != "[asset:read asset:write folder:list]" {
			t.Errorf("PATCH active false = %v", got)
		}
		if got := getKey(t, e, bID); got["active"] != false || got["description"] != "Thumbnails v2" || fmt.Sprint(got["permissions"]) != "[asset:read asset:write folder:list]" {
			t.Errorf("GET after PATCHes = %v", got)
		}
		got = e.must(200, adminToken, "PATCH", keysPath+"/"+bID, map[string]any{"active": true, "permissions": []string{"asset:read"}, "description": "Thumbnailer"})
		if got["active"] != true || fmt.Sprint(got["permissions"]) != "[asset:read]" || got["description"] != "Thumbnailer" {
			t.Errorf("PATCH all three = %v", got)
		}
		// An empty patch changes nothing.
		if got := e.must(200, adminToken, "PATCH", keysPath+"/"+bID, map[string]any{}); got["description"] != "Thumbnailer" || got["active"] != true {
			t.Errorf("empty PATCH = %v", got)
		}
		e.must(200, adminToken, "PATCH", keysPath+"/"+aID, map[string]any{"active": false})

		// Bad patches: 400 naming the field, and nothing changes.
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"permissions": []string{}}, "permissions"},
			{map[string]any{"permissions": nil}, "permissions"},
			{map[string]any{"permissions": []string{"asset:read", "nope:nope"}}, "permissions[1]"},
			{map[string]any{"permissions": []string{"folder:list", "folder:list"}}, "permissions[1]"},
			{map[string]any{"description": ""}, "description"},
			{map[string]any{"description": nil}, "description"},
			{map[string]any{"description": strings.Repeat("d", 2001)}, "description"},
			{map[string]any{"active": nil}, "active"},
			{map[string]any{"active": "false"}, "active"},
			{map[string]any{"prefix": "ward_x"}, "prefix"},
			{map[string]any{"expires_at": "2099-01-01T00:00:00Z"}, "expires_at"},
			{map[string]any{"description": "fine", "permissions": []string{"asset:nope"}}, "permissions[0]"},
		} {
			fieldNamed(t, problem(t, e.do(adminToken, "PATCH", keysPath+"/"+bID, tc.body), http.StatusBadRequest), tc.field)
		}
		if got := getKey(t, e, bID); got["active"] != true || got["description"] != "Thumbnailer" || fmt.Sprint(got["permissions"]) != "[asset:read]" {
			t.Errorf("key changed by refused patches: %v", got)
		}
		problem(t, e.do(adminToken, "PATCH", keysPath+"/nosuchkey", map[string]any{"active": false}), http.StatusNotFound)
		problem(t, e.do(viewerToken, "GET", keysPath+"/nosuchkey", nil), http.StatusNotFound)

		// Filters: active, text (description and prefix, any case; LIKE
		// wildcards are literal), both, and pages.
		list := func(query string) []string {
			t.Helper()
			return idsOf(items(t, e.must(200, viewerToken, "GET", keysPath+query, nil)), "id")
		}
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"?active=false", []string{aID}},
			{"?active=true", []string{bID, cID}},
			{"?q=import", []string{aID}},
			{"?q=NIGHTLY%20import", []string{aID}},
			{"?q=thumb", []string{bID}},
			{"?q=" + str(c["prefix"]), []string{cID}},
			{"?q=" + strings.ToUpper(str(c["prefix"])[5:]), []string{cID}},
			{"?q=100%25", []string{cID}},
			{"?q=%25", []string{cID}},
			{"?q=_bot", []string{cID}},
			{"?q=a_e", []string{}},
			{"?q=nothing-like-this", []string{}},
			{"?q=import&active=true", []string{}},
			{"?q=import&active=false", []string{aID}},
			{"?active=true&q=er", []string{bID, cID}},
			{"?active=true&q=NAIL", []string{bID}},
		} {
			if got := list(tc.query); !slices.Equal(got, sorted(tc.want...)) {
				t.Errorf("GET %s = %v, want %v", tc.query, got, tc.want)
			}
		}
		for _, bad := range []string{"x", "yes", "1", "TRUE", "", "%00"} {
			if bad == "" {
				continue // an empty ?active= means no filter
			}
			fieldNamed(t, problem(t, e.do(viewerToken, "GET", keysPath+"?active="+bad, nil), http.StatusBadRequest), "active")
		}
		if got := list("?active="); len(got) != 3 {
			t.Errorf("?active= (empty) = %v, want every key", got)
		}
		first := e.must(200, viewerToken, "GET", keysPath+"?limit=2", nil)
		cursor := str(first["next_cursor"])
		if got := idsOf(items(t, first), "id"); !slices.Equal(got, all[:2]) || cursor != all[1] {
			t.Fatalf("first page %v, want %v", first, all[:2])
		}
		second := e.must(200, viewerToken, "GET", keysPath+"?limit=2&cursor="+cursor, nil)
		if got := idsOf(items(t, second), "id"); !slices.Equal(got, all[2:]) || second["next_cursor"] != nil {
			t.Errorf("second page %v", second)
		}
		// Filters and pages combine: active keys (b, c) one at a time.
		activeIDs := sorted(bID, cID)
		page := e.must(200, viewerToken, "GET", keysPath+"?active=true&limit=1", nil)
		if got := idsOf(items(t, page), "id"); !slices.Equal(got, activeIDs[:1]) || page["next_cursor"] != activeIDs[0] {
			t.Errorf("first active page %v", page)
		}
		if got := list("?active=true&limit=1&cursor=" + activeIDs[0]); !slices.Equal(got, activeIDs[1:]) {
			t.Errorf("second active page = %v", got)
		}
		fieldNamed(t, problem(t, e.do(viewerToken, "GET", keysPath+"?limit=0", nil), http.StatusBadRequest), "limit")
		fieldNamed(t, problem(t, e.do(viewerToken, "GET", keysPath+"?cursor=zzz", nil), http.StatusBadRequest), "cursor")

		// DELETE: 405 with Allow and a problem saying to deactivate.
		r := e.do(adminToken, "DELETE", keysPath+"/"+bID, nil)
		p := problem(t, r, http.StatusMethodNotAllowed)
		if !strings.Contains(p.Detail, "deactivate") {
			t.Errorf("DELETE detail %q does not say to deactivate", p.Detail)
		}
		allow := r.header.Get("Allow")
		if !strings.Contains(allow, "GET") || !strings.Contains(allow, "PATCH") || strings.Contains(allow, "DELETE") {
			t.Errorf("DELETE Allow = %q", allow)
		}
		if got := getKey(t, e, bID); got["active"] != true {
			t.Errorf("key after refused DELETE: %v", got)
		}
		// Other methods the router does not know: 405 from the router.
		r = e.do(adminToken, "PUT", keysPath+"/"+bID, map[string]any{"active": false})
		problem(t, r, http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") {
			t.Errorf("PUT Allow = %q", allow)
		}
		problem(t, e.do(adminToken, "GET", bulkPath, nil), http.StatusMethodNotAllowed)
	})
}

func TestAPIKeysBulk(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		a := str(newKey(t, e, "a", "asset:read")["id"])
		b := str(newKey(t, e, "b", "asset:read")["id"])
		c := str(newKey(t, e, "c", "folder:list")["id"])
		active := func() map[string]any {
			t.Helper()
			out := map[string]any{}
			for _, it := range items(t, e.must(200, viewerToken, "GET", keysPath, nil)) {
				out[str(it["id"])] = it["active"]
			}
			return out
		}
		wantActive := func(want map[string]any) {
			t.Helper()
			if got := active(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("active = %v, want %v", got, want)
			}
		}
		bulk := func(want int, body any) map[string]any {
			t.Helper()
			return e.must(want, adminToken, "POST", bulkPath, body)
		}

		// Deactivate two: {"updated":2}; again: {"updated":0}.
		if got := bulk(200, map[string]any{"ids": []string{a, b}, "active": false}); fmt.Sprint(got) != "map[updated:2]" {
			t.Errorf("bulk deactivate = %v, want {updated:2}", got)
		}
		wantActive(map[string]any{a: false, b: false, c: true})
		if got := bulk(200, map[string]any{"ids": []string{b, a}, "active": false}); fmt.Sprint(got) != "map[updated:0]" {
			t.Errorf("bulk deactivate again = %v, want {updated:0}", got)
		}
		// Mixed: only the ones that change count.
		if got := bulk(200, map[string]any{"ids": []string{a, b, c}, "active": false}); fmt.Sprint(got) != "map[updated:1]" {
			t.Errorf("bulk with one active = %v, want {updated:1}", got)
		}
		wantActive(map[string]any{a: false, b: false, c: false})
		if got := bulk(200, map[string]any{"ids": []string{c, a}, "active": true}); fmt.Sprint(got) != "map[updated:2]" {
			t.Errorf("bulk reactivate = %v, want {updated:2}", got)
		}
		wantActive(map[string]any{a: true, b: false, c: true})

		// All or nothing: one unknown ID is a 404 naming it, and nothing
		// changes.
		p := problem(t, e.do(adminToken, "POST", bulkPath, map[string]any{"ids": []string{a, "nosuchkey", c}, "active": false}), http.StatusNotFound)
		fieldNamed(t, p, "ids[1]")
		if !strings.Contains(p.Detail, "nosuchkey") {
			t.Errorf("404 detail %q does not name the unknown ID", p.Detail)
		}
		wantActive(map[string]any{a: true, b: false, c: true})
		fieldNamed(t, problem(t, e.do(adminToken, "POST", bulkPath, map[string]any{"ids": []string{b, a, "x1", "x2"}, "active": true}), http.StatusNotFound), "ids[2]")
		wantActive(map[string]any{a: true, b: false, c: true})

		// Bad requests: 400 naming the field, nothing changes.
		ids := func(n int, id string) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("%s%d", id, i)
			}
			return out
		}
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{"ids": []string{a}}, "active"},
			{map[string]any{"ids": []string{a}, "active": nil}, "active"},
			{map[string]any{"ids": []string{a}, "active": "false"}, "active"},
			{map[string]any{"ids": []string{a}, "active": 0}, "active"},
			{map[string]any{"active": false}, "ids"},
			{map[string]any{"ids": nil, "active": false}, "ids"},
			{map[string]any{"ids": []string{}, "active": false}, "ids"},
			{map[string]any{"ids": a, "active": false}, "ids"},
			{map[string]any{"ids": []any{a, 7}, "active": false}, "ids"},
			{map[string]any{"ids": append([]string{a, c}, ids(999, "k")...), "active": false}, "ids"},
			{map[string]any{"ids": []string{a, c, a}, "active": false}, "ids[2]"},
			{map[string]any{"ids": []string{a}, "active": false, "dry_run": true}, "dry_run"},
		} {
			fieldNamed(t, problem(t, e.do(adminToken, "POST", bulkPath, tc.body), http.StatusBadRequest), tc.field)
		}
		wantActive(map[string]any{a: true, b: false, c: true})
		// 1000 IDs are allowed (here all unknown but the first, so a 404
		// naming the second).
		fieldNamed(t, problem(t, e.do(adminToken, "POST", bulkPath, map[string]any{"ids": append([]string{a}, ids(999, "k")...),
			"active": false}), http.StatusNotFound), "ids[1]")
		wantActive(map[string]any{a: true, b: false, c: true})
		problem(t, e.do(adminToken, "POST", "/admin/v1/realms/nowhere/api-keys:bulk", map[string]any{"ids": []string{a}, "active": false}), http.StatusNotFound)
		wantActive(map[string]any{a: true, b: false, c: true})
	})
}

// TestAccessKeysRolesAndRealms: a viewer reads and changes nothing; keys and
// permissions of one realm do not exist in another, nor for another org.
func TestAccessKeysRolesAndRealms(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		k := newKey(t, e, "reader", "asset:read")
		id := str(k["id"])

		// Viewer: GET yes, every change 403 and nothing changed.
		e.must(200, viewerToken, "GET", permsPath, nil)
		e.must(200, viewerToken, "GET", permsPath+"/asset:read", nil)
		e.must(200, viewerToken, "GET", keysPath, nil)
		hasNoSecret(t, "viewer GET key", e.do(viewerToken, "GET", keysPath+"/"+id, nil), str(k["key"]))
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"POST", permsPath, map[string]any{"name": "viewer:made"}},
			{"PATCH", permsPath + "/asset:read", map[string]any{"description": "viewer was here"}},
			{"DELETE", permsPath + "/folder:list", nil},
			{"POST", keysPath, map[string]any{"description": "viewer key", "permissions": []string{"asset:read"}}},
			{"PATCH", keysPath + "/" + id, map[string]any{"active": false}},
			{"PATCH", keysPath + "/" + id, map[string]any{"description": "viewer was here"}},
			{"POST", bulkPath, map[string]any{"ids": []string{id}, "active": false}},
		} {
			problem(t, e.do(viewerToken, tc.method, tc.path, tc.body), http.StatusForbidden)
		}
		if got := getKey(t, e, id); got["active"] != true || got["description"] != "reader" {
			t.Errorf("key changed by a viewer: %v", got)
		}
		if n := len(items(t, e.must(200, viewerToken, "GET", keysPath, nil))); n != 1 {
			t.Errorf("%d keys after a viewer's POST", n)
		}
		if got := idsOf(items(t, e.must(200, viewerToken, "GET", permsPath, nil)), "name"); !slices.Equal(got, []string{"asset:read", "asset:write", "folder:list"}) {
			t.Errorf("catalog after a viewer's changes: %v", got)
		}
		if got := e.must(200, viewerToken, "GET", permsPath+"/asset:read", nil); got["description"] != "may asset:read" {
			t.Errorf("permission changed by a viewer: %v", got)
		}
		// Owner and admin both change.
		e.must(200, ownerToken, "PATCH", keysPath+"/"+id, map[string]any{"description": "owner's"})
		e.must(200, adminToken, "PATCH", keysPath+"/"+id, map[string]any{"description": "reader"})

		// Realm B of the same org: realm A's key and permissions are not
		// there.
		const other = "/admin/v1/realms/other"
		e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "other"})
		problem(t, e.do(ownerToken, "GET", other+"/api-keys/"+id, nil), http.StatusNotFound)
		problem(t, e.do(ownerToken, "PATCH", other+"/api-keys/"+id, map[string]any{"active": false}), http.StatusNotFound)
		fieldNamed(t, problem(t, e.do(ownerToken, "POST", other+"/api-keys:bulk", map[string]any{"ids": []string{id}, "active": false}), http.StatusNotFound), "ids[0]")
		problem(t, e.do(ownerToken, "GET", other+"/permissions/asset:read", nil), http.StatusNotFound)
		problem(t, e.do(ownerToken, "PATCH", other+"/permissions/asset:read", map[string]any{"description": "x"}), http.StatusNotFound)
		problem(t, e.do(ownerToken, "DELETE", other+"/permissions/asset:read", nil), http.StatusNotFound)
		if got := items(t, e.must(200, ownerToken, "GET", other+"/api-keys", nil)); len(got) != 0 {
			t.Errorf("realm other lists %v", got)
		}
		if got := items(t, e.must(200, ownerToken, "GET", other+"/permissions", nil)); len(got) != 0 {
			t.Errorf("realm other's catalog: %v", got)
		}
		// Realm A's catalog does not let realm B's keys hold anything.
		fieldNamed(t, problem(t, e.do(ownerToken, "POST", other+"/api-keys", map[string]any{"description": "x",
			"permissions": []string{"asset:read"}}), http.StatusBadRequest), "permissions[0]")
		// The same permission name can exist in both realms; deleting B's
		// does not touch A's, held by A's key.
		e.must(201, ownerToken, "POST", other+"/permissions", map[string]any{"name": "asset:read"})
		kb := e.must(201, ownerToken, "POST", other+"/api-keys", map[string]any{"description": "b", "permissions": []string{"asset:read"}})
		p := problem(t, e.do(ownerToken, "DELETE", other+"/permissions/asset:read", nil), http.StatusConflict)
		if !strings.Contains(p.Detail, str(kb["prefix"])) || strings.Contains(p.Detail, str(k["prefix"])) {
			t.Errorf("realm other's 409 names %q, want only its own key %s", p.Detail, kb["prefix"])
		}
		// Bulk across realms: A's key is unknown in B, so nothing changes.
		fieldNamed(t, problem(t, e.do(ownerToken, "POST", other+"/api-keys:bulk", map[string]any{"ids": []string{str(kb["id"]), id}, "active": false}), http.StatusNotFound), "ids[1]")
		if got := e.must(200, ownerToken, "GET", other+"/api-keys/"+str(kb["id"]), nil); got["active"] != true {
			t.Errorf("realm other's key changed by a refused bulk: %v", got)
		}
		if got := getKey(t, e, id); got["active"] != true {
			t.Errorf("realm vault's key changed through realm other: %v", got)
		}

		// Another org: not found, never 403.
		problem(t, e.do(otherToken, "GET", keysPath, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "GET", keysPath+"/"+id, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "PATCH", keysPath+"/"+id, map[string]any{"active": false}), http.StatusNotFound)
		problem(t, e.do(otherToken, "POST", bulkPath, map[string]any{"ids": []string{id}, "active": false}), http.StatusNotFound)
		problem(t, e.do(otherToken, "GET", permsPath, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "DELETE", permsPath+"/folder:list", nil), http.StatusNotFound)
		if got := getKey(t, e, id); got["active"] != true {
			t.Errorf("key changed by another org: %v", got)
		}

		// Without a token: 401.
		problem(t, e.do("", "GET", keysPath, nil), http.StatusUnauthorized)
		problem(t, e.do("", "POST", bulkPath, map[string]any{"ids": []string{id}, "active": false}), http.StatusUnauthorized)
	})
}

// TestAccessKeysAudit: every change is an event naming the key (or
// permission), and no event shows a key.
func TestAccessKeysAudit(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		e.must(200, adminToken, "PATCH", permsPath+"/folder:list", map[string]any{"description": "List folders"})
		e.must(200, adminToken, "PATCH", permsPath+"/folder:list", map[string]any{"description": "List folders"}) // no change
		e.must(204, adminToken, "DELETE", permsPath+"/folder:list", nil)

		k1 := newKey(t, e, "one", "asset:read")
		k2 := newKey(t, e, "two", "asset:read")
		id1, id2 := str(k1["id"]), str(k2["id"])
		e.must(200, adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"description": "one v2"})
		e.must(200, adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"permissions": []string{"asset:read", "asset:write"}})
		e.must(200, adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"active": false})
		e.must(200, adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"active": true})
		e.must(200, adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"active": true, "description": "one v2"}) // no change
		e.must(200, adminToken, "POST", bulkPath, map[string]any{"ids": []string{id1, id2}, "active": false})
		e.must(200, adminToken, "POST", bulkPath, map[string]any{"ids": []string{id1, id2}, "active": false}) // no change
		e.must(200, adminToken, "POST", bulkPath, map[string]any{"ids": []string{id2}, "active": true})
		// Refused changes leave no event.
		problem(t, e.do(adminToken, "POST", bulkPath, map[string]any{"ids": []string{id1, "nope"}, "active": true}), http.StatusNotFound)
		problem(t, e.do(adminToken, "PATCH", keysPath+"/"+id1, map[string]any{"permissions": []string{"nope:nope"}}), http.StatusBadRequest)
		problem(t, e.do(viewerToken, "PATCH", keysPath+"/"+id1, map[string]any{"active": true}), http.StatusForbidden)

		r := e.do(viewerToken, "GET", vaultBase+"/events?limit=200", nil)
		hasNoSecret(t, "events", r, str(k1["key"]), str(k2["key"]))
		var got []string
		for _, ev := range items(t, r.json(t)) {
			typ := str(ev["type"])
			if !strings.HasPrefix(typ, "api_key.") && !strings.HasPrefix(typ, "permission.") {
				continue
			}
			target := str(ev["target_id"])
			switch target {
			case id1:
				target = "k1"
			case id2:
				target = "k2"
			}
			d, _ := ev["details"].(map[string]any)
			if strings.HasPrefix(typ, "api_key.") {
				if ev["target_type"] != "api_key" {
					t.Errorf("event %v: target_type", ev)
				}
				if want := map[string]any{"k1": k1["prefix"], "k2": k2["prefix"]}[target]; d["prefix"] != want {
					t.Errorf("event %s of %s names prefix %v, want %v", typ, target, d["prefix"], want)
				}
			}
			if ev["actor_type"] != "client" || ev["actor_id"] != "acme-admin-client" {
				t.Errorf("event %v: actor", ev)
			}
			got = append(got, typ+" "+target)
		}
		// Events of one millisecond may list in any order (their IDs
		// are), so compare them as sets.
		slices.Sort(got)
		want := []string{
			"permission.created asset:read", "permission.created asset:write", "permission.created folder:list",
			"permission.updated folder:list", "permission.deleted folder:list",
			"api_key.created k1", "api_key.created k2",
			"api_key.updated k1", "api_key.updated k1",
			"api_key.deactivated k1", "api_key.reactivated k1",
			"api_key.deactivated k1", "api_key.deactivated k2",
			"api_key.reactivated k2",
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("events:\n got %q\nwant %q", got, want)
		}

		// The details say what changed (never the secret).
		upd := items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?type=api_key.updated", nil))
		if len(upd) != 2 {
			t.Fatalf("api_key.updated events: %v", upd)
		}
		details := map[string]bool{}
		for _, ev := range upd {
			b, _ := json.Marshal(ev["details"])
			details[string(b)] = ev["target_id"] == id1
		}
		for _, want := range []string{
			`{"fields":["description"],"prefix":"` + str(k1["prefix"]) + `"}`,
			`{"fields":["permissions"],"permissions":["asset:read","asset:write"],"prefix":"` + str(k1["prefix"]) + `"}`,
		} {
			if !details[want] {
				t.Errorf("no api_key.updated event of k1 with details %s; got %v", want, details)
			}
		}
		created := items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?type=api_key.created", nil))
		if len(created) != 2 {
			t.Fatalf("api_key.created events: %v", created)
		}
		seen := false
		for _, ev := range created {
			if ev["target_id"] != id1 {
				continue
			}
			seen = true
			if d := ev["details"].(map[string]any); d["description"] != "one" || fmt.Sprint(d["permissions"]) != "[asset:read]" || d["prefix"] != k1["prefix"] {
				t.Errorf("api_key.created details: %v", d)
			}
		}
		if !seen {
			t.Errorf("no api_key.created event of k1: %v", created)
		}
	})
}

// TestAccessKeysBadInput: bad text, huge values and wrong JSON types are
// 400s naming the field (or 404s for IDs), never a 5xx.
func TestAccessKeysBadInput(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		k := newKey(t, e, "reader", "asset:read")
		id := str(k["id"])
		huge := strings.Repeat("x", 200_000)
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			field                    string
		}{
			{"NUL in a permission name", "POST", permsPath, `{"name":"asset:re\u0000ad"}`, 400, "name"},
			{"NUL in a permission description", "POST", permsPath, `{"name":"asset:list","description":"a\u0000b"}`, 400, "description"},
			{"NUL in a permission patch", "PATCH", permsPath + "/asset:read", `{"description":"\u0000"}`, 400, "description"},
			{"NUL in a key description", "POST", keysPath, `{"description":"a\u0000b","permissions":["asset:read"]}`, 400, "description"},
			{"NUL in a key permission", "POST", keysPath, `{"description":"d","permissions":["asset:read","asset:wr\u0000ite"]}`, 400, "permissions[1]"},
			{"NUL in expires_at", "POST", keysPath, `{"description":"d","permissions":["asset:read"],"expires_at":"2099-01-01T00:00:00Z\u0000"}`, 400, "expires_at"},
			{"NUL in a key patch", "PATCH", keysPath + "/" + id, `{"description":"a\u0000"}`, 400, "description"},
			{"NUL in a patched permission", "PATCH", keysPath + "/" + id, `{"permissions":["\u0000"]}`, 400, "permissions[0]"},
			{"NUL in a bulk ID", "POST", bulkPath, `{"ids":["` + id + `","a\u0000"],"active":false}`, 400, "ids[1]"},
			{"invalid UTF-8 in a bulk ID", "POST", bulkPath, "{\"ids\":[\"\xff\"],\"active\":false}", 400, "ids[0]"},
			{"line break in a permission name", "POST", permsPath, `{"name":"asset:\nread"}`, 400, "name"},
			{"duplicate key", "POST", keysPath, `{"description":"a","description":"b","permissions":["asset:read"]}`, 400, "description"},

			{"huge permission name", "POST", permsPath, `{"name":"asset:` + huge + `"}`, 400, "name"},
			{"huge permission description", "POST", permsPath, `{"name":"asset:list","description":"` + huge + `"}`, 400, "description"},
			{"huge key description", "POST", keysPath, `{"description":"` + huge + `","permissions":["asset:read"]}`, 400, "description"},
			{"huge key permission", "POST", keysPath, `{"description":"d","permissions":["` + huge + `"]}`, 400, "permissions[0]"},
			{"huge expires_at", "POST", keysPath, `{"description":"d","permissions":["asset:read"],"expires_at":"` + huge + `"}`, 400, "expires_at"},
			{"huge bulk ID", "POST", bulkPath, `{"ids":["` + huge + `"],"active":false}`, 404, "ids[0]"},
			{"huge patched permission", "PATCH", keysPath + "/" + id, `{"permissions":["` + huge + `"]}`, 400, "permissions[0]"},

			{"permission name a number", "POST", permsPath, `{"name":42}`, 400, "name"},
			{"permission description a list", "POST", permsPath, `{"name":"asset:list","description":["x"]}`, 400, "description"},
			{"permission patch a bool", "PATCH", permsPath + "/asset:read", `{"description":true}`, 400, "description"},
			{"permissions a string", "POST", keysPath, `{"description":"d","permissions":"asset:read"}`, 400, "permissions"},
			{"permissions of numbers", "POST", keysPath, `{"description":"d","permissions":[1,2]}`, 400, "permissions"},
			{"permissions an object", "POST", keysPath, `{"description":"d","permissions":{"asset:read":true}}`, 400, "permissions"},
			{"permissions with null", "POST", keysPath, `{"description":"d","permissions":["asset:read",null]}`, 400, "permissions[1]"},
			{"description a number", "POST", keysPath, `{"description":1,"permissions":["asset:read"]}`, 400, "description"},
			{"expires_at a number", "POST", keysPath, `{"description":"d","permissions":["asset:read"],"expires_at":4102444800}`, 400, "expires_at"},
			{"expires_at an object", "POST", keysPath, `{"description":"d","permissions":["asset:read"],"expires_at":{}}`, 400, "expires_at"},
			{"active a string", "PATCH", keysPath + "/" + id, `{"active":"false"}`, 400, "active"},
			{"patched permissions a string", "PATCH", keysPath + "/" + id, `{"permissions":"asset:read"}`, 400, "permissions"},
			{"bulk active a number", "POST", bulkPath, `{"ids":["` + id + `"],"active":1}`, 400, "active"},
			{"bulk ids an object", "POST", bulkPath, `{"ids":{"0":"` + id + `"},"active":false}`, 400, "ids"},
			{"bulk ids of lists", "POST", bulkPath, `{"ids":[["` + id + `"]],"active":false}`, 400, "ids"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.raw(adminToken, tc.method, tc.path, "application/json", strings.NewReader(tc.body))
				p := problem(t, r, tc.status)
				fieldNamed(t, p, tc.field)
				if len(r.body) > 4096 {
					t.Errorf("the answer is %d bytes: bad input is not echoed in full", len(r.body))
				}
			})
		}

		// Bodies that are not one JSON object.
		for _, body := range []string{`[]`, `"x"`, `{`, `{"ids":[]} {}`, ``, `null`} {
			for _, path := range []string{permsPath, keysPath, bulkPath} {
				problem(t, e.raw(adminToken, "POST", path, "application/json", strings.NewReader(body)), http.StatusBadRequest)
			}
			problem(t, e.raw(adminToken, "PATCH", keysPath+"/"+id, "application/json", strings.NewReader(body)), http.StatusBadRequest)
		}
		problem(t, e.raw(adminToken, "POST", bulkPath, "text/plain", strings.NewReader(`{"ids":["`+id+`"],"active":false}`)), http.StatusUnsupportedMediaType)
		problem(t, e.raw(adminToken, "POST", keysPath, "application/json", strings.NewReader(`{"description":"`+strings.Repeat("x", 1<<20)+`"}`)), http.StatusRequestEntityTooLarge)

		// Parameters: bad text is a 400 naming it; huge IDs and names are
		// simply not found.
		for _, tc := range []struct {
			method, path string
			status       int
			field        string
		}{
			{"GET", keysPath + "?q=a%00b", 400, "q"},
			{"GET", keysPath + "?active=%00", 400, "active"},
			{"GET", keysPath + "/a%00b", 400, "id"},
			{"PATCH", keysPath + "/a%00b", 400, "id"},
			{"GET", permsPath + "/asset:%00read", 400, "name"},
			{"DELETE", permsPath + "/asset:%FFread", 400, "name"},
			{"GET", keysPath + "/" + strings.Repeat("k", 10_000), 404, ""},
			{"GET", permsPath + "/" + strings.Repeat("p", 10_000), 404, ""},
			{"DELETE", permsPath + "/" + strings.Repeat("p", 10_000), 404, ""},
		} {
			var body any
			if tc.method == "PATCH" {
				body = map[string]any{"active": false}
			}
			p := problem(t, e.do(adminToken, tc.method, tc.path, body), tc.status)
			if tc.field != "" {
				fieldNamed(t, p, tc.field)
			}
		}
		if got := items(t, e.must(200, viewerToken, "GET", keysPath+"?q="+strings.Repeat("q", 200), nil)); len(got) != 0 {
			t.Errorf("a long q matched %v", got)
		}

		// Nothing was written by any of it.
		if got := getKey(t, e, id); got["active"] != true || got["description"] != "reader" || fmt.Sprint(got["permissions"]) != "[asset:read]" {
			t.Errorf("key after bad input: %v", got)
		}
		if n := len(items(t, e.must(200, viewerToken, "GET", keysPath, nil))); n != 1 {
			t.Errorf("%d keys after bad input, want 1", n)
		}
		if got := idsOf(items(t, e.must(200, viewerToken, "GET", permsPath, nil)), "name"); !slices.Equal(got, []string{"asset:read", "asset:write", "folder:list"}) {
			t.Errorf("catalog after bad input: %v", got)
		}
		if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "unavailable") {
			t.Errorf("bad input was logged as Ward's own failure:\n%s", logs)
		}
	})
}
