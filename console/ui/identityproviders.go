package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The identity providers screen (CONTRACT §9): the SAML 2.0 and OpenID
// Connect providers a realm's users may sign in through. All of it is
// realm.IdentityProviders': the console reads and changes providers with
// the principal the admin API would act as, and shows what the service
// answers (a provider whose metadata or discovery document could not be
// used is saved disabled, with the reason).
//
// A provider's page shows first what the provider's own administrator
// needs (the redirect URI, and for SAML the SP entity ID and metadata),
// each with a copy button. The OIDC client secret is write-only: never
// shown, never put back into a refused form; the edit form says whether
// one is set, keeps it unless a new one is typed, and removes it only
// when asked to. Group mappings are rows of inputs (the provider's group
// name, the realm group), with a few empty rows to fill: the page works
// without script, and saving shows new empty rows.

func (u *UI) registerIdentityProviders(e *echo.Echo) {
	e.GET("/console/realms/:realm/identity-providers", u.page(u.idpsPage))
	e.POST("/console/realms/:realm/identity-providers", u.page(u.createIdP))
	e.GET("/console/realms/:realm/identity-providers/:alias", u.page(u.idpPage))
	e.POST("/console/realms/:realm/identity-providers/:alias", u.page(u.updateIdP))
	e.GET("/console/realms/:realm/identity-providers/:alias/delete", u.page(u.confirmDeleteIdP))
	e.POST("/console/realms/:realm/identity-providers/:alias/delete", u.page(u.deleteIdP))
}

// defaultIdPScopes are the scopes the new-provider form starts with (the
// service's default).
const defaultIdPScopes = "openid email profile"

// idpBlankRows is how many empty group mapping rows a form offers.
const idpBlankRows = 3

// idpRow is a provider as the pages show it.
type idpRow struct {
	realm.IdentityProviderView
}

// Name is how the console names the provider: its display name, else its
// alias (as the login page's button does).
func (p idpRow) Name() string { return idpName(&p.IdentityProvider) }

func idpName(p *realm.IdentityProvider) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Alias
}

// KindLabel names the provider's protocol.
func (p idpRow) KindLabel() string { return kindLabel(p.Kind) }

func kindLabel(k realm.IdPKind) string {
	switch k {
	case realm.IdPSAML:
		return "SAML 2.0"
	case realm.IdPOIDC:
		return "OpenID Connect"
	}
	return string(k)
}

// Status is "Enabled", "Disabled" (switched off by an admin) or
// "Disabled: <why Ward switched it off>".
func (p idpRow) Status() string {
	switch {
	case p.Enabled:
		return "Enabled"
	case p.DisabledReason != "":
		return "Disabled: " + p.DisabledReason
	}
	return "Disabled"
}

// mappingRow is one row of the group mapping inputs. N numbers its
// inputs (mapping_N_external, mapping_N_group), which is also how their
// errors are keyed.
type mappingRow struct {
	N        int
	External string
	Group    string
}

// ExternalField and GroupField are the names (and error keys) of the
// row's inputs.
func (m mappingRow) ExternalField() string { return "mapping_" + strconv.Itoa(m.N) + "_external" }
func (m mappingRow) GroupField() string    { return "mapping_" + strconv.Itoa(m.N) + "_group" }

// Num is the row's number as the page says it (from 1).
func (m mappingRow) Num() int { return m.N + 1 }

func (m mappingRow) blank() bool { return m.External == "" && m.Group == "" }

// mappingField is an input of a group mapping row.
var mappingField = regexp.MustCompile(`^mapping_(\d{1,4})_(external|group)$`)

// formMappingRows reads the group mapping rows of a submitted form, in
// row order.
func formMappingRows(f url.Values) []mappingRow {
	byN := map[int]*mappingRow{}
	for k := range f {
		m := mappingField.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		row := byN[n]
		if row == nil {
			row = &mappingRow{N: n}
			byN[n] = row
		}
		if m[2] == "external" {
			row.External = strings.TrimSpace(f.Get(k))
		} else {
			row.Group = strings.TrimSpace(f.Get(k))
		}
	}
	rows := make([]mappingRow, 0, len(byN))
	for _, r := range byN {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b mappingRow) int { return a.N - b.N })
	return rows
}

