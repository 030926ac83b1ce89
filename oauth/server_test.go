package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// verifyWithJWKS checks token against the realm's published JWKS the way a
// resource server would, with go-jose v4, and returns header and claims.
func verifyWithJWKS(t *testing.T, env *testEnv, realmName, token string) (jose.Header, map[string]any) {
	t.Helper()
	r := env.get("/realms/" + realmName + pathCerts)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.RawBody)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.RawBody), &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS (%d keys)", h.KeyID, len(set.Keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify against JWKS: %v", err)
	}
	return h, claims
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestClientCredentialsTokenClaims(t *testing.T) { testClientCredentialsTokenClaims(t, newEnv(t)) }

func testClientCredentialsTokenClaims(t *testing.T, env *testEnv) {
	org := env.newOrg("acme")
	rf := env.newRealm(org.ID, "acme-prod", true)
	env.newAttribute(rf.ID, "departments", attributes.String, true)
	env.newAttribute(rf.ID, "admin", attributes.Boolean, false)
	editors := env.newGroup(rf.ID, "Editors", map[string]any{"departments": []any{"news", "sport"}, "admin": false})
	admins := env.newGroup(rf.ID, "Admins", map[string]any{"departments": []any{"finance"}, "admin": true})
	groups := []string{editors.ID, admins.ID}
	sort.Strings(groups)
	c, secret := env.newClient(rf.ID, "reporter", func(c *realm.Client) {
		c.Groups = groups
		c.PrimaryGroup = admins.ID
		c.Audience = []string{"assets", "billing"}
	})

	// A real client library, secret in the Authorization header.
	cc := clientcredentials.Config{
		ClientID: c.ClientID, ClientSecret: secret,
		TokenURL:  rf.issuer + pathToken,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", tok.TokenType)
	}
	if d := time.Until(tok.Expiry); d < 4*time.Minute || d > 5*time.Minute+5*time.Second {
		t.Errorf("expires in %v, want 5 min", d)
	}
	h, claims := verifyWithJWKS(t, env, rf.Name, tok.AccessToken)
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", typ)
	}
	if h.Algorithm != "ES256" || h.KeyID == "" {
		t.Errorf("alg %q kid %q", h.Algorithm, h.KeyID)
	}
	if claims["iss"] != rf.issuer || claims["sub"] != "reporter" || claims["client_id"] != "reporter" {
		t.Errorf("iss/sub/client_id: %v %v %v", claims["iss"], claims["sub"], claims["client_id"])
	}
	if claims["kind"] != "service_account" {
		t.Errorf("kind = %v", claims["kind"])
	}
	if aud := anyStrings(claims["aud"]); !slices.Equal(aud, []string{"assets", "billing"}) {
		t.Errorf("aud = %v, want all of the client's audience", aud)
	}
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if exp-iat != 300 {
		t.Errorf("exp - iat = %v, want 300", exp-iat)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Error("no jti")
	}
	if _, ok := claims["scope"]; !ok {
		t.Error("no scope claim")
	}
	gotGroups := anyStrings(claims["groups"])
	sort.Strings(gotGroups)
	if !slices.Equal(gotGroups, []string{"Admins", "Editors"}) {
		t.Errorf("groups = %v", gotGroups)
	}
	attrs, _ := claims["attributes"].(map[string]any)
	if deps := anyStrings(attrs["departments"]); !slices.Equal(deps, []string{"finance", "news", "sport"}) {
		t.Errorf("attributes.departments = %v, want the sorted union", deps)
	}
	if attrs["admin"] != true {
		t.Errorf("attributes.admin = %v, want the primary group's value true", attrs["admin"])
	}
	if _, ok := claims["org"]; ok {
		t.Error("a realm service account must not carry org")
	}

	// client_secret_post works too, and the raw answer has the headers
	// CONTRACT §4 promises.
	r := env.post("/realms/"+rf.Name+pathToken, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {secret},
	}, "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("client_secret_post: %d %s", r.Status, r.RawBody)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.Body["token_type"] != "Bearer" || r.Body["access_token"] == nil {
		t.Errorf("body = %s", r.RawBody)
	}
}

func TestClientWithoutGroupsHasEmptyClaims(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "plain", true)
	c, secret := env.newClient(rf.ID, "bare", nil)
	_, claims := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, nil))
	if g, ok := claims["groups"].([]any); !ok || len(g) != 0 {
		t.Errorf("groups = %#v, want []", claims["groups"])
	}
	if a, ok := claims["attributes"].(map[string]any); !ok || len(a) != 0 {
		t.Errorf("attributes = %#v, want {}", claims["attributes"])
	}
	// RFC 9068 requires aud: without a configured or requested audience it
	// is the realm's issuer.
	if aud := anyStrings(claims["aud"]); !slices.Equal(aud, []string{rf.issuer}) {
		t.Errorf("aud = %#v, want [issuer] for a client without audience", claims["aud"])
	}
}

func wantOAuthError(t *testing.T, r *tokenResponse, status int, code string) {
	t.Helper()
	if r.Status != status || r.Body["error"] != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.RawBody, status, code)
	}
}

