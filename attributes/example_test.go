package attributes_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/attributes"
)

// A resource server trusting a Ward realm. NewGuard reads the realm's
// discovery document and keys and fetches its policies; it then polls the
// policies every 30 s until Close. (A local stand-in for the realm serves
// here what Ward serves at https://iam.example.com/realms/acme.)
func ExampleNewGuard() {
	issuer, sign, stop := startExampleIssuer(`resource.department in subject.attributes.departments`)
	defer stop()
	g, err := attributes.NewGuard(context.Background(), attributes.Config{
		Issuer:   issuer,
		Audience: "assets",
		Client:   attributes.ClientCredentials{ID: "assets-server", Secret: "secret"},
		DecisionLog: func(_ context.Context, r attributes.DecisionRecord) {
			fmt.Printf("decision: %s %s %s allowed=%v by %v\n", r.Subject, r.Action, r.ResourceType, r.Allowed, r.Policies)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	for _, p := range g.Policies() {
		fmt.Println("policy:", p.Name, p.ResourceType, p.Actions)
	}
	subject, err := g.Verify(context.Background(), sign(map[string]any{"sub": "reporter", "attributes": map[string]any{"departments": []string{"news"}}}))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := g.Decide(context.Background(), subject, "asset", "read", map[string]any{"department": "news"}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// policy: readers asset [read]
	// decision: reporter read asset allowed=true by [readers]
}

// Protecting a net/http route: the loader turns the request into the
// resource map the policies see; the handler runs only when a policy
// allows, and finds the token's claims in the request context.
func ExampleGuard_HTTP() {
	issuer, sign, stop := startExampleIssuer(`subject.attributes.admin || resource.department in subject.attributes.departments`)
	defer stop()
	g, err := attributes.NewGuard(context.Background(), attributes.Config{Issuer: issuer, Audience: "assets",
		Client: attributes.ClientCredentials{ID: "assets-server", Secret: "secret"}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	departments := map[string]string{"a1": "news", "a2": "finance"}
	loadAsset := func(r *http.Request) (map[string]any, error) {
		dept, ok := departments[r.PathValue("id")]
		if !ok {
			return nil, attributes.ErrNotFound
		}
		return map[string]any{"id": r.PathValue("id"), "department": dept}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /assets/{id}", g.HTTP("asset", "read", loadAsset, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, _ := attributes.SubjectFrom(r.Context())
		fmt.Fprintf(w, "asset %s for %s", r.PathValue("id"), subject["sub"])
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	token := sign(map[string]any{"sub": "reporter", "attributes": map[string]any{"admin": false, "departments": []string{"news"}}})
	for _, path := range []string{"/assets/a1", "/assets/a2", "/assets/a3"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(resp.StatusCode, string(body))
		} else {
			fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Output:
	// 200 asset a1 for reporter
	// 403 application/problem+json
	// 404 application/problem+json
}

// Protecting an echo route: the same, with a loader reading the echo
// context's path parameters.
func ExampleGuard_Echo() {
	issuer, sign, stop := startExampleIssuer(`resource.department in subject.attributes.departments`)
	defer stop()
	g, err := attributes.NewGuard(context.Background(), attributes.Config{Issuer: issuer, Audience: "assets",
		Client: attributes.ClientCredentials{ID: "assets-server", Secret: "secret"}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	departments := map[string]string{"a1": "news", "a2": "finance"}
	loadAsset := func(c echo.Context) (map[string]any, error) {
		dept, ok := departments[c.Param("id")]
		if !ok {
			return nil, attributes.ErrNotFound
		}
		return map[string]any{"id": c.Param("id"), "department": dept}, nil
	}
	e := echo.New()
	e.GET("/assets/:id", func(c echo.Context) error {
		d, _ := attributes.DecisionFrom(c.Request().Context())
		return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "allowed_by": d.Policies})
	}, g.Echo("asset", "read", loadAsset))
	srv := httptest.NewServer(e)
	defer srv.Close()

	token := sign(map[string]any{"sub": "reporter", "attributes": map[string]any{"departments": []string{"news"}}})
	for _, path := range []string{"/assets/a1", "/assets/a2", "/assets/a3"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Output:
	// 200 {"allowed_by":["readers"],"id":"a1"}
	// 403 application/problem+json
	// 404 application/problem+json
}

// Deciding inside a handler, for checks the middleware cannot make: here,
// filtering a list to what the caller may read. The subject is the
// verified token's claims (Verify, or SubjectFrom behind the middleware).
func ExampleGuard_Decide() {
	issuer, sign, stop := startExampleIssuer(`resource.department in subject.attributes.departments`)
	defer stop()
	ctx := context.Background()
	g, err := attributes.NewGuard(ctx, attributes.Config{Issuer: issuer, Audience: "assets",
		Client: attributes.ClientCredentials{ID: "assets-server", Secret: "secret"}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	subject, err := g.Verify(ctx, sign(map[string]any{"sub": "reporter", "attributes": map[string]any{"departments": []string{"news", "sports"}}}))
	if err != nil {
		log.Fatal(err)
	}
	for _, asset := range []map[string]any{
		{"id": "a1", "department": "news"},
		{"id": "a2", "department": "finance"},
		{"id": "a3", "department": "sports"},
	} {
		d, err := g.Decide(ctx, subject, "asset", "read", asset)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(asset["id"], d.Allowed, d.Policies)
	}
	// Output:
	// a1 true [readers]
	// a2 false []
	// a3 true [readers]
}

// startExampleIssuer serves what a Ward realm serves a guard (discovery,
// JWKS, a token endpoint, the policies) with one policy "readers" for
// reading assets, and returns a function that signs access tokens.
func startExampleIssuer(condition string) (issuer string, sign func(map[string]any) string, stop func()) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	issuer = srv.URL + "/realms/acme"
	reply := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	mux.Handle("GET /realms/acme/.well-known/openid-configuration", reply(map[string]any{
		"issuer": issuer, "jwks_uri": issuer + "/certs", "token_endpoint": issuer + "/token"}))
	mux.Handle("GET /realms/acme/certs", reply(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}))
	mux.Handle("POST /realms/acme/token", reply(map[string]any{"access_token": "guard", "token_type": "Bearer", "expires_in": 300}))
	mux.Handle("GET /realms/acme/policies", reply(map[string]any{"policies": []attributes.Policy{
		{Name: "readers", ResourceType: "asset", Actions: []string{"read"}, Condition: condition}}}))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		log.Fatal(err)
	}
	sign = func(claims map[string]any) string {
		claims["iss"], claims["aud"] = issuer, "assets"
		claims["exp"] = time.Now().Add(5 * time.Minute).Unix()
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			log.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		return tok
	}
	return issuer, sign, srv.Close
}
