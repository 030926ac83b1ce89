package ui

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// TestParseIdPForm: the form's own rules. SAML metadata is given one way
// (neither and both are refused at the inputs), and on an edit it is sent
// only when it changed or is to be read again (CRLF from the browser is
// the same text); an OIDC secret left empty is kept (nil), typed is set,
// "remove" removes it, and both at once are refused; emptied scopes are
// openid alone on an edit and the default on a new provider; a mapping
// row needs both halves, empty rows are skipped, and each mapping
// remembers its row.
func TestParseIdPForm(t *testing.T) {
	in, fe := parseIdPForm(url.Values{"display_name": {" Acme "}, "enabled": {"on"}, "metadata_xml": {"<x/>\r\n<y/>"},
		"mapping_0_external": {" Finance "}, "mapping_0_group": {"g1"}, "mapping_1_external": {""}, "mapping_1_group": {""},
		"mapping_2_external": {"Sales"}, "mapping_2_group": {"g2"}, "default_groups": {"g3"}, "attr_email": {" mail "}}, realm.IdPSAML, nil)
	if len(fe) != 0 || in.DisplayName != "Acme" || !in.Enabled || in.JIT || in.SAML == nil || in.SAML.MetadataXML != "<x/>\n<y/>" ||
		in.OIDC != nil || len(in.Mappings) != 2 || in.Mappings[0] != (realm.GroupMapping{External: "Finance", Group: "g1"}) ||
		!slices.Equal(in.Rows, []int{0, 2}) ||
		in.Defaults[0] != "g3" || in.Attributes.Email != "mail" {
		t.Errorf("SAML form: %+v, %v", in, fe)
	}
	if _, fe := parseIdPForm(url.Values{}, realm.IdPSAML, nil); !strings.HasPrefix(fe["metadata_url"], "is required") {
		t.Errorf("no metadata: %v", fe)
	}
	if _, fe := parseIdPForm(url.Values{"metadata_url": {"https://idp/md"}, "metadata_xml": {"<x/>"}}, realm.IdPSAML, nil); fe["metadata_xml"] == "" {
		t.Errorf("both: %v", fe)
	}
	if _, fe := parseIdPForm(url.Values{"mapping_0_external": {"Finance"}, "mapping_3_group": {"g1"}, "metadata_xml": {"<x/>"}}, realm.IdPSAML, nil); !strings.HasPrefix(fe["mapping_0_group"], "is required") ||
		!strings.HasPrefix(fe["mapping_3_external"], "is required") {
		t.Errorf("half rows: %v", fe)
	}
	if _, fe := parseIdPForm(url.Values{}, "", nil); fe["kind"] != "choose SAML 2.0 or OpenID Connect" {
		t.Errorf("no kind: %v", fe)
	}

	pasted := &realm.IdentityProviderView{IdentityProvider: realm.IdentityProvider{Kind: realm.IdPSAML,
		SAML: &realm.SAMLSettings{MetadataXML: "<x/>\n<y/>"}}}
	if in, _ := parseIdPForm(url.Values{"metadata_xml": {"<x/>\r\n<y/>\r\n"}}, realm.IdPSAML, pasted); in.SAML != nil {
		t.Error("unchanged pasted metadata is sent (it would be read again on every save)")
	}
	if in, _ := parseIdPForm(url.Values{"metadata_xml": {"<z/>"}}, realm.IdPSAML, pasted); in.SAML == nil || in.SAML.MetadataXML != "<z/>" {
		t.Error("changed pasted metadata is not sent")
	}
	fromURL := &realm.IdentityProviderView{IdentityProvider: realm.IdentityProvider{Kind: realm.IdPSAML,
		SAML: &realm.SAMLSettings{MetadataURL: "https://idp/md", MetadataXML: "<as-read/>"}}}
	if in, _ := parseIdPForm(url.Values{"metadata_url": {"https://idp/md"}}, realm.IdPSAML, fromURL); in.SAML != nil {
		t.Error("an unchanged URL is sent")
	}
	if in, _ := parseIdPForm(url.Values{"metadata_url": {"https://idp/md"}, "reread_metadata": {"on"}}, realm.IdPSAML, fromURL); in.SAML == nil || in.SAML.MetadataURL != "https://idp/md" {
		t.Error("asked to read the URL again, the metadata is not sent")
	}
	if in, _ := parseIdPForm(url.Values{"metadata_xml": {"<new/>"}}, realm.IdPSAML, fromURL); in.SAML == nil || in.SAML.MetadataXML != "<new/>" || in.SAML.MetadataURL != "" {
		t.Error("switching from the URL to pasted XML is not sent")
	}

	oidc := url.Values{"issuer": {"https://idp.test"}, "oidc_client_id": {"ward"}, "scopes": {""}}
	in, fe = parseIdPForm(oidc, realm.IdPOIDC, nil)
	if len(fe) != 0 || in.OIDC.ClientSecret != nil || in.OIDC.Scopes != nil || in.OIDC.Issuer != "https://idp.test" || in.OIDC.ClientID != "ward" {
		t.Errorf("new OIDC provider without a secret: %+v, %v", in.OIDC, fe)
	}
	cur := &realm.IdentityProviderView{IdentityProvider: realm.IdentityProvider{Kind: realm.IdPOIDC, OIDC: &realm.OIDCSettings{}}, HasClientSecret: true}
	if in, _ := parseIdPForm(oidc, realm.IdPOIDC, cur); in.OIDC.ClientSecret != nil || in.OIDC.Scopes == nil || len(in.OIDC.Scopes) != 0 {
		t.Errorf("edit, secret left empty: secret %v, scopes %#v", in.OIDC.ClientSecret, in.OIDC.Scopes)
	}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range oidc {
			f[key] = vs
		}
		f.Set(k, v)
		return f
	}
	if in, _ := parseIdPForm(with("client_secret", " new "), realm.IdPOIDC, cur); in.OIDC.ClientSecret == nil || *in.OIDC.ClientSecret != "new" {
		t.Error("a typed secret is not sent")
	}
	if in, _ := parseIdPForm(with("remove_client_secret", "on"), realm.IdPOIDC, cur); in.OIDC.ClientSecret == nil || *in.OIDC.ClientSecret != "" {
		t.Error("removing the secret does not send an empty one")
	}
	both := with("remove_client_secret", "on")
	both.Set("client_secret", "x")
	if _, fe := parseIdPForm(both, realm.IdPOIDC, cur); fe["client_secret"] == "" {
		t.Error("a new secret and removing it at once are accepted")
	}
	if _, fe := parseIdPForm(url.Values{}, realm.IdPOIDC, nil); fe["issuer"] != "is required" || fe["oidc_client_id"] != "is required" {
		t.Errorf("empty OIDC form: %v", fe)
	}
}