func TestWrongSecretIsInvalidClient(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "r1", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	for _, r := range []*tokenResponse{env.grant(rf.Name, c.ClientID, secret+"x", nil), env.grant(rf.Name, "nobody", secret, nil)} {
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		// RFC 6749 §5.2: a failed Basic authentication is challenged.
		if got, want := r.Header.Get("WWW-Authenticate"), `Basic realm="r1"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	}
	r := env.post("/realms/"+rf.Name+pathToken, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {"nope"},
	}, "", "")
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if strings.Contains(r.RawBody, secret) || strings.Contains(env.logs.String(), secret) {
		t.Error("error response or log shows the secret")
	}
}

func TestRotatedSecretGrace(t *testing.T) { testRotatedSecretGrace(t, newEnv(t)) }

func testRotatedSecretGrace(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "rot", true)
	oldSecret, oldHash := realm.NewSecret(nil)
	until := env.now().Add(time.Hour)
	c, newSecret := env.newClient(rf.ID, "svc", func(c *realm.Client) {
		c.PreviousSecretHash = oldHash
		c.PreviousSecretExpiresAt = &until
	})
	env.mustToken(rf.Name, c.ClientID, oldSecret, nil)
	env.mustToken(rf.Name, c.ClientID, newSecret, nil)

	env.advance(2 * time.Hour)
	wantOAuthError(t, env.grant(rf.Name, c.ClientID, oldSecret, nil), http.StatusUnauthorized, "invalid_client")
	env.mustToken(rf.Name, c.ClientID, newSecret, nil)
}

func TestDisabledClient(t *testing.T) { testDisabledClient(t, newEnv(t)) }

func testDisabledClient(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "dis", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.newClient(rf.ID, "checker", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)
	if r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Fatalf("fresh token inactive: %s", r.RawBody)
	}

	c.Active = false
	if err := env.store.UpdateClient(env.ctx, c); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, env.grant(rf.Name, c.ClientID, secret, nil), http.StatusUnauthorized, "invalid_client")
	r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status != http.StatusOK || r.RawBody != `{"active":false}`+"\n" {
		t.Fatalf("disabled client's token: %d %q, want {\"active\":false}", r.Status, r.RawBody)
	}
	// A disabled client may not introspect either.
	wantOAuthError(t, env.introspect(rf.Name, tok, c.ClientID, secret), http.StatusUnauthorized, "invalid_client")
}

func TestIntrospection(t *testing.T) { testIntrospection(t, newEnv(t)) }

func testIntrospection(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "intro", true)
	c, secret := env.newClient(rf.ID, "svc", func(c *realm.Client) { c.Audience = []string{"assets"} })
	checker, checkerSecret := env.newClient(rf.ID, "checker", nil)
	pub, _ := env.newClient(rf.ID, "spa", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
	})
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)

	r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.RawBody)
	}
	b := r.Body
	if b["active"] != true || b["client_id"] != "svc" || b["sub"] != "svc" || b["token_type"] != "Bearer" ||
		b["iss"] != rf.issuer || b["kind"] != "service_account" || b["scope"] != "" {
		t.Errorf("introspection = %s", r.RawBody)
	}
	if aud := anyStrings(b["aud"]); !slices.Equal(aud, []string{"assets"}) {
		t.Errorf("aud = %v", aud)
	}
	exp, _ := b["exp"].(float64)
	iat, _ := b["iat"].(float64)
	if exp == 0 || iat == 0 || exp-iat != 300 {
		t.Errorf("exp %v iat %v", exp, iat)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}

	// client_secret_post for the caller works too.
	r = env.post("/realms/"+rf.Name+pathIntrospect, url.Values{
		"token": {tok}, "client_id": {checker.ClientID}, "client_secret": {checkerSecret},
	}, "", "")
	if r.Body["active"] != true {
		t.Errorf("post auth: %s", r.RawBody)
	}
	// token_type_hint is only a hint.
	r = env.post("/realms/"+rf.Name+pathIntrospect, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}, checker.ClientID, checkerSecret)
	if r.Body["active"] != true {
		t.Errorf("hint refresh_token: %s", r.RawBody)
	}
	// Callers must be confidential clients that authenticate.
	wantOAuthError(t, env.introspect(rf.Name, tok, checker.ClientID, "wrong"), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, env.introspect(rf.Name, tok, "", ""), http.StatusBadRequest, "invalid_request")
	wantOAuthError(t, env.introspect(rf.Name, tok, pub.ClientID, ""), http.StatusUnauthorized, "invalid_client")
	req, _ := http.NewRequest(http.MethodPost, rf.issuer+pathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	if r := env.do(req); r.Status == http.StatusOK {
		t.Errorf("a bearer token was accepted as the caller's credential: %s", r.RawBody)
	}

	// Garbage, tampered and expired tokens are inactive.
	for name, bad := range map[string]string{
		"garbage":  "not-a-token",
		"tampered": tok[:len(tok)-4] + "AAAA",
	} {
		if r := env.introspect(rf.Name, bad, checker.ClientID, checkerSecret); r.Body["active"] != false {
			t.Errorf("%s token: %s", name, r.RawBody)
		}
	}
	env.advance(6 * time.Minute)
	if r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
		t.Errorf("expired token: %s", r.RawBody)
	}
}

func TestRevocation(t *testing.T) { testRevocation(t, newEnv(t)) }

func testRevocation(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "rev", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.newClient(rf.ID, "checker", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)
	other := env.mustToken(rf.Name, c.ClientID, secret, nil)

	revoke := func(token, id, sec string) *tokenResponse {
		return env.post("/realms/"+rf.Name+pathRevoke, url.Values{"token": {token}, "token_type_hint": {"access_token"}}, id, sec)
	}
	if r := revoke(tok, c.ClientID, "wrong"); r.Status != http.StatusUnauthorized {
		t.Fatalf("unauthenticated revoke: %d %s", r.Status, r.RawBody)
	}
	if r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Fatalf("token revoked by an unauthenticated call: %s", r.RawBody)
	}
	if r := revoke(tok, c.ClientID, secret); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.RawBody)
	}
	if r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
		t.Errorf("revoked token introspects %s", r.RawBody)
	}
	if r := env.introspect(rf.Name, other, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Errorf("revoking one token affected another: %s", r.RawBody)
	}
	// Unknown tokens: 200 per RFC 7009 §2.2; revoking twice is fine.
	for _, bad := range []string{"garbage", tok} {
		if r := revoke(bad, checker.ClientID, checkerSecret); r.Status != http.StatusOK {
			t.Errorf("revoke %q: %d %s", bad[:7], r.Status, r.RawBody)
		}
	}
	revoked, err := env.store.IsTokenRevoked(env.ctx, rf.ID, jtiOf(t, tok))
	if err != nil || !revoked {
		t.Errorf("store says revoked=%v err=%v", revoked, err)
	}
}

func jtiOf(t *testing.T, token string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		JTI string `json:"jti"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&cl); err != nil {
		t.Fatal(err)
	}
	return cl.JTI
}

