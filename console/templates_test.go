package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The admin API of security templates (CONTRACT §6, issue 15), each test on
// SQLite and on PostgreSQL (onBothDatabases: realm "vault" with the
// permissions asset:read, asset:write and folder:list).

const tplPath = vaultBase + "/security-templates"

// templateFields are the members of every template answer, no more.
var templateFields = []string{"id", "name", "description", "permissions", "ttl_seconds", "limit_per_minute",
	"limit_per_source_ip_per_minute", "dir_scope", "ip_ranges", "countries", "created_at", "updated_at"}

// hasTemplateShape fails unless m has exactly the template's members.
func hasTemplateShape(t *testing.T, what string, m map[string]any) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Clone(templateFields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: members %v, want %v", what, got, want)
	}
}

// list renders a JSON list member as "[a b]" ("<nil>" when null or absent).
func list(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(v)
}

func newTemplate(t *testing.T, e *env, body map[string]any) map[string]any {
	t.Helper()
	return e.must(201, adminToken, "POST", tplPath, body)
}

func TestSecurityTemplatesCRUD(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		// Create: 201 with the template and its Location; lists
		// normalised (sorted permissions and countries, canonical CIDR,
		// upper-case countries, duplicates dropped).
		r := e.do(adminToken, "POST", tplPath, map[string]any{
			"name": "uploader", "description": "Browser uploads",
			"permissions": []string{"asset:write", "asset:read"}, "ttl_seconds": 600,
			"limit_per_minute": 120, "limit_per_source_ip_per_minute": 10,
			"dir_scope": []string{"/marketing/*", "/press", "/marketing/*"},
			"ip_ranges": []string{"203.0.113.0/24", "2001:DB8::/32"},
			"countries": []string{"de", "AT"},
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		up := r.json(t)
		hasTemplateShape(t, "create answer", up)
		if loc := r.header.Get("Location"); loc != tplPath+"/uploader" {
			t.Errorf("Location = %q", loc)
		}
		id := str(up["id"])
		if id == "" || up["name"] != "uploader" || up["description"] != "Browser uploads" || up["ttl_seconds"] != 600.0 ||
			up["limit_per_minute"] != 120.0 || up["limit_per_source_ip_per_minute"] != 10.0 ||
			list(up["permissions"]) != "[asset:read asset:write]" || list(up["dir_scope"]) != "[/marketing/* /press]" ||
			list(up["ip_ranges"]) != "[203.0.113.0/24 2001:db8::/32]" || list(up["countries"]) != "[AT DE]" ||
			str(up["created_at"]) == "" || up["created_at"] != up["updated_at"] {
			t.Errorf("create answer %v", up)
		}

		// GET one: the same.
		got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil)
		if fmt.Sprint(got) != fmt.Sprint(up) {
			t.Errorf("GET = %v\nwant %v", got, up)
		}
		problem(t, e.do(viewerToken, "GET", tplPath+"/nope", nil), http.StatusNotFound)
		problem(t, e.do(viewerToken, "GET", tplPath+"/Uploader", nil), http.StatusNotFound)

		// List: {"items"} by name, one page.
		newTemplate(t, e, map[string]any{"name": "a-browser", "permissions": []string{"asset:read"}})
		newTemplate(t, e, map[string]any{"name": "z_9", "permissions": []string{"folder:list"}})
		lst := e.must(200, viewerToken, "GET", tplPath, nil)
		its := items(t, lst)
		if got := idsOf(its, "name"); !slices.Equal(got, []string{"a-browser", "uploader", "z_9"}) {
			t.Errorf("list = %v", got)
		}
		if _, ok := lst["next_cursor"]; ok {
			t.Errorf("list has next_cursor: %v", lst)
		}
		for _, it := range its {
			hasTemplateShape(t, "list item", it)
		}
		if fmt.Sprint(its[1]) != fmt.Sprint(up) {
			t.Errorf("listed uploader = %v\nwant %v", its[1], up)
		}

		// PATCH: the fields given change, the rest stays.
		p := e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{
			"description": "Uploads", "permissions": []string{"asset:write"}, "ttl_seconds": 86400,
			"dir_scope": []string{"/*"}, "ip_ranges": []string{}, "countries": []string{"fr"},
		})
		hasTemplateShape(t, "PATCH answer", p)
		if p["id"] != id || p["name"] != "uploader" || p["description"] != "Uploads" || p["ttl_seconds"] != 86400.0 ||
			list(p["permissions"]) != "[asset:write]" || list(p["dir_scope"]) != "[/*]" || list(p["ip_ranges"]) != "[]" ||
			list(p["countries"]) != "[FR]" || p["limit_per_minute"] != 120.0 || p["limit_per_source_ip_per_minute"] != 10.0 ||
			p["created_at"] != up["created_at"] {
			t.Errorf("PATCH answer %v", p)
		}
		if got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil); fmt.Sprint(got) != fmt.Sprint(p) {
			t.Errorf("GET after PATCH = %v\nwant %v", got, p)
		}
		// An empty PATCH changes nothing.
		if got := e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{}); fmt.Sprint(got) != fmt.Sprint(p) {
			t.Errorf("empty PATCH = %v\nwant %v", got, p)
		}
		// The name does not change: an unknown field.
		fieldNamed(t, problem(t, e.do(adminToken, "PATCH", tplPath+"/uploader", map[string]any{"name": "renamed"}), http.StatusBadRequest), "name")
		problem(t, e.do(adminToken, "PATCH", tplPath+"/nope", map[string]any{"description": "x"}), http.StatusNotFound)

		// DELETE: 204, then gone; the name is free again.
		e.must(204, adminToken, "DELETE", tplPath+"/uploader", nil)
		problem(t, e.do(viewerToken, "GET", tplPath+"/uploader", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "DELETE", tplPath+"/uploader", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "x"}), http.StatusNotFound)
		if got := idsOf(items(t, e.must(200, viewerToken, "GET", tplPath, nil)), "name"); !slices.Equal(got, []string{"a-browser", "z_9"}) {
			t.Errorf("list after DELETE = %v", got)
		}
		again := newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}})
		if again["id"] == id {
			t.Errorf("a new template reuses the deleted one's ID %s", id)
		}

		// Other methods: 405 with Allow.
		r = e.do(adminToken, "PUT", tplPath+"/uploader", map[string]any{"description": "x"})
		problem(t, r, http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "PATCH") ||
			!strings.Contains(allow, "DELETE") || strings.Contains(allow, "PUT") {
			t.Errorf("PUT Allow = %q", allow)
		}
		r = e.do(adminToken, "PUT", tplPath, map[string]any{"name": "x1"})
		problem(t, r, http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") || strings.Contains(allow, "PUT") {
			t.Errorf("PUT list Allow = %q", allow)
		}

		// Unknown realm.
		problem(t, e.do(adminToken, "GET", "/admin/v1/realms/nowhere/security-templates", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "POST", "/admin/v1/realms/nowhere/security-templates",
			map[string]any{"name": "x1", "permissions": []string{"asset:read"}}), http.StatusNotFound)
	})
}