// withBlankRows adds empty rows after the last until there are
// idpBlankRows empty ones to fill.
func withBlankRows(rows []mappingRow) []mappingRow {
	blank, next := 0, 0
	for _, r := range rows {
		if r.blank() {
			blank++
		}
		next = max(next, r.N+1)
	}
	for ; blank < idpBlankRows; blank++ {
		rows = append(rows, mappingRow{N: next})
		next++
	}
	return rows
}

// idpsView is the data of console/identityproviders.html.
type idpsView struct {
	base
	Providers []idpRow
	Groups    []realm.Group
	Rows      []mappingRow
	// SecretDropped: the refused form had a client secret, which is not
	// sent back to the browser.
	SecretDropped bool
}

// unavailable answers a page of a server built without the identity
// provider service.
func (u *UI) idpsUnavailable(r *req) error {
	return r.u.message(r.c, http.StatusNotImplemented, "Not available", "This Ward server has no identity provider service.")
}

func (u *UI) idpsPage(r *req) error { return u.showIdPs(r, http.StatusOK, nil, nil) }

// showIdPs renders the list with the new-provider form (f, fe: a refused
// one).
func (u *UI) showIdPs(r *req, status int, f url.Values, fe fieldErrors) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	b, err := r.base("Identity providers", "identity-providers")
	if err != nil {
		return r.fail(err)
	}
	list, err := u.idps.ListIdentityProviders(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	groups, _, err := u.allGroups(r)
	if err != nil {
		return r.fail(err)
	}
	v := &idpsView{base: b, Groups: groups}
	if v.refill(f, fe) {
		v.Rows = formMappingRows(f)
		v.SecretDropped = strings.TrimSpace(f.Get("client_secret")) != ""
		v.Form.Del("client_secret")
		if !f.Has("scopes") {
			// Not sent (clients.js disables the inputs of the kind not
			// chosen): the default again, should the admin switch kinds.
			v.Form.Set("scopes", defaultIdPScopes)
		}
	} else {
		v.Form.Set("enabled", "on")
		v.Form.Set("jit", "on")
		v.Form.Set("scopes", defaultIdPScopes)
	}
	v.Rows = withBlankRows(v.Rows)
	for _, p := range list {
		v.Providers = append(v.Providers, idpRow{p})
	}
	return r.render(status, "identityproviders.html", v)
}

// idpFields is a provider form as the service takes it.
type idpFields struct {
	DisplayName string
	Enabled     bool
	JIT         bool
	LinkByEmail bool
	SAML        *realm.SAMLInput
	OIDC        *realm.OIDCInput
	GroupClaim  string
	Mappings    []realm.GroupMapping
	// Rows[i] is the form row of Mappings[i] (the service names mappings
	// by their index in what it was sent).
	Rows       []int
	Defaults   []string
	Attributes realm.IdPAttributeNames
}

