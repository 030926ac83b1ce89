package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// Bearer strings the test Authenticator knows.
const (
	ownerToken  = "owner-token"
	adminToken  = "admin-token"
	viewerToken = "viewer-token"
	otherToken  = "other-org-owner-token"
)

// tokenAuth maps fixed bearer strings to principals. These handler tests use
// it instead of real console-realm access tokens so that they exercise the
// admin API alone; the real token path (AdminAuth, auth_test.go) is
// covered over a real OAuth server, and end to end by the black-box tests in
// cmd/ward, which start the whole server.
type tokenAuth map[string]realm.Principal

func (m tokenAuth) AuthenticateAdmin(_ context.Context, bearer string) (realm.Principal, error) {
	p, ok := m[bearer]
	if !ok {
		return realm.Principal{}, errors.New("unknown token")
	}
	return p, nil
}

type env struct {
	t      *testing.T
	url    string
	svc    *realm.Service
	idps   *realm.IdentityProviders
	logs   *bytes.Buffer
	router routers.Router // docs/openapi.yaml, to check every answer against
}

// testPublicURL is the test service's public URL: the identity providers'
// endpoints are under it.
const testPublicURL = "https://ward.test"

// newEnv starts the admin API on a real echo server on 127.0.0.1 over a
// real SQLite store and the real realm.Service, with two organizations:
// "acme" (owner, admin and viewer tokens) and "globex" (owner token).
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, sqltest.Open(t))
}

// newEnvOn is newEnv over store (sqltest.OpenPostgres for PostgreSQL).
func newEnvOn(t *testing.T, store *sql.Store) *env {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	keys, err := oauth.NewKeys(master, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := realm.NewService(realm.ServiceConfig{Store: store, Keys: keys, Logger: log, PublicURL: testPublicURL})
	if err != nil {
		t.Fatal(err)
	}
	sys := realm.WithPrincipal(context.Background(), realm.System)
	acme, err := svc.Bootstrap(sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatalf("bootstrap acme: %v", err)
	}
	globex, err := svc.Bootstrap(sys, realm.BootstrapInput{OrgSlug: "globex", OwnerEmail: "owner@globex.test"})
	if err != nil {
		t.Fatalf("bootstrap globex: %v", err)
	}
	auth := tokenAuth{
		ownerToken:  {OrgID: acme.Org.ID, Role: realm.RoleOwner, ActorType: "member", ActorID: acme.Owner.UserID},
		adminToken:  {OrgID: acme.Org.ID, Role: realm.RoleAdmin, ActorType: "client", ActorID: "acme-admin-client"},
		viewerToken: {OrgID: acme.Org.ID, Role: realm.RoleViewer, ActorType: "client", ActorID: "acme-viewer-client"},
		otherToken:  {OrgID: globex.Org.ID, Role: realm.RoleOwner, ActorType: "member", ActorID: globex.Owner.UserID},
	}
	return serveAPI(t, svc, auth, logs, log)
}

// serveAPI starts the admin API over svc on a real echo server on
// 127.0.0.1, authenticating the test tokens of auth.
func serveAPI(t *testing.T, svc *realm.Service, auth tokenAuth, logs *bytes.Buffer, log *slog.Logger) *env {
	t.Helper()
	idpKey := make([]byte, 32)
	if _, err := rand.Read(idpKey); err != nil {
		t.Fatal(err)
	}
	idps, err := realm.NewIdentityProviders(realm.IdentityProvidersConfig{Service: svc, SecretKey: idpKey,
		Checker: broker.NewChecker(broker.NewClient(true))})
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Config{Service: svc, IdPs: idps, Auth: auth, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = api.HandleError
	api.Register(e)
	srv := httptest.NewServer(e) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, svc: svc, idps: idps, logs: logs, router: docRouter(t, srv.URL)}
}

// docRouter loads docs/openapi.yaml with the test server as its server, so
// that answers can be checked against the document.
func docRouter(t *testing.T, base string) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base + Prefix}}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkAgainstDoc fails the test when an answer of a documented operation
// has a status, header or body the document does not describe.
func (e *env) checkAgainstDoc(req *http.Request, res response) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		return // not an operation (unknown route or method): nothing to compare
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.status,
		Header:                 res.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(res.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s answered %d, which docs/openapi.yaml does not describe: %v\nbody: %.300s",
			req.Method, req.URL.Path, res.status, err, res.body)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// raw sends a request with an exact body and content type.