func TestRealmIsolation(t *testing.T) { testRealmIsolation(t, newEnv(t)) }

func testRealmIsolation(t *testing.T, env *testEnv) {
	org := env.newOrg("o")
	a := env.newRealm(org.ID, "realm-a", true)
	b := env.newRealm(org.ID, "realm-b", true)
	ca, secretA := env.newClient(a.ID, "shared-name", nil)
	cb, secretB := env.newClient(b.ID, "checker", nil)
	_, _ = env.newClient(b.ID, "shared-name", nil) // same client_id, other secret

	wantOAuthError(t, env.grant(b.Name, ca.ClientID, secretA, nil), http.StatusUnauthorized, "invalid_client")
	tokA := env.mustToken(a.Name, ca.ClientID, secretA, nil)
	if r := env.introspect(b.Name, tokA, cb.ClientID, secretB); r.Body["active"] != false {
		t.Errorf("realm A's token is active at realm B: %s", r.RawBody)
	}
	// Realm A's client cannot introspect at B either.
	wantOAuthError(t, env.introspect(b.Name, tokA, ca.ClientID, secretA), http.StatusUnauthorized, "invalid_client")
}

func TestAudienceSelection(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "aud", true)
	c, secret := env.newClient(rf.ID, "svc", func(c *realm.Client) { c.Audience = []string{"assets", "billing", "reports"} })

	_, claims := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, url.Values{"audience": {"assets"}}))
	if aud := anyStrings(claims["aud"]); !slices.Equal(aud, []string{"assets"}) {
		t.Errorf("aud = %v, want [assets]", aud)
	}
	_, claims = verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, url.Values{"audience": {"reports", "assets"}}))
	if aud := anyStrings(claims["aud"]); !slices.Equal(aud, []string{"reports", "assets"}) {
		t.Errorf("aud = %v, want [reports assets]", aud)
	}
	wantOAuthError(t, env.grant(rf.Name, c.ClientID, secret, url.Values{"audience": {"assets payroll"}}), http.StatusBadRequest, "invalid_target")
}

func TestGrantRules(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "rules", true)
	svc, secret := env.newClient(rf.ID, "svc", nil)
	pub, _ := env.newClient(rf.ID, "spa", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
	})
	app, appSecret := env.newClient(rf.ID, "webapp", func(c *realm.Client) { c.Kind = realm.KindApplication })

	r := env.post("/realms/"+rf.Name+pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {pub.ClientID}}, "", "")
	if r.Status < 400 || r.Body["access_token"] != nil {
		t.Errorf("public client got a client_credentials token: %d %s", r.Status, r.RawBody)
	}
	if r := env.grant(rf.Name, app.ClientID, appSecret, nil); r.Status < 400 || r.Body["access_token"] != nil {
		t.Errorf("application client got a client_credentials token: %d %s", r.Status, r.RawBody)
	}
	r = env.post("/realms/"+rf.Name+pathToken, url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, svc.ClientID, secret)
	wantOAuthError(t, r, http.StatusBadRequest, "unsupported_grant_type")
	wantOAuthError(t, env.grant(rf.Name, svc.ClientID, secret, url.Values{"scope": {"admin:everything"}}), http.StatusBadRequest, "invalid_scope")
	if r := env.get("/realms/" + rf.Name + pathToken); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", r.Status)
	}
}

