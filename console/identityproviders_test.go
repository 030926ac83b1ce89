package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/internal/testsaml"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// The admin API of identity providers (CONTRACT §9, issue 17), each test
// on SQLite and on PostgreSQL, against real documents on 127.0.0.1: a
// SAML IdP from crewjam/saml's samlidp and an OpenID Connect discovery
// document.

const (
	ssoBase = "/admin/v1/realms/sso"
	idpPath = ssoBase + "/identity-providers"
	// deadURL is a loopback address nothing listens on: reading from it
	// fails at once.
	deadURL = "http://127.0.0.1:1"
)

// idpFields are the members of every provider answer, no more.
var idpFields = []string{"id", "alias", "kind", "display_name", "enabled", "disabled_reason", "saml", "oidc", "jit",
	"link_by_email", "group_claim", "group_mappings", "default_groups", "attributes", "redirect_uri", "sp_entity_id",
	"sp_metadata_url", "created_at", "updated_at"}

// idpEnv is an admin API with the realm "sso", its groups Finance and
// Staff, a SAML IdP and an OIDC issuer.
type idpEnv struct {
	*env
	finance, staff string // group IDs
	saml           *testsaml.IdP
	issuer         string
}

func onBothDatabasesIdP(t *testing.T, f func(t *testing.T, e *idpEnv)) {
	t.Run("SQLite", func(t *testing.T) { f(t, newIdPEnv(t, newEnv(t))) })
	t.Run("Postgres", func(t *testing.T) { f(t, newIdPEnv(t, newEnvOn(t, sqltest.OpenPostgres(t)))) })
}

func newIdPEnv(t *testing.T, e *env) *idpEnv {
	t.Helper()
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "sso"})
	fin := e.must(201, adminToken, "POST", ssoBase+"/groups", map[string]any{"name": "Finance", "idp_primary_priority": 500})
	staff := e.must(201, adminToken, "POST", ssoBase+"/groups", map[string]any{"name": "Staff"})
	return &idpEnv{env: e, finance: str(fin["id"]), staff: str(staff["id"]), saml: testsaml.Start(t, ""), issuer: newOIDCIssuer(t)}
}