// TestSecurityTemplateDefaults: ttl 1200, limits null (present, not left
// out), lists [] (never null).
func TestSecurityTemplateDefaults(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		for _, body := range []map[string]any{
			{"name": "plain", "permissions": []string{"asset:read"}},
			{"name": "nulls", "permissions": []string{"asset:read"}, "ttl_seconds": nil, "limit_per_minute": nil,
				"limit_per_source_ip_per_minute": nil, "dir_scope": nil, "ip_ranges": nil, "countries": nil, "description": ""},
		} {
			r := e.do(adminToken, "POST", tplPath, body)
			if r.status != http.StatusCreated {
				t.Fatalf("create %v: %d %s", body, r.status, r.body)
			}
			for _, raw := range [][]byte{r.body, e.do(viewerToken, "GET", tplPath+"/"+str(body["name"]), nil).body} {
				s := string(raw)
				for _, want := range []string{`"ttl_seconds":1200`, `"limit_per_minute":null`, `"limit_per_source_ip_per_minute":null`,
					`"dir_scope":[]`, `"ip_ranges":[]`, `"countries":[]`, `"description":""`, `"permissions":["asset:read"]`} {
					if !strings.Contains(s, want) {
						t.Errorf("template %s: answer lacks %s: %s", body["name"], want, s)
					}
				}
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				hasTemplateShape(t, str(body["name"]), m)
			}
		}
		// In the list too.
		r := e.do(viewerToken, "GET", tplPath, nil)
		if s := string(r.body); strings.Count(s, `"dir_scope":[]`) != 2 || strings.Count(s, `"limit_per_minute":null`) != 2 {
			t.Errorf("list: %s", s)
		}
	})
}

