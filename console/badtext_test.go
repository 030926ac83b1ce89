package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// Bad text at the admin API's edge (issue 13 items 1, 2 and 4), on both
// databases: a NUL in any JSON string or parameter was a 500 on
// PostgreSQL and was stored by SQLite; now every such request is a 400
// naming the field, and nothing is logged as Ward's own failure.

func TestBadTextSQLite(t *testing.T)   { testBadText(t, newEnv(t)) }
func TestBadTextPostgres(t *testing.T) { testBadText(t, newEnvOn(t, sqltest.OpenPostgres(t))) }

func testBadText(t *testing.T, e *env) {
	const base = "/admin/v1/realms/vault"
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	e.must(201, ownerToken, "POST", base+"/attributes", map[string]any{"name": "region", "type": "string"})
	group := e.must(201, ownerToken, "POST", base+"/groups", map[string]any{"name": "Editors"})

	// Each body is sent as written (raw JSON, so escapes, invalid bytes
	// and duplicate keys reach the server as they are).
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"realm display name", "POST", "/admin/v1/realms", `{"name":"vault2","display_name":"A\u0000B"}`, "display_name"},
		{"realm name", "POST", "/admin/v1/realms", `{"name":"va\u0000ult"}`, "name"},
		{"realm patch", "PATCH", base, `{"display_name":"\u0000"}`, "display_name"},
		{"group name", "POST", base + "/groups", `{"name":"Ed\u0000itors"}`, "name"},
		{"group description", "POST", base + "/groups", `{"name":"G","description":"a\u0000b"}`, "description"},
		{"attribute value", "POST", base + "/groups", `{"name":"G","attributes":{"region":"e\u0000u"}}`, "attributes.region"},
		{"attribute name (a key)", "POST", base + "/groups", `{"name":"G","attributes":{"re\u0000gion":"eu"}}`, `attributes."re\u0000gion"`},
		{"user first name", "POST", base + "/users", `{"email":"ann@example.com","first_name":"A\u0000","last_name":"B"}`, "first_name"},
		{"user email", "POST", base + "/users", `{"email":"ann\u0000@example.com","first_name":"A","last_name":"B"}`, "email"},
		{"user group id", "POST", base + "/users", `{"email":"ann@example.com","first_name":"A","last_name":"B","groups":["x\u0000"]}`, "groups[0]"},
		{"client name", "POST", base + "/clients", `{"name":"svc\u0000","kind":"service_account"}`, "name"},
		{"client audience", "POST", base + "/clients", `{"name":"svc","kind":"service_account","audience":["ok","a\u0000"]}`, "audience[1]"},
		{"policy name", "POST", base + "/policies", `{"name":"p\u0000","resource_type":"asset","actions":["read"],"condition":"true"}`, "name"},
		{"policy action", "POST", base + "/policies", `{"name":"p","resource_type":"asset","actions":["re\u0000ad"],"condition":"true"}`, "actions[0]"},
		{"policy condition", "POST", base + "/policies", `{"name":"p","resource_type":"asset","actions":["read"],"condition":"true\u0000"}`, "condition"},
		{"policy test resource", "POST", base + "/policies:test", `{"subject":{"user_id":"x"},"resource_type":"asset","action":"read","resource":{"k":"\u0000"}}`, "resource.k"},
		{"member email", "POST", "/admin/v1/members", `{"email":"x\u0000@example.com","first_name":"A","last_name":"B","role":"viewer"}`, "email"},
		{"org client name", "POST", "/admin/v1/clients", `{"name":"ci\u0000","role":"admin"}`, "name"},
		{"attribute description with a bell", "POST", base + "/attributes", `{"name":"size","type":"string","description":"a\u0007b"}`, "description"},

		// Control characters other than NUL; line breaks where a single
		// line is expected.
		{"name with a line break", "POST", base + "/groups", `{"name":"Ed\nitors"}`, "name"},
		{"name with a tab", "POST", base + "/groups", `{"name":"Ed\titors"}`, "name"},
		{"name with ESC", "POST", base + "/groups", `{"name":"\u001b[31mred"}`, "name"},
		{"name with DEL", "POST", base + "/groups", `{"name":"a\u007fb"}`, "name"},

		// Invalid UTF-8, raw and as an escaped lone surrogate (both of
		// which encoding/json would turn into U+FFFD).
		{"invalid UTF-8", "POST", "/admin/v1/realms", "{\"name\":\"vault2\",\"display_name\":\"A\xffB\"}", "display_name"},
		{"lone surrogate", "POST", "/admin/v1/realms", `{"name":"vault2","display_name":"A\ud800B"}`, "display_name"},
		{"lone low surrogate", "POST", base + "/groups", `{"name":"\udc00"}`, "name"},
		{"invalid UTF-8 in a list", "POST", base + "/clients", "{\"name\":\"svc\",\"kind\":\"service_account\",\"audience\":[\"\xc3\"]}", "audience[0]"},

		// Duplicate keys, at the top and nested.
		{"duplicate key", "POST", base + "/groups", `{"name":"a","name":"b"}`, "name"},
		{"duplicate nested key", "POST", base + "/groups", `{"name":"G","attributes":{"region":"eu","region":"us"}}`, "attributes.region"},
		{"duplicate key in a patch", "PATCH", base + "/groups/" + group["id"].(string), `{"description":"x","description":"y"}`, "description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.raw(ownerToken, tc.method, tc.path, "application/json", strings.NewReader(tc.body))
			fieldNamed(t, problem(t, r, http.StatusBadRequest), tc.field)
		})
	}

	// Multi-line text keeps its line breaks and tabs; valid escapes,
	// surrogate pairs included, are fine.
	e.must(201, ownerToken, "POST", base+"/attributes", map[string]any{"name": "size", "type": "string",
		"description": "First line.\r\n\tSecond line."})
	e.must(201, ownerToken, "POST", base+"/policies", map[string]any{"name": "p", "resource_type": "asset",
		"actions": []string{"read"}, "condition": "subject.attributes.region == \"eu\"\n\t|| true"})
	r := e.raw(ownerToken, "POST", base+"/groups", "application/json", strings.NewReader(`{"name":"Smile \ud83d\ude00 \u00e9"}`))
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), "Smile 😀 é") {
		t.Fatalf("a surrogate pair: %d %s", r.status, r.body)
	}

	// Query and path parameters.
	for _, tc := range []struct{ path, field string }{
		{"/admin/v1/realms?q=a%00b", "q"},
		{base + "/users?q=%00", "q"},
		{base + "/groups?q=%FF", "q"},
		{base + "/events?type=user.created%00", "type"},
		{"/admin/v1/events?type=%01", "type"},
		{base + "/users?q=" + strings.Repeat("a", 50000), "q"},
		{base + "/clients?q=" + strings.Repeat("é", realm.MaxQueryLen+1), "q"},
		{base + "/groups/a%00b", "id"},
		{"/admin/v1/realms/va%00ult", "realm"},
		{"/admin/v1/realms?" + url.Values{"x\x00": {"1"}}.Encode(), `"x\u0000"`},
	} {
		fieldNamed(t, problem(t, e.do(ownerToken, "GET", tc.path, nil), http.StatusBadRequest), tc.field)
	}
	e.must(200, ownerToken, "GET", base+"/clients?q="+strings.Repeat("é", realm.MaxQueryLen), nil)

	if strings.Contains(e.logs.String(), "level=ERROR") || strings.Contains(e.logs.String(), "unavailable") {
		t.Errorf("bad input was logged as Ward's own failure:\n%s", e.logs.String())
	}
}