func TestDiscovery(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "disc", true)
	r := env.get("/realms/" + rf.Name + pathDiscovery)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.RawBody)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("discovery lacks CORS *")
	}
	b := r.Body
	want := map[string]string{
		"issuer":                 rf.issuer,
		"jwks_uri":               rf.issuer + "/protocol/openid-connect/certs",
		"token_endpoint":         rf.issuer + "/protocol/openid-connect/token",
		"introspection_endpoint": rf.issuer + "/protocol/openid-connect/token/introspect",
		"revocation_endpoint":    rf.issuer + "/protocol/openid-connect/revoke",
		"authorization_endpoint": rf.issuer + "/protocol/openid-connect/auth",
		"userinfo_endpoint":      rf.issuer + "/protocol/openid-connect/userinfo",
		"end_session_endpoint":   rf.issuer + "/protocol/openid-connect/logout",
	}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("%s = %v, want %s", k, b[k], v)
		}
	}
	lists := map[string][]string{
		"grant_types_supported":                 {"client_credentials", "authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      {"S256"},
		"response_modes_supported":              {"query", "fragment", "form_post", "web_message"},
		"id_token_signing_alg_values_supported": {"RS256", "ES256"},
	}
	for k, v := range lists {
		if got := anyStrings(b[k]); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if b["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	if !slices.Contains(anyStrings(b["scopes_supported"]), "openid") {
		t.Errorf("scopes_supported = %v", b["scopes_supported"])
	}

	r = env.get("/realms/" + rf.Name + pathCerts)
	if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("jwks: %d, CORS %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
	}
	keys, _ := r.Body["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("jwks has %d keys: %s", len(keys), r.RawBody)
	}
	k := keys[0].(map[string]any)
	if k["kid"] == "" || k["alg"] != "ES256" || k["use"] != "sig" || k["kty"] != "EC" || k["d"] != nil {
		t.Errorf("jwk = %v", k)
	}

	for _, path := range []string{"/realms/nope" + pathDiscovery, "/realms/nope" + pathCerts, "/realms/UPPER" + pathDiscovery} {
		r := env.get(path)
		wantOAuthError(t, r, http.StatusNotFound, "not_found")
	}
	wantOAuthError(t, env.grant("nope", "a", "b", nil), http.StatusNotFound, "not_found")
}

func TestRealmWithoutKeyGetsOne(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "keyless", false)
	c, secret := env.newClient(rf.ID, "svc", nil)
	h, _ := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, nil))
	keys, err := env.store.ListSigningKeys(env.ctx, rf.ID)
	if err != nil || len(keys) != 1 || keys[0].ID != h.KeyID || keys[0].Algorithm != AlgES256 || !keys[0].Active {
		t.Fatalf("keys = %+v, err %v", keys, err)
	}
}

func TestConcurrentFirstRequestsBuildOnce(t *testing.T) {
	testConcurrentFirstRequestsBuildOnce(t, newEnv(t))
}

func testConcurrentFirstRequestsBuildOnce(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "busy", false)
	c, secret := env.newClient(rf.ID, "svc", nil)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := env.grant(rf.Name, c.ClientID, secret, nil); r.Status != http.StatusOK {
				errs <- r.RawBody
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	keys, err := env.store.ListSigningKeys(env.ctx, rf.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%d keys after concurrent first use (err %v), want 1", len(keys), err)
	}
}

func TestRotateKeyKeepsOldKeyInJWKS(t *testing.T) { testRotateKeyKeepsOldKeyInJWKS(t, newEnv(t)) }

