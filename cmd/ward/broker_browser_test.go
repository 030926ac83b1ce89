package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/wardiam/ward/internal/testsaml"
)

// TestBrowserSignInThroughProvider: in Chromium, with the real ward binary,
// an application's popup (ward.js, web_message) signs in through realm
// vault's identity provider hq — another Ward realm, as OpenID Connect
// provider, set up through the admin API. ward.js's idpHint skips vault's
// login page; the person signs in at hq; the popup posts the code back to
// the application as after a password. The user appears in vault, created
// by the provider, in the group hq's group maps to.
func TestBrowserSignInThroughProvider(t *testing.T) {
	browser := startBrowser(t)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_IDP_ALLOW_PRIVATE_NETWORKS=1") // the IdPs run on this machine
	s, a := adminFor(t, w)
	const password = "correct horse battery"

	// hq: the company's realm, with Carol in Finance.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "hq", "display_name": "HQ"})
	hqFinance := a.must(201, "POST", "/admin/v1/realms/hq/groups", map[string]any{"name": "Finance"})["id"].(string)
	a.must(201, "POST", "/admin/v1/realms/hq/users", map[string]any{"email": "carol@hq.test", "first_name": "Carol", "last_name": "Danvers",
		"groups": []string{hqFinance}})
	setPasswordFromOutbox(t, w, password)
	broker := a.must(201, "POST", "/admin/v1/realms/hq/clients", map[string]any{"name": "vault-broker", "kind": "application",
		"redirect_uris": []string{s.URL + "/realms/vault/broker/hq/endpoint"}})

	// vault: the application's realm, trusting hq.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	finance := a.must(201, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": "finance", "idp_primary_priority": 10})["id"].(string)
	p := a.must(201, "POST", "/admin/v1/realms/vault/identity-providers", map[string]any{"alias": "hq", "kind": "oidc", "display_name": "HQ",
		"oidc":           map[string]any{"issuer": s.URL + "/realms/hq", "client_id": broker["client_id"], "client_secret": broker["client_secret"]},
		"group_claim":    "groups",
		"group_mappings": []map[string]any{{"external": "Finance", "group": finance}}})
	if p["enabled"] != true || p["redirect_uri"] != s.URL+"/realms/vault/broker/hq/endpoint" {
		t.Fatalf("provider: %v", p)
	}
	tab, popup := popupThroughProvider(t, browser, s, a, "hq")
	// The popup lands on hq's login page, not vault's.
	if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
		t.Fatalf("hq's login page in the popup: %v", err)
	}
	loc, err := chromedp.Run(popup, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, s.URL+"/realms/hq/protocol/openid-connect/auth?") {
		t.Fatalf("popup at %s (%v), want hq's authorization endpoint", loc, err)
	}
	signIn(t, popup, "carol@hq.test", password)

	o := waitOutcome(t, tab)
	if !o.OK {
		t.Fatalf("login() rejected: %s %s", o.Error, o.Message)
	}
	at, _ := o.Tokens["access_token"].(string)
	claims := decodeJWT(t, at)
	if iss := claims["iss"]; iss != s.URL+"/realms/vault" {
		t.Errorf("access token iss %v, want vault's", iss)
	}
	var groups []string
	for _, g := range claims["groups"].([]any) {
		groups = append(groups, g.(string))
	}
	if !slices.Equal(groups, []string{"finance"}) {
		t.Errorf("access token groups %v, want [finance]", groups)
	}
	users := a.must(200, "GET", "/admin/v1/realms/vault/users?q=carol", nil)["items"].([]any)
	if len(users) != 1 {
		t.Fatalf("vault users named carol: %v, want one", users)
	}
	u := users[0].(map[string]any)
	if u["id"] != claims["sub"] || u["primary_group"] != finance {
		t.Errorf("vault's user %v: want the token's subject, primary group finance", u)
	}
}

// decodeJWT reads a JWT's payload (its signature is the token endpoint's
// business here: the test only reads what Ward put in).
func decodeJWT(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestBrowserSignInThroughSAML: in Chromium, an application's popup signs
// in through realm vault's SAML provider — crewjam's samlidp on 127.0.0.1,
// trusting Ward's SP metadata, on another site (localhost; Ward is
// 127.0.0.1). The IdP's answer arrives as a cross-site POST, which carries
// no SameSite=Lax cookie: Ward posts it again from its own origin, and the
// popup posts the code to the application.
func TestBrowserSignInThroughSAML(t *testing.T) {
	browser := startBrowser(t)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_IDP_ALLOW_PRIVATE_NETWORKS=1") // the IdPs run on this machine
	s, a := adminFor(t, w)
	idp := testsaml.Start(t, "localhost") // another site than Ward at 127.0.0.1
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	traders := a.must(201, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": "traders", "idp_primary_priority": 5})["id"].(string)
	p := a.must(201, "POST", "/admin/v1/realms/vault/identity-providers", map[string]any{"alias": "corp", "kind": "saml",
		"display_name": "Corp SSO", "saml": map[string]any{"metadata_url": idp.MetadataURL()},
		"group_claim": "eduPersonAffiliation", "group_mappings": []map[string]any{{"external": "Traders", "group": traders}}})
	if p["enabled"] != true {
		t.Fatalf("provider: %v", p)
	}
	idp.Trust(p["sp_metadata_url"].(string))
	idp.User("dana", "dana@corp.test", "Dana", "Scully", "Traders")

	tab, popup := popupThroughProvider(t, browser, s, a, "corp")
	if err := chromedp.Do(popup,
		chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "dana"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testsaml.Password),
		chromedp.Click(chromedp.CSS(`input[type="submit"]`)),
	); err != nil {
		t.Fatalf("the IdP's login form in the popup: %v", err)
	}
	o := waitOutcome(t, tab)
	if !o.OK {
		t.Fatalf("login() rejected: %s %s", o.Error, o.Message)
	}
	claims := decodeJWT(t, o.Tokens["access_token"].(string))
	if g, _ := claims["groups"].([]any); len(g) != 1 || g[0] != "traders" || claims["email"] != "dana@corp.test" {
		t.Errorf("access token groups %v email %v, want [traders] and dana@corp.test", claims["groups"], claims["email"])
	}
}

// popupThroughProvider registers vault's popup application, opens it in a
// new browser session and clicks Sign in with ward.js's idpHint set to
// alias: it returns the application's tab and the popup.
func popupThroughProvider(t *testing.T, browser context.Context, s *server, a *admin, alias string) (context.Context, context.Context) {
	t.Helper()
	app := startApp(t, s.URL+"/realms/vault/ward.js")
	client := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "vault-web", "display_name": "Vault Web",
		"kind": "application", "public": true, "communication": "post_message",
		"redirect_uris": []string{app.Origin + "/popup-cb"}, "web_origins": []string{app.Origin}})["client_id"].(string)
	tab := step(t, newSession(t, browser), 90*time.Second)
	openApp(t, tab, app.page("/", map[string]any{"clientId": client, "redirectUri": app.Origin + "/popup-cb",
		"scope": "openid email profile", "idpHint": alias}))
	popup, _ := clickSignIn(t, tab)
	return tab, popup
}