// parseIdPForm reads a provider form of kind. cur is the stored provider
// on an edit, nil on the new-provider form. What the service cannot check
// (a form's own rules) is checked here: the metadata is given one way,
// a new secret is not also removed, and a mapping row has both halves.
func parseIdPForm(f url.Values, kind realm.IdPKind, cur *realm.IdentityProviderView) (idpFields, fieldErrors) {
	fe := fieldErrors{}
	on := func(name string) bool { return f.Get(name) == "on" }
	in := idpFields{
		DisplayName: strings.TrimSpace(f.Get("display_name")),
		Enabled:     on("enabled"),
		JIT:         on("jit"),
		LinkByEmail: on("link_by_email"),
		GroupClaim:  strings.TrimSpace(f.Get("group_claim")),
		Defaults:    append([]string{}, f["default_groups"]...),
		Attributes: realm.IdPAttributeNames{
			Email:     strings.TrimSpace(f.Get("attr_email")),
			FirstName: strings.TrimSpace(f.Get("attr_first_name")),
			LastName:  strings.TrimSpace(f.Get("attr_last_name")),
		},
		Mappings: []realm.GroupMapping{},
	}
	for _, row := range formMappingRows(f) {
		switch {
		case row.blank():
			continue
		case row.External == "":
			fe[row.ExternalField()] = "is required: the group's name at the provider, or clear the row"
		case row.Group == "":
			fe[row.GroupField()] = "is required: the realm group that people in " + row.External + " join"
		}
		in.Mappings = append(in.Mappings, realm.GroupMapping{External: row.External, Group: row.Group})
		in.Rows = append(in.Rows, row.N)
	}
	switch kind {
	case realm.IdPSAML:
		mdURL, mdXML := strings.TrimSpace(f.Get("metadata_url")), oneNewline(strings.TrimSpace(f.Get("metadata_xml")))
		switch {
		case mdURL == "" && mdXML == "":
			fe["metadata_url"] = "is required: the address the provider publishes its metadata at, or paste the metadata XML instead"
		case mdURL != "" && mdXML != "":
			fe["metadata_xml"] = "give the metadata URL or the metadata XML, not both: clear one of them"
		case cur == nil || cur.SAML == nil:
			in.SAML = &realm.SAMLInput{MetadataURL: mdURL, MetadataXML: mdXML}
		default:
			// Sent only when changed (or asked to be read again): sending
			// it makes Ward read the metadata anew.
			changed := mdURL != cur.SAML.MetadataURL || mdURL == "" && mdXML != oneNewline(strings.TrimSpace(cur.SAML.MetadataXML))
			if changed || (mdURL != "" && on("reread_metadata")) {
				in.SAML = &realm.SAMLInput{MetadataURL: mdURL, MetadataXML: mdXML}
			}
		}
	case realm.IdPOIDC:
		o := &realm.OIDCInput{Issuer: strings.TrimSpace(f.Get("issuer")), ClientID: strings.TrimSpace(f.Get("oidc_client_id")),
			Scopes: strings.Fields(f.Get("scopes"))}
		secret := strings.TrimSpace(f.Get("client_secret"))
		remove := cur != nil && on("remove_client_secret")
		switch {
		case remove && secret != "":
			fe["client_secret"] = "type a new secret or tick “Remove the client secret”, not both"
		case remove:
			o.ClientSecret = new(string)
		case secret != "":
			o.ClientSecret = &secret
		}
		if len(o.Scopes) == 0 {
			// Emptied on an edit: openid alone; empty on a new provider:
			// the service's default.
			o.Scopes = nil
			if cur != nil {
				o.Scopes = []string{}
			}
		}
		if o.Issuer == "" {
			fe["issuer"] = "is required"
		}
		if o.ClientID == "" {
			fe["oidc_client_id"] = "is required"
		}
		in.OIDC = o
	default:
		fe["kind"] = "choose SAML 2.0 or OpenID Connect"
	}
	return in, fe
}

