package ui

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/crewjam/saml"

	"github.com/wardiam/ward/internal/testbrowser"
	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestConsoleBrowserIdentityProviders: an admin manages a realm's identity
// providers in the console, in headless Chromium. The screen is in the
// realm's navigation after security templates. A SAML provider with a bad
// alias is refused at the alias field, keeping what was typed (the pasted
// metadata, the mapping row, the default group); fixed, it is created
// enabled, and its page shows what the IdP's admin needs, each value with
// a working copy button: the ACS URL, the SP entity ID and a link to the
// SP metadata. An OIDC provider whose issuer is unreachable is saved
// disabled with the checker's reason, in the list and on its page with a
// hint; its client secret is never on a page. Edited with a working issuer
// (Enabled ticked, the secret field left empty) it is enabled and keeps
// its secret; a secret typed while also removing it is refused and not
// sent back; then the secret is removed. It is deleted through its
// confirmation page. A user linked to the SAML provider "Signs in with"
// it on the user's page. A viewer sees the screens without any change
// control. Every page passes axe-core's WCAG A and AA rules, and the
// provider's page does not scroll sideways on a phone.
func TestConsoleBrowserIdentityProviders(t *testing.T) {
	env := oauthtest.New(t)
	org := env.NewOrg("acme")
	shop := env.NewRealm(org.ID, "shop", true)
	corpIdP := env.NewRealm(org.ID, "corp-idp", true) // a Ward realm as a working OIDC issuer
	finance := env.NewGroup(shop.ID, "Finance", nil)
	staff := env.NewGroup(shop.ID, "Staff", nil)
	admin := realm.Principal{OrgID: org.ID, Role: realm.RoleAdmin, ActorType: "client", ActorID: "ui-admin"}
	viewer := realm.Principal{OrgID: org.ID, Role: realm.RoleViewer, ActorType: "client", ActorID: "ui-viewer"}
	b := newBrowserUI(t, env, testAuth{"admin-token": admin, "viewer-token": viewer})
	ctx := realm.WithPrincipal(env.Ctx, admin)

	const listPath = "/console/realms/shop/identity-providers"
	tab := b.signedIn(t, "admin-token", "/console/realms/shop", 4*time.Minute)
	mainText := func() string { return text(t, tab, "main") }
	html := func() string { return testbrowser.Eval[string](t, tab, `document.documentElement.outerHTML`) }
	flash := func() string { return text(t, tab, ".flash") }

	// In the realm's navigation after Security templates; empty at first.
	submit(t, tab, `nav.realm-nav a[href="`+listPath+`"]`)
	if h1 := text(t, tab, "h1"); h1 != "Identity providers" || count(t, tab, `nav.realm-nav a[aria-current="page"][href="`+listPath+`"]`) != 1 ||
		text(t, tab, "[data-empty]") != "This realm has no identity providers yet: its users sign in with a password." {
		t.Fatalf("the Identity providers link leads to %q:\n%s", h1, mainText())
	}
	if prev := testbrowser.Eval[string](t, tab, `document.querySelector('nav.realm-nav a[href="`+listPath+`"]').previousElementSibling.getAttribute("href")`); prev != "/console/realms/shop/security-templates" {
		t.Errorf("the entry before Identity providers is %q", prev)
	}
	if got := [2]string{value(t, tab, "#new-idp-scopes"), testbrowser.Eval[string](t, tab, `String(document.querySelector("#new-idp-enabled").checked) + " " + document.querySelector("#new-idp-jit").checked`)}; got[0] != "openid email profile" || got[1] != "true true" {
		t.Errorf("the new-provider form starts with scopes %q, enabled and JIT %q", got[0], got[1])
	}
	axeAudit(t, tab, "the empty list")

	// A SAML provider with a bad alias: refused at the alias, all kept.
	// Choosing SAML hides the OpenID Connect inputs.
	metadata := samlIdPMetadata(t, "https://idp.acme.test")
	click(t, tab, "#new-idp-kind-saml")
	if !testbrowser.Eval[bool](t, tab, `document.querySelector('form[data-kind-form] [data-kind-only="oidc"]').hidden && !document.querySelector('form[data-kind-form] [data-kind-only="saml"]').hidden`) {
		t.Error("choosing SAML does not show only the SAML inputs")
	}
	fill(t, tab, map[string]string{"#new-idp-alias": "Acme SSO!", "#new-idp-display": "Acme SSO", "#new-idp-group-claim": "memberOf",
		"#new-idp-mapping_0_external": "Finance Team", "#new-idp-mapping_0_group": finance.ID})
	paste(t, tab, "#new-idp-metadata-xml", metadata)
	click(t, tab, "#new-idp-default-"+staff.ID)
	newIdP := `form[aria-labelledby="new-idp"] button[type=submit]`
	submit(t, tab, newIdP)
	const aliasMsg = "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
	if msg := text(t, tab, "#new-idp-alias-error"); msg != aliasMsg || text(t, tab, "#error-summary li") != "Alias: "+aliasMsg {
		t.Fatalf("bad alias: error %q, summary %q\n%s", msg, text(t, tab, "#error-summary"), mainText())
	}
	if testbrowser.Eval[string](t, tab, `document.querySelector("#new-idp-alias").getAttribute("aria-invalid")`) != "true" ||
		testbrowser.Eval[string](t, tab, `document.activeElement.id`) != "error-summary" {
		t.Error("the alias is not marked invalid, or the error summary has not the focus")
	}
	for sel, want := range map[string]string{"#new-idp-alias": "Acme SSO!", "#new-idp-display": "Acme SSO", "#new-idp-metadata-xml": metadata,
		"#new-idp-group-claim": "memberOf", "#new-idp-mapping_0_external": "Finance Team", "#new-idp-mapping_0_group": finance.ID,
		"#new-idp-mapping_1_external": "", "#new-idp-scopes": "openid email profile"} {
		if got := value(t, tab, sel); got != want {
			t.Errorf("after the refused form, %s = %q, want %q", sel, got, want)
		}
	}
	if !testbrowser.Eval[bool](t, tab, `document.querySelector("#new-idp-kind-saml").checked && document.querySelector("#new-idp-default-`+staff.ID+`").checked && !document.querySelector("#new-idp-default-`+finance.ID+`").checked`) {
		t.Error("the chosen kind or default group is not kept")
	}
	if count(t, tab, "tr[data-idp]") != 0 || count(t, tab, "tr[data-mapping-row]") != 4 {
		t.Fatalf("after the refusal: %d providers listed, %d mapping rows (want 0, 4)", count(t, tab, "tr[data-idp]"), count(t, tab, "tr[data-mapping-row]"))
	}
	axeAudit(t, tab, "the refused new-provider form")

	// Fixed: created enabled, on its own page with what the IdP's admin
	// needs.
	fill(t, tab, map[string]string{"#new-idp-alias": "acme-saml"})
	submit(t, tab, newIdP)
	if got := flash(); got != "Identity provider acme-saml created." {
		t.Fatalf("creating the SAML provider: flash %q\n%s", got, mainText())
	}
	endpoint := env.Base + "/realms/shop/broker/acme-saml/endpoint"
	for sel, want := range map[string]string{
		"h1":                                   "Identity provider Acme SSO Enabled",
		"#idp-redirect-uri":                    endpoint,
		"#idp-sp-entity-id":                    env.Base + "/realms/shop",
		"#idp-sp-metadata":                     endpoint + "/descriptor",
		"[data-idp-status]":                    "Enabled",
		"[data-kind]":                          "SAML 2.0",
		"[data-metadata]":                      "pasted XML",
		"[data-group-claim]":                   "memberOf",
		"[data-group-mappings]":                "Finance Team → Finance",
		"[data-default-groups]":                "Staff",
		"[data-jit]":                           "created on first sign-in",
		"[data-link-by-email]":                 "off",
		`button[data-copy="idp-redirect-uri"]`: "Copy",
	} {
		if got := text(t, tab, sel); got != want {
			t.Errorf("SAML provider's page: %s = %q, want %q", sel, got, want)
		}
	}
	if href := testbrowser.Eval[string](t, tab, `document.querySelector("#idp-sp-metadata a").href`); href != endpoint+"/descriptor" {
		t.Errorf("SP metadata link %q", href)
	}
	if count(t, tab, "[data-disabled]") != 0 {
		t.Error("an enabled provider shows a disabled notice")
	}
	// The copy buttons copy.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(tab, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
			Origin: b.url, BrowserContextID: chromedp.FromContext(tab).BrowserContextID}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	for id, want := range map[string]string{"idp-redirect-uri": endpoint, "idp-sp-entity-id": env.Base + "/realms/shop", "idp-sp-metadata": endpoint + "/descriptor"} {
		click(t, tab, `button[data-copy="`+id+`"]`)
		if _, err := testbrowser.WaitJS(tab, `document.querySelector("#`+id+`-status").textContent === "Copied to the clipboard."`, 5*time.Second); err != nil {
			t.Errorf("copying %s: %v", id, err)
			continue
		}
		if got := testbrowser.Eval[string](t, tab, `navigator.clipboard.readText()`, awaitPromise); got != want {
			t.Errorf("the %s copy button copied %q, want %q", id, got, want)
		}
	}
	// The edit form holds the stored provider, with empty rows to add.
	if got := [4]string{value(t, tab, "#edit-idp-metadata-xml"), value(t, tab, "#edit-idp-mapping_0_external"),
		value(t, tab, "#edit-idp-mapping_0_group"), value(t, tab, "#edit-idp-mapping_1_external")}; got != [4]string{metadata, "Finance Team", finance.ID, ""} {
		t.Errorf("the edit form holds %q", got)
	}
	if count(t, tab, "#edit-idp-issuer") != 0 || count(t, tab, "#edit-idp-reread") != 0 {
		t.Error("a SAML provider with pasted metadata is offered OIDC inputs or a re-read of a URL")
	}
	axeAudit(t, tab, "a SAML provider's page")
	if err := chromedp.Do(tab, chromedp.Emulate(device.IPhone8)); err != nil {
		t.Fatal(err)
	}
	b.visit(t, tab, idpPath("shop", "acme-saml"))
	if w := testbrowser.Eval[[]int](t, tab, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("the provider's page is %d px wide on a %d px screen", w[0], w[1])
	}
	axeAudit(t, tab, "a SAML provider's page on a phone")
	if err := chromedp.Do(tab, chromedp.EmulateReset(), chromedp.EmulateViewport(1000, 800)); err != nil {
		t.Fatal(err)
	}
	stored, err := env.IdPs.GetIdentityProvider(ctx, "shop", "acme-saml")
	if err != nil {
		t.Fatal(err)
	}
	if stored.SAML.MetadataXML != metadata || stored.GroupClaim != "memberOf" || len(stored.GroupMappings) != 1 ||
		stored.GroupMappings[0] != (realm.GroupMapping{External: "Finance Team", Group: finance.ID}) ||
		strings.Join(stored.DefaultGroups, ",") != staff.ID || !stored.JIT || stored.LinkByEmail {
		t.Errorf("stored SAML provider: %+v", stored)
	}

	// An OIDC provider whose issuer cannot be reached: saved disabled with
	// the reason; the secret is never shown.
	const secret = "s3cret-value-of-the-client"
	b.visit(t, tab, listPath)
	click(t, tab, "#new-idp-kind-oidc")
	fill(t, tab, map[string]string{"#new-idp-alias": "corp", "#new-idp-display": "Corp Ward", "#new-idp-issuer": "http://127.0.0.1:1",
		"#new-idp-client-id": "ward-shop", "#new-idp-client-secret": secret})
	submit(t, tab, newIdP)
	if got := flash(); got != "Identity provider corp created, but disabled: Ward could not use it. The reason is below." {
		t.Fatalf("creating the OIDC provider: flash %q\n%s", got, mainText())
	}
	discoveryErr := broker.NewChecker(broker.NewClient(true)).OIDCDiscovery(env.Ctx, "http://127.0.0.1:1")
	if discoveryErr == nil {
		t.Fatal("http://127.0.0.1:1 answers")
	}
	reason := strings.Join(strings.Fields(discoveryErr.Error()), " ")
	for sel, want := range map[string]string{
		"h1":                     "Identity provider Corp Ward Disabled",
		"[data-disabled-reason]": reason,
		"[data-disabled-hint]": "Ward could not use this provider's discovery document when it was saved, so the login page does not offer it. " +
			"Fix the issuer below (or make it reachable from Ward), keep Enabled ticked and save: Ward checks it again.",
		"[data-idp-status]":            "Disabled: " + reason,
		"#idp-redirect-uri":            env.Base + "/realms/shop/broker/corp/endpoint",
		"[data-kind]":                  "OpenID Connect",
		"[data-issuer]":                "http://127.0.0.1:1",
		"[data-client-id]":             "ward-shop",
		"[data-client-secret]":         "set (write-only)",
		"[data-scopes]":                "openid email profile",
		"#edit-idp-client-secret-hint": "A secret is set. Leave this empty to keep it; type a new one to replace it.",
	} {
		if got := text(t, tab, sel); got != want {
			t.Errorf("disabled OIDC provider's page: %s = %q, want %q", sel, got, want)
		}
	}
	if count(t, tab, "#idp-sp-entity-id") != 0 || count(t, tab, "#edit-idp-metadata-url") != 0 {
		t.Error("an OIDC provider's page shows SAML values or inputs")
	}
	if value(t, tab, "#edit-idp-client-secret") != "" || !testbrowser.Eval[bool](t, tab, `document.querySelector("#edit-idp-enabled").checked`) {
		t.Error("the edit form shows the secret, or has Enabled unticked for a provider Ward switched off")
	}
	if strings.Contains(html(), secret) {
		t.Error("the client secret is on the provider's page")
	}
	axeAudit(t, tab, "a disabled OIDC provider's page")
	b.visit(t, tab, listPath)
	if got := text(t, tab, `tr[data-idp="corp"] [data-idp-status]`) + " | " + text(t, tab, `tr[data-idp="acme-saml"] [data-idp-status]`); got != "Disabled: "+reason+" | Enabled" {
		t.Errorf("list statuses: %q", got)
	}
	if got := cells(t, tab, `tr[data-idp="corp"]`); got != "corp | Corp Ward | OpenID Connect | Disabled: "+reason {
		t.Errorf("list row %q", got)
	}
	if strings.Contains(html(), secret) {
		t.Error("the client secret is on the list page")
	}
	axeAudit(t, tab, "the list")

	// Edited: a working issuer, the secret field left empty; Ward checks
	// the issuer again, enables the provider and keeps its secret.
	submit(t, tab, `tr[data-idp="corp"] a`)
	edit := `form[aria-labelledby="edit-idp"] button[type=submit]`
	fill(t, tab, map[string]string{"#edit-idp-issuer": corpIdP.Issuer, "#edit-idp-scopes": "openid email profile groups", "#edit-idp-group-claim": "groups"})
	click(t, tab, "#edit-idp-link")
	submit(t, tab, edit)
	if got := flash(); got != "Identity provider corp saved." {
		t.Fatalf("saving the OIDC provider: flash %q\n%s", got, mainText())
	}
	for sel, want := range map[string]string{"h1": "Identity provider Corp Ward Enabled", "[data-idp-status]": "Enabled",
		"[data-issuer]": corpIdP.Issuer, "[data-client-secret]": "set (write-only)", "[data-scopes]": "openid email profile groups",
		"[data-link-by-email]": "on: a verified email links an existing user", "[data-group-claim]": "groups"} {
		if got := text(t, tab, sel); got != want {
			t.Errorf("edited OIDC provider's page: %s = %q, want %q", sel, got, want)
		}
	}
	if count(t, tab, "[data-disabled]") != 0 {
		t.Error("the re-enabled provider still shows a disabled notice")
	}
	row, err := env.Store.GetIdentityProvider(env.Ctx, shop.ID, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := env.IdPs.ClientSecret(row); err != nil || got != secret {
		t.Errorf("the stored secret after an edit that left it empty: %q, %v", got, err)
	}
	// A new secret and "remove" at once: refused, and the typed secret is
	// not sent back to the browser.
	const typed = "another-secret-typed-here"
	fill(t, tab, map[string]string{"#edit-idp-client-secret": typed})
	click(t, tab, "#edit-idp-remove-secret")
	submit(t, tab, edit)
	if msg := text(t, tab, "#edit-idp-client-secret-error"); msg != "type a new secret or tick “Remove the client secret”, not both" {
		t.Errorf("secret and remove: error %q\n%s", msg, mainText())
	}
	if value(t, tab, "#edit-idp-client-secret") != "" || strings.Contains(html(), typed) ||
		text(t, tab, "#edit-idp-client-secret-hint") != "A secret is set. Leave this empty to keep it; type a new one to replace it. The secret you typed was not kept: type it again." {
		t.Errorf("the refused form: secret field %q, hint %q", value(t, tab, "#edit-idp-client-secret"), text(t, tab, "#edit-idp-client-secret-hint"))
	}
	if !testbrowser.Eval[bool](t, tab, `document.querySelector("#edit-idp-remove-secret").checked`) || value(t, tab, "#edit-idp-issuer") != corpIdP.Issuer {
		t.Error("the refused form does not keep what was ticked and typed")
	}
	// Removed.
	submit(t, tab, edit)
	if got := flash() + " | " + text(t, tab, "[data-client-secret]") + " | " + text(t, tab, "#edit-idp-client-secret-hint"); got !=
		"Identity provider corp saved. | none: a public client (PKCE only) | No secret is set: Ward signs in as a public client (PKCE only). Type one to set it." {
		t.Errorf("after removing the secret: %q", got)
	}
	if count(t, tab, "#edit-idp-remove-secret") != 0 {
		t.Error("a provider without a secret offers to remove it")
	}
	if row, err = env.Store.GetIdentityProvider(env.Ctx, shop.ID, "corp"); err != nil || row.OIDC.ClientSecretSealed != nil || !row.Enabled || !row.LinkByEmail {
		t.Errorf("stored after removing the secret: %+v, %v", row, err)
	}

	// A user linked to the SAML provider signs in with it.
	now := env.Now().UTC()
	user := &realm.User{ID: env.ID(), RealmID: shop.ID, Email: "jo@acme.test", FirstName: "Jo", LastName: "Doe", Active: true,
		Groups: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreateUser(env.Ctx, user); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateUserIdentity(env.Ctx, &realm.UserIdentity{RealmID: shop.ID, ProviderID: stored.ID, Subject: "jo@idp",
		UserID: user.ID, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	b.visit(t, tab, userPath("shop", user.ID))
	if got := text(t, tab, "[data-sign-in]"); got != "Signs in with Acme SSO. No password: it signs in only through this provider" {
		t.Errorf("the linked user's page says %q\n%s", got, mainText())
	}
	if got := text(t, tab, "[data-sign-in-note]"); got != "Signs in with Acme SSO. This user has no password: a set-password email lets it sign in with a password as well." {
		t.Errorf("the linked user's sign-in card says %q", got)
	}
	if href := testbrowser.Eval[string](t, tab, `document.querySelector("[data-sign-in] a").getAttribute("href")`); href != idpPath("shop", "acme-saml") {
		t.Errorf("the provider link of the user's page: %q", href)
	}
	axeAudit(t, tab, "a linked user's page")

	// A viewer sees both screens without any change control.
	vt := b.signedIn(t, "viewer-token", listPath, time.Minute)
	if got := cells(t, vt, `tr[data-idp="acme-saml"]`); got != "acme-saml | Acme SSO | SAML 2.0 | Enabled" {
		t.Errorf("the viewer's list row: %q", got)
	}
	if count(t, vt, `form[method="post"]`) != 1 || count(t, vt, ".readonly-note") != 1 {
		t.Errorf("the viewer's list has %d forms (want only sign-out)", count(t, vt, `form[method="post"]`))
	}
	b.visit(t, vt, idpPath("shop", "corp"))
	if count(t, vt, `form[method="post"]`) != 1 || count(t, vt, `a[href$="/delete"]`) != 0 || text(t, vt, "#idp-redirect-uri") != env.Base+"/realms/shop/broker/corp/endpoint" {
		t.Errorf("the viewer's provider page:\n%s", text(t, vt, "main"))
	}

	// Deleted through its confirmation page.
	b.visit(t, tab, idpPath("shop", "corp"))
	submit(t, tab, `a[href="`+idpPath("shop", "corp")+`/delete"]`)
	if got := text(t, tab, "h1"); got != "Delete the identity provider Corp Ward?" {
		t.Fatalf("confirmation page: %q", got)
	}
	if got := text(t, tab, "main .card p"); got != "The login page no longer offers it, and answers its provider sends to "+env.Base+"/realms/shop/broker/corp/endpoint are refused." {
		t.Errorf("the confirmation's first point: %q", got)
	}
	axeAudit(t, tab, "the delete confirmation")
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	if got := flash(); got != "Identity provider corp deleted." || count(t, tab, "tr[data-idp]") != 1 || count(t, tab, `tr[data-idp="acme-saml"]`) != 1 {
		t.Errorf("after deleting: flash %q\n%s", got, mainText())
	}
	if _, err := env.IdPs.GetIdentityProvider(ctx, "shop", "corp"); realm.HTTPStatus(err) != 404 {
		t.Errorf("the deleted provider: %v", err)
	}
}

// cells is the text of the cells of the table row matching sel, joined
// by " | ".
func cells(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	return testbrowser.Eval[string](t, tab, `Array.from(document.querySelectorAll('`+sel+` td'), td => td.textContent.trim()).join(" | ")`)
}

// paste puts text into the field matching sel as pasting does (one
// input, not a key press per character).
func paste(t *testing.T, tab context.Context, sel, s string) {
	t.Helper()
	testbrowser.Eval[any](t, tab, `document.querySelector("`+sel+`").value = ""`)
	if err := chromedp.Do(tab, chromedp.Focus(chromedp.CSS(sel))); err != nil {
		t.Fatalf("focus %s: %v", sel, err)
	}
	if _, err := chromedp.Call(tab, input.InsertText, input.InsertTextParams{Text: s}); err != nil {
		t.Fatalf("paste into %s: %v", sel, err)
	}
}

// samlIdPMetadata is valid metadata of a SAML identity provider at base:
// crewjam/saml's, with a self-signed signing certificate and single
// sign-on endpoints.
func samlIdPMetadata(t *testing.T, base string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.acme.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	mdURL, _ := url.Parse(base + "/metadata")
	ssoURL, _ := url.Parse(base + "/sso")
	idp := &saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *mdURL, SSOURL: *ssoURL}
	out, err := xml.MarshalIndent(idp.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
