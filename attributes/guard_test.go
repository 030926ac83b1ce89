package attributes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/internal/testjws"
)

// testIssuer plays a Ward realm over real HTTP: discovery, JWKS, the token
// endpoint (client_credentials, and the API key token exchange of CONTRACT
// §6), introspection and the policies endpoint with ETag and 304, as
// CONTRACT §4 and §5 describe them.
type testIssuer struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string

	mu         sync.Mutex
	jwks       []jose.JSONWebKey
	policies   []Policy
	version    int
	active     bool
	lastINM    string
	guardToken string

	jwksFetches   atomic.Int64
	policyFetches atomic.Int64
	notModified   atomic.Int64
	introspected  atomic.Int64

	// The API keys the realm knows, by key string, and how the token
	// exchange answers (see exchange).
	apiKeys      map[string]*testAPIKey
	keySigner    *signer
	keyLife      time.Duration
	keyKind      string
	exchangeFail *oauthFailure
	exchangeGate chan struct{}
	lastExchange url.Values
	clock        func() time.Time
	exchanges    atomic.Int64

	// deactivated is the policy document's deactivated_api_keys (issue
	// 15): the ids of API keys whose temporary keys guards refuse.
	deactivated []string
	// issuedUntil is refuse_temporary_keys_issued_until (0: absent).
	issuedUntil int64
	// ipAllowLists is the policy document's ip_allow_lists (issue 16),
	// absent when nil.
	ipAllowLists map[string]any

	// refusalAnswers are the statuses the network-refusals endpoint
	// answers, in turn (204 once they run out); reports are the bodies it
	// was sent, with the status answered.
	refusalAnswers []int
	reports        []testReport
}

// testReport is one report of network refusals the test issuer received.
type testReport struct {
	status     int
	Refusals   []map[string]any `json:"refusals"`
	Unreported int              `json:"unreported"`
}

// testAPIKey is one API key of the test realm.
type testAPIKey struct {
	id          string
	permissions []string
	active      bool
	expired     bool
}

// oauthFailure makes the token exchange answer an OAuth error.
type oauthFailure struct {
	status int
	code   string
}

const (
	testClientID     = "assets-server"
	testClientSecret = "s3cret/with+odd&chars"
	testAudience     = "assets"
)

func newTestIssuer(t testing.TB, policies ...Policy) *testIssuer {
	t.Helper()
	ti := &testIssuer{t: t, policies: policies, version: 1, active: true,
		apiKeys: map[string]*testAPIKey{}, keyLife: time.Minute, keyKind: "api_key", clock: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/acme/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                 ti.issuer,
			"jwks_uri":               ti.issuer + "/protocol/openid-connect/certs",
			"token_endpoint":         ti.issuer + "/protocol/openid-connect/token",
			"introspection_endpoint": ti.issuer + "/protocol/openid-connect/token/introspect",
		})
	})
	mux.HandleFunc("GET /realms/acme/protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		ti.jwksFetches.Add(1)
		ti.mu.Lock()
		defer ti.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: ti.jwks})
	})
	mux.HandleFunc("POST /realms/acme/protocol/openid-connect/token", func(w http.ResponseWriter, r *http.Request) {
		if !ti.clientOK(r) {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]any{"error": "invalid_client"})
			return
		}
		switch r.PostFormValue("grant_type") {
		case "client_credentials":
		case "urn:ietf:params:oauth:grant-type:token-exchange":
			ti.exchange(w, r)
			return
		default:
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
			return
		}
		ti.mu.Lock()
		ti.guardToken = fmt.Sprintf("guard-token-%d", time.Now().UnixNano())
		tok := ti.guardToken
		ti.mu.Unlock()
		writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 300})
	})
	mux.HandleFunc("POST /realms/acme/protocol/openid-connect/token/introspect", func(w http.ResponseWriter, r *http.Request) {
		ti.introspected.Add(1)
		if !ti.clientOK(r) || r.PostFormValue("token") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ti.mu.Lock()
		defer ti.mu.Unlock()
		writeJSON(w, map[string]any{"active": ti.active})
	})
	mux.HandleFunc("GET /realms/acme/policies", func(w http.ResponseWriter, r *http.Request) {
		ti.policyFetches.Add(1)
		ti.mu.Lock()
		defer ti.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+ti.guardToken || ti.guardToken == "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		etag := fmt.Sprintf(`"v%d"`, ti.version)
		ti.lastINM = r.Header.Get("If-None-Match")
		w.Header().Set("ETag", etag)
		if ti.lastINM == etag {
			ti.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		doc := map[string]any{"policies": ti.policies, "deactivated_api_keys": ti.deactivated}
		if ti.issuedUntil != 0 {
			doc["refuse_temporary_keys_issued_until"] = ti.issuedUntil
		}
		if ti.ipAllowLists != nil {
			doc["ip_allow_lists"] = ti.ipAllowLists
		}
		writeJSON(w, doc)
	})
	mux.HandleFunc("POST /realms/acme/network-refusals", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+ti.guardToken || ti.guardToken == "" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rep := testReport{status: http.StatusNoContent}
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			t.Errorf("network refusals report: %v", err)
		}
		if len(ti.refusalAnswers) > 0 {
			rep.status, ti.refusalAnswers = ti.refusalAnswers[0], ti.refusalAnswers[1:]
		}
		ti.reports = append(ti.reports, rep)
		w.WriteHeader(rep.status)
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.issuer = ti.srv.URL + "/realms/acme"
	return ti
}

