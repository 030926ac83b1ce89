package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// TestClientSecretShownOnce checks that client_secret appears in the create
// and rotate answers only, for realm clients and org admin clients alike.
func TestClientSecretShownOnce(t *testing.T) {
	e := newEnv(t)
	e.must(201, ownerToken, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	base := "/admin/v1/realms/vault/clients"

	r := e.do(ownerToken, "POST", base, map[string]any{"name": "ingest", "kind": "service_account", "audience": []string{"assets"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("create answer with a secret has Cache-Control %q", cc)
	}
	created := r.json(t)
	secret, _ := created["client_secret"].(string)
	clientID, _ := created["client_id"].(string)
	if len(secret) < 43 || clientID == "" || created["id"] == "" {
		t.Fatalf("create answer lacks id, client_id or a 256-bit client_secret: %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != base+"/"+clientID {
		t.Errorf("Location = %q", loc)
	}
	for _, k := range []string{"kind", "active", "public", "audience", "groups", "primary_group", "redirect_uris", "web_origins", "communication", "display_name", "effective_attributes"} {
		if _, ok := created[k]; !ok {
			t.Errorf("client answer lacks %q", k)
		}
	}

	noSecret := func(what string, r response) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		body := string(r.body)
		if strings.Contains(body, "client_secret") || strings.Contains(body, secret) || strings.Contains(strings.ToLower(body), "hash") {
			t.Errorf("%s shows a secret or hash: %s", what, body)
		}
	}
	noSecret("GET client", e.do(ownerToken, "GET", base+"/"+clientID, nil))
	noSecret("list clients", e.do(ownerToken, "GET", base, nil))
	noSecret("PATCH client", e.do(ownerToken, "PATCH", base+"/"+clientID, map[string]any{"description": "nightly"}))
	noSecret("events", e.do(ownerToken, "GET", "/admin/v1/realms/vault/events", nil))

	rot := e.must(200, ownerToken, "POST", base+"/"+clientID+"/secret", map[string]any{"grace_seconds": 60})
	newSecret, _ := rot["client_secret"].(string)
	if len(newSecret) < 43 || newSecret == secret {
		t.Fatalf("rotation answer lacks a new secret: %v", rot)
	}
	// The body is optional (grace 0).
	if rot2 := e.must(200, ownerToken, "POST", base+"/"+clientID+"/secret", nil); rot2["client_secret"] == "" || rot2["client_secret"] == newSecret {
		t.Errorf("rotation without a body: %v", rot2)
	}
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base+"/"+clientID+"/secret", map[string]any{"grace_seconds": 86401}), http.StatusBadRequest), "grace_seconds")
	fieldNamed(t, problem(t, e.do(ownerToken, "POST", base+"/"+clientID+"/secret", map[string]any{"grace": 5}), http.StatusBadRequest), "grace")

	// A public application has no secret at all.
	pub := e.must(201, ownerToken, "POST", base, map[string]any{"name": "spa", "kind": "application", "public": true,
		"redirect_uris": []string{"https://app.example.com/cb"}, "web_origins": []string{"https://app.example.com"}, "communication": "redirect"})
	if _, ok := pub["client_secret"]; ok {
		t.Errorf("public client got a secret: %v", pub)
	}

	// Org admin clients (owner only).
	oc := e.do(ownerToken, "POST", "/admin/v1/clients", map[string]any{"name": "ci", "role": "admin"})
	if oc.status != http.StatusCreated {
		t.Fatalf("create org client: %d %s", oc.status, oc.body)
	}
	ocBody := oc.json(t)
	ocSecret, _ := ocBody["client_secret"].(string)
	ocID, _ := ocBody["client_id"].(string)
	if len(ocSecret) < 43 || ocID == "" || ocBody["role"] != "admin" {
		t.Fatalf("org client create answer: %s", oc.body)
	}
	secret = ocSecret
	noSecret("GET org client", e.do(ownerToken, "GET", "/admin/v1/clients/"+ocID, nil))
	noSecret("list org clients", e.do(ownerToken, "GET", "/admin/v1/clients", nil))
	noSecret("PATCH org client", e.do(ownerToken, "PATCH", "/admin/v1/clients/"+ocID, map[string]any{"role": "viewer"}))
	noSecret("org events", e.do(ownerToken, "GET", "/admin/v1/events", nil))
	orot := e.must(200, ownerToken, "POST", "/admin/v1/clients/"+ocID+"/secret", map[string]any{"grace_seconds": 0})
	if s, _ := orot["client_secret"].(string); len(s) < 43 || s == ocSecret {
		t.Errorf("org client rotation: %v", orot)
	}
	problem(t, e.do(adminToken, "POST", "/admin/v1/clients/"+ocID+"/secret", nil), http.StatusForbidden)
	problem(t, e.do(otherToken, "GET", "/admin/v1/clients/"+ocID, nil), http.StatusNotFound)

	if strings.Contains(e.logs.String(), newSecret) || strings.Contains(e.logs.String(), ocSecret) {
		t.Error("a client secret reached the log")
	}
}

// TestInternalErrorsDoNotLeak checks that an unexpected error answers a
// generic 500 and is logged, not shown.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	api, err := New(Config{Service: e.svc, IdPs: e.idps, Auth: tokenAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	api.log = slogTo(&logs)
	ec := echo.New()
	req := httptest.NewRequest(http.MethodGet, "/admin/v1/realms", nil)
	rec := httptest.NewRecorder()
	c := ec.NewContext(req, rec)
	api.HandleError(errSQL, c)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	p := problem(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, http.StatusInternalServerError)
	if strings.Contains(rec.Body.String(), "SELECT") || strings.Contains(p.Detail, "secret_hash") {
		t.Errorf("500 answer leaks the error: %s", rec.Body.String())
	}
	if !strings.Contains(logs.String(), "SELECT") {
		t.Errorf("the error was not logged: %q", logs.String())
	}

	// Domain errors map as CONTRACT §2 says.
	for _, tc := range []struct {
		err    error
		status int
		field  string
	}{
		{realm.Invalid("email", "is required"), 400, "email"},
		{realm.ErrNotFound, 404, ""},
		{realm.Conflict("name", "exists"), 409, "name"},
		{realm.ErrConflict, 409, ""},
		{realm.ErrForbidden, 403, ""},
		{realm.ErrUnauthenticated, 401, ""},
		{realm.ErrMethodNotAllowed, 405, ""},
		{fmt.Errorf("%w: dial tcp 127.0.0.1:5432: connection refused", realm.ErrUnavailable), 503, ""},
		{echo.ErrNotFound, 404, ""},
		{echo.ErrStatusRequestEntityTooLarge, 413, ""},
		{echo.ErrUnsupportedMediaType, 415, ""},
	} {
		rec := httptest.NewRecorder()
		api.HandleError(tc.err, ec.NewContext(httptest.NewRequest(http.MethodPost, "/admin/v1/x", nil), rec))
		p := problem(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}, tc.status)
		if tc.field != "" {
			fieldNamed(t, p, tc.field)
		}
		if tc.status == 503 && (rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Body.String(), "5432")) {
			t.Errorf("503 answer lacks Retry-After or leaks the cause: %v %s", rec.Header(), rec.Body.String())
		}
		if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%v: 401 without WWW-Authenticate", tc.err)
		}
	}
}