// TestIdPRefused: the service's field names land on the form's inputs:
// a mapping's error on its own row's input (by the row it came from, not
// its index in what was sent), one scope's naming it, a default group's
// on the fieldset, the alias on the new-provider form only (on the edit
// form a conflict about it is about the whole provider), an unknown field
// on the whole form as the service names it.
func TestIdPRefused(t *testing.T) {
	in := idpFields{Rows: []int{0, 4}, OIDC: &realm.OIDCInput{Scopes: []string{"openid", "bad scope"}}}
	v := &realm.ValidationError{}
	v.Add("group_mappings[1].group", "is not a group of this realm")
	v.Add("group_mappings[0].external", "must be at most 512 characters")
	v.Add("oidc.scopes[1]", "must be a scope token of 1 to 100 characters")
	v.Add("default_groups[0]", "is not a group of this realm")
	v.Add("saml.metadata_xml", "must be at most 1048576 bytes")
	v.Add("oidc.client_id", "must be at most 255 characters")
	v.Add("attributes.email", "must be at most 256 characters")
	v.Add("something_else", "is odd")
	fe, status, ok := idpRefused(v, in, true)
	if !ok || status != http.StatusBadRequest {
		t.Fatalf("ok %v, status %d", ok, status)
	}
	want := fieldErrors{
		"mapping_4_group":    "is not a group of this realm",
		"mapping_0_external": "must be at most 512 characters",
		"scopes":             `the scope "bad scope" must be a scope token of 1 to 100 characters`,
		"default_groups":     "a chosen group is not a group of this realm",
		"metadata_xml":       "must be at most 1048576 bytes",
		"oidc_client_id":     "must be at most 255 characters",
		"attr_email":         "must be at most 256 characters",
		"":                   "something_else is odd",
	}
	if len(fe) != len(want) {
		t.Errorf("errors = %v", fe)
	}
	for k, w := range want {
		if fe[k] != w {
			t.Errorf("%q: %q, want %q", k, fe[k], w)
		}
	}
	conflict := realm.Conflict("alias", "the realm already has an identity provider with this alias")
	if fe, status, _ := idpRefused(conflict, idpFields{}, true); status != http.StatusConflict || fe["alias"] == "" {
		t.Errorf("new form conflict: %d %v", status, fe)
	}
	if fe, _, _ := idpRefused(conflict, idpFields{}, false); fe[""] == "" || fe["alias"] != "" {
		t.Errorf("edit form conflict: %v", fe)
	}
	if _, _, ok := idpRefused(realm.ErrNotFound, idpFields{}, true); ok {
		t.Error("not found taken for a refused form")
	}
	for field, label := range map[string]string{"mapping_2_group": "Group mapping, row 3: realm group",
		"mapping_0_external": "Group mapping, row 1: provider's group", "metadata_xml": "Metadata XML", "oidc_client_id": "Client ID",
		"attr_first_name": "First name attribute"} {
		if got := fieldLabel(field); got != label {
			t.Errorf("label of %s: %q, want %q", field, got, label)
		}
	}
}

