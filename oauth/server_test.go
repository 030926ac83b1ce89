package oauth_test

import (
	"context"
	"encoding/json"
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
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

func TestClientCredentialsTokenClaims(t *testing.T) {
	testClientCredentialsTokenClaims(t, oauthtest.New(t))
}

func testClientCredentialsTokenClaims(t *testing.T, env *oauthtest.Env) {
	org := env.NewOrg("acme")
	rf := env.NewRealm(org.ID, "acme-prod", true)
	env.NewAttribute(rf.ID, "departments", attributes.String, true)
	env.NewAttribute(rf.ID, "admin", attributes.Boolean, false)
	editors := env.NewGroup(rf.ID, "Editors", map[string]any{"departments": []any{"news", "sport"}, "admin": false})
	admins := env.NewGroup(rf.ID, "Admins", map[string]any{"departments": []any{"finance"}, "admin": true})
	groups := []string{editors.ID, admins.ID}
	sort.Strings(groups)
	c, secret := env.NewClient(rf.ID, "reporter", func(c *realm.Client) {
		c.Groups = groups
		c.PrimaryGroup = admins.ID
		c.Audience = []string{"assets", "billing"}
	})

	// A real client library, secret in the Authorization header.
	cc := clientcredentials.Config{
		ClientID: c.ClientID, ClientSecret: secret,
		TokenURL:  rf.Issuer + oauth.PathToken,
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
	h, claims := env.VerifyWithJWKS(t, rf.Name, tok.AccessToken)
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", typ)
	}
	if h.Algorithm != "ES256" || h.KeyID == "" {
		t.Errorf("alg %q kid %q", h.Algorithm, h.KeyID)
	}
	if claims["iss"] != rf.Issuer || claims["sub"] != "reporter" || claims["client_id"] != "reporter" {
		t.Errorf("iss/sub/client_id: %v %v %v", claims["iss"], claims["sub"], claims["client_id"])
	}
	if claims["kind"] != "service_account" {
		t.Errorf("kind = %v", claims["kind"])
	}
	if aud := oauthtest.AnyStrings(claims["aud"]); !slices.Equal(aud, []string{"assets", "billing"}) {
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
	gotGroups := oauthtest.AnyStrings(claims["groups"])
	sort.Strings(gotGroups)
	if !slices.Equal(gotGroups, []string{"Admins", "Editors"}) {
		t.Errorf("groups = %v", gotGroups)
	}
	attrs, _ := claims["attributes"].(map[string]any)
	if deps := oauthtest.AnyStrings(attrs["departments"]); !slices.Equal(deps, []string{"finance", "news", "sport"}) {
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
	r := env.Post("/realms/"+rf.Name+oauth.PathToken, url.Values{
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
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "plain", true)
	c, secret := env.NewClient(rf.ID, "bare", nil)
	_, claims := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
	if g, ok := claims["groups"].([]any); !ok || len(g) != 0 {
		t.Errorf("groups = %#v, want []", claims["groups"])
	}
	if a, ok := claims["attributes"].(map[string]any); !ok || len(a) != 0 {
		t.Errorf("attributes = %#v, want {}", claims["attributes"])
	}
	// RFC 9068 requires aud: without a configured or requested audience it
	// is the realm's issuer.
	if aud := oauthtest.AnyStrings(claims["aud"]); !slices.Equal(aud, []string{rf.Issuer}) {
		t.Errorf("aud = %#v, want [issuer] for a client without audience", claims["aud"])
	}
}

func TestWrongSecretIsInvalidClient(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "r1", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	for _, r := range []*oauthtest.Response{env.Grant(rf.Name, c.ClientID, secret+"x", nil), env.Grant(rf.Name, "nobody", secret, nil)} {
		oauthtest.WantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		// RFC 6749 §5.2: a failed Basic authentication is challenged.
		if got, want := r.Header.Get("WWW-Authenticate"), `Basic realm="r1"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	}
	r := env.Post("/realms/"+rf.Name+oauth.PathToken, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {"nope"},
	}, "", "")
	oauthtest.WantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if strings.Contains(r.RawBody, secret) || strings.Contains(env.Logs.String(), secret) {
		t.Error("error response or log shows the secret")
	}
}

func TestRotatedSecretGrace(t *testing.T) { testRotatedSecretGrace(t, oauthtest.New(t)) }

func testRotatedSecretGrace(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "rot", true)
	oldSecret, oldHash := realm.NewSecret(nil)
	until := env.Now().Add(time.Hour)
	c, newSecret := env.NewClient(rf.ID, "svc", func(c *realm.Client) {
		c.PreviousSecretHash = oldHash
		c.PreviousSecretExpiresAt = &until
	})
	env.MustToken(rf.Name, c.ClientID, oldSecret, nil)
	env.MustToken(rf.Name, c.ClientID, newSecret, nil)

	env.Advance(2 * time.Hour)
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, oldSecret, nil), http.StatusUnauthorized, "invalid_client")
	env.MustToken(rf.Name, c.ClientID, newSecret, nil)
}

func TestDisabledClient(t *testing.T) { testDisabledClient(t, oauthtest.New(t)) }

func testDisabledClient(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "dis", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)
	if r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Fatalf("fresh token inactive: %s", r.RawBody)
	}

	c.Active = false
	if err := env.Store.UpdateClient(env.Ctx, c); err != nil {
		t.Fatal(err)
	}
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, nil), http.StatusUnauthorized, "invalid_client")
	r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status != http.StatusOK || r.RawBody != `{"active":false}`+"\n" {
		t.Fatalf("disabled client's token: %d %q, want {\"active\":false}", r.Status, r.RawBody)
	}
	// A disabled client may not introspect either.
	oauthtest.WantOAuthError(t, env.Introspect(rf.Name, tok, c.ClientID, secret), http.StatusUnauthorized, "invalid_client")
}

func TestIntrospection(t *testing.T) { testIntrospection(t, oauthtest.New(t)) }

func testIntrospection(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "intro", true)
	c, secret := env.NewClient(rf.ID, "svc", func(c *realm.Client) { c.Audience = []string{"assets"} })
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)
	pub, _ := env.NewClient(rf.ID, "spa", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
	})
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)

	r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.RawBody)
	}
	b := r.Body
	if b["active"] != true || b["client_id"] != "svc" || b["sub"] != "svc" || b["token_type"] != "Bearer" ||
		b["iss"] != rf.Issuer || b["kind"] != "service_account" || b["scope"] != "" {
		t.Errorf("introspection = %s", r.RawBody)
	}
	if aud := oauthtest.AnyStrings(b["aud"]); !slices.Equal(aud, []string{"assets"}) {
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
	r = env.Post("/realms/"+rf.Name+oauth.PathIntrospect, url.Values{
		"token": {tok}, "client_id": {checker.ClientID}, "client_secret": {checkerSecret},
	}, "", "")
	if r.Body["active"] != true {
		t.Errorf("post auth: %s", r.RawBody)
	}
	// token_type_hint is only a hint.
	r = env.Post("/realms/"+rf.Name+oauth.PathIntrospect, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}, checker.ClientID, checkerSecret)
	if r.Body["active"] != true {
		t.Errorf("hint refresh_token: %s", r.RawBody)
	}
	// Callers must be confidential clients that authenticate.
	oauthtest.WantOAuthError(t, env.Introspect(rf.Name, tok, checker.ClientID, "wrong"), http.StatusUnauthorized, "invalid_client")
	oauthtest.WantOAuthError(t, env.Introspect(rf.Name, tok, "", ""), http.StatusBadRequest, "invalid_request")
	oauthtest.WantOAuthError(t, env.Introspect(rf.Name, tok, pub.ClientID, ""), http.StatusUnauthorized, "invalid_client")
	req, _ := http.NewRequest(http.MethodPost, rf.Issuer+oauth.PathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	// A bearer token is not a client credential: the caller is anonymous.
	oauthtest.WantOAuthError(t, env.Do(req), http.StatusBadRequest, "invalid_request")

	// Garbage, tampered and expired tokens are inactive.
	for name, bad := range map[string]string{
		"garbage":  "not-a-token",
		"tampered": tok[:len(tok)-4] + "AAAA",
	} {
		if r := env.Introspect(rf.Name, bad, checker.ClientID, checkerSecret); r.Body["active"] != false {
			t.Errorf("%s token: %s", name, r.RawBody)
		}
	}
	env.Advance(6 * time.Minute)
	if r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
		t.Errorf("expired token: %s", r.RawBody)
	}
}

func TestRevocation(t *testing.T) { testRevocation(t, oauthtest.New(t)) }

func testRevocation(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "rev", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)
	other := env.MustToken(rf.Name, c.ClientID, secret, nil)

	revoke := func(token, id, sec string) *oauthtest.Response {
		return env.Post("/realms/"+rf.Name+oauth.PathRevoke, url.Values{"token": {token}, "token_type_hint": {"access_token"}}, id, sec)
	}
	if r := revoke(tok, c.ClientID, "wrong"); r.Status != http.StatusUnauthorized {
		t.Fatalf("unauthenticated revoke: %d %s", r.Status, r.RawBody)
	}
	if r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Fatalf("token revoked by an unauthenticated call: %s", r.RawBody)
	}
	if r := revoke(tok, c.ClientID, secret); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.RawBody)
	}
	if r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
		t.Errorf("revoked token introspects %s", r.RawBody)
	}
	if r := env.Introspect(rf.Name, other, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Errorf("revoking one token affected another: %s", r.RawBody)
	}
	// Another client's live token: 200 (RFC 7009 §2.1 does not let the
	// answer tell whether the token exists), and it stays valid.
	if r := revoke(other, checker.ClientID, checkerSecret); r.Status != http.StatusOK {
		t.Errorf("revoking another client's token: %d %s, want 200", r.Status, r.RawBody)
	}
	if r := env.Introspect(rf.Name, other, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Errorf("another client revoked a token not issued to it: %s", r.RawBody)
	}
	// Unknown tokens: 200 per RFC 7009 §2.2; revoking twice is fine.
	for _, bad := range []string{"garbage", tok} {
		if r := revoke(bad, checker.ClientID, checkerSecret); r.Status != http.StatusOK {
			t.Errorf("revoke %q: %d %s", bad[:7], r.Status, r.RawBody)
		}
	}
	revoked, err := env.Store.IsTokenRevoked(env.Ctx, rf.ID, jtiOf(t, tok))
	if err != nil || !revoked {
		t.Errorf("store says revoked=%v err=%v", revoked, err)
	}
}

func TestRealmIsolation(t *testing.T) { testRealmIsolation(t, oauthtest.New(t)) }

func testRealmIsolation(t *testing.T, env *oauthtest.Env) {
	org := env.NewOrg("o")
	a := env.NewRealm(org.ID, "realm-a", true)
	b := env.NewRealm(org.ID, "realm-b", true)
	ca, secretA := env.NewClient(a.ID, "shared-name", nil)
	cb, secretB := env.NewClient(b.ID, "checker", nil)
	_, _ = env.NewClient(b.ID, "shared-name", nil) // same client_id, other secret

	oauthtest.WantOAuthError(t, env.Grant(b.Name, ca.ClientID, secretA, nil), http.StatusUnauthorized, "invalid_client")
	tokA := env.MustToken(a.Name, ca.ClientID, secretA, nil)
	if r := env.Introspect(b.Name, tokA, cb.ClientID, secretB); r.Body["active"] != false {
		t.Errorf("realm A's token is active at realm B: %s", r.RawBody)
	}
	// Realm A's client cannot introspect at B either.
	oauthtest.WantOAuthError(t, env.Introspect(b.Name, tokA, ca.ClientID, secretA), http.StatusUnauthorized, "invalid_client")
}

func TestAudienceSelection(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "aud", true)
	c, secret := env.NewClient(rf.ID, "svc", func(c *realm.Client) { c.Audience = []string{"assets", "billing", "reports"} })

	_, claims := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, url.Values{"audience": {"assets"}}))
	if aud := oauthtest.AnyStrings(claims["aud"]); !slices.Equal(aud, []string{"assets"}) {
		t.Errorf("aud = %v, want [assets]", aud)
	}
	_, claims = env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, url.Values{"audience": {"reports", "assets"}}))
	if aud := oauthtest.AnyStrings(claims["aud"]); !slices.Equal(aud, []string{"reports", "assets"}) {
		t.Errorf("aud = %v, want [reports assets]", aud)
	}
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, url.Values{"audience": {"assets payroll"}}), http.StatusBadRequest, "invalid_target")
}

func TestGrantRules(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "rules", true)
	svc, secret := env.NewClient(rf.ID, "svc", nil)
	pub, _ := env.NewClient(rf.ID, "spa", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
	})
	app, appSecret := env.NewClient(rf.ID, "webapp", func(c *realm.Client) { c.Kind = realm.KindApplication })

	r := env.Post("/realms/"+rf.Name+oauth.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {pub.ClientID}}, "", "")
	// RFC 6749 §4.4: client_credentials is for confidential clients only.
	// fosite refuses a public client with invalid_grant and a confidential
	// client without the grant with unauthorized_client; both are 400.
	oauthtest.WantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, app.ClientID, appSecret, nil), http.StatusBadRequest, "unauthorized_client")
	r = env.Post("/realms/"+rf.Name+oauth.PathToken, url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, svc.ClientID, secret)
	oauthtest.WantOAuthError(t, r, http.StatusBadRequest, "unsupported_grant_type")
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, svc.ClientID, secret, url.Values{"scope": {"admin:everything"}}), http.StatusBadRequest, "invalid_scope")
	if r := env.Get("/realms/" + rf.Name + oauth.PathToken); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d", r.Status)
	}
}

func TestDiscovery(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "disc", true)
	r := env.Get("/realms/" + rf.Name + oauth.PathDiscovery)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.RawBody)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("discovery lacks CORS *")
	}
	b := r.Body
	want := map[string]string{
		"issuer":                 rf.Issuer,
		"jwks_uri":               rf.Issuer + "/protocol/openid-connect/certs",
		"token_endpoint":         rf.Issuer + "/protocol/openid-connect/token",
		"introspection_endpoint": rf.Issuer + "/protocol/openid-connect/token/introspect",
		"revocation_endpoint":    rf.Issuer + "/protocol/openid-connect/revoke",
		"authorization_endpoint": rf.Issuer + "/protocol/openid-connect/auth",
		"userinfo_endpoint":      rf.Issuer + "/protocol/openid-connect/userinfo",
		"end_session_endpoint":   rf.Issuer + "/protocol/openid-connect/logout",
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
	// CONTRACT §4 says "at least": later grants (token exchange) and modes
	// may join these lists, so each is a superset check, not an equality.
	for k, v := range lists {
		got := oauthtest.AnyStrings(b[k])
		for _, w := range v {
			if !slices.Contains(got, w) {
				t.Errorf("%s = %v, lacks %q", k, got, w)
			}
		}
	}
	// What must never be offered (RFC 9700): PKCE plain, unsigned ID tokens.
	for k, never := range map[string]string{"code_challenge_methods_supported": "plain", "id_token_signing_alg_values_supported": "none"} {
		if slices.Contains(oauthtest.AnyStrings(b[k]), never) {
			t.Errorf("%s offers %q", k, never)
		}
	}
	if b["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	if !slices.Contains(oauthtest.AnyStrings(b["scopes_supported"]), "openid") {
		t.Errorf("scopes_supported = %v", b["scopes_supported"])
	}

	r = env.Get("/realms/" + rf.Name + oauth.PathCerts)
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

	for _, path := range []string{"/realms/nope" + oauth.PathDiscovery, "/realms/nope" + oauth.PathCerts, "/realms/UPPER" + oauth.PathDiscovery} {
		r := env.Get(path)
		oauthtest.WantOAuthError(t, r, http.StatusNotFound, "not_found")
	}
	oauthtest.WantOAuthError(t, env.Grant("nope", "a", "b", nil), http.StatusNotFound, "not_found")
}

func TestRealmWithoutKeyGetsOne(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "keyless", false)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	h, _ := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
	keys, err := env.Store.ListSigningKeys(env.Ctx, rf.ID)
	if err != nil || len(keys) != 1 || keys[0].ID != h.KeyID || keys[0].Algorithm != oauth.AlgES256 || !keys[0].Active {
		t.Fatalf("keys = %+v, err %v", keys, err)
	}
}

func TestConcurrentFirstRequestsBuildOnce(t *testing.T) {
	testConcurrentFirstRequestsBuildOnce(t, oauthtest.New(t))
}

func testConcurrentFirstRequestsBuildOnce(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "busy", false)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := env.Grant(rf.Name, c.ClientID, secret, nil); r.Status != http.StatusOK {
				errs <- r.RawBody
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	keys, err := env.Store.ListSigningKeys(env.Ctx, rf.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%d keys after concurrent first use (err %v), want 1", len(keys), err)
	}
}

func TestRotateKeyKeepsOldKeyInJWKS(t *testing.T) {
	testRotateKeyKeepsOldKeyInJWKS(t, oauthtest.New(t))
}

func testRotateKeyKeepsOldKeyInJWKS(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "rotk", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)
	before := env.MustToken(rf.Name, c.ClientID, secret, nil)
	oldHeader, _ := env.VerifyWithJWKS(t, rf.Name, before)

	env.Advance(time.Minute) // the first key is well established
	if _, err := env.Service.RotateSigningKey(env.System(), rf.Name, oauth.AlgES256); err != nil {
		t.Fatal(err)
	}
	env.OAuth.Forget(rf.ID)
	evs, err := env.Store.ListEvents(env.Ctx, rf.OrgID, rf.ID, realm.EventFilter{Type: "realm.key_rotated"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].TargetID != rf.ID || evs.Items[0].Details["alg"] != oauth.AlgES256 ||
		evs.Items[0].Details["kid"] == nil || evs.Items[0].Details["kid"] == oldHeader.KeyID {
		t.Errorf("key rotation events = %+v, %v; want one naming the new key", evs.Items, err)
	}
	// The new key is published at once but signs only once every node's
	// cached JWKS can have it (ProviderTTL, 30 s by default).
	r := env.Get("/realms/" + rf.Name + oauth.PathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 2 {
		t.Errorf("jwks has %d keys right after rotation, want 2", len(keys))
	}
	during := env.MustToken(rf.Name, c.ClientID, secret, nil)
	if h, _ := env.VerifyWithJWKS(t, rf.Name, during); h.KeyID != oldHeader.KeyID {
		t.Error("the new key signs before other nodes can have published it")
	}
	env.Advance(31 * time.Second)
	after := env.MustToken(rf.Name, c.ClientID, secret, nil)
	newHeader, _ := env.VerifyWithJWKS(t, rf.Name, after)
	if newHeader.KeyID == oldHeader.KeyID {
		t.Fatal("new tokens are still signed with the retired key")
	}
	// The old token still verifies against the JWKS and introspects active.
	env.VerifyWithJWKS(t, rf.Name, before)
	if r := env.Introspect(rf.Name, before, checker.ClientID, checkerSecret); r.Body["active"] != true {
		t.Errorf("token of the retired key: %s", r.RawBody)
	}
	r = env.Get("/realms/" + rf.Name + oauth.PathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 2 {
		t.Errorf("jwks has %d keys, want active + retired", len(keys))
	}
	// Once the retired key has outlived its tokens, it leaves the JWKS.
	env.Advance(25 * time.Hour)
	r = env.Get("/realms/" + rf.Name + oauth.PathCerts)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 1 {
		t.Errorf("jwks has %d keys a day after rotation, want 1", len(keys))
	}
	if _, err := env.Service.RotateSigningKey(env.System(), rf.Name, "HS256"); err == nil {
		t.Error("RotateSigningKey accepted HS256")
	}
}

func TestEnsureRS256Key(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "rsa", true)
	p, err := oauth.Provider(env.Ctx, env.OAuth, rf.Name)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := oauth.EnsureKey(env.Ctx, p, oauth.AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	again, err := oauth.EnsureKey(env.Ctx, p, oauth.AlgRS256)
	if err != nil || again != kid {
		t.Fatalf("second ensureKey made another key: %v %v", again, err)
	}
	r := env.Get("/realms/" + rf.Name + oauth.PathCerts)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.RawBody), &set); err != nil {
		t.Fatal(err)
	}
	if keys := set.Key(kid); len(keys) != 1 || keys[0].Algorithm != oauth.AlgRS256 {
		t.Fatalf("RS256 key not in JWKS: %s", r.RawBody)
	}
}

// TestClaimsFollowEveryChange: without ClaimsTTL, the token after any change
// of a group, a membership or an attribute definition carries the change,
// although the definitions, and the client with its groups (kept.go), are
// kept in memory between grants: each change comes after a grant that
// used the kept client.
func TestClaimsFollowEveryChange(t *testing.T) { testClaimsFollowEveryChange(t, oauthtest.New(t)) }

func testClaimsFollowEveryChange(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "exact", true)
	env.NewAttribute(rf.ID, "level", attributes.Integer, false)
	g1 := env.NewGroup(rf.ID, "One", map[string]any{"level": int64(1)})
	g2 := env.NewGroup(rf.ID, "Two", map[string]any{"level": int64(2)})
	c, secret := env.NewClient(rf.ID, "svc", func(c *realm.Client) { c.Groups, c.PrimaryGroup = []string{g1.ID}, g1.ID })
	claims := func() (any, []string) {
		t.Helper()
		_, cl := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
		return cl["attributes"].(map[string]any)["level"], oauthtest.AnyStrings(cl["groups"])
	}
	check := func(what string, wantLevel any, wantGroups ...string) {
		t.Helper()
		level, groups := claims()
		if fmt.Sprint(level) != fmt.Sprint(wantLevel) || !slices.Equal(groups, wantGroups) {
			t.Errorf("%s: level %v groups %v; want %v %v", what, level, groups, wantLevel, wantGroups)
		}
		// Grant until the client read is kept, so that the next change
		// meets a kept read (the realm's epoch is polled beside the
		// requests).
		untilKept(t, what, func() uint64 { return oauth.KeptClientsUsed(env.OAuth) }, func() {
			if level, groups := claims(); fmt.Sprint(level) != fmt.Sprint(wantLevel) || !slices.Equal(groups, wantGroups) {
				t.Fatalf("%s, again: level %v groups %v; want %v %v", what, level, groups, wantLevel, wantGroups)
			}
		})
	}
	check("first token", float64(1), "One")
	check("second token (definitions from memory)", float64(1), "One")

	g1.Name, g1.Attributes = "Uno", map[string]any{"level": int64(5)}
	if err := env.Store.UpdateGroup(env.Ctx, g1); err != nil {
		t.Fatal(err)
	}
	check("after a group edit", float64(5), "Uno")

	c.Groups, c.PrimaryGroup = []string{g2.ID}, g2.ID
	if err := env.Store.UpdateClient(env.Ctx, c); err != nil {
		t.Fatal(err)
	}
	check("after moving groups", float64(2), "Two")

	// A definition change: level becomes multi-valued, so the stored
	// single value no longer matches and is dropped; and back.
	a, err := env.Store.GetAttribute(env.Ctx, rf.ID, "level")
	if err != nil {
		t.Fatal(err)
	}
	a.Multi = true
	if err := env.Store.UpdateAttribute(env.Ctx, a); err != nil {
		t.Fatal(err)
	}
	check("after a definition update", nil, "Two")
	a.Multi = false
	if err := env.Store.UpdateAttribute(env.Ctx, a); err != nil {
		t.Fatal(err)
	}
	check("after the update is undone", float64(2), "Two")

	// A deleted definition drops the values it typed.
	if err := env.Store.DeleteAttribute(env.Ctx, rf.ID, "level"); err != nil {
		t.Fatal(err)
	}
	check("after a definition delete", nil, "Two")
	env.NewAttribute(rf.ID, "level", attributes.Integer, false)
	check("after the definition is back", float64(2), "Two")

	// The realm's IP allow list, and a group's, apply to the next grant.
	if err := env.Store.SetRealmIPAllowList(env.Ctx, rf.ID, []string{"203.0.113.0/24"}, env.Now()); err != nil {
		t.Fatal(err)
	}
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, nil), http.StatusForbidden, "access_denied")
	if err := env.Store.SetRealmIPAllowList(env.Ctx, rf.ID, []string{}, env.Now()); err != nil {
		t.Fatal(err)
	}
	check("after the realm's allow list is lifted", float64(2), "Two")
	g2.IPAllowList = []string{"203.0.113.0/24"}
	if err := env.Store.UpdateGroup(env.Ctx, g2); err != nil {
		t.Fatal(err)
	}
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, nil), http.StatusForbidden, "access_denied")

	// A deleted group leaves its members.
	if err := env.Store.DeleteGroup(env.Ctx, rf.ID, g2.ID); err != nil {
		t.Fatal(err)
	}
	_, cl := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
	if groups := oauthtest.AnyStrings(cl["groups"]); len(groups) != 0 {
		t.Errorf("after the group's deletion: groups %v, want none", groups)
	}
}

func TestClaimsCache(t *testing.T) {
	env := oauthtest.New(t, func(c oauthtest.Configs) { c.OAuth.ClaimsTTL = time.Minute })
	rf := env.NewRealm(env.NewOrg("o").ID, "cached", true)
	env.NewAttribute(rf.ID, "level", attributes.Integer, false)
	g1 := env.NewGroup(rf.ID, "One", map[string]any{"level": int64(1)})
	g2 := env.NewGroup(rf.ID, "Two", map[string]any{"level": int64(2)})
	c, secret := env.NewClient(rf.ID, "svc", func(c *realm.Client) { c.Groups, c.PrimaryGroup = []string{g1.ID}, g1.ID })
	level := func() any {
		_, claims := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
		return claims["attributes"].(map[string]any)["level"]
	}
	if l := level(); l != float64(1) {
		t.Fatalf("level = %v", l)
	}
	// An attribute value edit shows after ClaimsTTL...
	g1.Attributes = map[string]any{"level": int64(5)}
	if err := env.Store.UpdateGroup(env.Ctx, g1); err != nil {
		t.Fatal(err)
	}
	if l := level(); l != float64(1) {
		t.Errorf("level = %v inside the TTL, want the cached 1", l)
	}
	env.Advance(2 * time.Minute)
	if l := level(); l != float64(5) {
		t.Errorf("level = %v after the TTL, want 5", l)
	}
	// ...but a membership change applies at once.
	c.Groups, c.PrimaryGroup = []string{g2.ID}, g2.ID
	if err := env.Store.UpdateClient(env.Ctx, c); err != nil {
		t.Fatal(err)
	}
	if l := level(); l != float64(2) {
		t.Errorf("level = %v right after moving groups, want 2", l)
	}
}

func TestStoreDownAnswers503AndLogsNoSecrets(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "down", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	checker, checkerSecret := env.NewClient(rf.ID, "checker", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil) // realm now cached
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, nil), http.StatusServiceUnavailable, "temporarily_unavailable")
	r := env.Introspect(rf.Name, tok, checker.ClientID, checkerSecret)
	if r.Status < 500 || r.Body["active"] == true {
		t.Errorf("introspection with the store down: %d %s", r.Status, r.RawBody)
	}
	if _, _, err := env.OAuth.VerifyAccessToken(env.Ctx, rf.Name, tok); err == nil {
		t.Error("VerifyAccessToken succeeded with the store down")
	}
	logs := env.Logs.String()
	if !strings.Contains(logs, "level=ERROR") {
		t.Errorf("store failure not logged: %q", logs)
	}
	// The grant's log line has the database's own error, not only
	// fosite's code.
	grantLogged := false
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `msg="oauth: token request failed"`) {
			grantLogged = true
			if !strings.Contains(line, "database is closed") {
				t.Errorf("the grant's log line lacks the store's error: %q", line)
			}
		}
	}
	if !grantLogged {
		t.Errorf("the failed grant is not logged: %q", logs)
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
	scenarios := map[string]func(*testing.T, *oauthtest.Env){
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
			run(t, oauthtest.NewOn(t, oauthtest.OpenPostgres))
		})
	}
}

// TestConsoleTokensStayInTheirOrg: every org's admin clients are clients of
// the one console realm, yet one org's client may not introspect or revoke
// another org's admin tokens; within an org, only owner and admin clients
// may revoke tokens other than their own.
func TestConsoleTokensStayInTheirOrg(t *testing.T) {
	testConsoleTokensStayInTheirOrg(t, oauthtest.New(t))
}

func testConsoleTokensStayInTheirOrg(t *testing.T, env *oauthtest.Env) {
	acme, evil := env.NewOrg("acme"), env.NewOrg("evil")
	console := env.NewRealm("", realm.ConsoleRealm, true)
	admin := func(clientID string, org *realm.Org, role realm.Role) (string, string) {
		c, secret := env.NewClient(console.ID, clientID, func(c *realm.Client) { c.OrgID, c.OrgRole = org.ID, role })
		return c.ClientID, secret
	}
	ciID, ciSecret := admin("acme-ci", acme, realm.RoleAdmin)
	ownerID, ownerSecret := admin("acme-owner", acme, realm.RoleOwner)
	viewerID, viewerSecret := admin("acme-viewer", acme, realm.RoleViewer)
	evilID, evilSecret := admin("evil-ci", evil, realm.RoleOwner)
	revoke := func(token, id, secret string) {
		t.Helper()
		r := env.Post("/realms/"+realm.ConsoleRealm+oauth.PathRevoke, url.Values{"token": {token}}, id, secret)
		if r.Status != http.StatusOK {
			t.Fatalf("revoke by %s: %d %s", id, r.Status, r.RawBody)
		}
	}
	live := func(token string) bool {
		t.Helper()
		_, _, err := env.OAuth.VerifyAccessToken(env.Ctx, realm.ConsoleRealm, token)
		return err == nil
	}

	tok := env.MustToken(realm.ConsoleRealm, ciID, ciSecret, nil)
	if r := env.Introspect(realm.ConsoleRealm, tok, evilID, evilSecret); r.Status != http.StatusOK || r.RawBody != `{"active":false}`+"\n" {
		t.Errorf("another org's client introspected an admin token: %d %s", r.Status, r.RawBody)
	}
	revoke(tok, evilID, evilSecret)
	if !live(tok) {
		t.Fatal("another org's client revoked an admin token")
	}
	for _, caller := range [][2]string{{ownerID, ownerSecret}, {viewerID, viewerSecret}, {ciID, ciSecret}} {
		if r := env.Introspect(realm.ConsoleRealm, tok, caller[0], caller[1]); r.Body["active"] != true || r.Body["client_id"] != ciID {
			t.Errorf("%s cannot introspect its own org's token: %s", caller[0], r.RawBody)
		}
	}
	// A viewer may not revoke another client's token, even in its org...
	revoke(tok, viewerID, viewerSecret)
	if !live(tok) {
		t.Fatal("a viewer revoked another client's token")
	}
	// ...nor may the org's owner (CONTRACT §4: a client revokes the tokens
	// issued to it; another client's token answers 200 and stays valid).
	// Each revokes its own.
	revoke(tok, ownerID, ownerSecret)
	if !live(tok) {
		t.Error("the org owner revoked another client's token")
	}
	viewerTok := env.MustToken(realm.ConsoleRealm, viewerID, viewerSecret, nil)
	revoke(viewerTok, viewerID, viewerSecret)
	if live(viewerTok) {
		t.Error("a viewer could not revoke its own token")
	}
	revoke(tok, ciID, ciSecret)
	if live(tok) {
		t.Error("a client could not revoke its own token")
	}
	// The other org's client still sees and revokes its own tokens.
	evilTok := env.MustToken(realm.ConsoleRealm, evilID, evilSecret, nil)
	if r := env.Introspect(realm.ConsoleRealm, evilTok, evilID, evilSecret); r.Body["active"] != true {
		t.Errorf("own token: %s", r.RawBody)
	}
	if r := env.Introspect(realm.ConsoleRealm, evilTok, ownerID, ownerSecret); r.Body["active"] != false {
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
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "big", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	tok := env.MustToken(rf.Name, c.ClientID, secret, nil)
	pad := strings.Repeat("a", oauth.MaxFormBytes)
	for _, path := range []string{oauth.PathToken, oauth.PathIntrospect, oauth.PathRevoke} {
		form := url.Values{"grant_type": {"client_credentials"}, "token": {tok}, "pad": {pad}}
		r := env.Post("/realms/"+rf.Name+path, form, c.ClientID, secret)
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
		req, _ := http.NewRequest(http.MethodPost, rf.Issuer+path, strings.NewReader(body.String()))
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.SetBasicAuth(c.ClientID, secret)
		if r := env.Do(req); r.Status != http.StatusRequestEntityTooLarge || r.Body["error_description"] != "request body too large" {
			t.Errorf("%s multipart: %d %s", path, r.Status, r.RawBody)
		}

		form["pad"] = []string{pad[:oauth.MaxFormBytes-4096]}
		if r := env.Post("/realms/"+rf.Name+path, form, c.ClientID, secret); r.Status != http.StatusOK {
			t.Errorf("%s under the limit: %d %s", path, r.Status, r.RawBody)
		}
	}
}

// TestServiceAccountsGetNoOIDCScopes: OpenID Connect scopes describe a
// signed-in person; a service account asking for any of them is refused
// with invalid_scope, and its tokens carry an empty scope. Application
// clients keep them.
func TestServiceAccountsGetNoOIDCScopes(t *testing.T) {
	env := oauthtest.New(t)
	rf := env.NewRealm(env.NewOrg("o").ID, "scopes", true)
	c, secret := env.NewClient(rf.ID, "svc", nil)
	for _, scope := range []string{"openid", "profile", "email", "offline_access", "openid offline_access"} {
		oauthtest.WantOAuthError(t, env.Grant(rf.Name, c.ClientID, secret, url.Values{"scope": {scope}}), http.StatusBadRequest, "invalid_scope")
	}
	_, claims := env.VerifyWithJWKS(t, rf.Name, env.MustToken(rf.Name, c.ClientID, secret, nil))
	if sc, ok := claims["scope"]; !ok || sc != "" {
		t.Errorf("scope claim = %v (present %v), want empty", sc, ok)
	}
	app := oauth.NewFositeClient(&realm.Client{Kind: realm.KindApplication})
	if got := app.GetScopes(); !slices.Equal(got, oauth.SupportedScopes) {
		t.Errorf("application scopes = %v, want %v", got, oauth.SupportedScopes)
	}
}

// TestRecreatedRealmIsNotServedStale: once a realm is deleted and another
// org makes a realm of the same name, no endpoint answers from the old
// realm's cached provider — not its keys, not its clients, not its tokens —
// even within ProviderTTL; and a deleted realm is 404 at once.
func TestRecreatedRealmIsNotServedStale(t *testing.T) {
	testRecreatedRealmIsNotServedStale(t, oauthtest.New(t))
}

func testRecreatedRealmIsNotServedStale(t *testing.T, env *oauthtest.Env) {
	orgA, orgB := env.NewOrg("a"), env.NewOrg("b")
	kids := func(realmName string) []string {
		t.Helper()
		set := env.JWKS(t, realmName)
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
			old := env.NewRealm(orgA.ID, name, true)
			oldSvc, oldSecret := env.NewClient(old.ID, "svc", nil)
			oldTok := env.MustToken(name, oldSvc.ClientID, oldSecret, nil) // cached now
			if !slices.Contains(kids(name), kidOf(oldTok)) {
				t.Fatal(first + ": old key not published")
			}
			if err := env.Store.DeleteRealm(env.Ctx, old.ID); err != nil {
				t.Fatal(err)
			}
			if first == "jwks" || first == "discovery" {
				// CONTRACT §8 gives an admin change 1 s on every node:
				// these two check the realm's name at most that long ago
				// (providers.recent); the others at once.
				env.Advance(time.Second)
			}
			fresh := env.NewRealm(orgB.ID, name, true)
			svc, secret := env.NewClient(fresh.ID, "svc", nil)
			checker, checkerSecret := env.NewClient(fresh.ID, "checker", nil)

			switch first {
			case "token":
				tok := env.MustToken(name, svc.ClientID, secret, nil)
				if _, claims := env.VerifyWithJWKS(t, name, tok); claims["client_id"] != "svc" {
					t.Errorf(first+": claims = %v", claims)
				}
			case "jwks":
				if got := kids(name); slices.Contains(got, kidOf(oldTok)) || len(got) != 1 {
					t.Errorf(first+": JWKS of the new realm = %v, still has the old key %s", got, kidOf(oldTok))
				}
			case "discovery":
				if r := env.Get("/realms/" + name + oauth.PathDiscovery); r.Status != http.StatusOK || r.Body["issuer"] != fresh.Issuer {
					t.Errorf(first+": discovery: %d %s", r.Status, r.RawBody)
				}
				if slices.Contains(kids(name), kidOf(oldTok)) {
					t.Error(first + ": the old key is still published")
				}
			case "introspect":
				if r := env.Introspect(name, oldTok, checker.ClientID, checkerSecret); r.Status != http.StatusOK || r.Body["active"] != false {
					t.Errorf(first+": the old realm's token introspects %d %s at the new realm", r.Status, r.RawBody)
				}
			case "revoke":
				tok := env.MustToken(name, svc.ClientID, secret, nil)
				r := env.Post("/realms/"+name+oauth.PathRevoke, url.Values{"token": {tok}}, svc.ClientID, secret)
				if r.Status != http.StatusOK {
					t.Fatalf(first+": revoke: %d %s", r.Status, r.RawBody)
				}
				if r := env.Introspect(name, tok, checker.ClientID, checkerSecret); r.Body["active"] != false {
					t.Errorf(first+": revoked token: %s", r.RawBody)
				}
			}
			// Whatever came first, the old realm is gone everywhere.
			if slices.Contains(kids(name), kidOf(oldTok)) {
				t.Error(first + ": the old key is published")
			}
			if r := env.Introspect(name, oldTok, checker.ClientID, checkerSecret); r.Body["active"] != false {
				t.Errorf(first+": old token at the new realm: %s", r.RawBody)
			}
			oauthtest.WantOAuthError(t, env.Grant(name, oldSvc.ClientID, oldSecret, nil), http.StatusUnauthorized, "invalid_client")
			env.MustToken(name, svc.ClientID, secret, nil)
		}()
	}

	// Deleted and not re-created: 404 at once (discovery and JWKS within
	// 1 s), wherever asked first.
	for _, path := range []string{oauth.PathToken, oauth.PathCerts, oauth.PathDiscovery, oauth.PathIntrospect, oauth.PathRevoke} {
		gone := env.NewRealm(orgA.ID, "gone", true)
		c, secret := env.NewClient(gone.ID, "svc", nil)
		env.MustToken("gone", c.ClientID, secret, nil)
		if err := env.Store.DeleteRealm(env.Ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if path == oauth.PathCerts || path == oauth.PathDiscovery {
			env.Advance(time.Second) // within 1 s, as above
		}
		var r *oauthtest.Response
		if path == oauth.PathCerts || path == oauth.PathDiscovery {
			r = env.Get("/realms/gone" + path)
		} else {
			r = env.Post("/realms/gone"+path, url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}, c.ClientID, secret)
		}
		if r.Status != http.StatusNotFound {
			t.Errorf("%s of a deleted realm: %d %s", path, r.Status, r.RawBody)
		}
	}
}