// oneNewline turns CRLF line breaks (as browsers send a textarea) into LF.
func oneNewline(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// idpRefused maps the service's errors on a provider form to its inputs:
// saml.metadata_xml to metadata_xml, oidc.client_id to oidc_client_id,
// group_mappings[i].group to the group input of the row mappings[i] came
// from, one scope's error to the scopes input naming the scope. create
// says whether the form has an alias input (the edit form's conflicts are
// about the whole provider).
func idpRefused(err error, in idpFields, create bool) (fieldErrors, int, bool) {
	fe, status, ok := refused(err)
	if !ok {
		return nil, 0, false
	}
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	// The first error of an input wins, in field order, then by index
	// ("x[10]" after "x[2]").
	slices.SortFunc(keys, func(a, b string) int {
		fa, na := splitAnyIndex(a)
		fb, nb := splitAnyIndex(b)
		if c := strings.Compare(fa, fb); c != 0 {
			return c
		}
		return na - nb
	})
	out := fieldErrors{}
	add := func(field, msg string) {
		if _, dup := out[field]; !dup {
			out[field] = msg
		}
	}
	row := func(i int) (int, bool) {
		if i >= 0 && i < len(in.Rows) {
			return in.Rows[i], true
		}
		return 0, false
	}
	for _, k := range keys {
		msg := fe[k]
		if m := idpIndexed.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[2])
			switch m[1] {
			case "oidc.scopes":
				if in.OIDC != nil && i < len(in.OIDC.Scopes) {
					msg = "the scope " + strconv.Quote(in.OIDC.Scopes[i]) + " " + msg
				}
				add("scopes", msg)
				continue
			case "default_groups":
				add("default_groups", "a chosen group "+msg)
				continue
			case "group_mappings":
				if n, ok := row(i); ok {
					add(mappingRow{N: n}.ExternalField(), msg)
				} else {
					add("group_mappings", msg)
				}
				continue
			}
		}
		if m := mappingError.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[1])
			if n, ok := row(i); ok {
				r := mappingRow{N: n}
				if m[2] == "group" {
					add(r.GroupField(), msg)
				} else {
					add(r.ExternalField(), msg)
				}
				continue
			}
			add("group_mappings", msg)
			continue
		}
		if f, ok := idpFormField[k]; ok {
			if f == "alias" && !create {
				f = ""
			}
			add(f, msg)
			continue
		}
		// A field the form has no input for: said as the service names it.
		add("", k+" "+msg)
	}
	return out, status, true
}

// splitAnyIndex splits the first index out of a field name:
// "group_mappings[2].group" is "group_mappings[].group" and 2.
func splitAnyIndex(k string) (string, int) {
	if m := anyIndex.FindStringSubmatch(k); m != nil {
		n, _ := strconv.Atoi(m[2])
		return m[1] + "[]" + m[3], n
	}
	return k, -1
}

var (
	anyIndex     = regexp.MustCompile(`^(.*?)\[(\d+)\](.*)$`)
	idpIndexed   = regexp.MustCompile(`^(oidc\.scopes|default_groups|group_mappings)\[(\d+)\]$`)
	mappingError = regexp.MustCompile(`^group_mappings\[(\d+)\]\.(external|group)$`)
)

// idpFormField is the form input of each field the service names.
var idpFormField = map[string]string{
	"alias":                 "alias",
	"kind":                  "kind",
	"display_name":          "display_name",
	"saml":                  "metadata_url",
	"saml.metadata_url":     "metadata_url",
	"saml.metadata_xml":     "metadata_xml",
	"oidc":                  "issuer",
	"oidc.issuer":           "issuer",
	"oidc.client_id":        "oidc_client_id",
	"oidc.client_secret":    "client_secret",
	"oidc.scopes":           "scopes",
	"group_claim":           "group_claim",
	"group_mappings":        "group_mappings",
	"default_groups":        "default_groups",
	"attributes.email":      "attr_email",
	"attributes.first_name": "attr_first_name",
	"attributes.last_name":  "attr_last_name",
}