// TestMappingRows: rows come back in row order with their numbers; the
// form gets empty rows up to idpBlankRows after the last, counting the
// empty ones it has.
func TestMappingRows(t *testing.T) {
	rows := formMappingRows(url.Values{"mapping_10_external": {"b"}, "mapping_2_external": {" a "}, "mapping_2_group": {"g"},
		"mapping_x_group": {"?"}, "mapping_3_group": {""}})
	if len(rows) != 3 || rows[0] != (mappingRow{N: 2, External: "a", Group: "g"}) || rows[1].N != 3 || rows[2].N != 10 {
		t.Fatalf("rows = %+v", rows)
	}
	rows = withBlankRows(rows)
	if len(rows) != 5 || rows[3].N != 11 || rows[4].N != 12 || !rows[4].blank() {
		t.Errorf("with blank rows: %+v", rows)
	}
	if got := withBlankRows(nil); len(got) != idpBlankRows || got[0].N != 0 || got[0].Num() != 1 {
		t.Errorf("no rows: %+v", got)
	}
}

// TestIdPPagesRendered: the user page says which provider a linked user
// signs in with, and what it means for its password when the password
// state is known; a viewer's provider page has the values to copy but no
// form; the status says why a provider is disabled.
func TestIdPPagesRendered(t *testing.T) {
	pages, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string, data nonced) string {
		t.Helper()
		var buf bytes.Buffer
		if err := mustPage(t, pages, name).Execute(&buf, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return buf.String()
	}
	writer := base{Realm: "shop", CanWrite: true, Role: realm.RoleAdmin, Form: url.Values{}, Errors: fieldErrors{}}
	user := &realm.UserView{User: realm.User{ID: "u1", Email: "jo@acme.test", Active: true}}
	linked := []signInProvider{{Name: "Acme SSO", Alias: "acme"}}
	for _, c := range []struct {
		password   string
		providers  []signInProvider
		dd, note   string
		notPresent string
	}{
		{"", linked, `Signs in with <a href="/console/realms/shop/identity-providers/acme">Acme SSO</a></dd>`, `data-sign-in-note>Signs in with`, "No password"},
		{"none", linked, "Acme SSO</a>. No password: it signs in only through this provider</dd>",
			`Acme SSO</a>. This user has no password: a set-password email lets it sign in with a password as well.</p>`, ", or with its password"},
		{"set", linked, "Acme SSO</a>, or with its password</dd>", `data-sign-in-note>Signs in with`, "No password"},
		{"none", nil, "", "", "data-sign-in"},
	} {
		html := render("user.html", &userView{base: writer, U: user, Providers: c.providers, Password: c.password})
		for _, want := range []string{c.dd, c.note} {
			if !strings.Contains(html, want) {
				t.Errorf("password %q, providers %v: no %s", c.password, c.providers, want)
			}
		}
		if strings.Contains(html, c.notPresent) {
			t.Errorf("password %q, providers %v: %s", c.password, c.providers, c.notPresent)
		}
	}

	viewer := base{Realm: "shop", Role: realm.RoleViewer, Form: url.Values{}, Errors: fieldErrors{}}
	p := idpRow{realm.IdentityProviderView{IdentityProvider: realm.IdentityProvider{Alias: "acme", Kind: realm.IdPSAML,
		DisabledReason: "the metadata has no entityID", SAML: &realm.SAMLSettings{MetadataURL: "https://idp/md"}},
		RedirectURI: "https://ward/realms/shop/broker/acme/endpoint", SPEntityID: "https://ward/realms/shop",
		SPMetadataURL: "https://ward/realms/shop/broker/acme/endpoint/descriptor"}}
	html := render("identityprovider.html", &idpView{base: viewer, P: p})
	for _, want := range []string{`<code id="idp-redirect-uri">https://ward/realms/shop/broker/acme/endpoint</code>`,
		`<code id="idp-sp-metadata"><a href="https://ward/realms/shop/broker/acme/endpoint/descriptor">`,
		`data-disabled-reason>the metadata has no entityID</span>`, "Fix the metadata URL or XML below",
		`data-idp-status>Disabled: the metadata has no entityID</dd>`, "readonly-note", `data-metadata>from <code>https://idp/md</code>`} {
		if !strings.Contains(html, want) {
			t.Errorf("viewer's provider page lacks %s", want)
		}
	}
	if strings.Count(html, `method="post"`) != 1 || strings.Contains(html, "/delete") {
		t.Error("a viewer is offered a change on a provider's page")
	}
	p.DisabledReason = ""
	if html := render("identityprovider.html", &idpView{base: writer, P: p}); !strings.Contains(html, "Switched off:") ||
		!strings.Contains(html, `name="reread_metadata"`) || strings.Contains(html, `name="issuer"`) {
		t.Error("an admin-disabled SAML provider's page: no switched-off notice, no re-read box, or OIDC inputs")
	}
}