// exchange is the API key token exchange (RFC 8693) as CONTRACT §6 has
// it: an at+jwt for the key (kind api_key, sub the key's id, its
// permissions, the audience asked), or invalid_grant saying why.
func (ti *testIssuer) exchange(w http.ResponseWriter, r *http.Request) {
	ti.exchanges.Add(1)
	ti.mu.Lock()
	gate := ti.exchangeGate
	ti.mu.Unlock()
	if gate != nil {
		<-gate
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.lastExchange = r.PostForm
	if f := ti.exchangeFail; f != nil {
		oauthError(w, f.status, f.code, "")
		return
	}
	if r.PostFormValue("subject_token_type") != "urn:ward:params:oauth:token-type:api-key" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token_type")
		return
	}
	k := ti.apiKeys[r.PostFormValue("subject_token")]
	switch {
	case k == nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "API key is unknown")
		return
	case !k.active:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "API key is deactivated")
		return
	case k.expired:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "API key has expired")
		return
	}
	now := ti.clock()
	perms := make([]any, len(k.permissions))
	for i, p := range k.permissions {
		perms[i] = p
	}
	tok := ti.keySigner.sign(ti.t, "at+jwt", map[string]any{
		"iss": ti.issuer, "sub": k.id, "aud": r.PostFormValue("audience"), "client_id": testClientID,
		"exp": now.Add(ti.keyLife).Unix(), "iat": now.Unix(), "jti": fmt.Sprintf("k-%d", ti.exchanges.Load()),
		"kind": ti.keyKind, "permissions": perms,
	})
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(ti.keyLife / time.Second),
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (ti *testIssuer) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	// client_secret_basic form-encodes both before base64 (RFC 6749 §2.3.1).
	return ok && id == testClientID && secret == strings.NewReplacer("/", "%2F", "+", "%2B", "&", "%26").Replace(testClientSecret)
}

func (ti *testIssuer) setPolicies(ps ...Policy) {
	ti.mu.Lock()
	ti.policies = ps
	ti.version++
	ti.mu.Unlock()
}

func (ti *testIssuer) setActive(a bool) {
	ti.mu.Lock()
	ti.active = a
	ti.mu.Unlock()
}

// addKey publishes pub under kid with alg.
func (ti *testIssuer) addKey(kid, alg string, pub any) {
	ti.mu.Lock()
	ti.jwks = append(ti.jwks, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"})
	ti.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// signer signs test tokens.
type signer struct {
	kid, alg string
	key      any
}

func newECSigner(t testing.TB, kid string) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "ES256", key: k}
}

func newRSASigner(t testing.TB, kid string) signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "RS256", key: k}
}

func (s signer) public() any {
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *rsa.PrivateKey:
		return &k.PublicKey
	}
	panic("unknown key")
}