func testRotateKeyKeepsOldKeyInJWKS(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "rotk", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.newClient(rf.ID, "checker", nil)
	before := env.mustToken(rf.Name, c.ClientID, secret, nil)
	oldHeader, _ := verifyWithJWKS(t, env, rf.Name, before)

	env.advance(time.Minute) // the first key is well established
	if _, err := env.svc.RotateSigningKey(realm.WithPrincipal(env.ctx, realm.System), rf.Name, AlgES256); err != nil {
		t.Fatal(err)
	}
	env.srv.Forget(rf.ID)
	evs, err := env.store.ListEvents(env.ctx, rf.OrgID, rf.ID, realm.EventFilter{Type: "realm.key_rotated"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].TargetID != rf.ID || evs.Items[0].Details["alg"] != AlgES256 ||
		evs.Items[0].Details["kid"] == nil || evs.Items[0].Details["kid"] == oldHeader.KeyID {
		t.Errorf("key rotation events = %+v, %v; want one naming the new key", evs.Items, err)
	}
	// The new key is published at once but signs only once every node's
	// cached JWKS can have it (ProviderTTL, 30 s by default).
	r := env.get("/realms/" + rf.Name + pathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 2 {
		t.Errorf("jwks has %d keys right after rotation, want 2", len(keys))
	}
	during := env.mustToken(rf.Name, c.ClientID, secret, nil)
	if h, _ := verifyWithJWKS(t, env, rf.Name, during); h.KeyID != oldHeader.KeyID {
		t.Error("the new key signs before other nodes can have published it")
	}
	env.advance(31 * time.Second)
	after := env.mustToken(rf.Name, c.ClientID, secret, nil)
	newHeader, _ := verifyWithJWKS(t, env, rf.Name, after)
	if newHeader.KeyID == oldHeader.KeyID {
		t.Fatal("new tokens are still signed with the retired key")
	}
	// The old token still verifies against the JWKS and introspects active.
	verifyWithJWKS(t, env, rf.Name, before)
	if r := env.introspect(rf.Name, before, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Errorf("token of the retired key: %s", r.RawBody)
	}
	r = env.get("/realms/" + rf.Name + pathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 2 {
		t.Errorf("jwks has %d keys, want active + retired", len(keys))
	}
	// Once the retired key has outlived its tokens, it leaves the JWKS.
	env.advance(25 * time.Hour)
	r = env.get("/realms/" + rf.Name + pathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 1 {
		t.Errorf("jwks has %d keys a day after rotation, want 1", len(keys))
	}
	if _, err := env.svc.RotateSigningKey(realm.WithPrincipal(env.ctx, realm.System), rf.Name, "HS256"); err == nil {
		t.Error("RotateSigningKey accepted HS256")
	}
}

func TestEnsureRS256Key(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "rsa", true)
	p, err := env.srv.provider(env.ctx, rf.Name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := env.srv.ensureKey(env.ctx, p, AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	again, err := env.srv.ensureKey(env.ctx, p, AlgRS256)
	if err != nil || again.kid != k.kid {
		t.Fatalf("second ensureKey made another key: %v %v", again, err)
	}
	r := env.get("/realms/" + rf.Name + pathCerts)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.RawBody), &set); err != nil {
		t.Fatal(err)
	}
	if keys := set.Key(k.kid); len(keys) != 1 || keys[0].Algorithm != AlgRS256 {
		t.Fatalf("RS256 key not in JWKS: %s", r.RawBody)
	}
}

// TestClaimsFollowEveryChange: without ClaimsTTL, the token after any change
// of a group, a membership or an attribute definition carries the change,
// although the definitions are kept in memory between grants.
func TestClaimsFollowEveryChange(t *testing.T) { testClaimsFollowEveryChange(t, newEnv(t)) }

func testClaimsFollowEveryChange(t *testing.T, env *testEnv) {
	rf := env.newRealm(env.newOrg("o").ID, "exact", true)
	env.newAttribute(rf.ID, "level", attributes.Integer, false)
	g1 := env.newGroup(rf.ID, "One", map[string]any{"level": int64(1)})
	g2 := env.newGroup(rf.ID, "Two", map[string]any{"level": int64(2)})
	c, secret := env.newClient(rf.ID, "svc", func(c *realm.Client) { c.Groups, c.PrimaryGroup = []string{g1.ID}, g1.ID })
	claims := func() (any, []string) {
		t.Helper()
		_, cl := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, nil))
		return cl["attributes"].(map[string]any)["level"], anyStrings(cl["groups"])
	}
	check := func(what string, wantLevel any, wantGroups ...string) {
		t.Helper()
		level, groups := claims()
		if fmt.Sprint(level) != fmt.Sprint(wantLevel) || !slices.Equal(groups, wantGroups) {
			t.Errorf("%s: level %v groups %v; want %v %v", what, level, groups, wantLevel, wantGroups)
		}
	}
	check("first token", float64(1), "One")
	check("second token (definitions from memory)", float64(1), "One")

	g1.Name, g1.Attributes = "Uno", map[string]any{"level": int64(5)}
	if err := env.store.UpdateGroup(env.ctx, g1); err != nil {
		t.Fatal(err)
	}
	check("after a group edit", float64(5), "Uno")

	c.Groups, c.PrimaryGroup = []string{g2.ID}, g2.ID
	if err := env.store.UpdateClient(env.ctx, c); err != nil {
		t.Fatal(err)
	}
	check("after moving groups", float64(2), "Two")

	// A definition change: level becomes multi-valued, so the stored
	// single value no longer matches and is dropped; and back.
	a, err := env.store.GetAttribute(env.ctx, rf.ID, "level")
	if err != nil {
		t.Fatal(err)
	}
	a.Multi = true
	if err := env.store.UpdateAttribute(env.ctx, a); err != nil {
		t.Fatal(err)
	}
	check("after a definition update", nil, "Two")
	a.Multi = false
	if err := env.store.UpdateAttribute(env.ctx, a); err != nil {
		t.Fatal(err)
	}
	check("after the update is undone", float64(2), "Two")

	// A deleted definition drops the values it typed.
	if err := env.store.DeleteAttribute(env.ctx, rf.ID, "level"); err != nil {
		t.Fatal(err)
	}
	check("after a definition delete", nil, "Two")
	env.newAttribute(rf.ID, "level", attributes.Integer, false)
	check("after the definition is back", float64(2), "Two")
}

func TestClaimsCache(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.ClaimsTTL = time.Minute })
	rf := env.newRealm(env.newOrg("o").ID, "cached", true)
	env.newAttribute(rf.ID, "level", attributes.Integer, false)
	g1 := env.newGroup(rf.ID, "One", map[string]any{"level": int64(1)})
	g2 := env.newGroup(rf.ID, "Two", map[string]any{"level": int64(2)})
	c, secret := env.newClient(rf.ID, "svc", func(c *realm.Client) { c.Groups, c.PrimaryGroup = []string{g1.ID}, g1.ID })
	level := func() any {
		_, claims := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, nil))
		return claims["attributes"].(map[string]any)["level"]
	}
	if l := level(); l != float64(1) {
		t.Fatalf("level = %v", l)
	}
	// An attribute value edit shows after ClaimsTTL...
	g1.Attributes = map[string]any{"level": int64(5)}
	if err := env.store.UpdateGroup(env.ctx, g1); err != nil {
		t.Fatal(err)
	}
	if l := level(); l != float64(1) {
		t.Errorf("level = %v inside the TTL, want the cached 1", l)
	}
	env.advance(2 * time.Minute)
	if l := level(); l != float64(5) {
		t.Errorf("level = %v after the TTL, want 5", l)
	}
	// ...but a membership change applies at once.
	c.Groups, c.PrimaryGroup = []string{g2.ID}, g2.ID
	if err := env.store.UpdateClient(env.ctx, c); err != nil {
		t.Fatal(err)
	}
	if l := level(); l != float64(2) {
		t.Errorf("level = %v right after moving groups, want 2", l)
	}
}

