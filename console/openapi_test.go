package console

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml and the registered routes
// in step: the document must be valid OpenAPI, every /admin/v1 route echo
// knows must be documented with the same method, and every documented
// operation must be registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatalf("loading docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != Prefix {
		t.Fatalf("servers = %v, want the single server %q the paths are relative to", doc.Servers, Prefix)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}

	// Registering routes touches no service method, so a zero Service is
	// enough to list them.
	api, err := New(Config{Service: &realm.Service{}, IdPs: &realm.IdentityProviders{}, Auth: rejectAll{}})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	api.Register(e)

	methods := map[string]bool{http.MethodGet: true, http.MethodPost: true, http.MethodPut: true,
		http.MethodPatch: true, http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true}
	// A parameter is ":name"; "\\:" is a literal colon (…/policies:test).
	param := regexp.MustCompile(`(^|[^\\]):([A-Za-z0-9_]+)`)
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		// Group middleware adds catch-all routes (method
		// "echo_route_not_found") so that unknown paths are authenticated
		// too; they are not operations.
		if !methods[r.Method] || !strings.HasPrefix(r.Path, Prefix+"/") {
			continue
		}
		path := param.ReplaceAllString(strings.TrimPrefix(r.Path, Prefix), "$1{$2}")
		path = strings.ReplaceAll(path, `\:`, ":")
		registered[r.Method+" "+path] = true
	}
	if len(registered) < 40 {
		t.Fatalf("only %d admin routes registered; the route listing is broken", len(registered))
	}

	var missingFromDoc, missingFromRouter []string
	for k := range registered {
		if !documented[k] {
			missingFromDoc = append(missingFromDoc, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			missingFromRouter = append(missingFromRouter, k)
		}
	}
	sort.Strings(missingFromDoc)
	sort.Strings(missingFromRouter)
	for _, k := range missingFromDoc {
		t.Errorf("route %s is registered but not in docs/openapi.yaml", k)
	}
	for _, k := range missingFromRouter {
		t.Errorf("operation %s is in docs/openapi.yaml but not registered", k)
	}

	// Every operation documents its failures as problems and, except the
	// bearer scheme's own absence, requires the bearer token.
	if _, ok := doc.Components.SecuritySchemes["bearer"]; !ok {
		t.Error("no bearer security scheme")
	}
	if doc.Components.Schemas["Problem"] == nil {
		t.Error("no Problem schema")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Value("401") == nil {
				t.Errorf("%s %s does not document 401", method, path)
			}
		}
	}
}

// rejectAll is an Authenticator that accepts no token.
type rejectAll struct{}

func (rejectAll) AuthenticateAdmin(context.Context, string) (realm.Principal, error) {
	return realm.Principal{}, realm.ErrUnauthenticated
}