// TestSecurityTemplateBadInput: each bad field is a 400 naming it, and
// nothing is written.
func TestSecurityTemplateBadInput(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}, "limit_per_minute": 5})
		ok := func(extra map[string]any) map[string]any {
			b := map[string]any{"name": "fresh", "permissions": []string{"asset:read"}}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"invalid CIDR", ok(map[string]any{"ip_ranges": []string{"300.0.0.0/8"}}), "ip_ranges[0]"},
			{"CIDR with host bits", ok(map[string]any{"ip_ranges": []string{"10.0.0.0/8", "203.0.113.7/24"}}), "ip_ranges[1]"},
			{"address without prefix", ok(map[string]any{"ip_ranges": []string{"10.0.0.1"}}), "ip_ranges[0]"},
			{"unknown country", ok(map[string]any{"countries": []string{"DE", "XX"}}), "countries[1]"},
			{"three-letter country", ok(map[string]any{"countries": []string{"DE", "DEU"}}), "countries[1]"},
			{"dir_scope not absolute", ok(map[string]any{"dir_scope": []string{"marketing/*"}}), "dir_scope[0]"},
			{"dir_scope with ..", ok(map[string]any{"dir_scope": []string{"/a/../b"}}), "dir_scope[0]"},
			{"dir_scope with . ", ok(map[string]any{"dir_scope": []string{"/a/./b"}}), "dir_scope[0]"},
			{"dir_scope with //", ok(map[string]any{"dir_scope": []string{"/a//b"}}), "dir_scope[0]"},
			{"dir_scope with inner *", ok(map[string]any{"dir_scope": []string{"/ok", "/a/*/b"}}), "dir_scope[1]"},
			{"ttl 59", ok(map[string]any{"ttl_seconds": 59}), "ttl_seconds"},
			{"ttl 86401", ok(map[string]any{"ttl_seconds": 86401}), "ttl_seconds"},
			{"ttl 0", ok(map[string]any{"ttl_seconds": 0}), "ttl_seconds"},
			{"ttl fractional", ok(map[string]any{"ttl_seconds": 60.5}), "ttl_seconds"},
			{"ttl a string", ok(map[string]any{"ttl_seconds": "600"}), "ttl_seconds"},
			{"ttl huge", ok(map[string]any{"ttl_seconds": 1e30}), "ttl_seconds"},
			{"limit 0", ok(map[string]any{"limit_per_minute": 0}), "limit_per_minute"},
			{"limit -5", ok(map[string]any{"limit_per_minute": -5}), "limit_per_minute"},
			{"limit too high", ok(map[string]any{"limit_per_minute": 1_000_001}), "limit_per_minute"},
			{"per-IP limit 0", ok(map[string]any{"limit_per_source_ip_per_minute": 0}), "limit_per_source_ip_per_minute"},
			{"per-IP limit -5", ok(map[string]any{"limit_per_source_ip_per_minute": -5}), "limit_per_source_ip_per_minute"},
			{"unknown permission", ok(map[string]any{"permissions": []string{"asset:nope"}}), "permissions[0]"},
			{"repeated permission", ok(map[string]any{"permissions": []string{"asset:read", "asset:read"}}), "permissions[1]"},
			{"no permissions", ok(map[string]any{"permissions": []string{}}), "permissions"},
			{"permissions left out", map[string]any{"name": "fresh"}, "permissions"},
			{"name left out", map[string]any{"permissions": []string{"asset:read"}}, "name"},
			{"name upper case", ok(map[string]any{"name": "Uploader"}), "name"},
			{"name with a space", ok(map[string]any{"name": "up loader"}), "name"},
			{"name with a slash", ok(map[string]any{"name": "up/loader"}), "name"},
			{"name starting with -", ok(map[string]any{"name": "-up"}), "name"},
			{"name too long", ok(map[string]any{"name": strings.Repeat("a", 64)}), "name"},
			{"name non-ASCII", ok(map[string]any{"name": "übungen"}), "name"},
			{"description too long", ok(map[string]any{"description": strings.Repeat("d", 2001)}), "description"},
			{"unknown field", ok(map[string]any{"ttl": 600}), "ttl"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fieldNamed(t, problem(t, e.do(adminToken, "POST", tplPath, tc.body), http.StatusBadRequest), tc.field)
			})
		}
		// Several bad fields: each named.
		p := problem(t, e.do(adminToken, "POST", tplPath, ok(map[string]any{"ttl_seconds": 59, "countries": []string{"de", "XX"},
			"ip_ranges": []string{"nope"}, "dir_scope": []string{"x"}})), http.StatusBadRequest)
		for _, f := range []string{"ttl_seconds", "countries[1]", "ip_ranges[0]", "dir_scope[0]"} {
			fieldNamed(t, p, f)
		}
		// The IP hint says what was probably meant.
		p = problem(t, e.do(adminToken, "POST", tplPath, ok(map[string]any{"ip_ranges": []string{"203.0.113.7/24"}})), http.StatusBadRequest)
		if !strings.Contains(p.Errors[0].Message, "203.0.113.0/24") {
			t.Errorf("CIDR problem %q does not suggest 203.0.113.0/24", p.Errors[0].Message)
		}

		// Duplicate name: 409 naming name.
		fieldNamed(t, problem(t, e.do(adminToken, "POST", tplPath, ok(map[string]any{"name": "uploader"})), http.StatusConflict), "name")

		// PATCH: the same rules, and null only removes limits.
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"invalid CIDR", map[string]any{"ip_ranges": []string{"10.0.0.0/8", "garbage"}}, "ip_ranges[1]"},
			{"unknown country", map[string]any{"countries": []string{"DE", "XX"}}, "countries[1]"},
			{"dir_scope not absolute", map[string]any{"dir_scope": []string{"a"}}, "dir_scope[0]"},
			{"dir_scope with ..", map[string]any{"dir_scope": []string{"/../etc"}}, "dir_scope[0]"},
			{"ttl 59", map[string]any{"ttl_seconds": 59}, "ttl_seconds"},
			{"ttl 86401", map[string]any{"ttl_seconds": 86401}, "ttl_seconds"},
			{"limit 0", map[string]any{"limit_per_minute": 0}, "limit_per_minute"},
			{"limit -5", map[string]any{"limit_per_minute": -5}, "limit_per_minute"},
			{"per-IP limit 0", map[string]any{"limit_per_source_ip_per_minute": 0}, "limit_per_source_ip_per_minute"},
			{"per-IP limit -5", map[string]any{"limit_per_source_ip_per_minute": -5}, "limit_per_source_ip_per_minute"},
			{"unknown permission", map[string]any{"permissions": []string{"nope:nope"}}, "permissions[0]"},
			{"no permissions", map[string]any{"permissions": []string{}}, "permissions"},
			{"null permissions", map[string]any{"permissions": nil}, "permissions"},
			{"null ttl", map[string]any{"ttl_seconds": nil}, "ttl_seconds"},
			{"null description", map[string]any{"description": nil}, "description"},
			{"null dir_scope", map[string]any{"dir_scope": nil}, "dir_scope"},
			{"null ip_ranges", map[string]any{"ip_ranges": nil}, "ip_ranges"},
			{"null countries", map[string]any{"countries": nil}, "countries"},
			{"limit a string", map[string]any{"limit_per_minute": "5"}, "limit_per_minute"},
		} {
			t.Run("PATCH "+tc.name, func(t *testing.T) {
				fieldNamed(t, problem(t, e.do(adminToken, "PATCH", tplPath+"/uploader", tc.body), http.StatusBadRequest), tc.field)
			})
		}

		// Nothing was written by any of it.
		if got := idsOf(items(t, e.must(200, viewerToken, "GET", tplPath, nil)), "name"); !slices.Equal(got, []string{"uploader"}) {
			t.Errorf("templates after bad input: %v", got)
		}
		got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil)
		if got["ttl_seconds"] != 1200.0 || got["limit_per_minute"] != 5.0 || list(got["permissions"]) != "[asset:read]" ||
			list(got["ip_ranges"]) != "[]" || got["created_at"] != got["updated_at"] {
			t.Errorf("template after bad input: %v", got)
		}
	})
}