func TestStoreDownAnswers503AndLogsNoSecrets(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "down", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.newClient(rf.ID, "checker", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil) // realm now cached
	if err := env.store.Close(); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, env.grant(rf.Name, c.ClientID, secret, nil), http.StatusServiceUnavailable, "temporarily_unavailable")
	r := env.introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status < 500 || r.Body["active"] == true {
		t.Errorf("introspection with the store down: %d %s", r.Status, r.RawBody)
	}
	if _, err := env.srv.AuthenticateAdmin(env.ctx, tok); err == nil {
		t.Error("AuthenticateAdmin succeeded with the store down")
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "level=ERROR") {
		t.Errorf("store failure not logged: %q", logs)
	}
	for _, s := range []string{secret, checkerSecret, tok, strings.Split(tok, ".")[2]} {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a secret or token: %q", logs)
		}
	}
}

// TestPostgres runs the main scenarios over a PostgreSQL store, since every
// backend must behave the same. Like every Postgres test in Ward it needs
// WARD_TEST_POSTGRES (CI sets it) and fails without it unless
// WARD_SKIP_POSTGRES=1.
func TestPostgres(t *testing.T) {
	scenarios := map[string]func(*testing.T, *testEnv){
		"ClientCredentialsTokenClaims":     testClientCredentialsTokenClaims,
		"RotatedSecretGrace":               testRotatedSecretGrace,
		"DisabledClient":                   testDisabledClient,
		"Introspection":                    testIntrospection,
		"Revocation":                       testRevocation,
		"RealmIsolation":                   testRealmIsolation,
		"RotateKeyKeepsOldKeyInJWKS":       testRotateKeyKeepsOldKeyInJWKS,
		"ConsoleTokensStayInTheirOrg":      testConsoleTokensStayInTheirOrg,
		"RecreatedRealmIsNotServedStale":   testRecreatedRealmIsNotServedStale,
		"ConcurrentFirstRequestsBuildOnce": testConcurrentFirstRequestsBuildOnce,
		"ClaimsFollowEveryChange":          testClaimsFollowEveryChange,
	}
	for name, run := range scenarios {
		t.Run(name, func(t *testing.T) {
			run(t, newEnvOn(t, func(t testing.TB) realm.Store { return sqltest.OpenPostgres(t) }))
		})
	}
}

// TestConsoleTokensStayInTheirOrg: every org's admin clients are clients of
// the one console realm, yet one org's client may not introspect or revoke
// another org's admin tokens; within an org, only owner and admin clients
// may revoke tokens other than their own.
func TestConsoleTokensStayInTheirOrg(t *testing.T) { testConsoleTokensStayInTheirOrg(t, newEnv(t)) }