// TestIdPEventRefs: a provider's events link to its page by alias (none
// once it is deleted); a provider acting (creating or linking a user) is
// named by its alias and linked too.
func TestIdPEventRefs(t *testing.T) {
	n := &eventNames{}
	got := n.target("shop", realm.Event{Type: realm.EventIdentityProviderUpdated, TargetType: "identity_provider", TargetID: "01id",
		Details: map[string]any{"alias": "acme"}})
	if got.Name != "acme" || got.ID != "01id" || got.Link != "/console/realms/shop/identity-providers/acme" {
		t.Errorf("updated: %+v", got)
	}
	got = n.target("shop", realm.Event{Type: realm.EventIdentityProviderDeleted, TargetType: "identity_provider", TargetID: "01id",
		Details: map[string]any{"alias": "acme"}})
	if got.Name != "acme" || got.Link != "" {
		t.Errorf("deleted: %+v", got)
	}
	got = n.target("shop", realm.Event{Type: realm.EventIdentityProviderSignInRefused, TargetType: "identity_provider", TargetID: "01id",
		Details: map[string]any{"identity_provider": "acme", "reason": "deactivated"}})
	if got.Link != "/console/realms/shop/identity-providers/acme" {
		t.Errorf("sign-in refused: %+v", got)
	}
	got = n.actor("shop", realm.Event{ActorType: "identity_provider", ActorID: "acme"})
	if got.Name != "acme" || got.Link != "/console/realms/shop/identity-providers/acme" {
		t.Errorf("actor: %+v", got)
	}
}