func (s signer) sign(t testing.TB, typ string, claims map[string]any) string {
	t.Helper()
	return testjws.Sign(t, jose.SignatureAlgorithm(s.alg), s.key, s.kid, typ, claims)
}

// claims are a service account's access token claims, valid for 5 min.
func (ti *testIssuer) claims(sub string, attrs map[string]any) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": ti.issuer, "sub": sub, "aud": []any{testAudience, "other"}, "client_id": sub,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j-" + sub,
		"kind": "service_account", "groups": []any{"news"}, "attributes": attrs,
	}
}

var deptPolicy = Policy{Name: "department", ResourceType: "asset", Actions: []string{"read"},
	Condition: `subject.attributes.admin || resource.department in subject.attributes.departments`}

func (ti *testIssuer) guard(t testing.TB, mod func(*Config)) *Guard {
	t.Helper()
	cfg := Config{Issuer: ti.issuer, Audience: testAudience,
		Client: ClientCredentials{ID: testClientID, Secret: testClientSecret}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := NewGuard(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("NewGuard: %v", err)
	}
	t.Cleanup(func() { g.Close(); cancel() })
	return g
}

// assetServer is a resource server on loopback protected by g with the
// net/http middleware; assets maps id to department.
func assetServer(t *testing.T, g *Guard, assets map[string]string) *httptest.Server {
	mux := http.NewServeMux()
	load := func(r *http.Request) (map[string]any, error) {
		switch id := r.PathValue("id"); id {
		case "broken":
			return nil, errors.New("database is on fire: SELECT * FROM secrets")
		default:
			dept, ok := assets[id]
			if !ok {
				return nil, ErrNotFound
			}
			return map[string]any{"id": id, "department": dept}, nil
		}
	}
	mux.Handle("GET /assets/{id}", g.HTTP("asset", "read", load, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := SubjectFrom(r.Context())
		d, _ := DecisionFrom(r.Context())
		fmt.Fprintf(w, "%s read %s by %s", sub["sub"], r.PathValue("id"), strings.Join(d.Policies, ","))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status  int
	body    string
	wwwAuth string
	ctype   string
}

func get(t *testing.T, url, token string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Content-Type")}
}

func checkProblem(t *testing.T, name string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d (%s), want %d", name, a.status, a.body, status)
		return
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
	}
	if a.ctype != "application/problem+json" || json.Unmarshal([]byte(a.body), &p) != nil || p.Status != status || p.Type == "" || p.Title == "" {
		t.Errorf("%s: not a problem document: %s %q", name, a.ctype, a.body)
	}
}

// TestGuardHTTP: a valid token of a subject a policy allows passes with its
// claims and decision in the context; one it does not allow is 403; a
// missing resource 404; a loader failure 500 without details; no token 401
// without an error code.
func TestGuardHTTP(t *testing.T) {
	ti := newTestIssuer(t, deptPolicy)
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	var logged []DecisionRecord
	var logMu sync.Mutex
	g := ti.guard(t, func(c *Config) {
		c.DecisionLog = func(_ context.Context, r DecisionRecord) {
			logMu.Lock()
			logged = append(logged, r)
			logMu.Unlock()
		}
	})
	srv := assetServer(t, g, map[string]string{"a1": "news", "a2": "finance"})
	tok := es.sign(t, "at+jwt", ti.claims("svc-news", map[string]any{"admin": false, "departments": []any{"news"}}))

	if a := get(t, srv.URL+"/assets/a1", tok); a.status != 200 || a.body != "svc-news read a1 by department" {
		t.Fatalf("allowed: %d %q", a.status, a.body)
	}
	checkProblem(t, "other department", get(t, srv.URL+"/assets/a2", tok), 403)
	checkProblem(t, "unknown asset", get(t, srv.URL+"/assets/nope", tok), 404)
	a := get(t, srv.URL+"/assets/broken", tok)
	checkProblem(t, "loader failure", a, 500)
	if strings.Contains(a.body, "SELECT") || strings.Contains(a.body, "fire") {
		t.Errorf("500 leaks the loader error: %s", a.body)
	}
	a = get(t, srv.URL+"/assets/a1", "")
	checkProblem(t, "no token", a, 401)
	if a.wwwAuth != `Bearer realm="assets"` {
		t.Errorf("no token: WWW-Authenticate %q", a.wwwAuth)
	}
	// An unknown asset is not revealed to a caller without a valid token.
	checkProblem(t, "unknown asset without token", get(t, srv.URL+"/assets/nope", "garbage"), 401)

	admin := es.sign(t, "at+jwt", ti.claims("svc-admin", map[string]any{"admin": true, "departments": []any{}}))
	if a := get(t, srv.URL+"/assets/a2", admin); a.status != 200 {
		t.Errorf("admin: %d %s", a.status, a.body)
	}

	logMu.Lock()
	defer logMu.Unlock()
	if len(logged) != 3 {
		t.Fatalf("decision log: %d records, want 3: %+v", len(logged), logged)
	}
	if r := logged[0]; r.Subject != "svc-news" || !r.Allowed || r.ResourceType != "asset" || r.Action != "read" ||
		strings.Join(r.Policies, ",") != "department" || r.Time.IsZero() {
		t.Errorf("first record: %+v", r)
	}
	if r := logged[1]; r.Allowed || r.Subject != "svc-news" {
		t.Errorf("second record: %+v", r)
	}
	if b, _ := json.Marshal(logged); strings.Contains(string(b), tok[:40]) {
		t.Error("the decision log contains the token")
	}
}

// TestGuardEcho: the echo middleware answers the same, and the loader and
// handler see the subject.
func TestGuardEcho(t *testing.T) {
	ti := newTestIssuer(t, deptPolicy)
	rs := newRSASigner(t, "r1")
	ti.addKey(rs.kid, rs.alg, rs.public())
	g := ti.guard(t, nil)
	e := echo.New()
	load := func(c echo.Context) (map[string]any, error) {
		if _, ok := SubjectFrom(c.Request().Context()); !ok {
			return nil, errors.New("loader without subject")
		}
		switch c.Param("id") {
		case "a1":
			return map[string]any{"department": "news"}, nil
		case "a2":
			return map[string]any{"department": "finance"}, nil
		}
		return nil, fmt.Errorf("lookup: %w", ErrNotFound)
	}
	e.GET("/assets/:id", func(c echo.Context) error {
		sub, _ := SubjectFrom(c.Request().Context())
		return c.String(200, "hello "+sub["sub"].(string))
	}, g.Echo("asset", "read", load))
	e.GET("/me", func(c echo.Context) error {
		sub, _ := SubjectFrom(c.Request().Context())
		_, decided := DecisionFrom(c.Request().Context())
		return c.String(200, fmt.Sprintf("%s %v", sub["sub"], decided))
	}, g.EchoAuthenticate())
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tok := rs.sign(t, "application/at+jwt", ti.claims("svc-news", map[string]any{"departments": []any{"news"}, "admin": false}))
	if a := get(t, srv.URL+"/assets/a1", tok); a.status != 200 || a.body != "hello svc-news" {
		t.Errorf("allowed: %d %q", a.status, a.body)
	}
	checkProblem(t, "denied", get(t, srv.URL+"/assets/a2", tok), 403)
	checkProblem(t, "not found", get(t, srv.URL+"/assets/zz", tok), 404)
	a := get(t, srv.URL+"/assets/a1", "x.y.z")
	checkProblem(t, "bad token", a, 401)
	if !strings.Contains(a.wwwAuth, `error="invalid_token"`) {
		t.Errorf("bad token: WWW-Authenticate %q", a.wwwAuth)
	}
	if a := get(t, srv.URL+"/me", tok); a.status != 200 || a.body != "svc-news false" {
		t.Errorf("authenticate only: %d %q", a.status, a.body)
	}
	checkProblem(t, "authenticate only, no token", get(t, srv.URL+"/me", ""), 401)
}

// TestGuardRejectsTokens: every bad token of the issue is refused by the
// middleware with 401 invalid_token.
func TestGuardRejectsTokens(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "all", ResourceType: "asset", Actions: []string{"read"}, Condition: "true"})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	rs := newRSASigner(t, "r1")
	ti.addKey(rs.kid, rs.alg, rs.public())
	g := ti.guard(t, nil)
	srv := assetServer(t, g, map[string]string{"a1": "news"})
	good := ti.claims("svc", map[string]any{})
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	valid := es.sign(t, "at+jwt", good)
	if a := get(t, srv.URL+"/assets/a1", valid); a.status != 200 {
		t.Fatalf("the valid token is refused: %d %s", a.status, a.body)
	}
	if a := get(t, srv.URL+"/assets/a1", rs.sign(t, "at+jwt", good)); a.status != 200 {
		t.Fatalf("the valid RS256 token is refused: %d %s", a.status, a.body)
	}
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	parts := strings.Split(valid, ".")
	otherRealm := newECSigner(t, "k1") // another realm's key, same kid
	pubJWK, _ := json.Marshal(jose.JSONWebKey{Key: es.public(), KeyID: "k1", Algorithm: "ES256"})
	hs := signer{kid: "k1", alg: "HS256", key: pubJWK}
	now := time.Now()
	for name, tok := range map[string]string{
		"another realm's key":        otherRealm.sign(t, "at+jwt", good),
		"another realm's issuer":     es.sign(t, "at+jwt", with("iss", ti.srv.URL+"/realms/other")),
		"alg none":                   b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}) + "." + parts[1] + ".",
		"HS256 with the public key":  hs.sign(t, "at+jwt", good),
		"expired":                    es.sign(t, "at+jwt", with("exp", now.Add(-time.Minute).Unix())),
		"no exp":                     es.sign(t, "at+jwt", with("exp", nil)),
		"exp as a string":            es.sign(t, "at+jwt", with("exp", "4102444800")),
		"nbf in the future":          es.sign(t, "at+jwt", with("nbf", now.Add(5*time.Minute).Unix())),
		"iat in the future":          es.sign(t, "at+jwt", with("iat", now.Add(time.Hour).Unix())),
		"wrong audience":             es.sign(t, "at+jwt", with("aud", "billing")),
		"wrong audience in an array": es.sign(t, "at+jwt", with("aud", []any{"billing", "x"})),
		"no audience":                es.sign(t, "at+jwt", with("aud", nil)),
		"typ JWT":                    es.sign(t, "JWT", good),
		"no typ":                     es.sign(t, "", good),
		"typ Refresh":                es.sign(t, "Refresh", good),
		"tampered claims":            parts[0] + "." + b64(with("sub", "admin")) + "." + parts[2],
		"RS256 header on the EC key": signer{kid: "k1", alg: "RS256", key: rs.key}.sign(t, "at+jwt", good),
		"unknown kid":                signer{kid: "k9", alg: "ES256", key: es.key}.sign(t, "at+jwt", good),
		"JSON serialization":         `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		"two dots only":              "..",
		"garbage":                    "not-a-token",
	} {
		a := get(t, srv.URL+"/assets/a1", tok)
		checkProblem(t, name, a, 401)
		if a.wwwAuth != `Bearer realm="assets", error="invalid_token"` {
			t.Errorf("%s: WWW-Authenticate %q", name, a.wwwAuth)
		}
		if _, err := g.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify error %v, want ErrInvalidToken", name, err)
		}
	}
	// The leeway tolerates a little skew, no more.
	if _, err := g.Verify(context.Background(), es.sign(t, "at+jwt", with("exp", now.Add(-10*time.Second).Unix()))); err != nil {
		t.Errorf("expired 10 s ago (within leeway): %v", err)
	}
	// Only asymmetric algorithms can be configured.
	if _, err := NewGuard(context.Background(), Config{Issuer: ti.issuer, Audience: "a", Client: ClientCredentials{ID: "x"},
		Algorithms: []string{"HS256"}}); err == nil {
		t.Error("NewGuard accepted HS256 in the allow-list")
	}
}

// TestGuardDiscoveryIssuerMismatch: discovery naming another issuer is
// refused (the realm path differs in case or a trailing slash).
func TestGuardDiscoveryIssuerMismatch(t *testing.T) {
	ti := newTestIssuer(t)
	_, err := NewGuard(context.Background(), Config{Issuer: ti.issuer + "/", Audience: testAudience,
		Client: ClientCredentials{ID: testClientID, Secret: testClientSecret}})
	if err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Errorf("NewGuard with a mismatching issuer: %v", err)
	}
	_, err = NewGuard(context.Background(), Config{Issuer: ti.issuer, Audience: testAudience,
		Client: ClientCredentials{ID: testClientID, Secret: "wrong"}})
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("NewGuard with a wrong client secret: %v", err)
	}
}

// TestGuardKeyRotation: a token with a kid the guard has not seen makes it
// fetch the JWKS again and succeed when the issuer published the key;
// refetches are rate-limited and concurrent callers share one fetch.
func TestGuardKeyRotation(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "all", ResourceType: "asset", Actions: []string{"read"}, Condition: "true"})
	k1 := newECSigner(t, "k1")
	ti.addKey(k1.kid, k1.alg, k1.public())
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	g := ti.guard(t, func(c *Config) { c.Clock = clock })
	ctx := context.Background()
	if n := ti.jwksFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times at start", n)
	}
	claims := ti.claims("svc", nil)
	if _, err := g.Verify(ctx, k1.sign(t, "at+jwt", claims)); err != nil {
		t.Fatal(err)
	}

	// The issuer rotates: k2 appears. The rate limit counts from the
	// initial fetch, so let time pass first.
	advance(11 * time.Second)
	k2 := newECSigner(t, "k2")
	ti.addKey(k2.kid, k2.alg, k2.public())
	tok2 := k2.sign(t, "at+jwt", claims)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); _, err := g.Verify(ctx, tok2); errs <- err }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("token of the rotated-in key: %v", err)
		}
	}
	if n := ti.jwksFetches.Load(); n != 2 {
		t.Fatalf("20 concurrent callers with a new kid: %d JWKS fetches in all, want 2", n)
	}

	// A new kid right after: no fetch (rate limit), refused.
	k3 := newECSigner(t, "k3")
	ti.addKey(k3.kid, k3.alg, k3.public())
	tok3 := k3.sign(t, "at+jwt", claims)
	for range 5 {
		if _, err := g.Verify(ctx, tok3); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown kid within the rate limit: %v", err)
		}
	}
	if n := ti.jwksFetches.Load(); n != 2 {
		t.Fatalf("unknown kids within the rate limit fetched the JWKS: %d fetches", n)
	}
	advance(11 * time.Second)
	if _, err := g.Verify(ctx, tok3); err != nil {
		t.Fatalf("after the rate limit window: %v", err)
	}
	if n := ti.jwksFetches.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches, want 3", n)
	}
}

// TestGuardPolicyPolling: the guard sends the ETag back; a 304 keeps the
// policies; a changed set takes effect on the next poll; a bad policy is
// skipped and reported; a failed poll keeps the last good set.
func TestGuardPolicyPolling(t *testing.T) {
	ti := newTestIssuer(t, deptPolicy)
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	var reported []string
	var mu sync.Mutex
	g := ti.guard(t, func(c *Config) {
		c.OnError = func(err error) { mu.Lock(); reported = append(reported, err.Error()); mu.Unlock() }
	})
	ctx := context.Background()
	subject := map[string]any{"sub": "svc", "attributes": map[string]any{"admin": false, "departments": []any{"news"}}}
	decide := func(dept, action string) bool {
		d, err := g.Decide(ctx, subject, "asset", action, map[string]any{"department": dept})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if !decide("news", "read") || decide("finance", "read") {
		t.Fatal("initial policies not in force")
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ti.mu.Lock()
	inm := ti.lastINM
	ti.mu.Unlock()
	if inm != `"v1"` || ti.notModified.Load() != 1 {
		t.Fatalf("second fetch sent If-None-Match %q; %d answers 304", inm, ti.notModified.Load())
	}
	if !decide("news", "read") {
		t.Fatal("a 304 dropped the policies")
	}

	ti.setPolicies(
		Policy{Name: "finance-too", ResourceType: "asset", Actions: []string{"read"}, Condition: `resource.department == "finance"`},
		Policy{Name: "broken", ResourceType: "asset", Actions: []string{"read"}, Condition: `subject.(`},
	)
	if !decide("news", "read") {
		t.Fatal("changed policies took effect before a poll")
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if decide("news", "read") || !decide("finance", "read") {
		t.Fatal("changed policies not in force after the poll")
	}
	if n := len(g.Policies()); n != 1 {
		t.Errorf("%d policies in force, want 1 (the broken one skipped)", n)
	}
	mu.Lock()
	if len(reported) != 1 || !strings.Contains(reported[0], `"broken"`) {
		t.Errorf("reported: %q", reported)
	}
	mu.Unlock()

	// The issuer goes away: the last good set stays.
	ti.srv.Close()
	if err := g.Refresh(ctx); err == nil {
		t.Fatal("Refresh against a closed issuer succeeded")
	}
	if !decide("finance", "read") {
		t.Fatal("a failed poll dropped the policies")
	}
}

// TestGuardPollsByItself: with a short PolicyRefresh the poller picks up a
// change without anyone calling Refresh, and stops at Close.
func TestGuardPollsByItself(t *testing.T) {
	ti := newTestIssuer(t)
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(t, func(c *Config) { c.PolicyRefresh = 20 * time.Millisecond })
	ti.setPolicies(Policy{Name: "all", ResourceType: "asset", Actions: []string{"read"}, Condition: "true"})
	deadline := time.Now().Add(5 * time.Second)
	for len(g.Policies()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the poller did not pick up the new policies")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.Close()
	n := ti.policyFetches.Load()
	time.Sleep(100 * time.Millisecond)
	if m := ti.policyFetches.Load(); m != n {
		t.Errorf("polling went on after Close: %d → %d fetches", n, m)
	}
	if _, err := g.Decide(context.Background(), map[string]any{}, "asset", "read", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Decide after Close: %v", err)
	}
}

// TestGuardCostLimit: a policy whose loops hit the cost limit denies (and
// says why in the decision), it does not stall.
func TestGuardCostLimit(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "loops", ResourceType: "asset", Actions: []string{"read"},
		Condition: `resource.items.all(a, resource.items.all(b, resource.items.all(c, a + b + c >= 0)))`})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(t, nil)
	items := make([]any, 100)
	for i := range items {
		items[i] = i
	}
	d, err := g.Decide(context.Background(), map[string]any{"sub": "x"}, "asset", "read", map[string]any{"items": items})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || len(d.Errors) != 1 || !strings.Contains(d.Errors[0].Err.Error(), "cost") {
		t.Errorf("loop-heavy policy: %+v", d)
	}
	// Small inputs stay under the limit and allow.
	d, _ = g.Decide(context.Background(), map[string]any{"sub": "x"}, "asset", "read", map[string]any{"items": []any{1, 2}})
	if !d.Allowed {
		t.Errorf("small input: %+v", d)
	}
}

// TestGuardOddResources: resource maps with unexpected Go types never
// panic and never allow by accident.
func TestGuardOddResources(t *testing.T) {
	ti := newTestIssuer(t, deptPolicy,
		Policy{Name: "owner", ResourceType: "asset", Actions: []string{"read"}, Condition: `resource.owner == subject.sub`})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(t, nil)
	subject := map[string]any{"sub": "svc", "attributes": map[string]any{"admin": false, "departments": []any{"news"}}}
	type custom struct{ A int }
	var nilMap map[string]any
	for i, res := range []map[string]any{
		nil,
		{},
		{"department": 42},
		{"department": []int{1, 2}},
		{"department": custom{1}},
		{"department": &custom{1}},
		{"department": make(chan int)},
		{"department": func() {}},
		{"department": nilMap},
		{"department": map[int]string{1: "x"}},
		{"department": nil},
		{"owner": []byte("svc")},
		{"owner": struct{}{}},
		{"department": errors.New("x")},
	} {
		d, err := g.Decide(context.Background(), subject, "asset", "read", res)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if d.Allowed {
			t.Errorf("%d: resource %#v allowed: %+v", i, res, d)
		}
	}
	// Odd subjects too.
	for i, sub := range []map[string]any{{}, {"attributes": "x"}, {"attributes": map[string]any{"departments": 7}}} {
		if d, _ := g.Decide(context.Background(), sub, "asset", "read", map[string]any{"department": "news"}); d.Allowed {
			t.Errorf("subject %d allowed: %+v", i, d)
		}
	}
	if _, err := g.Decide(context.Background(), nil, "asset", "read", nil); !errors.Is(err, ErrNoSubject) {
		t.Errorf("no subject: %v", err)
	}
}

// TestGuardIntrospection: with Introspect set, a token the issuer reports
// inactive (its user or client deactivated) is refused at once.
func TestGuardIntrospection(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "all", ResourceType: "asset", Actions: []string{"read"}, Condition: "true"})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	g := ti.guard(t, func(c *Config) { c.Introspect = true })
	srv := assetServer(t, g, map[string]string{"a1": "news"})
	tok := es.sign(t, "at+jwt", ti.claims("svc", nil))
	if a := get(t, srv.URL+"/assets/a1", tok); a.status != 200 {
		t.Fatalf("active token: %d %s", a.status, a.body)
	}
	if ti.introspected.Load() != 1 {
		t.Fatalf("introspected %d times", ti.introspected.Load())
	}
	ti.setActive(false)
	a := get(t, srv.URL+"/assets/a1", tok)
	checkProblem(t, "inactive token", a, 401)
	if !strings.Contains(a.wwwAuth, "invalid_token") {
		t.Errorf("inactive token: WWW-Authenticate %q", a.wwwAuth)
	}
	// A forged token is refused before the issuer is bothered.
	n := ti.introspected.Load()
	get(t, srv.URL+"/assets/a1", newECSigner(t, "k1").sign(t, "at+jwt", ti.claims("svc", nil)))
	if ti.introspected.Load() != n {
		t.Error("a forged token was sent to introspection")
	}
	// The issuer unreachable: 503, not a verdict on the token.
	ti.srv.Close()
	checkProblem(t, "issuer down", get(t, srv.URL+"/assets/a1", tok), 503)
}

// TestGuardClientIP: request.ip is the peer unless the peer is a trusted
// proxy, and X-Forwarded-For from anyone else is ignored.
func TestGuardClientIP(t *testing.T) {
	g := &Guard{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, c := range []struct{ remote, xff, want string }{
		{"192.0.2.7:1234", "", "192.0.2.7"},
		{"192.0.2.7:1234", "203.0.113.9", "192.0.2.7"},
		{"10.0.0.2:1234", "203.0.113.9", "203.0.113.9"},
		{"10.0.0.2:1234", "198.51.100.1, 203.0.113.9, 10.0.0.3", "203.0.113.9"},
		{"10.0.0.2:1234", "", "10.0.0.2"},
		{"[::1]:80", "203.0.113.9", "::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := g.clientIP(r); got != c.want {
			t.Errorf("%s via %q: %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
}

// TestGuardRequestVariables: policies see request.ip and request.time.
func TestGuardRequestVariables(t *testing.T) {
	ti := newTestIssuer(t, Policy{Name: "loopback-in-2030", ResourceType: "asset", Actions: []string{"read"},
		Condition: `request.ip == "127.0.0.1" && timestamp(request.time) > timestamp("2030-01-01T00:00:00Z")`})
	es := newECSigner(t, "k1")
	ti.addKey(es.kid, es.alg, es.public())
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	g := ti.guard(t, func(c *Config) { c.Clock = func() time.Time { return *clock.Load() } })
	srv := assetServer(t, g, map[string]string{"a1": "news"})
	tok := es.sign(t, "at+jwt", ti.claims("svc", nil))
	checkProblem(t, "before 2030", get(t, srv.URL+"/assets/a1", tok), 403)
	later := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	clock.Store(&later)
	tok = es.sign(t, "at+jwt", map[string]any{"iss": ti.issuer, "aud": testAudience, "sub": "svc",
		"exp": later.Add(time.Minute).Unix(), "iat": later.Unix()})
	if a := get(t, srv.URL+"/assets/a1", tok); a.status != 200 {
		t.Errorf("in 2030 from loopback: %d %s", a.status, a.body)
	}
}