func testConsoleTokensStayInTheirOrg(t *testing.T, env *testEnv) {
	acme, evil := env.newOrg("acme"), env.newOrg("evil")
	console := env.newRealm("", realm.ConsoleRealm, true)
	admin := func(clientID string, org *realm.Org, role realm.Role) (string, string) {
		c, secret := env.newClient(console.ID, clientID, func(c *realm.Client) { c.OrgID, c.OrgRole = org.ID, role })
		return c.ClientID, secret
	}
	ciID, ciSecret := admin("acme-ci", acme, realm.RoleAdmin)
	ownerID, ownerSecret := admin("acme-owner", acme, realm.RoleOwner)
	viewerID, viewerSecret := admin("acme-viewer", acme, realm.RoleViewer)
	evilID, evilSecret := admin("evil-ci", evil, realm.RoleOwner)
	revoke := func(token, id, secret string) {
		t.Helper()
		r := env.post("/realms/"+realm.ConsoleRealm+pathRevoke, url.Values{"token": {token}}, id, secret)
		if r.Status != http.StatusOK {
			t.Fatalf("revoke by %s: %d %s", id, r.Status, r.RawBody)
		}
	}
	live := func(token string) bool {
		t.Helper()
		_, err := env.srv.AuthenticateAdmin(env.ctx, token)
		return err == nil
	}

	tok := env.mustToken(realm.ConsoleRealm, ciID, ciSecret, nil)
	if r := env.introspect(realm.ConsoleRealm, tok, evilID, evilSecret); r.Status != http.StatusOK || r.RawBody != `{"active":false}`+"\n" {
		t.Errorf("another org's client introspected an admin token: %d %s", r.Status, r.RawBody)
	}
	revoke(tok, evilID, evilSecret)
	if !live(tok) {
		t.Fatal("another org's client revoked an admin token")
	}
	for _, caller := range [][2]string{{ownerID, ownerSecret}, {viewerID, viewerSecret}, {ciID, ciSecret}} {
		if r := env.introspect(realm.ConsoleRealm, tok, caller[0], caller[1]); r.Body["active"] != true || r.Body["client_id"] != ciID {
			t.Errorf("%s cannot introspect its own org's token: %s", caller[0], r.RawBody)
		}
	}
	// A viewer may not revoke another client's token, even in its org...
	revoke(tok, viewerID, viewerSecret)
	if !live(tok) {
		t.Fatal("a viewer revoked another client's token")
	}
	// ...but may revoke its own; an owner may revoke any of its org's.
	viewerTok := env.mustToken(realm.ConsoleRealm, viewerID, viewerSecret, nil)
	revoke(viewerTok, viewerID, viewerSecret)
	if live(viewerTok) {
		t.Error("a viewer could not revoke its own token")
	}
	revoke(tok, ownerID, ownerSecret)
	if live(tok) {
		t.Error("the org owner could not revoke its org's token")
	}
	// The other org's client still sees and revokes its own tokens.
	evilTok := env.mustToken(realm.ConsoleRealm, evilID, evilSecret, nil)
	if r := env.introspect(realm.ConsoleRealm, evilTok, evilID, evilSecret); r.Body["active"] != true {
		t.Errorf("own token: %s", r.RawBody)
	}
	if r := env.introspect(realm.ConsoleRealm, evilTok, ownerID, ownerSecret); r.Body["active"] != false {
		t.Errorf("acme's owner introspected evil's token: %s", r.RawBody)
	}
	revoke(evilTok, ownerID, ownerSecret)
	if !live(evilTok) {
		t.Error("acme's owner revoked evil's token")
	}
}

// TestOversizedBodyIs413: a body over the limit at the token, introspection
// and revocation endpoints is 413 with an OAuth error saying so, whether it
// is a form or multipart; a body just under it is served.
func TestOversizedBodyIs413(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "big", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	tok := env.mustToken(rf.Name, c.ClientID, secret, nil)
	pad := strings.Repeat("a", maxFormBytes)
	for _, path := range []string{pathToken, pathIntrospect, pathRevoke} {
		form := url.Values{"grant_type": {"client_credentials"}, "token": {tok}, "pad": {pad}}
		r := env.post("/realms/"+rf.Name+path, form, c.ClientID, secret)
		if r.Status != http.StatusRequestEntityTooLarge || r.Body["error"] != "invalid_request" ||
			r.Body["error_description"] != "request body too large" {
			t.Errorf("%s form: %d %s", path, r.Status, r.RawBody)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control = %q", path, cc)
		}

		var body strings.Builder
		mw := multipart.NewWriter(&body)
		for k, v := range form {
			_ = mw.WriteField(k, v[0])
		}
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, rf.issuer+path, strings.NewReader(body.String()))
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.SetBasicAuth(c.ClientID, secret)
		if r := env.do(req); r.Status != http.StatusRequestEntityTooLarge || r.Body["error_description"] != "request body too large" {
			t.Errorf("%s multipart: %d %s", path, r.Status, r.RawBody)
		}

		form["pad"] = []string{pad[:maxFormBytes-4096]}
		if r := env.post("/realms/"+rf.Name+path, form, c.ClientID, secret); r.Status != http.StatusOK {
			t.Errorf("%s under the limit: %d %s", path, r.Status, r.RawBody)
		}
	}
}

// TestServiceAccountsGetNoOIDCScopes: OpenID Connect scopes describe a
// signed-in person; a service account asking for any of them is refused
// with invalid_scope, and its tokens carry an empty scope. Application
// clients keep them.
func TestServiceAccountsGetNoOIDCScopes(t *testing.T) {
	env := newEnv(t)
	rf := env.newRealm(env.newOrg("o").ID, "scopes", true)
	c, secret := env.newClient(rf.ID, "svc", nil)
	for _, scope := range []string{"openid", "profile", "email", "offline_access", "openid offline_access"} {
		wantOAuthError(t, env.grant(rf.Name, c.ClientID, secret, url.Values{"scope": {scope}}), http.StatusBadRequest, "invalid_scope")
	}
	_, claims := verifyWithJWKS(t, env, rf.Name, env.mustToken(rf.Name, c.ClientID, secret, nil))
	if sc, ok := claims["scope"]; !ok || sc != "" {
		t.Errorf("scope claim = %v (present %v), want empty", sc, ok)
	}
	app := &fositeClient{c: &realm.Client{Kind: realm.KindApplication}}
	if got := app.GetScopes(); !slices.Equal(got, supportedScopes) {
		t.Errorf("application scopes = %v, want %v", got, supportedScopes)
	}
}