func (e *env) raw(token, method, path, contentType string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: b}
	e.checkAgainstDoc(req, out)
	return out
}

// do sends body (if not nil) as JSON.
func (e *env) do(token, method, path string, body any) response {
	e.t.Helper()
	if body == nil {
		return e.raw(token, method, path, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.raw(token, method, path, "application/json", bytes.NewReader(b))
}

// must sends and fails the test unless the status is want; it returns the
// decoded JSON body (nil for 204).
func (e *env) must(want int, token, method, path string, body any) map[string]any {
	e.t.Helper()
	r := e.do(token, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if want == http.StatusNoContent {
		return nil
	}
	return r.json(e.t)
}

// problem checks that r is a problem document with the status and returns it.
func problem(t *testing.T, r response, status int) Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("not a problem document: %v: %s", err, r.body)
	}
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem %+v", p)
	}
	return p
}

// fieldNamed fails unless the problem's errors[] names field.
func fieldNamed(t *testing.T, p Problem, field string) {
	t.Helper()
	for _, f := range p.Errors {
		if f.Field == field && f.Message != "" {
			return
		}
	}
	t.Fatalf("problem does not name field %q: %+v", field, p)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)

	r := e.raw("", "GET", "/admin/v1/realms", "", nil)
	problem(t, r, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="ward"` {
		t.Errorf("no token: WWW-Authenticate = %q", got)
	}

	r = e.raw("not-a-known-token", "GET", "/admin/v1/realms", "", nil)
	problem(t, r, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="ward", error="invalid_token"` {
		t.Errorf("bad token: WWW-Authenticate = %q", got)
	}

	for _, h := range []string{"Basic b3duZXI6cHc=", "Bearer", "Bearer ", ownerToken, "Bearer a b"} {
		req, _ := http.NewRequest("GET", e.url+"/admin/v1/realms", nil)
		req.Header.Set("Authorization", h)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		problem(t, response{status: res.StatusCode, header: res.Header, body: b}, http.StatusUnauthorized)
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Bearer realm="ward"`) {
			t.Errorf("malformed %q: WWW-Authenticate = %q", h, res.Header.Get("WWW-Authenticate"))
		}
	}

	// The scheme name is case-insensitive (RFC 7235).
	req, _ := http.NewRequest("GET", e.url+"/admin/v1/realms", nil)
	req.Header.Set("Authorization", "bearer "+ownerToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("lowercase bearer: status %d", res.StatusCode)
	}
	if strings.Contains(e.logs.String(), "not-a-known-token") {
		t.Error("a bearer token reached the log")
	}
}

func TestBadJSON(t *testing.T) {
	e := newEnv(t)
	const path = "/admin/v1/realms"
	post := func(ct, body string) response {
		return e.raw(ownerToken, "POST", path, ct, strings.NewReader(body))
	}

	p := problem(t, post("application/json", `{"name": "vault"`), http.StatusBadRequest)
	if !strings.Contains(p.Detail, "JSON") {
		t.Errorf("malformed JSON detail %q", p.Detail)
	}
	problem(t, post("application/json", `{"name": "vault",}`), http.StatusBadRequest)
	problem(t, post("application/json", `["vault"]`), http.StatusBadRequest)
	problem(t, post("application/json", ``), http.StatusBadRequest)
	problem(t, post("application/json", `{"name":"vault"} {"name":"more"}`), http.StatusBadRequest)
	problem(t, post("application/json", `{"name":"vault"} x`), http.StatusBadRequest)

	fieldNamed(t, problem(t, post("application/json", `{"name":"vault","colour":"red"}`), http.StatusBadRequest), "colour")
	fieldNamed(t, problem(t, post("application/json", `{"name":42}`), http.StatusBadRequest), "name")

	// Wrong types reached through patch fields and nested lists are named too.
	e.must(201, ownerToken, "POST", path, map[string]any{"name": "vault"})
	fieldNamed(t, problem(t, e.raw(ownerToken, "POST", path+"/vault/users", "application/json",
		strings.NewReader(`{"email":"a@b.test","first_name":"A","last_name":"B","groups":"g1"}`)), http.StatusBadRequest), "groups")
	fieldNamed(t, problem(t, e.raw(ownerToken, "POST", path+"/vault/users", "application/json",
		strings.NewReader(`{"email":"a@b.test","first_name":"A","last_name":"B","groups":["g1",7]}`)), http.StatusBadRequest), "groups")
	fieldNamed(t, problem(t, e.raw(ownerToken, "PATCH", path+"/vault", "application/json",
		strings.NewReader(`{"display_name":true}`)), http.StatusBadRequest), "display_name")

	// 415 for anything but JSON, including a missing Content-Type.
	problem(t, post("text/plain", `{"name":"vault2"}`), http.StatusUnsupportedMediaType)
	problem(t, post("application/x-www-form-urlencoded", `name=vault2`), http.StatusUnsupportedMediaType)
	problem(t, post("", `{"name":"vault2"}`), http.StatusUnsupportedMediaType)
	// ...but a charset parameter does not make JSON something else.
	if r := post("application/json; charset=utf-8", `{"name":"vault2"}`); r.status != http.StatusCreated {
		t.Errorf("charset parameter: status %d: %s", r.status, r.body)
	}

	// 413 beyond 1 MiB, even when the JSON would be valid.
	big := `{"name":"vault3","display_name":"` + strings.Repeat("x", 1<<20) + `"}`
	problem(t, post("application/json", big), http.StatusRequestEntityTooLarge)

	// null where a value is required in a patch is bad input naming it;
	// null for a clearable field clears it.
	fieldNamed(t, problem(t, e.raw(ownerToken, "PATCH", path+"/vault/attributes/none", "application/json",
		strings.NewReader(`{"type":null}`)), http.StatusBadRequest), "type")
	e.must(200, ownerToken, "PATCH", path+"/vault", map[string]any{"display_name": "Vault"})
	// (an empty display name falls back to the realm's name)
	got := e.must(200, ownerToken, "PATCH", path+"/vault", map[string]any{"display_name": nil})
	if got["display_name"] != "vault" {
		t.Errorf("display_name null: got %v, want it cleared to the default", got["display_name"])
	}

	// Nothing was created by any of the bad requests.
	list := e.must(200, ownerToken, "GET", path, nil)
	if n := len(list["items"].([]any)); n != 2 {
		t.Errorf("%d realms after bad requests, want 2 (vault, vault2)", n)
	}
}

func TestRoutingProblems(t *testing.T) {
	e := newEnv(t)

	p := problem(t, e.do(ownerToken, "GET", "/admin/v1/no-such-thing", nil), http.StatusNotFound)
	if !strings.Contains(p.Detail, "/admin/v1/no-such-thing") {
		t.Errorf("unknown route detail %q", p.Detail)
	}
	problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/x/y/z/w", nil), http.StatusNotFound)

	r := e.do(ownerToken, "PUT", "/admin/v1/realms", map[string]any{"name": "x"})
	problem(t, r, http.StatusMethodNotAllowed)
	allow := r.header.Get("Allow")
	if !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") || strings.Contains(allow, "PUT") {
		t.Errorf("Allow = %q, want GET and POST", allow)
	}

	// Users are never deleted: 405 with Allow and a problem saying what to
	// do instead.
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	u := e.must(201, ownerToken, "POST", "/admin/v1/realms/vault/users", map[string]any{
		"email": "ann@vault.test", "first_name": "Ann", "last_name": "Lee", "send_set_password_email": false})
	r = e.do(ownerToken, "DELETE", "/admin/v1/realms/vault/users/"+u["id"].(string), nil)
	p = problem(t, r, http.StatusMethodNotAllowed)
	if !strings.Contains(p.Detail, "deactivate") {
		t.Errorf("DELETE user detail %q does not say to deactivate", p.Detail)
	}
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "PATCH") || strings.Contains(allow, "DELETE") {
		t.Errorf("DELETE user Allow = %q", allow)
	}
	if got := e.must(200, ownerToken, "GET", "/admin/v1/realms/vault/users/"+u["id"].(string), nil); got["active"] != true {
		t.Errorf("user after refused DELETE: %v", got)
	}
}

func TestRolesAndOrgScoping(t *testing.T) {
	e := newEnv(t)
	e.must(201, adminToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})

	// A viewer reads but does not write.
	e.must(200, viewerToken, "GET", "/admin/v1/realms/vault", nil)
	problem(t, e.do(viewerToken, "POST", "/admin/v1/realms", map[string]any{"name": "nope"}), http.StatusForbidden)
	problem(t, e.do(viewerToken, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": "G"}), http.StatusForbidden)
	problem(t, e.do(viewerToken, "PATCH", "/admin/v1/realms/vault", map[string]any{"display_name": "x"}), http.StatusForbidden)
	// Only owners manage members, org clients and realm deletion.
	problem(t, e.do(adminToken, "POST", "/admin/v1/members", map[string]any{
		"email": "m@acme.test", "first_name": "M", "last_name": "N", "role": "viewer"}), http.StatusForbidden)
	problem(t, e.do(adminToken, "DELETE", "/admin/v1/realms/vault?confirm=vault", nil), http.StatusForbidden)

	// Another org's realm, and anything in it, is not found (never 403).
	g := e.must(201, ownerToken, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": "Staff"})
	problem(t, e.do(otherToken, "GET", "/admin/v1/realms/vault", nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "GET", "/admin/v1/realms/vault/groups/"+g["id"].(string), nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "DELETE", "/admin/v1/realms/vault?confirm=vault", nil), http.StatusNotFound)
	problem(t, e.do(otherToken, "PATCH", "/admin/v1/realms/vault", map[string]any{"display_name": "mine"}), http.StatusNotFound)
	// An ID of one realm in another realm's path is not found either.
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "other"})
	problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/other/groups/"+g["id"].(string), nil), http.StatusNotFound)
	// The console realm is nobody's.
	problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/console", nil), http.StatusNotFound)
	// Listing shows only the caller's org.
	if items := e.must(200, otherToken, "GET", "/admin/v1/realms", nil)["items"].([]any); len(items) != 0 {
		t.Errorf("globex sees %d realms of acme", len(items))
	}

	// Realm deletion needs the name repeated.
	fieldNamed(t, problem(t, e.do(ownerToken, "DELETE", "/admin/v1/realms/vault", nil), http.StatusBadRequest), "confirm")
	fieldNamed(t, problem(t, e.do(ownerToken, "DELETE", "/admin/v1/realms/vault?confirm=other", nil), http.StatusBadRequest), "confirm")
	e.must(204, ownerToken, "DELETE", "/admin/v1/realms/vault?confirm=vault", nil)
	problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/vault", nil), http.StatusNotFound)
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"r-one", "r-two", "r-three"} {
		e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": n})
	}
	first := e.must(200, ownerToken, "GET", "/admin/v1/realms?limit=2", nil)
	if n := len(first["items"].([]any)); n != 2 {
		t.Fatalf("first page has %d items, want 2", n)
	}
	cursor, ok := first["next_cursor"].(string)
	if !ok || cursor == "" {
		t.Fatalf("first page has no next_cursor: %v", first)
	}
	second := e.must(200, ownerToken, "GET", "/admin/v1/realms?limit=2&cursor="+cursor, nil)
	if n := len(second["items"].([]any)); n != 1 {
		t.Fatalf("second page has %d items, want 1", n)
	}
	if _, present := second["next_cursor"]; present {
		t.Errorf("last page has next_cursor: %v", second)
	}
	seen := map[string]bool{}
	for _, page := range []map[string]any{first, second} {
		for _, it := range page["items"].([]any) {
			seen[it.(map[string]any)["name"].(string)] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("pages cover %v, want all three realms once", seen)
	}
	// q filters.
	if items := e.must(200, ownerToken, "GET", "/admin/v1/realms?q=TWO", nil)["items"].([]any); len(items) != 1 {
		t.Errorf("q=TWO matched %d realms", len(items))
	}
	for _, bad := range []string{"0", "-1", "abc", "201", "1.5"} {
		fieldNamed(t, problem(t, e.do(ownerToken, "GET", "/admin/v1/realms?limit="+bad, nil), http.StatusBadRequest), "limit")
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "GET", "/admin/v1/realms/r-one/events?since=yesterday", nil), http.StatusBadRequest), "since")
	for _, bad := range []string{"garbage", "' OR 1=1", cursor + "x", "user:short"} {
		fieldNamed(t, problem(t, e.do(ownerToken, "GET", "/admin/v1/realms?cursor="+url.QueryEscape(bad), nil), http.StatusBadRequest), "cursor")
		fieldNamed(t, problem(t, e.do(ownerToken, "GET", "/admin/v1/events?cursor="+url.QueryEscape(bad), nil), http.StatusBadRequest), "cursor")
	}
}

var errSQL = errors.New(`storage: SELECT secret_hash FROM clients WHERE id = 'x': database is locked`)

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