// newOIDCIssuer serves an OpenID Connect discovery document naming itself
// and returns the issuer.
func newOIDCIssuer(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "userinfo_endpoint": srv.URL + "/userinfo",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// hasIdPShape fails unless m has exactly the provider's members.
func hasIdPShape(t *testing.T, what string, m map[string]any) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Clone(idpFields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: members %v, want %v", what, got, want)
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// js renders a JSON value compactly, for exact comparisons.
func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// without is m without the members named.
func without(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func TestIdentityProvidersSAML(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		// By URL: read now, enabled, with the endpoints its admin needs.
		r := e.do(adminToken, "POST", idpPath, map[string]any{
			"alias": "corp", "kind": "saml", "display_name": "Acme SSO",
			"saml":           map[string]any{"metadata_url": e.saml.MetadataURL()},
			"group_claim":    "groups",
			"group_mappings": []map[string]any{{"external": "Finance", "group": e.finance}, {"external": " Accounting ", "group": e.finance}},
			"default_groups": []string{e.staff, e.staff},
			"attributes":     map[string]any{"email": "mail"},
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		corp := r.json(t)
		hasIdPShape(t, "create answer", corp)
		if loc := r.header.Get("Location"); loc != idpPath+"/corp" {
			t.Errorf("Location = %q", loc)
		}
		saml := obj(corp["saml"])
		if str(corp["id"]) == "" || corp["alias"] != "corp" || corp["kind"] != "saml" || corp["display_name"] != "Acme SSO" ||
			corp["enabled"] != true || corp["disabled_reason"] != nil || corp["oidc"] != nil || corp["jit"] != true ||
			corp["link_by_email"] != false || corp["group_claim"] != "groups" ||
			saml["metadata_url"] != e.saml.MetadataURL() || !strings.Contains(str(saml["metadata_xml"]), "IDPSSODescriptor") ||
			corp["redirect_uri"] != testPublicURL+"/realms/sso/broker/corp/endpoint" ||
			corp["sp_entity_id"] != testPublicURL+"/realms/sso" ||
			corp["sp_metadata_url"] != testPublicURL+"/realms/sso/broker/corp/endpoint/descriptor" ||
			str(corp["created_at"]) == "" || corp["created_at"] != corp["updated_at"] {
			t.Errorf("create answer %v", without(corp, "saml"))
		}
		// Mappings trimmed and sorted, duplicates dropped; attributes
		// left out are the defaults ("").
		if got, want := js(t, corp["group_mappings"]), js(t, []map[string]string{
			{"external": "Accounting", "group": e.finance}, {"external": "Finance", "group": e.finance}}); got != want {
			t.Errorf("group_mappings = %s, want %s", got, want)
		}
		if got := js(t, corp["default_groups"]); got != js(t, []string{e.staff}) {
			t.Errorf("default_groups = %s", got)
		}
		if got := js(t, corp["attributes"]); got != `{"email":"mail","first_name":"","last_name":""}` {
			t.Errorf("attributes = %s", got)
		}
		if len(saml) != 2 {
			t.Errorf("saml members = %v, want metadata_url and metadata_xml", saml)
		}

		// Pasted metadata (several lines): enabled, metadata_url null.
		xml := e.saml.Metadata()
		if !strings.Contains(xml, "\n") {
			xml = strings.Replace(xml, "><", ">\n\t<", 1)
		}
		pasted := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "pasted", "kind": "saml",
			"saml": map[string]any{"metadata_xml": xml}})
		hasIdPShape(t, "pasted", pasted)
		if pasted["enabled"] != true || pasted["disabled_reason"] != nil || obj(pasted["saml"])["metadata_url"] != nil ||
			obj(pasted["saml"])["metadata_xml"] != strings.TrimSpace(xml) || js(t, pasted["group_mappings"]) != "[]" ||
			js(t, pasted["default_groups"]) != "[]" || pasted["display_name"] != "" || pasted["group_claim"] != "" {
			t.Errorf("pasted = %v", without(pasted, "saml"))
		}

		// Unreachable metadata: still created, disabled with the reason.
		dead := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "dead", "kind": "saml",
			"saml": map[string]any{"metadata_url": deadURL + "/metadata"}})
		if dead["enabled"] != false || !strings.Contains(str(dead["disabled_reason"]), "could not be read from "+deadURL+"/metadata") {
			t.Errorf("unreachable metadata: enabled %v, disabled_reason %q", dead["enabled"], dead["disabled_reason"])
		}
		// Metadata that is not an IdP's: the same.
		bad := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "bad-xml", "kind": "saml",
			"saml": map[string]any{"metadata_xml": "<html><body>not metadata</body></html>"}})
		if bad["enabled"] != false || !strings.Contains(str(bad["disabled_reason"]), "not valid SAML metadata") {
			t.Errorf("invalid metadata: enabled %v, disabled_reason %q", bad["enabled"], bad["disabled_reason"])
		}
		// Asked to be disabled: not read, no reason.
		off := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "off", "kind": "saml", "enabled": false,
			"saml": map[string]any{"metadata_url": deadURL + "/metadata"}})
		if off["enabled"] != false || off["disabled_reason"] != nil {
			t.Errorf("created disabled: enabled %v, disabled_reason %v", off["enabled"], off["disabled_reason"])
		}

		// GET one and the list: the same answers, by alias.
		if got := e.must(200, viewerToken, "GET", idpPath+"/corp", nil); js(t, got) != js(t, corp) {
			t.Errorf("GET = %s\nwant %s", js(t, got), js(t, corp))
		}
		lst := e.must(200, viewerToken, "GET", idpPath, nil)
		its := items(t, lst)
		if got := idsOf(its, "alias"); !slices.Equal(got, []string{"bad-xml", "corp", "dead", "off", "pasted"}) {
			t.Errorf("list = %v", got)
		}
		if _, ok := lst["next_cursor"]; ok {
			t.Errorf("list has next_cursor")
		}
		for _, it := range its {
			hasIdPShape(t, "list item", it)
		}
		if js(t, its[1]) != js(t, corp) {
			t.Errorf("listed corp = %s", js(t, its[1]))
		}
		problem(t, e.do(viewerToken, "GET", idpPath+"/nope", nil), http.StatusNotFound)
		problem(t, e.do(viewerToken, "GET", idpPath+"/Corp", nil), http.StatusNotFound)
		// Another organization sees none of it.
		problem(t, e.do(otherToken, "GET", idpPath, nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "GET", idpPath+"/corp", nil), http.StatusNotFound)

		// The alias is taken: 409 naming it.
		fieldNamed(t, problem(t, e.do(adminToken, "POST", idpPath, map[string]any{"alias": "corp", "kind": "saml",
			"saml": map[string]any{"metadata_xml": xml}}), http.StatusConflict), "alias")

		// One creation event each, by the admin client, never with the
		// metadata.
		evs := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=identity_provider.created", nil))
		if len(evs) != 5 || evs[0]["actor_id"] != "acme-admin-client" || evs[0]["target_type"] != "identity_provider" {
			t.Errorf("identity_provider.created events = %v", evs)
		}
	})
}