// Error amplification (issue 13 item 4): 120,000 duplicate audience
// entries answered 6.6 MB of errors. Now the first 20 and a count.
func TestErrorsListIsBounded(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	aud := make([]string, 120000)
	for i := range aud {
		aud[i] = "aud"
	}
	r := e.do(ownerToken, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "svc", "kind": "service_account", "audience": aud})
	p := problem(t, r, http.StatusBadRequest)
	if len(p.Errors) != 21 {
		t.Fatalf("errors[] has %d entries, want 21", len(p.Errors))
	}
	fieldNamed(t, p, "audience[1]")
	if last := p.Errors[20]; last.Field != "" || last.Message != "and 119979 more errors" {
		t.Errorf("last entry = %+v", last)
	}
	if len(r.body) > 4096 {
		t.Errorf("the answer is %d bytes", len(r.body))
	}

	// Many duplicate keys in one body: the same bound.
	var b strings.Builder
	b.WriteString(`{"name":"G"`)
	for range 1000 {
		b.WriteString(`,"name":"G"`)
	}
	b.WriteString(`}`)
	p = problem(t, e.raw(ownerToken, "POST", "/admin/v1/realms/vault/groups", "application/json", strings.NewReader(b.String())), http.StatusBadRequest)
	if len(p.Errors) != 21 || p.Errors[20].Message != "and 980 more errors" {
		t.Fatalf("duplicate keys: %d entries, last %+v", len(p.Errors), p.Errors[len(p.Errors)-1])
	}
}

// The first-run page checks its link and form the same way.
func TestSetupPageBadText(t *testing.T) {
	e := newEnv(t)
	r := e.raw("", "GET", "/console/setup?token=%00", "", nil)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Setup link must not contain NUL") {
		t.Errorf("setup link with a NUL: %d %s", r.status, r.body)
	}
	form := url.Values{"token": {"t"}, "org": {"acme2"}, "email": {"a@example.com"}, "first_name": {"A\x00"}, "last_name": {"B"}}
	r = e.raw("", "POST", "/console/setup", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "First name must not contain NUL") {
		t.Errorf("setup form with a NUL: %d %s", r.status, r.body)
	}
}