// TestPriorityForm: a group form's primary group priority is read as a
// whole number (its range is the service's rule, passed on as typed);
// empty is 0; anything else is refused with the console's own words,
// labelled as the form labels the input.
func TestPriorityForm(t *testing.T) {
	for in, want := range map[string]int{"": 0, " ": 0, "0": 0, " 250 ": 250, "1000": 1000, "1001": 1001, "-1": -1} {
		n, fe := priorityForm(url.Values{"idp_primary_priority": {in}})
		if fe != nil || n != want {
			t.Errorf("%q: %d %v, want %d", in, n, fe, want)
		}
	}
	if n, fe := priorityForm(url.Values{}); fe != nil || n != 0 {
		t.Errorf("no field: %d %v", n, fe)
	}
	for _, in := range []string{"abc", "2.5", "1e3", "0x10", "99999999999999999999"} {
		if _, fe := priorityForm(url.Values{"idp_primary_priority": {in}}); fe["idp_primary_priority"] != "must be a whole number from 0 to 1000" || len(fe) != 1 {
			t.Errorf("%q: %v", in, fe)
		}
	}
	if l := fieldLabel("idp_primary_priority"); l != "Primary group priority for identity providers" {
		t.Errorf("label: %q", l)
	}
}

// TestIdPSettingsRendered: the group forms have the primary group
// priority input (0 on a new group, the stored value on the edit form, a
// refused value kept with its error) and the group's page shows it, 0 in
// words; the realm page has the Sign-in card's checkbox, ticked while the
// password form is offered, and its summary says which; a viewer sees the
// summary and no form; the warning shows when nobody can sign in.
func TestIdPSettingsRendered(t *testing.T) {
	pages, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string, data nonced) string {
		t.Helper()
		var buf bytes.Buffer
		if err := mustPage(t, pages, name).Execute(&buf, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return buf.String()
	}
	const hint = `<p class="hint" id="group-idp-priority-hint">When people sign in through an identity provider, the mapped group with the highest priority becomes their primary group. 0: never.</p>`
	writer := func(f url.Values, fe fieldErrors) base {
		return base{Realm: "shop", CanWrite: true, Role: realm.RoleAdmin, Form: f, Errors: fe}
	}

	// The new-group form.
	html := render("groups.html", &groupsView{base: writer(url.Values{"idp_primary_priority": {"0"}}, fieldErrors{})})
	for _, want := range []string{`<label for="group-idp-priority">Primary group priority for identity providers</label>`, hint,
		`<input id="group-idp-priority" name="idp_primary_priority" type="number" value="0" autocomplete="off" aria-describedby=" group-idp-priority-hint">`} {
		if !strings.Contains(html, want) {
			t.Errorf("new-group form lacks %s", want)
		}
	}
	html = render("groups.html", &groupsView{base: writer(url.Values{"idp_primary_priority": {"1001"}},
		fieldErrors{"idp_primary_priority": "must be an integer from 0 to 1000"})})
	for _, want := range []string{`value="1001"`, `aria-invalid="true" aria-describedby="group-idp-priority-error group-idp-priority-hint"`,
		`<p class="field-error" id="group-idp-priority-error">must be an integer from 0 to 1000</p>`} {
		if !strings.Contains(html, want) {
			t.Errorf("refused new-group form lacks %s", want)
		}
	}

	// The group's page and edit form.
	g := &realm.Group{ID: "g1", Name: "studio", IDPPrimaryPriority: 250}
	html = render("group.html", &groupView{base: writer(groupForm(nil, g), fieldErrors{}), G: g})
	for _, want := range []string{`<dt>Primary group priority for identity providers</dt><dd data-idp-primary-priority>250</dd>`,
		`name="idp_primary_priority" type="number" value="250"`, hint} {
		if !strings.Contains(html, want) {
			t.Errorf("group page lacks %s", want)
		}
	}
	html = render("group.html", &groupView{base: writer(url.Values{"idp_primary_priority": {"abc"}},
		fieldErrors{"idp_primary_priority": "must be a whole number from 0 to 1000"}), G: g})
	if !strings.Contains(html, `value="abc"`) || !strings.Contains(html, `id="group-idp-priority-error">must be a whole number from 0 to 1000</p>`) {
		t.Error("the refused edit form does not keep the value with its error")
	}
	g.IDPPrimaryPriority = 0
	viewer := base{Realm: "shop", Role: realm.RoleViewer, Form: url.Values{}, Errors: fieldErrors{}}
	html = render("group.html", &groupView{base: viewer, G: g})
	if !strings.Contains(html, `<dd data-idp-primary-priority>0: never the primary group</dd>`) || strings.Contains(html, `name="idp_primary_priority"`) {
		t.Error("a viewer's group page: no priority in words, or an input")
	}

	// The realm page's Sign-in card and summary.
	const box = `<input type="checkbox" id="realm-password-login" name="password_login" value="on"`
	const label = `<label for="realm-password-login">Offer sign-in with email and password</label>`
	const boxHint = `<p class="hint" id="realm-password-login-hint">Turn it off to let people sign in only through the realm's identity providers.</p>`
	on := &realm.Realm{Name: "shop"}
	html = render("realm.html", &realmOverview{base: writer(url.Values{}, fieldErrors{}), R: on})
	for _, want := range []string{`<h2 id="sign-in">Sign-in</h2>`, `action="/console/realms/shop/sign-in"`, box + ` checked aria-describedby="realm-password-login-hint">`,
		label, boxHint, `<dd data-password-login>Offered: people may sign in with email and password</dd>`} {
		if !strings.Contains(html, want) {
			t.Errorf("writer's realm page, password sign-in on: lacks %s", want)
		}
	}
	if strings.Contains(html, "data-nobody-signs-in") {
		t.Error("the nobody-signs-in warning with password sign-in on")
	}
	off := &realm.Realm{Name: "shop", PasswordLoginDisabled: true}
	html = render("realm.html", &realmOverview{base: writer(url.Values{}, fieldErrors{}), R: off})
	for _, want := range []string{box + ` aria-describedby="realm-password-login-hint">`,
		`<dd data-password-login>Off: people sign in only through the realm's identity providers</dd>`} {
		if !strings.Contains(html, want) {
			t.Errorf("writer's realm page, password sign-in off: lacks %s", want)
		}
	}
	html = render("realm.html", &realmOverview{base: viewer, R: off, NobodySignsIn: true})
	if strings.Contains(html, `name="password_login"`) || strings.Contains(html, "/sign-in") ||
		!strings.Contains(html, `<dd data-password-login>Off: people sign in only through the realm's identity providers</dd>`) {
		t.Error("a viewer's realm page: a Sign-in form, or no summary")
	}
	if !strings.Contains(html, `<p class="warning" data-nobody-signs-in>Nobody can sign in to this realm: password sign-in is off and none of its <a href="/console/realms/shop/identity-providers">identity providers</a> is enabled.</p>`) {
		t.Error("no warning when nobody can sign in")
	}
}