// TestRecreatedRealmIsNotServedStale: once a realm is deleted and another
// org makes a realm of the same name, no endpoint answers from the old
// realm's cached provider — not its keys, not its clients, not its tokens —
// even within ProviderTTL; and a deleted realm is 404 at once.
func TestRecreatedRealmIsNotServedStale(t *testing.T) {
	testRecreatedRealmIsNotServedStale(t, newEnv(t))
}

func testRecreatedRealmIsNotServedStale(t *testing.T, env *testEnv) {
	orgA, orgB := env.newOrg("a"), env.newOrg("b")
	kids := func(realmName string) []string {
		t.Helper()
		r := env.get("/realms/" + realmName + pathCerts)
		if r.Status != http.StatusOK {
			t.Fatalf("jwks: %d %s", r.Status, r.RawBody)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(r.RawBody), &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	kidOf := func(token string) string {
		tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Headers[0].KeyID
	}
	// Each first call after the re-creation is made by a different
	// endpoint, so each one meets the stale cache entry. (Not subtests:
	// the env helpers fail the test they were made with.)
	for _, first := range []string{"token", "jwks", "discovery", "introspect", "revoke"} {
		func() {
			name := "shared-" + first
			old := env.newRealm(orgA.ID, name, true)
			oldSvc, oldSecret := env.newClient(old.ID, "svc", nil)
			oldTok := env.mustToken(name, oldSvc.ClientID, oldSecret, nil) // cached now
			if !slices.Contains(kids(name), kidOf(oldTok)) {
				t.Fatal(first + ": old key not published")
			}
			if err := env.store.DeleteRealm(env.ctx, old.ID); err != nil {
				t.Fatal(err)
			}
			fresh := env.newRealm(orgB.ID, name, true)
			svc, secret := env.newClient(fresh.ID, "svc", nil)
			checker, checkerSecret := env.newClient(fresh.ID, "checker", nil)

			switch first {
			case "token":
				tok := env.mustToken(name, svc.ClientID, secret, nil)
				if _, claims := verifyWithJWKS(t, env, name, tok); claims["client_id"] != "svc" {
					t.Errorf(first+": claims = %v", claims)
				}
			case "jwks":
				if got := kids(name); slices.Contains(got, kidOf(oldTok)) || len(got) != 1 {
					t.Errorf(first+": JWKS of the new realm = %v, still has the old key %s", got, kidOf(oldTok))
				}
			case "discovery":
				if r := env.get("/realms/" + name + pathDiscovery); r.Status != http.StatusOK || r.Body["issuer"] != fresh.issuer {
					t.Errorf(first+": discovery: %d %s", r.Status, r.RawBody)
				}
				if slices.Contains(kids(name), kidOf(oldTok)) {
					t.Error(first + ": the old key is still published")
				}
			case "introspect":
				if r := env.introspect(name, oldTok, checker.ClientID, checkerSecret); r.Status != http.StatusOK || r.Body["active"] != false {
					t.Errorf(first+": the old realm's token introspects %d %s at the new realm", r.Status, r.RawBody)
				}
			case "revoke":
				tok := env.mustToken(name, svc.ClientID, secret, nil)
				r := env.post("/realms/"+name+pathRevoke, url.Values{"token": {tok}}, checker.ClientID, checkerSecret)
				if r.Status != http.StatusOK {
					t.Fatalf(first+": revoke: %d %s", r.Status, r.RawBody)
				}
				if r := env.introspect(name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
					t.Errorf(first+": revoked token: %s", r.RawBody)
				}
			}
			// Whatever came first, the old realm is gone everywhere.
			if slices.Contains(kids(name), kidOf(oldTok)) {
				t.Error(first + ": the old key is published")
			}
			if r := env.introspect(name, oldTok, checker.ClientID, checkerSecret); r.Body["active"] != false {
				t.Errorf(first+": old token at the new realm: %s", r.RawBody)
			}
			wantOAuthError(t, env.grant(name, oldSvc.ClientID, oldSecret, nil), http.StatusUnauthorized, "invalid_client")
			env.mustToken(name, svc.ClientID, secret, nil)
		}()
	}

	// Deleted and not re-created: 404 at once, wherever asked first.
	for _, path := range []string{pathToken, pathCerts, pathDiscovery, pathIntrospect, pathRevoke} {
		gone := env.newRealm(orgA.ID, "gone", true)
		c, secret := env.newClient(gone.ID, "svc", nil)
		env.mustToken("gone", c.ClientID, secret, nil)
		if err := env.store.DeleteRealm(env.ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		var r *tokenResponse
		if path == pathCerts || path == pathDiscovery {
			r = env.get("/realms/gone" + path)
		} else {
			r = env.post("/realms/gone"+path, url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}, c.ClientID, secret)
		}
		if r.Status != http.StatusNotFound {
			t.Errorf("%s of a deleted realm: %d %s", path, r.Status, r.RawBody)
		}
	}
}