// TestSecurityTemplatePatchLimits: null removes a limit, a left-out limit
// stays, a number sets it.
func TestSecurityTemplatePatchLimits(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"},
			"limit_per_minute": 100, "limit_per_source_ip_per_minute": 10})
		p := e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"limit_per_minute": nil})
		if _, ok := p["limit_per_minute"]; !ok || p["limit_per_minute"] != nil || p["limit_per_source_ip_per_minute"] != 10.0 {
			t.Errorf("PATCH limit_per_minute null = %v", p)
		}
		p = e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "d"})
		if p["limit_per_minute"] != nil || p["limit_per_source_ip_per_minute"] != 10.0 {
			t.Errorf("PATCH without limits = %v", p)
		}
		p = e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"limit_per_source_ip_per_minute": nil, "limit_per_minute": 7})
		if p["limit_per_minute"] != 7.0 || p["limit_per_source_ip_per_minute"] != nil {
			t.Errorf("PATCH per-IP null, limit 7 = %v", p)
		}
		got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil)
		if got["limit_per_minute"] != 7.0 || got["limit_per_source_ip_per_minute"] != nil || got["description"] != "d" {
			t.Errorf("GET after PATCHes = %v", got)
		}
		// Removing a limit that is not set is no change.
		before := got["updated_at"]
		p = e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"limit_per_source_ip_per_minute": nil})
		if p["updated_at"] != before {
			t.Errorf("a PATCH changing nothing moved updated_at: %v -> %v", before, p["updated_at"])
		}
	})
}