func (u *UI) createIdP(r *req) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	kind := realm.IdPKind(f.Get("kind"))
	in, fe := parseIdPForm(f, kind, nil)
	if len(fe) > 0 {
		return u.showIdPs(r, http.StatusBadRequest, f, fe)
	}
	p, err := u.idps.CreateIdentityProvider(r.ctx, r.realm, realm.IdentityProviderInput{
		Alias: strings.TrimSpace(f.Get("alias")), Kind: string(kind), DisplayName: in.DisplayName,
		Enabled: &in.Enabled, JIT: &in.JIT, LinkByEmail: in.LinkByEmail, SAML: in.SAML, OIDC: in.OIDC,
		GroupClaim: in.GroupClaim, GroupMappings: in.Mappings, DefaultGroups: in.Defaults, Attributes: in.Attributes,
	})
	if err != nil {
		if fe, status, ok := idpRefused(err, in, true); ok {
			return u.showIdPs(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, idpPath(r.realm, p.Alias), idpSavedFlash(p, "created"))
}

// idpSavedFlash says what became of a provider just saved: a provider
// Ward could not use is saved disabled, and its page says why.
func idpSavedFlash(p *realm.IdentityProviderView, what string) string {
	msg := "Identity provider " + p.Alias + " " + what
	switch {
	case p.DisabledReason != "":
		return msg + ", but disabled: Ward could not use it. The reason is below."
	case !p.Enabled:
		return msg + ", switched off: the login page does not offer it."
	}
	return msg + "."
}

// idpView is the data of console/identityprovider.html.
type idpView struct {
	base
	P          idpRow
	Groups     []realm.Group
	GroupNames map[string]string
	Rows       []mappingRow
	// SecretDropped: the refused form had a client secret, which is not
	// sent back to the browser.
	SecretDropped bool
}

func (u *UI) idpPage(r *req) error { return u.showIdP(r, http.StatusOK, nil, nil) }

func (u *UI) showIdP(r *req, status int, f url.Values, fe fieldErrors) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	p, err := u.idps.GetIdentityProvider(r.ctx, r.realm, r.c.Param("alias"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Identity provider "+idpName(&p.IdentityProvider), "identity-providers")
	if err != nil {
		return r.fail(err)
	}
	groups, names, err := u.allGroups(r)
	if err != nil {
		return r.fail(err)
	}
	v := &idpView{base: b, P: idpRow{*p}, Groups: groups, GroupNames: names}
	if v.refill(f, fe) {
		v.Rows = formMappingRows(f)
		v.SecretDropped = strings.TrimSpace(f.Get("client_secret")) != ""
		v.Form.Del("client_secret")
	} else {
		v.Form, v.Rows = idpFormOf(p)
	}
	v.Rows = withBlankRows(v.Rows)
	return r.render(status, "identityprovider.html", v)
}

// idpFormOf fills the edit form from the stored provider. Enabled is
// ticked for a provider Ward switched off (it is meant to be on: saving
// checks it again) and unticked for one an admin switched off.
func idpFormOf(p *realm.IdentityProviderView) (url.Values, []mappingRow) {
	f := url.Values{
		"display_name":    {p.DisplayName},
		"group_claim":     {p.GroupClaim},
		"default_groups":  append([]string(nil), p.DefaultGroups...),
		"attr_email":      {p.Attributes.Email},
		"attr_first_name": {p.Attributes.FirstName},
		"attr_last_name":  {p.Attributes.LastName},
	}
	for name, on := range map[string]bool{"enabled": p.Enabled || p.DisabledReason != "", "jit": p.JIT, "link_by_email": p.LinkByEmail} {
		if on {
			f.Set(name, "on")
		}
	}
	if p.SAML != nil {
		f.Set("metadata_url", p.SAML.MetadataURL)
		if p.SAML.MetadataURL == "" {
			f.Set("metadata_xml", p.SAML.MetadataXML)
		}
	}
	if p.OIDC != nil {
		f.Set("issuer", p.OIDC.Issuer)
		f.Set("oidc_client_id", p.OIDC.ClientID)
		f.Set("scopes", strings.Join(p.OIDC.Scopes, " "))
	}
	rows := make([]mappingRow, len(p.GroupMappings))
	for i, m := range p.GroupMappings {
		rows[i] = mappingRow{N: i, External: m.External, Group: m.Group}
	}
	return f, rows
}

func (u *UI) updateIdP(r *req) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	cur, err := u.idps.GetIdentityProvider(r.ctx, r.realm, r.c.Param("alias"))
	if err != nil {
		return r.fail(err)
	}
	in, fe := parseIdPForm(f, cur.Kind, cur)
	if len(fe) > 0 {
		return u.showIdP(r, http.StatusBadRequest, f, fe)
	}
	patch := realm.IdentityProviderPatch{
		DisplayName: &in.DisplayName, JIT: &in.JIT, LinkByEmail: &in.LinkByEmail, SAML: in.SAML, OIDC: in.OIDC,
		GroupClaim: &in.GroupClaim, GroupMappings: &in.Mappings, DefaultGroups: &in.Defaults, Attributes: &in.Attributes,
	}
	// Sent when it changes (switching on reads the provider's document
	// again), and always for a provider Ward switched off: its box starts
	// ticked (idpFormOf), so ticked asks for a new try and unticked is
	// the admin switching it off for good (the service would otherwise try
	// it again when its source changes).
	if in.Enabled != cur.Enabled || cur.DisabledReason != "" {
		patch.Enabled = &in.Enabled
	}
	p, err := u.idps.UpdateIdentityProvider(r.ctx, r.realm, cur.Alias, patch)
	if err != nil {
		if fe, status, ok := idpRefused(err, in, false); ok {
			return u.showIdP(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, idpPath(r.realm, p.Alias), idpSavedFlash(p, "saved"))
}

// confirmDeleteIdP asks before deleting a provider.
func (u *UI) confirmDeleteIdP(r *req) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	p, err := u.idps.GetIdentityProvider(r.ctx, r.realm, r.c.Param("alias"))
	if err != nil {
		return r.fail(err)
	}
	name, path := idpName(&p.IdentityProvider), idpPath(r.realm, p.Alias)
	return r.confirm("Delete identity provider "+p.Alias, "identity-providers", confirmPage{
		Heading: fmt.Sprintf("Delete the identity provider %s?", name),
		Points: []string{
			"The login page no longer offers it, and answers its provider sends to " + p.RedirectURI + " are refused.",
			"The realm's users who signed in through it stay, with their groups; their links to it are removed. " +
				"A user without a password cannot sign in until it sets one (send it a set-password email from its page).",
			"A provider added again under the alias " + p.Alias + " does not know these users: it links them again only with “Link by email”.",
		},
		Action: path + "/delete", Button: "Delete identity provider", Back: path, Allowed: r.p.Role.CanWrite(),
	})
}

func (u *UI) deleteIdP(r *req) error {
	if u.idps == nil {
		return u.idpsUnavailable(r)
	}
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	alias := r.c.Param("alias")
	if err := u.idps.DeleteIdentityProvider(r.ctx, r.realm, alias); err != nil {
		return r.fail(err)
	}
	return r.done(f, idpsPath(r.realm), "Identity provider "+alias+" deleted.")
}

// signInProvider is a provider a user is linked to, on the user's page.
type signInProvider struct {
	Name  string
	Alias string
}

// userProviders lists the providers the user signs in with, by name. A
// server without the identity provider service has none; a failure costs
// the line, never the user's page.
func (u *UI) userProviders(r *req, userID string) []signInProvider {
	if u.idps == nil {
		return nil
	}
	links, err := u.idps.UserIdentities(r.ctx, r.realm, userID)
	if err != nil || len(links) == 0 {
		if err != nil && r.ctx.Err() == nil {
			u.log.Warn("console: reading a user's identity provider links", "err", err)
		}
		return nil
	}
	names := map[string]string{}
	if ps, err := u.idps.ListIdentityProviders(r.ctx, r.realm); err == nil {
		for _, p := range ps {
			names[p.Alias] = idpName(&p.IdentityProvider)
		}
	}
	out := make([]signInProvider, 0, len(links))
	for _, l := range links {
		name := names[l.ProviderAlias]
		if name == "" {
			name = l.ProviderAlias
		}
		out = append(out, signInProvider{Name: name, Alias: l.ProviderAlias})
	}
	return out
}

func idpsPath(realmName string) string {
	return realmPath(realmName, "identity-providers")
}

func idpPath(realmName, alias string) string {
	return realmPath(realmName, "identity-providers", alias)
}
