package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/wardiam/ward/storage/sqltest"
)

// bootstrapOut is `ward bootstrap --json`.
type bootstrapOut struct {
	Org            string `json:"org"`
	OwnerEmail     string `json:"owner_email"`
	SetPasswordURL string `json:"set_password_url"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
}

func parseBootstrap(t testing.TB, out string) bootstrapOut {
	t.Helper()
	var boot bootstrapOut
	if err := json.Unmarshal([]byte(out), &boot); err != nil {
		t.Fatalf("bootstrap --json printed %q: %v", out, err)
	}
	return boot
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }

// admin calls the admin API with a bearer token.
type admin struct {
	t     testing.TB
	base  string
	token string
}

func (a *admin) do(method, path string, body any) (int, map[string]any, string) {
	a.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	raw := readBody(a.t, resp)
	var out map[string]any
	if raw != "" {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return resp.StatusCode, out, raw
}

// must calls and fails the test unless the status is want.
func (a *admin) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	status, out, raw := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s = %d, want %d: %s", method, path, status, want, raw)
	}
	return out
}

func tokenEndpoint(base, realm string) string {
	return base + "/realms/" + realm + "/protocol/openid-connect/token"
}

func clientToken(ctx context.Context, base, realm, id, secret string, style oauth2.AuthStyle) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenEndpoint(base, realm), AuthStyle: style}
	return cfg.Token(ctx)
}

// oauthErrorCode extracts the RFC 6749 error code from a token fetch error.
func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// verifyAccessToken checks a JWT access token against the realm's JWKS.
func verifyAccessToken(t *testing.T, base, realm, token string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/realms/" + realm + "/protocol/openid-connect/certs")
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(readBody(t, resp)), &jwks); err != nil {
		t.Fatalf("JWKS is not a JSON Web Key Set: %v", err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("access token is not an ES256 JWT: %v", err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
		t.Errorf("access token typ = %q, want at+jwt", typ)
	}
	keys := jwks.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q", len(keys), h.KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("access token signature does not verify against the JWKS: %v", err)
	}
	var std jwt.Claims
	_ = tok.Claims(keys[0].Key, &std)
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: base + "/realms/" + realm, Time: time.Now()}, time.Second); err != nil {
		t.Errorf("access token claims: %v", err)
	}
	return claims
}

func introspect(t *testing.T, base, realm, id, secret, token string) map[string]any {
	t.Helper()
	form := url.Values{"token": {token}}
	req, _ := http.NewRequest("POST", base+"/realms/"+realm+"/protocol/openid-connect/token/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("introspection = %d: %s", resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFoundationFlow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { foundationFlow(t, "") })
	t.Run("postgres", func(t *testing.T) { foundationFlow(t, sqltest.PostgresDSN(t)) })
}

func foundationFlow(t *testing.T, db string) {
	ctx := context.Background()
	w := newWardEnv(t, db)

	// 1. Bootstrap an organization.
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "Owner@Acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d: %s", code, errOut)
	}
	boot := parseBootstrap(t, out)
	if boot.Org != "acme" || boot.ClientID == "" || len(boot.ClientSecret) < 43 ||
		!strings.Contains(boot.SetPasswordURL, "/realms/console/login-actions/set-password?token=") {
		t.Fatalf("bootstrap output incomplete: %+v", boot)
	}
	if _, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "x@acme.test"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second bootstrap of the same org: exit %d, stderr %q; want exit 1 saying it exists", code, errOut)
	}

	s := w.serve(t)

	// 2. A token for the org admin client from the console realm.
	consoleTok, err := clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatalf("console token: %v", err)
	}
	cc := verifyAccessToken(t, s.URL, "console", consoleTok.AccessToken)
	if cc["org"] != "acme" || cc["role"] != "owner" {
		t.Errorf("console token org/role = %v/%v, want acme/owner", cc["org"], cc["role"])
	}
	a := &admin{t: t, base: s.URL, token: consoleTok.AccessToken}

	// 3. Script a realm.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	a.must(201, "POST", "/admin/v1/realms/vault/attributes", map[string]any{"name": "admin", "type": "boolean"})
	a.must(201, "POST", "/admin/v1/realms/vault/attributes", map[string]any{"name": "departments", "type": "string", "multi": true})
	a.must(201, "POST", "/admin/v1/realms/vault/attributes", map[string]any{"name": "level", "type": "integer"})
	editors := a.must(201, "POST", "/admin/v1/realms/vault/groups", map[string]any{
		"name": "Editors", "attributes": map[string]any{"admin": false, "departments": []string{"sport", "news"}, "level": 3}})
	admins := a.must(201, "POST", "/admin/v1/realms/vault/groups", map[string]any{
		"name": "Admins", "attributes": map[string]any{"admin": true, "departments": []string{"finance", "news"}}})
	editorsID, adminsID := editors["id"].(string), admins["id"].(string)

	user := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{
		"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace",
		"groups": []string{editorsID, adminsID}, "primary_group": adminsID, "send_set_password_email": false})
	ua, _ := user["effective_attributes"].(map[string]any)
	if ua["admin"] != true || !reflect.DeepEqual(ua["departments"], []any{"finance", "news", "sport"}) || ua["level"] != float64(3) {
		t.Errorf("user effective_attributes = %v", ua)
	}

	sa := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{
		"name": "ingest", "kind": "service_account", "groups": []string{editorsID, adminsID},
		"primary_group": editorsID, "audience": []string{"assets", "reports"}})
	saID, _ := sa["client_id"].(string)
	saSecret, _ := sa["client_secret"].(string)
	if saID == "" || len(saSecret) < 43 {
		t.Fatalf("service account create response lacks client_id or a 256-bit secret: %v", sa)
	}

	// 4. The service account gets a token and it carries groups and the
	// merged attributes.
	tok, err := clientToken(ctx, s.URL, "vault", saID, saSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatalf("service account token (client_secret_basic): %v", err)
	}
	if _, err := clientToken(ctx, s.URL, "vault", saID, saSecret, oauth2.AuthStyleInParams); err != nil {
		t.Fatalf("service account token (client_secret_post): %v", err)
	}
	claims := verifyAccessToken(t, s.URL, "vault", tok.AccessToken)
	if claims["sub"] != saID || claims["client_id"] != saID || claims["kind"] != "service_account" {
		t.Errorf("sub/client_id/kind = %v/%v/%v", claims["sub"], claims["client_id"], claims["kind"])
	}
	if !reflect.DeepEqual(claims["groups"], []any{"Admins", "Editors"}) {
		t.Errorf("groups claim = %v, want [Admins Editors]", claims["groups"])
	}
	attrs, _ := claims["attributes"].(map[string]any)
	// admin disagrees between the groups: the primary group (Editors) wins.
	want := map[string]any{"admin": false, "departments": []any{"finance", "news", "sport"}, "level": float64(3)}
	if !reflect.DeepEqual(attrs, want) {
		t.Errorf("attributes claim = %v, want %v", attrs, want)
	}
	aud := claims["aud"]
	if !reflect.DeepEqual(aud, []any{"assets", "reports"}) {
		t.Errorf("aud = %v, want the client's whole audience", aud)
	}
	for _, c := range []string{"iss", "exp", "iat", "jti", "scope"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing", c)
		}
	}

	// 5. The secret appears in no later response.
	for _, path := range []string{"/admin/v1/realms/vault/clients/" + saID, "/admin/v1/realms/vault/clients", "/admin/v1/realms/vault/events"} {
		_, _, raw := a.do("GET", path, nil)
		if strings.Contains(raw, saSecret) {
			t.Errorf("GET %s shows the client secret", path)
		}
	}
	a.must(200, "PATCH", "/admin/v1/realms/vault/clients/"+saID, map[string]any{"description": "nightly ingest"})

	// 6. Rotation with grace: both secrets work during the grace.
	rot := a.must(200, "POST", "/admin/v1/realms/vault/clients/"+saID+"/secret", map[string]any{"grace_seconds": 300})
	newSecret, _ := rot["client_secret"].(string)
	if newSecret == "" || newSecret == saSecret {
		t.Fatalf("rotation returned no new secret")
	}
	if _, err := clientToken(ctx, s.URL, "vault", saID, saSecret, oauth2.AuthStyleInHeader); err != nil {
		t.Errorf("old secret refused during the grace period: %v", err)
	}
	if _, err := clientToken(ctx, s.URL, "vault", saID, newSecret, oauth2.AuthStyleInHeader); err != nil {
		t.Errorf("new secret refused: %v", err)
	}
	// Rotating again without grace ends both earlier secrets at once.
	rot2 := a.must(200, "POST", "/admin/v1/realms/vault/clients/"+saID+"/secret", map[string]any{"grace_seconds": 0})
	latest, _ := rot2["client_secret"].(string)
	for _, old := range []string{saSecret, newSecret} {
		if _, err := clientToken(ctx, s.URL, "vault", saID, old, oauth2.AuthStyleInHeader); oauthErrorCode(err) != "invalid_client" {
			t.Errorf("a rotated-out secret: err %v, want invalid_client", err)
		}
	}
	tok, err = clientToken(ctx, s.URL, "vault", saID, latest, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatalf("latest secret: %v", err)
	}

	// 7. Introspection by another confidential client of the realm.
	auditor := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "auditor", "kind": "service_account"})
	audID, audSecret := auditor["client_id"].(string), auditor["client_secret"].(string)
	if got := introspect(t, s.URL, "vault", audID, audSecret, tok.AccessToken); got["active"] != true || got["client_id"] != saID {
		t.Errorf("introspection of a live token = %v", got)
	}

	// 8. Deactivated client: invalid_client, and its tokens introspect inactive.
	a.must(200, "PATCH", "/admin/v1/realms/vault/clients/"+saID, map[string]any{"active": false})
	if _, err := clientToken(ctx, s.URL, "vault", saID, latest, oauth2.AuthStyleInHeader); oauthErrorCode(err) != "invalid_client" {
		t.Errorf("deactivated client got %v, want invalid_client", err)
	}
	if got := introspect(t, s.URL, "vault", audID, audSecret, tok.AccessToken); got["active"] != false {
		t.Errorf("token of a deactivated client introspects %v, want inactive", got)
	}
	a.must(200, "PATCH", "/admin/v1/realms/vault/clients/"+saID, map[string]any{"active": true})

	// 9. Realm A's client cannot get a token from realm B.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "other"})
	if _, err := clientToken(ctx, s.URL, "other", saID, latest, oauth2.AuthStyleInHeader); oauthErrorCode(err) != "invalid_client" {
		t.Errorf("realm A's client at realm B: %v, want invalid_client", err)
	}
	// And realm A's IDs are unknown in realm B's paths.
	a.must(404, "GET", "/admin/v1/realms/other/groups/"+editorsID, nil)
	a.must(404, "GET", "/admin/v1/realms/other/clients/"+saID, nil)

	// 10. The audit log names the changes and never a secret.
	events := a.must(200, "GET", "/admin/v1/realms/vault/events", nil)
	items, _ := events["items"].([]any)
	types := map[string]bool{}
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			types[m["type"].(string)] = true
		}
	}
	for _, want := range []string{"attribute.created", "group.created", "user.created", "client.created", "client.secret_rotated"} {
		if !types[want] {
			t.Errorf("audit log lacks %s; has %v", want, types)
		}
	}

	// 11. No secret ever reaches the log.
	logs := s.logs()
	for name, secret := range map[string]string{"bootstrap": boot.ClientSecret, "sa": saSecret, "rotated": newSecret, "latest": latest, "auditor": audSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s secret appears in the server log", name)
		}
	}
	if strings.Contains(logs, tok.AccessToken) {
		t.Errorf("an access token appears in the server log")
	}
}