// TestSecurityTemplatesRolesAndRealms: a viewer reads and changes nothing;
// another org's realm is 404; one realm's templates are not in another.
func TestSecurityTemplatesRolesAndRealms(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		up := newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}})

		e.must(200, viewerToken, "GET", tplPath, nil)
		e.must(200, viewerToken, "GET", tplPath+"/uploader", nil)
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"POST", tplPath, map[string]any{"name": "viewers", "permissions": []string{"asset:read"}}},
			{"PATCH", tplPath + "/uploader", map[string]any{"description": "viewer was here"}},
			{"PATCH", tplPath + "/uploader", map[string]any{"limit_per_minute": 1}},
			{"DELETE", tplPath + "/uploader", nil},
		} {
			problem(t, e.do(viewerToken, tc.method, tc.path, tc.body), http.StatusForbidden)
		}
		if got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil); fmt.Sprint(got) != fmt.Sprint(up) {
			t.Errorf("template changed by a viewer: %v", got)
		}
		if n := len(items(t, e.must(200, viewerToken, "GET", tplPath, nil))); n != 1 {
			t.Errorf("%d templates after a viewer's POST", n)
		}
		// Owner and admin both write.
		e.must(200, ownerToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "owner's"})
		e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"description": ""})

		// Another org: 404, never 403, and nothing changes.
		problem(t, e.do(otherToken, "GET", tplPath, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "GET", tplPath+"/uploader", nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "POST", tplPath, map[string]any{"name": "theirs", "permissions": []string{"asset:read"}}), http.StatusNotFound)
		problem(t, e.do(otherToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "globex"}), http.StatusNotFound)
		problem(t, e.do(otherToken, "DELETE", tplPath+"/uploader", nil), http.StatusNotFound)
		if got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil); got["description"] != "" {
			t.Errorf("template after another org's calls: %v", got)
		}

		// Another realm of the same org: its own templates and catalog.
		const other = "/admin/v1/realms/other/security-templates"
		e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "other"})
		problem(t, e.do(ownerToken, "GET", other+"/uploader", nil), http.StatusNotFound)
		problem(t, e.do(ownerToken, "PATCH", other+"/uploader", map[string]any{"description": "x"}), http.StatusNotFound)
		problem(t, e.do(ownerToken, "DELETE", other+"/uploader", nil), http.StatusNotFound)
		if got := items(t, e.must(200, ownerToken, "GET", other, nil)); len(got) != 0 {
			t.Errorf("realm other lists %v", got)
		}
		fieldNamed(t, problem(t, e.do(ownerToken, "POST", other, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}}),
			http.StatusBadRequest), "permissions[0]")
		e.must(201, ownerToken, "POST", "/admin/v1/realms/other/permissions", map[string]any{"name": "asset:read"})
		theirs := e.must(201, ownerToken, "POST", other, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}})
		if theirs["id"] == up["id"] {
			t.Error("two realms' templates share an ID")
		}
		e.must(204, ownerToken, "DELETE", other+"/uploader", nil)
		e.must(200, viewerToken, "GET", tplPath+"/uploader", nil)

		// Without a token: 401.
		problem(t, e.do("", "GET", tplPath, nil), http.StatusUnauthorized)
		problem(t, e.do("", "POST", tplPath, map[string]any{"name": "anon", "permissions": []string{"asset:read"}}), http.StatusUnauthorized)
	})
}