func TestIdentityProvidersOIDC(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		const secret = "s3cret-7d1e"
		r := e.do(ownerToken, "POST", idpPath, map[string]any{
			"alias": "ward-idp", "kind": "oidc", "display_name": "Other Ward",
			"oidc": map[string]any{"issuer": e.issuer, "client_id": "ward-app", "client_secret": secret},
			"jit":  false, "link_by_email": true,
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"client_secret"`) {
			t.Errorf("the create answer shows the client secret: %s", r.body)
		}
		p := r.json(t)
		hasIdPShape(t, "create answer", p)
		if got, want := js(t, p["oidc"]), js(t, map[string]any{"issuer": e.issuer, "client_id": "ward-app",
			"has_client_secret": true, "scopes": []string{"openid", "email", "profile"}}); got != want {
			t.Errorf("oidc = %s, want %s", got, want)
		}
		if p["enabled"] != true || p["disabled_reason"] != nil || p["saml"] != nil || p["jit"] != false ||
			p["link_by_email"] != true || p["sp_entity_id"] != nil || p["sp_metadata_url"] != nil ||
			p["redirect_uri"] != testPublicURL+"/realms/sso/broker/ward-idp/endpoint" {
			t.Errorf("create answer %v", p)
		}
		for _, path := range []string{idpPath, idpPath + "/ward-idp"} {
			if b := e.do(viewerToken, "GET", path, nil).body; strings.Contains(string(b), secret) || strings.Contains(string(b), `"client_secret"`) {
				t.Errorf("GET %s shows the client secret: %s", path, b)
			}
		}
		if strings.Contains(e.logs.String(), secret) {
			t.Error("the client secret reached the log")
		}

		// A public client (no secret), scopes of its own (openid added).
		pub := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "public", "kind": "oidc",
			"oidc": map[string]any{"issuer": e.issuer, "client_id": "spa", "scopes": []string{"groups", "email", "groups"}}})
		if got := js(t, pub["oidc"]); got != js(t, map[string]any{"issuer": e.issuer, "client_id": "spa",
			"has_client_secret": false, "scopes": []string{"openid", "groups", "email"}}) {
			t.Errorf("public oidc = %s", got)
		}

		// An issuer without a discovery document: created disabled with
		// the reason.
		dead := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "dead", "kind": "oidc",
			"oidc": map[string]any{"issuer": deadURL + "/realms/x", "client_id": "c"}})
		if dead["enabled"] != false || !strings.Contains(str(dead["disabled_reason"]), "discovery document of "+deadURL+"/realms/x") {
			t.Errorf("dead issuer: enabled %v, disabled_reason %q", dead["enabled"], dead["disabled_reason"])
		}
		// A discovery document naming another issuer: the same.
		other := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "wrong-issuer", "kind": "oidc",
			"oidc": map[string]any{"issuer": e.issuer + "/", "client_id": "c"}})
		if other["enabled"] != false || str(other["disabled_reason"]) == "" {
			t.Errorf("issuer mismatch: enabled %v, disabled_reason %q", other["enabled"], other["disabled_reason"])
		}
	})
}

func TestIdentityProvidersBadInput(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		samlOK := map[string]any{"metadata_xml": e.saml.Metadata()}
		oidcOK := map[string]any{"issuer": e.issuer, "client_id": "c"}
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"bad alias", map[string]any{"alias": "Corp!", "kind": "saml", "saml": samlOK}, "alias"},
			{"no alias", map[string]any{"kind": "saml", "saml": samlOK}, "alias"},
			{"unknown kind", map[string]any{"alias": "x", "kind": "ldap"}, "kind"},
			{"saml without settings", map[string]any{"alias": "x", "kind": "saml"}, "saml"},
			{"saml with both sources", map[string]any{"alias": "x", "kind": "saml",
				"saml": map[string]any{"metadata_url": e.saml.MetadataURL(), "metadata_xml": "<x/>"}}, "saml"},
			{"saml with oidc", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK, "oidc": oidcOK}, "oidc"},
			{"oidc with saml", map[string]any{"alias": "x", "kind": "oidc", "oidc": oidcOK, "saml": samlOK}, "saml"},
			{"plain http metadata elsewhere", map[string]any{"alias": "x", "kind": "saml",
				"saml": map[string]any{"metadata_url": "http://idp.example.com/metadata"}}, "saml.metadata_url"},
			{"relative metadata url", map[string]any{"alias": "x", "kind": "saml",
				"saml": map[string]any{"metadata_url": "/metadata"}}, "saml.metadata_url"},
			{"oidc without issuer", map[string]any{"alias": "x", "kind": "oidc", "oidc": map[string]any{"client_id": "c"}}, "oidc.issuer"},
			{"oidc without client", map[string]any{"alias": "x", "kind": "oidc", "oidc": map[string]any{"issuer": e.issuer}}, "oidc.client_id"},
			{"oidc bad scope", map[string]any{"alias": "x", "kind": "oidc",
				"oidc": map[string]any{"issuer": e.issuer, "client_id": "c", "scopes": []string{"ok", "a b"}}}, "oidc.scopes[1]"},
			{"unknown group", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"group_mappings": []map[string]any{{"external": "A", "group": e.finance}, {"external": "B", "group": "nope"}}}, "group_mappings[1].group"},
			{"empty external", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"group_mappings": []map[string]any{{"external": " ", "group": e.finance}}}, "group_mappings[0].external"},
			{"unknown default group", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"default_groups": []string{e.staff, "nope"}}, "default_groups[1]"},
			{"unknown field", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK, "entity_id": "x"}, "entity_id"},
			{"unknown saml member", map[string]any{"alias": "x", "kind": "saml",
				"saml": map[string]any{"metadata_xml": "<x/>", "entity_id": "x"}}, "saml.entity_id"},
			{"unknown oidc member", map[string]any{"alias": "x", "kind": "oidc",
				"oidc": map[string]any{"issuer": e.issuer, "client_id": "c", "secret": "x"}}, "oidc.secret"},
			{"unknown mapping member", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"group_mappings": []map[string]any{{"external": "A", "group": e.finance}, {"external": "B", "group": e.finance, "priority": 1}}}, "group_mappings[1].priority"},
			{"mapping of the wrong type", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"group_mappings": []any{map[string]any{"external": 5, "group": e.finance}}}, "group_mappings[0].external"},
			{"mappings not a list", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK, "group_mappings": "Finance"}, "group_mappings"},
			{"saml not an object", map[string]any{"alias": "x", "kind": "saml", "saml": "https://idp"}, "saml"},
			{"oidc member of the wrong type", map[string]any{"alias": "x", "kind": "oidc",
				"oidc": map[string]any{"issuer": e.issuer, "client_id": 7}}, "oidc.client_id"},
			{"unknown attributes member", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"attributes": map[string]any{"phone": "tel"}}, "attributes.phone"},
			{"bad attribute name", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK,
				"attributes": map[string]any{"email": strings.Repeat("m", 300)}}, "attributes.email"},
			{"enabled not a boolean", map[string]any{"alias": "x", "kind": "saml", "saml": samlOK, "enabled": "yes"}, "enabled"},
		} {
			p := problem(t, e.do(adminToken, "POST", idpPath, tc.body), http.StatusBadRequest)
			if !slices.ContainsFunc(p.Errors, func(f realm.FieldError) bool { return f.Field == tc.field }) {
				t.Errorf("%s: errors %+v, want one naming %s", tc.name, p.Errors, tc.field)
			}
		}

		// Bad text, as sent: NUL, invalid UTF-8, a line break where one
		// line is expected; a body over 1 MiB.
		for _, tc := range []struct{ name, body, field string }{
			{"NUL in alias", `{"alias":"a\u0000","kind":"saml","saml":{"metadata_xml":"<x/>"}}`, "alias"},
			{"NUL in metadata", `{"alias":"a","kind":"saml","saml":{"metadata_xml":"<x>\u0000</x>"}}`, "saml.metadata_xml"},
			{"invalid UTF-8 in issuer", "{\"alias\":\"a\",\"kind\":\"oidc\",\"oidc\":{\"issuer\":\"https://\xff\",\"client_id\":\"c\"}}", "oidc.issuer"},
			{"line break in external", `{"alias":"a","kind":"saml","saml":{"metadata_xml":"<x/>"},"group_mappings":[{"external":"A\nB","group":"g"}]}`, "group_mappings[0].external"},
			{"duplicate key", `{"alias":"a","alias":"b","kind":"saml","saml":{"metadata_xml":"<x/>"}}`, "alias"},
		} {
			p := problem(t, e.raw(adminToken, "POST", idpPath, "application/json", strings.NewReader(tc.body)), http.StatusBadRequest)
			if !slices.ContainsFunc(p.Errors, func(f realm.FieldError) bool { return f.Field == tc.field }) {
				t.Errorf("%s: errors %+v, want one naming %s", tc.name, p.Errors, tc.field)
			}
		}
		huge := `{"alias":"a","kind":"saml","saml":{"metadata_xml":"` + strings.Repeat("x", 1<<20) + `"}}`
		problem(t, e.raw(adminToken, "POST", idpPath, "application/json", strings.NewReader(huge)), http.StatusRequestEntityTooLarge)
		problem(t, e.raw(adminToken, "POST", idpPath, "text/xml", strings.NewReader("<x/>")), http.StatusUnsupportedMediaType)

		// Nothing was created, and nothing failed on Ward's side.
		if its := items(t, e.must(200, viewerToken, "GET", idpPath, nil)); len(its) != 0 {
			t.Errorf("providers after bad input: %v", idsOf(its, "alias"))
		}
		if strings.Contains(e.logs.String(), "internal error") {
			t.Errorf("an internal error was logged:\n%s", e.logs.String())
		}
	})
}

func TestIdentityProvidersPatch(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		oidc := e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "ward", "kind": "oidc", "display_name": "Ward",
			"oidc":           map[string]any{"issuer": e.issuer, "client_id": "app", "client_secret": "first"},
			"group_claim":    "groups",
			"group_mappings": []map[string]any{{"external": "Finance", "group": e.finance}},
			"default_groups": []string{e.staff},
			"attributes":     map[string]any{"email": "mail", "first_name": "given"},
		})
		path := idpPath + "/ward"
		patch := func(body map[string]any) map[string]any {
			t.Helper()
			p := e.must(200, adminToken, "PATCH", path, body)
			hasIdPShape(t, "PATCH answer", p)
			if got := e.must(200, viewerToken, "GET", path, nil); js(t, got) != js(t, p) {
				t.Errorf("GET after PATCH %v = %s\nwant %s", body, js(t, got), js(t, p))
			}
			return p
		}

		// Only what is given changes.
		p := patch(map[string]any{"display_name": "Ward SSO"})
		if p["display_name"] != "Ward SSO" || js(t, without(p, "display_name", "updated_at")) != js(t, without(oidc, "display_name", "updated_at")) {
			t.Errorf("PATCH display_name = %v\nbefore %v", p, oidc)
		}
		// The secret: left out it stays, "" or null removes it, a new one
		// sets it; other oidc members left out stay.
		p = patch(map[string]any{"oidc": map[string]any{"client_id": "app2"}})
		if got := js(t, p["oidc"]); got != js(t, map[string]any{"issuer": e.issuer, "client_id": "app2",
			"has_client_secret": true, "scopes": []string{"openid", "email", "profile"}}) {
			t.Errorf("oidc after client_id = %s", got)
		}
		if p = patch(map[string]any{"oidc": map[string]any{"client_secret": ""}}); obj(p["oidc"])["has_client_secret"] != false {
			t.Errorf(`oidc after client_secret "" = %v`, p["oidc"])
		}
		if p = patch(map[string]any{"oidc": map[string]any{"client_secret": "second", "scopes": []string{"groups"}}}); js(t, p["oidc"]) !=
			js(t, map[string]any{"issuer": e.issuer, "client_id": "app2", "has_client_secret": true, "scopes": []string{"openid", "groups"}}) {
			t.Errorf("oidc after a new secret = %s", js(t, p["oidc"]))
		}
		if p = patch(map[string]any{"oidc": map[string]any{"client_secret": nil}}); obj(p["oidc"])["has_client_secret"] != false {
			t.Errorf("oidc after client_secret null = %v", p["oidc"])
		}
		// null clears what may be empty.
		p = patch(map[string]any{"display_name": nil, "group_claim": nil, "group_mappings": nil, "default_groups": nil, "attributes": nil})
		if p["display_name"] != "" || p["group_claim"] != "" || js(t, p["group_mappings"]) != "[]" || js(t, p["default_groups"]) != "[]" ||
			js(t, p["attributes"]) != `{"email":"","first_name":"","last_name":""}` {
			t.Errorf("PATCH of nulls = %v", p)
		}
		// Lists and attributes given replace.
		p = patch(map[string]any{"group_mappings": []map[string]any{{"external": "Staff", "group": e.staff}, {"external": "Finance", "group": e.finance}},
			"default_groups": []string{e.finance}, "attributes": map[string]any{"last_name": "sn"}, "jit": false, "link_by_email": true})
		if js(t, p["group_mappings"]) != js(t, []map[string]string{{"external": "Finance", "group": e.finance}, {"external": "Staff", "group": e.staff}}) ||
			js(t, p["default_groups"]) != js(t, []string{e.finance}) || js(t, p["attributes"]) != `{"email":"","first_name":"","last_name":"sn"}` ||
			p["jit"] != false || p["link_by_email"] != true {
			t.Errorf("PATCH of lists = %v", p)
		}
		// The same again: 200, unchanged, no event.
		before := len(items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=identity_provider.updated&limit=200", nil)))
		if again := patch(map[string]any{"jit": false, "default_groups": []string{e.finance}}); again["updated_at"] != p["updated_at"] {
			t.Errorf("an unchanged PATCH moved updated_at")
		}
		evs := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=identity_provider.updated&limit=200", nil))
		if len(evs) != before {
			t.Errorf("an unchanged PATCH made an event")
		}
		if d := obj(evs[0]["details"]); fmt.Sprint(d["fields"]) != "[jit link_by_email attributes group_mappings default_groups]" || d["alias"] != "ward" {
			t.Errorf("last identity_provider.updated details = %v", d)
		}
		for _, ev := range evs {
			if strings.Contains(js(t, ev), "first") || strings.Contains(js(t, ev), "second") {
				t.Errorf("an event shows the client secret: %v", ev)
			}
		}

		// Switched off by the admin: no reason; on again: read again.
		if p = patch(map[string]any{"enabled": false}); p["enabled"] != false || p["disabled_reason"] != nil {
			t.Errorf("disabled: %v %v", p["enabled"], p["disabled_reason"])
		}
		if p = patch(map[string]any{"enabled": true}); p["enabled"] != true || p["disabled_reason"] != nil {
			t.Errorf("enabled: %v %v", p["enabled"], p["disabled_reason"])
		}
		// A new issuer that does not answer: 200, disabled with the
		// reason; back to the good one: on again.
		if p = patch(map[string]any{"oidc": map[string]any{"issuer": deadURL}}); p["enabled"] != false ||
			!strings.Contains(str(p["disabled_reason"]), deadURL) {
			t.Errorf("dead issuer: %v %v", p["enabled"], p["disabled_reason"])
		}
		// Switched off by a failed read, it is tried again when the issuer
		// changes, without being switched on by hand.
		if p = patch(map[string]any{"oidc": map[string]any{"issuer": e.issuer}}); p["enabled"] != true || p["disabled_reason"] != nil {
			t.Errorf("good issuer again: %v %v", p["enabled"], p["disabled_reason"])
		}

		// SAML: new metadata is read again; unreachable disables it.
		e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "corp", "kind": "saml",
			"saml": map[string]any{"metadata_url": e.saml.MetadataURL()}})
		s := e.must(200, adminToken, "PATCH", idpPath+"/corp", map[string]any{"saml": map[string]any{"metadata_url": deadURL + "/md"}})
		if s["enabled"] != false || !strings.Contains(str(s["disabled_reason"]), deadURL+"/md") || obj(s["saml"])["metadata_url"] != deadURL+"/md" {
			t.Errorf("SAML with dead metadata: %v %v %v", s["enabled"], s["disabled_reason"], s["saml"])
		}
		s = e.must(200, adminToken, "PATCH", idpPath+"/corp", map[string]any{"saml": map[string]any{"metadata_xml": e.saml.Metadata()}, "enabled": true})
		if s["enabled"] != true || s["disabled_reason"] != nil || obj(s["saml"])["metadata_url"] != nil {
			t.Errorf("SAML with pasted metadata: %v %v %v", s["enabled"], s["disabled_reason"], obj(s["saml"])["metadata_url"])
		}

		// Refused: null where a value is needed, the other kind's
		// settings, the alias and kind, unknown groups, unknown members.
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"enabled": nil}, "enabled"},
			{map[string]any{"jit": nil}, "jit"},
			{map[string]any{"link_by_email": nil}, "link_by_email"},
			{map[string]any{"oidc": nil}, "oidc"},
			{map[string]any{"oidc": map[string]any{"issuer": nil}}, "oidc.issuer"},
			{map[string]any{"oidc": map[string]any{"issuer": ""}}, "oidc.issuer"},
			{map[string]any{"oidc": map[string]any{"client_id": nil}}, "oidc.client_id"},
			{map[string]any{"oidc": map[string]any{"scopes": nil}}, "oidc.scopes"},
			{map[string]any{"oidc": map[string]any{"issuer": "ftp://x"}}, "oidc.issuer"},
			{map[string]any{"oidc": map[string]any{"tenant": "x"}}, "oidc.tenant"},
			{map[string]any{"saml": map[string]any{"metadata_xml": "<x/>"}}, "saml"},
			{map[string]any{"alias": "other"}, "alias"},
			{map[string]any{"kind": "saml"}, "kind"},
			{map[string]any{"group_mappings": []map[string]any{{"external": "X", "group": "nope"}}}, "group_mappings[0].group"},
			{map[string]any{"default_groups": []string{"nope"}}, "default_groups[0]"},
			{map[string]any{"attributes": map[string]any{"mail": "x"}}, "attributes.mail"},
		} {
			p := problem(t, e.do(adminToken, "PATCH", path, tc.body), http.StatusBadRequest)
			if !slices.ContainsFunc(p.Errors, func(f realm.FieldError) bool { return f.Field == tc.field }) {
				t.Errorf("PATCH %v: errors %+v, want one naming %s", tc.body, p.Errors, tc.field)
			}
		}
		problem(t, e.do(adminToken, "PATCH", idpPath+"/corp", map[string]any{"oidc": map[string]any{"client_id": "x"}}), http.StatusBadRequest)
		problem(t, e.do(adminToken, "PATCH", idpPath+"/nope", map[string]any{"jit": true}), http.StatusNotFound)
		problem(t, e.raw(adminToken, "PATCH", path, "application/json", strings.NewReader("null")), http.StatusBadRequest)
		if got := e.must(200, viewerToken, "GET", path, nil); js(t, got) != js(t, p) {
			t.Errorf("refused PATCHes changed the provider: %s\nwant %s", js(t, got), js(t, p))
		}
	})
}

func TestIdentityProvidersRolesAndDelete(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		body := map[string]any{"alias": "corp", "kind": "saml", "saml": map[string]any{"metadata_url": e.saml.MetadataURL()}}
		// Viewers read, never write.
		problem(t, e.do(viewerToken, "POST", idpPath, body), http.StatusForbidden)
		e.must(201, ownerToken, "POST", idpPath, body)
		e.must(200, viewerToken, "GET", idpPath+"/corp", nil)
		problem(t, e.do(viewerToken, "PATCH", idpPath+"/corp", map[string]any{"display_name": "x"}), http.StatusForbidden)
		problem(t, e.do(viewerToken, "DELETE", idpPath+"/corp", nil), http.StatusForbidden)
		// Another organization cannot reach it.
		problem(t, e.do(otherToken, "DELETE", idpPath+"/corp", nil), http.StatusNotFound)
		problem(t, e.do(otherToken, "PATCH", idpPath+"/corp", map[string]any{"display_name": "x"}), http.StatusNotFound)
		if got := e.must(200, viewerToken, "GET", idpPath+"/corp", nil); got["display_name"] != "" {
			t.Errorf("refused writes changed it: %v", got)
		}

		// Delete: 204, then 404; one event.
		e.must(204, adminToken, "DELETE", idpPath+"/corp", nil)
		problem(t, e.do(viewerToken, "GET", idpPath+"/corp", nil), http.StatusNotFound)
		problem(t, e.do(adminToken, "DELETE", idpPath+"/corp", nil), http.StatusNotFound)
		evs := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=identity_provider.deleted", nil))
		if len(evs) != 1 || obj(evs[0]["details"])["alias"] != "corp" || evs[0]["actor_id"] != "acme-admin-client" {
			t.Errorf("identity_provider.deleted events = %v", evs)
		}
		// The alias is free again.
		e.must(201, adminToken, "POST", idpPath, body)
	})
}

// A group an identity provider names cannot be deleted: its sign-ins
// would put people in a group that is gone.
func TestGroupDeleteRefusedWhileNamedByIdP(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		samlBody := map[string]any{"metadata_url": e.saml.MetadataURL()}
		e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "corp", "kind": "saml", "saml": samlBody,
			"group_mappings": []map[string]any{{"external": "Finance", "group": e.finance}}})
		e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "b-corp", "kind": "saml", "saml": samlBody,
			"default_groups": []string{e.finance, e.staff}})

		p := problem(t, e.do(adminToken, "DELETE", ssoBase+"/groups/"+e.finance, nil), http.StatusConflict)
		fieldNamed(t, p, "id")
		if !strings.Contains(p.Detail, "b-corp, corp") {
			t.Errorf("detail %q does not name both providers", p.Detail)
		}
		p = problem(t, e.do(adminToken, "DELETE", ssoBase+"/groups/"+e.staff, nil), http.StatusConflict)
		if !strings.Contains(p.Detail, "b-corp") || strings.Contains(p.Detail, "b-corp, corp") {
			t.Errorf("detail %q, want b-corp only", p.Detail)
		}
		e.must(200, viewerToken, "GET", ssoBase+"/groups/"+e.finance, nil)

		// Taken out of the mappings and the other provider deleted: gone.
		e.must(200, adminToken, "PATCH", idpPath+"/corp", map[string]any{"group_mappings": []any{}})
		problem(t, e.do(adminToken, "DELETE", ssoBase+"/groups/"+e.finance, nil), http.StatusConflict)
		e.must(204, adminToken, "DELETE", idpPath+"/b-corp", nil)
		e.must(204, adminToken, "DELETE", ssoBase+"/groups/"+e.finance, nil)
		e.must(204, adminToken, "DELETE", ssoBase+"/groups/"+e.staff, nil)
	})
}

func TestGroupIdPPrimaryPriority(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		groups := ssoBase + "/groups"
		if g := e.must(200, viewerToken, "GET", groups+"/"+e.staff, nil); g["idp_primary_priority"] != 0.0 {
			t.Errorf("default idp_primary_priority = %v, want 0", g["idp_primary_priority"])
		}
		if g := e.must(200, viewerToken, "GET", groups+"/"+e.finance, nil); g["idp_primary_priority"] != 500.0 {
			t.Errorf("idp_primary_priority = %v, want 500", g["idp_primary_priority"])
		}
		top := e.must(201, adminToken, "POST", groups, map[string]any{"name": "Top", "idp_primary_priority": 1000})
		if top["idp_primary_priority"] != 1000.0 {
			t.Errorf("created with 1000: %v", top["idp_primary_priority"])
		}
		for _, bad := range []any{1001, -1, 1.5, "5", true, 1e30} {
			fieldNamed(t, problem(t, e.do(adminToken, "POST", groups, map[string]any{"name": "Bad", "idp_primary_priority": bad}), http.StatusBadRequest), "idp_primary_priority")
			fieldNamed(t, problem(t, e.do(adminToken, "PATCH", groups+"/"+e.staff, map[string]any{"idp_primary_priority": bad}), http.StatusBadRequest), "idp_primary_priority")
		}
		fieldNamed(t, problem(t, e.do(adminToken, "PATCH", groups+"/"+e.staff, map[string]any{"idp_primary_priority": nil}), http.StatusBadRequest), "idp_primary_priority")
		problem(t, e.do(viewerToken, "PATCH", groups+"/"+e.staff, map[string]any{"idp_primary_priority": 1}), http.StatusForbidden)

		g := e.must(200, adminToken, "PATCH", groups+"/"+e.staff, map[string]any{"idp_primary_priority": 700})
		if g["idp_primary_priority"] != 700.0 || g["name"] != "Staff" {
			t.Errorf("PATCH 700 = %v", g)
		}
		if g := e.must(200, viewerToken, "GET", groups+"/"+e.staff, nil); g["idp_primary_priority"] != 700.0 {
			t.Errorf("GET after PATCH = %v", g["idp_primary_priority"])
		}
		lst := items(t, e.must(200, viewerToken, "GET", groups, nil))
		for _, it := range lst {
			if _, ok := it["idp_primary_priority"]; !ok {
				t.Errorf("listed group without idp_primary_priority: %v", it)
			}
		}
		evs := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=group.updated", nil))
		if len(evs) != 1 || fmt.Sprint(obj(evs[0]["details"])["fields"]) != "[idp_primary_priority]" ||
			obj(evs[0]["details"])["idp_primary_priority"] != 700.0 {
			t.Errorf("group.updated events = %v", evs)
		}
		// Unchanged: no event.
		e.must(200, adminToken, "PATCH", groups+"/"+e.staff, map[string]any{"idp_primary_priority": 700})
		if n := len(items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=group.updated", nil))); n != 1 {
			t.Errorf("%d group.updated events after an unchanged PATCH, want 1", n)
		}
		created := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?type=group.created", nil))
		if len(created) != 3 || obj(created[0]["details"])["idp_primary_priority"] != 1000.0 {
			t.Errorf("group.created events = %v", created)
		}
	})
}

func TestRealmPasswordLogin(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		if r := e.must(200, viewerToken, "GET", ssoBase, nil); r["password_login"] != true {
			t.Errorf("new realm password_login = %v, want true", r["password_login"])
		}
		problem(t, e.do(viewerToken, "PATCH", ssoBase, map[string]any{"password_login": false}), http.StatusForbidden)
		for _, bad := range []any{nil, "no", 0} {
			fieldNamed(t, problem(t, e.do(adminToken, "PATCH", ssoBase, map[string]any{"password_login": bad}), http.StatusBadRequest), "password_login")
		}
		r := e.must(200, adminToken, "PATCH", ssoBase, map[string]any{"password_login": false})
		if r["password_login"] != false || r["display_name"] != "sso" {
			t.Errorf("PATCH false = %v", r)
		}
		if r := e.must(200, viewerToken, "GET", ssoBase, nil); r["password_login"] != false {
			t.Errorf("GET after PATCH = %v", r["password_login"])
		}
		// The service's realm is the stored one.
		stored, err := e.svc.Store().GetRealmByName(context.Background(), "sso")
		if err != nil || !stored.PasswordLoginDisabled {
			t.Errorf("stored realm: %+v %v", stored, err)
		}
		for _, it := range items(t, e.must(200, viewerToken, "GET", "/admin/v1/realms", nil)) {
			if want := it["name"] != "sso"; it["password_login"] != want {
				t.Errorf("listed realm %v: password_login %v, want %v", it["name"], it["password_login"], want)
			}
		}
		// Both fields at once; then the same again makes no event.
		r = e.must(200, adminToken, "PATCH", ssoBase, map[string]any{"password_login": true, "display_name": "Single sign-on"})
		if r["password_login"] != true || r["display_name"] != "Single sign-on" {
			t.Errorf("PATCH both = %v", r)
		}
		e.must(200, adminToken, "PATCH", ssoBase, map[string]any{"password_login": true})
		evs := items(t, e.must(200, viewerToken, "GET", "/admin/v1/events?type=realm.updated", nil))
		if len(evs) != 2 {
			t.Fatalf("realm.updated events = %v, want 2", evs)
		}
		newest, oldest := obj(evs[0]["details"]), obj(evs[1]["details"])
		if fmt.Sprint(oldest["fields"]) != "[password_login]" || oldest["password_login"] != false || oldest["name"] != "sso" {
			t.Errorf("first realm.updated details = %v", oldest)
		}
		if fmt.Sprint(newest["fields"]) != "[display_name password_login]" || newest["password_login"] != true ||
			newest["display_name"] != "Single sign-on" {
			t.Errorf("second realm.updated details = %v", newest)
		}
	})
}

// A user signed in through a provider shows it, in the answer of GET of
// the user only; the sign-in's events are by the provider and the user.
func TestUserIdentityProviders(t *testing.T) {
	onBothDatabasesIdP(t, func(t *testing.T, e *idpEnv) {
		e.must(201, adminToken, "POST", idpPath, map[string]any{"alias": "corp", "kind": "saml",
			"saml":           map[string]any{"metadata_url": e.saml.MetadataURL()},
			"group_mappings": []map[string]any{{"external": "Finance", "group": e.finance}},
			"default_groups": []string{e.staff}})
		plain := e.must(201, adminToken, "POST", ssoBase+"/users", map[string]any{"email": "bob@acme.test",
			"first_name": "Bob", "last_name": "Bee", "send_set_password_email": false})
		if _, ok := plain["identity_providers"]; ok {
			t.Errorf("the create answer has identity_providers: %v", plain)
		}
		if got := e.must(200, viewerToken, "GET", ssoBase+"/users/"+str(plain["id"]), nil); js(t, got["identity_providers"]) != "[]" {
			t.Errorf("a user without links: identity_providers = %s, want []", js(t, got["identity_providers"]))
		}

		ctx := context.Background()
		r, err := e.svc.Store().GetRealmByName(ctx, "sso")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Store().GetIdentityProvider(ctx, r.ID, "corp")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.idps.SignIn(ctx, r, p, realm.ExternalIdentity{Subject: "00u123", Email: "ann@acme.test", EmailVerified: true,
			FirstName: "Ann", LastName: "Lee", Groups: []string{"Finance"}})
		if err != nil || !res.Created {
			t.Fatalf("sign-in: %+v %v", res, err)
		}
		id := res.User.ID
		u := e.must(200, viewerToken, "GET", ssoBase+"/users/"+id, nil)
		if got := js(t, u["identity_providers"]); got != `[{"alias":"corp","subject":"00u123"}]` {
			t.Errorf("identity_providers = %s", got)
		}
		if got := js(t, u["groups"]); got != js(t, sorted(e.finance, e.staff)) || u["primary_group"] != e.finance || u["email"] != "ann@acme.test" {
			t.Errorf("signed-in user = %v", u)
		}
		// Lists and other answers stay cheap: no identity_providers.
		for _, it := range items(t, e.must(200, viewerToken, "GET", ssoBase+"/users", nil)) {
			if _, ok := it["identity_providers"]; ok {
				t.Errorf("listed user has identity_providers: %v", it)
			}
		}
		if pu := e.must(200, adminToken, "PATCH", ssoBase+"/users/"+id, map[string]any{"first_name": "Anne"}); pu["identity_providers"] != nil {
			t.Errorf("PATCH answer has identity_providers: %v", pu)
		}
		problem(t, e.do(viewerToken, "GET", ssoBase+"/users/nope", nil), http.StatusNotFound)

		// The sign-in's events (answers checked against the document's
		// actor types).
		evs := items(t, e.must(200, viewerToken, "GET", ssoBase+"/events?limit=200", nil))
		actors := map[string]bool{}
		for _, ev := range evs {
			actors[str(ev["actor_type"])] = true
		}
		if !actors["user"] || !actors["identity_provider"] {
			t.Errorf("event actor types %v, want user and identity_provider among them", actors)
		}

		// The provider deleted: the user stays, without the link.
		e.must(204, adminToken, "DELETE", idpPath+"/corp", nil)
		if got := e.must(200, viewerToken, "GET", ssoBase+"/users/"+id, nil); js(t, got["identity_providers"]) != "[]" {
			t.Errorf("after the provider's deletion: identity_providers = %s", js(t, got["identity_providers"]))
		}
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