// TestSecurityTemplateHoldsPermission: a permission a template holds
// cannot be deleted (409 naming the template), until the template lets
// it go.
func TestSecurityTemplateHoldsPermission(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		up := newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read", "asset:write"}})
		k := newKey(t, e, "backend", "asset:read")

		p := problem(t, e.do(adminToken, "DELETE", permsPath+"/asset:read", nil), http.StatusConflict)
		fieldNamed(t, p, "name")
		for _, want := range []string{
			fmt.Sprintf("security template uploader (%s)", up["id"]),
			fmt.Sprintf("API key %s (%s)", k["prefix"], k["id"]),
		} {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("409 detail %q does not name %q", p.Detail, want)
			}
		}
		// Held by the template alone.
		p = problem(t, e.do(adminToken, "DELETE", permsPath+"/asset:write", nil), http.StatusConflict)
		if !strings.Contains(p.Detail, `security template uploader (`+str(up["id"])+`)`) || strings.Contains(p.Detail, "API key") {
			t.Errorf("409 detail %q, want only the template", p.Detail)
		}
		e.must(200, viewerToken, "GET", permsPath+"/asset:write", nil)

		// Taken from the template by PATCH, it goes.
		e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"permissions": []string{"asset:read"}})
		e.must(204, adminToken, "DELETE", permsPath+"/asset:write", nil)
		// Deleting the template frees the rest (once the key lets go too).
		e.must(200, adminToken, "PATCH", keysPath+"/"+str(k["id"]), map[string]any{"permissions": []string{"folder:list"}})
		p = problem(t, e.do(adminToken, "DELETE", permsPath+"/asset:read", nil), http.StatusConflict)
		if !strings.Contains(p.Detail, "security template uploader") {
			t.Errorf("409 detail %q does not name the template", p.Detail)
		}
		e.must(204, adminToken, "DELETE", tplPath+"/uploader", nil)
		e.must(204, adminToken, "DELETE", permsPath+"/asset:read", nil)
	})
}

// TestSecurityTemplatesAudit: create, update and delete are events naming
// the template; refused and empty changes are none.
func TestSecurityTemplatesAudit(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		up := newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}})
		id := str(up["id"])
		e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "Uploads", "limit_per_minute": 60})
		e.must(200, adminToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "Uploads", "limit_per_minute": 60}) // no change
		problem(t, e.do(adminToken, "PATCH", tplPath+"/uploader", map[string]any{"ttl_seconds": 1}), http.StatusBadRequest)
		problem(t, e.do(viewerToken, "PATCH", tplPath+"/uploader", map[string]any{"description": "x"}), http.StatusForbidden)
		problem(t, e.do(adminToken, "POST", tplPath, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}}), http.StatusConflict)
		e.must(204, adminToken, "DELETE", tplPath+"/uploader", nil)

		var got []string
		for _, ev := range items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?limit=200", nil)) {
			typ := str(ev["type"])
			if !strings.HasPrefix(typ, "security_template.") {
				continue
			}
			d, _ := ev["details"].(map[string]any)
			if ev["target_type"] != "security_template" || ev["target_id"] != id || d["name"] != "uploader" {
				t.Errorf("event %v: target or name", ev)
			}
			if ev["actor_type"] != "client" || ev["actor_id"] != "acme-admin-client" {
				t.Errorf("event %v: actor", ev)
			}
			switch typ {
			case "security_template.created":
				if list(d["permissions"]) != "[asset:read]" {
					t.Errorf("created details %v", d)
				}
			case "security_template.updated":
				if list(d["changed"]) != "[description limit_per_minute]" {
					t.Errorf("updated details %v", d)
				}
			}
			got = append(got, typ)
		}
		slices.Sort(got)
		want := []string{"security_template.created", "security_template.deleted", "security_template.updated"}
		if !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		for _, typ := range want {
			if n := len(items(t, e.must(200, viewerToken, "GET", vaultBase+"/events?type="+typ, nil))); n != 1 {
				t.Errorf("%d events of type %s, want 1", n, typ)
			}
		}
	})
}

// TestSecurityTemplateNoServerErrors: wrong types, bad text, huge values
// and odd paths are 4xx (mostly 400 naming the field), never a 5xx.
func TestSecurityTemplateNoServerErrors(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, e *env) {
		newTemplate(t, e, map[string]any{"name": "uploader", "permissions": []string{"asset:read"}})
		huge := strings.Repeat("x", 200_000)
		many := `"/a"` + strings.Repeat(`,"/a"`, 60)
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			field                    string
		}{
			{"NUL in name", "POST", tplPath, `{"name":"a\u0000b","permissions":["asset:read"]}`, 400, "name"},
			{"NUL in description", "POST", tplPath, `{"name":"n1","description":"a\u0000","permissions":["asset:read"]}`, 400, "description"},
			{"NUL in dir_scope", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"dir_scope":["/a\u0000"]}`, 400, "dir_scope[0]"},
			{"NUL in a country", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"countries":["D\u0000"]}`, 400, "countries[0]"},
			{"invalid UTF-8 in ip_ranges", "POST", tplPath, "{\"name\":\"n1\",\"permissions\":[\"asset:read\"],\"ip_ranges\":[\"\xff\"]}", 400, "ip_ranges[0]"},
			{"duplicate key", "POST", tplPath, `{"name":"n1","name":"n2","permissions":["asset:read"]}`, 400, "name"},
			{"huge name", "POST", tplPath, `{"name":"` + huge + `","permissions":["asset:read"]}`, 400, "name"},
			{"huge dir_scope", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"dir_scope":["/` + huge + `"]}`, 400, "dir_scope[0]"},
			{"huge ip range", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"ip_ranges":["` + huge + `"]}`, 400, "ip_ranges[0]"},
			{"huge country", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"countries":["` + huge + `"]}`, 400, "countries[0]"},
			{"too many dir_scope patterns", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"dir_scope":[` + many + `]}`, 400, "dir_scope"},
			{"name a number", "POST", tplPath, `{"name":1,"permissions":["asset:read"]}`, 400, "name"},
			{"permissions a string", "POST", tplPath, `{"name":"n1","permissions":"asset:read"}`, 400, "permissions"},
			{"permissions with null", "POST", tplPath, `{"name":"n1","permissions":["asset:read",null]}`, 400, "permissions[1]"},
			{"dir_scope a string", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"dir_scope":"/a"}`, 400, "dir_scope"},
			{"dir_scope with null", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"dir_scope":[null]}`, 400, "dir_scope[0]"},
			{"ip_ranges an object", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"ip_ranges":{"a":1}}`, 400, "ip_ranges"},
			{"countries of numbers", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"countries":[49]}`, 400, "countries"},
			{"limit a bool", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"limit_per_minute":true}`, 400, "limit_per_minute"},
			{"limit beyond int64", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"limit_per_minute":99999999999999999999}`, 400, "limit_per_minute"},
			{"ttl negative huge", "POST", tplPath, `{"name":"n1","permissions":["asset:read"],"ttl_seconds":-9223372036854775808}`, 400, "ttl_seconds"},
			{"PATCH NUL in description", "PATCH", tplPath + "/uploader", `{"description":"\u0000"}`, 400, "description"},
			{"PATCH huge permission", "PATCH", tplPath + "/uploader", `{"permissions":["` + huge + `"]}`, 400, "permissions[0]"},
			{"PATCH ttl a list", "PATCH", tplPath + "/uploader", `{"ttl_seconds":[60]}`, 400, "ttl_seconds"},
			{"PATCH limit an object", "PATCH", tplPath + "/uploader", `{"limit_per_source_ip_per_minute":{}}`, 400, "limit_per_source_ip_per_minute"},
			{"PATCH countries with null", "PATCH", tplPath + "/uploader", `{"countries":[null]}`, 400, "countries[0]"},
			{"PATCH of a missing template, bad", "PATCH", tplPath + "/nope", `{"ttl_seconds":5}`, 400, "ttl_seconds"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.raw(adminToken, tc.method, tc.path, "application/json", strings.NewReader(tc.body))
				fieldNamed(t, problem(t, r, tc.status), tc.field)
				if len(r.body) > 4096 {
					t.Errorf("the answer is %d bytes: bad input is not echoed in full", len(r.body))
				}
			})
		}
		// Bodies that are not one JSON object; not JSON; too large.
		for _, body := range []string{`[]`, `"x"`, `{`, `{} {}`, ``, `null`, ` null `} {
			problem(t, e.raw(adminToken, "POST", tplPath, "application/json", strings.NewReader(body)), http.StatusBadRequest)
			problem(t, e.raw(adminToken, "PATCH", tplPath+"/uploader", "application/json", strings.NewReader(body)), http.StatusBadRequest)
		}
		problem(t, e.raw(adminToken, "POST", tplPath, "text/plain", strings.NewReader(`{"name":"n1","permissions":["asset:read"]}`)), http.StatusUnsupportedMediaType)
		problem(t, e.raw(adminToken, "POST", tplPath, "application/json", strings.NewReader(`{"name":"`+strings.Repeat("x", 1<<20)+`"}`)), http.StatusRequestEntityTooLarge)

		// Paths: bad text is a 400 naming it; odd names are not found.
		for _, tc := range []struct {
			method, path string
			status       int
			field        string
		}{
			{"GET", tplPath + "/a%00b", 400, "name"},
			{"PATCH", tplPath + "/a%FFb", 400, "name"},
			{"DELETE", tplPath + "/a%00b", 400, "name"},
			{"GET", tplPath + "/" + strings.Repeat("t", 10_000), 404, ""},
			{"DELETE", tplPath + "/" + strings.Repeat("t", 10_000), 404, ""},
			{"PATCH", tplPath + "/UPLOADER", 404, ""},
			{"GET", tplPath + "/up%20loader", 404, ""},
			{"GET", tplPath + "?limit=0", 200, ""}, // one page; list options are not read
		} {
			var body any
			if tc.method == "PATCH" {
				body = map[string]any{"description": "x"}
			}
			r := e.do(adminToken, tc.method, tc.path, body)
			if tc.status == 200 {
				if r.status != 200 {
					t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
				}
				continue
			}
			p := problem(t, r, tc.status)
			if tc.field != "" {
				fieldNamed(t, p, tc.field)
			}
		}

		// Nothing was written by any of it, and nothing was logged as
		// Ward's own failure.
		if got := idsOf(items(t, e.must(200, viewerToken, "GET", tplPath, nil)), "name"); !slices.Equal(got, []string{"uploader"}) {
			t.Errorf("templates after bad input: %v", got)
		}
		if got := e.must(200, viewerToken, "GET", tplPath+"/uploader", nil); got["description"] != "" || got["created_at"] != got["updated_at"] {
			t.Errorf("template after bad input: %v", got)
		}
		if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "unavailable") {
			t.Errorf("bad input was logged as Ward's own failure:\n%s", logs)
		}
	})
}
