package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The security templates screen (CONTRACT §6): the rules a backend's API
// key mints short-lived keys with, each shown with a plain-language
// summary (templateSummary). A template's name is what backends mint
// with, so it does not change. From a template's page an admin may mint a
// test key (Config.MintTestKey: at most ten minutes, an audit event); it
// is shown once, as a new API key is: kept in the session's one-shot slot
// across the POST→redirect and taken by the next view of the page.

func (u *UI) registerSecurityTemplates(e *echo.Echo) {
	e.GET("/console/realms/:realm/security-templates", u.page(u.templatesPage))
	e.POST("/console/realms/:realm/security-templates", u.page(u.createTemplate))
	e.GET("/console/realms/:realm/security-templates/:name", u.page(u.templatePage))
	e.POST("/console/realms/:realm/security-templates/:name", u.page(u.updateTemplate))
	e.GET("/console/realms/:realm/security-templates/:name/delete", u.page(u.confirmDeleteTemplate))
	e.POST("/console/realms/:realm/security-templates/:name/delete", u.page(u.deleteTemplate))
	// The mint form answers with a redirect; a GET of its address (a
	// reload after a refusal) goes to the template's page.
	e.GET("/console/realms/:realm/security-templates/:name/test-key", u.page(func(r *req) error {
		return r.c.Redirect(http.StatusSeeOther, templatePath(r.realm, r.c.Param("name")))
	}))
	e.POST("/console/realms/:realm/security-templates/:name/test-key", u.page(u.mintTestKey))
}

// testKeySlot is the session's one-shot slot of a test key minted from the
// template with this ID (not its name: a template deleted and created
// again under the same name is another template).
func testKeySlot(templateID string) string { return "test-key:" + templateID }

// templateRow is a template as the pages show it.
type templateRow struct {
	realm.SecurityTemplate
	Summary string
}

func rowOf(t realm.SecurityTemplate) templateRow {
	return templateRow{SecurityTemplate: t, Summary: templateSummary(t)}
}

// templatesView is the data of console/sectemplates.html.
type templatesView struct {
	base
	Templates []templateRow
	Picker    []permissionGroup
}

func (u *UI) templatesPage(r *req) error { return u.showTemplates(r, http.StatusOK, nil, nil) }

// showTemplates renders the list with the new-template form (f, fe: a
// refused one).
func (u *UI) showTemplates(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Security templates", "security-templates")
	if err != nil {
		return r.fail(err)
	}
	list, err := u.svc.ListSecurityTemplates(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	catalog, err := u.svc.ListPermissions(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("ttl_seconds", strconv.Itoa(realm.DefaultTemplateTTL))
	}
	v := &templatesView{base: b, Picker: groupPermissions(catalog)}
	for _, t := range list {
		v.Templates = append(v.Templates, rowOf(t))
	}
	return r.render(status, "sectemplates.html", v)
}

// templateFields is a template form as the service takes it.
type templateFields struct {
	Description                   string
	Permissions                   []string
	TTLSeconds                    *int
	LimitPerMinute, LimitPerIP    *int
	DirScope, IPRanges, Countries []string
}

// parseTemplateForm reads a template form. The numbers must be whole
// numbers (the service checks their range); an empty limit is no limit,
// an empty lifetime the default (on the new-template form; the edit form
// requires one). The lists are one item a line.
func parseTemplateForm(f url.Values, create bool) (templateFields, fieldErrors) {
	fe := fieldErrors{}
	number := func(field, msg string) *int {
		s := strings.TrimSpace(f.Get(field))
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			fe[field] = msg
			return nil
		}
		return &n
	}
	in := templateFields{
		Description: strings.TrimSpace(f.Get("description")),
		Permissions: append([]string{}, f["permissions"]...),
		TTLSeconds: number("ttl_seconds", "must be a whole number of seconds, from "+
			strconv.Itoa(realm.MinTemplateTTL)+" to "+strconv.Itoa(realm.MaxTemplateTTL)),
		LimitPerMinute: number("limit_per_minute", "must be a whole number of requests a minute, or empty for no limit"),
		LimitPerIP:     number("limit_per_source_ip_per_minute", "must be a whole number of requests a minute, or empty for no limit"),
		DirScope:       lines(f.Get("dir_scope")),
		IPRanges:       lines(f.Get("ip_ranges")),
		Countries:      lines(f.Get("countries")),
	}
	if in.TTLSeconds == nil && !create && fe["ttl_seconds"] == "" {
		fe["ttl_seconds"] = "is required: how long a key minted from the template lives, in seconds"
	}
	// nil lists are "none", as empty textareas mean.
	for _, l := range []*[]string{&in.DirScope, &in.IPRanges, &in.Countries} {
		if *l == nil {
			*l = []string{}
		}
	}
	return in, fe
}

// templateRefused maps the service's errors on a template form to its
// inputs: one permission's error to the picker (keyRefused), one line's
// to its textarea ("line 2 must be …", foldIndexed).
func templateRefused(err error, perms []string) (fieldErrors, int, bool) {
	fe, status, ok := keyRefused(err, perms)
	if !ok {
		return nil, 0, false
	}
	return foldIndexed(fe), status, true
}

func (u *UI) createTemplate(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	in, fe := parseTemplateForm(f, true)
	if len(fe) > 0 {
		return u.showTemplates(r, http.StatusBadRequest, f, fe)
	}
	t, err := u.svc.CreateSecurityTemplate(r.ctx, r.realm, realm.SecurityTemplateInput{
		Name: strings.TrimSpace(f.Get("name")), Description: in.Description, Permissions: in.Permissions,
		TTLSeconds: in.TTLSeconds, LimitPerMinute: in.LimitPerMinute, LimitPerSourceIPPerMinute: in.LimitPerIP,
		DirScope: in.DirScope, IPRanges: in.IPRanges, Countries: in.Countries,
	})
	if err != nil {
		if fe, status, ok := templateRefused(err, in.Permissions); ok {
			return u.showTemplates(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, templatePath(r.realm, t.Name), "Security template "+t.Name+" created.")
}

// templateView is the data of console/sectemplate.html.
type templateView struct {
	base
	T      templateRow
	Picker []permissionGroup
	// CanMint: the test-key button is offered (a role that may write, on a
	// server that can mint).
	CanMint bool
	// TestKey is a test key just minted, on the one page view that shows
	// it; TestKeyExpires its expiry.
	TestKey        *shownSecret
	TestKeyExpires time.Time
}

func (u *UI) templatePage(r *req) error { return u.showTemplate(r, http.StatusOK, nil, nil) }

func (u *UI) showTemplate(r *req, status int, f url.Values, fe fieldErrors) error {
	t, err := u.svc.GetSecurityTemplate(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Security template "+t.Name, "security-templates")
	if err != nil {
		return r.fail(err)
	}
	catalog, err := u.svc.ListPermissions(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form = templateFormOf(t)
	}
	v := &templateView{base: b, T: rowOf(*t), Picker: groupPermissions(catalog),
		CanMint: b.CanWrite && u.mint != nil}
	if status == http.StatusOK {
		// Taken only by a page shown as such, never by a refused form:
		// the key is shown on exactly one page view.
		if v.TestKey, err = r.takeSecret(testKeySlot(t.ID)); err != nil {
			return r.fail(err)
		}
		if v.TestKey != nil {
			v.TestKeyExpires = v.TestKey.Until
		}
	}
	return r.render(status, "sectemplate.html", v)
}

// templateFormOf fills the edit form from the stored template.
func templateFormOf(t *realm.SecurityTemplate) url.Values {
	f := url.Values{
		"description": {t.Description},
		"permissions": append([]string(nil), t.Permissions...),
		"ttl_seconds": {strconv.Itoa(t.TTLSeconds)},
		"dir_scope":   {strings.Join(t.DirScope, "\n")},
		"ip_ranges":   {strings.Join(t.IPRanges, "\n")},
		"countries":   {strings.Join(t.Countries, "\n")},
	}
	if t.LimitPerMinute != nil {
		f.Set("limit_per_minute", strconv.Itoa(*t.LimitPerMinute))
	}
	if t.LimitPerSourceIPPerMinute != nil {
		f.Set("limit_per_source_ip_per_minute", strconv.Itoa(*t.LimitPerSourceIPPerMinute))
	}
	return f
}

func (u *UI) updateTemplate(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	in, fe := parseTemplateForm(f, false)
	if len(fe) > 0 {
		return u.showTemplate(r, http.StatusBadRequest, f, fe)
	}
	t, err := u.svc.UpdateSecurityTemplate(r.ctx, r.realm, r.c.Param("name"), realm.SecurityTemplatePatch{
		Description: &in.Description, Permissions: &in.Permissions, TTLSeconds: in.TTLSeconds,
		LimitPerMinute:            &realm.LimitChange{Limit: in.LimitPerMinute},
		LimitPerSourceIPPerMinute: &realm.LimitChange{Limit: in.LimitPerIP},
		DirScope:                  &in.DirScope, IPRanges: &in.IPRanges, Countries: &in.Countries,
	})
	if err != nil {
		if fe, status, ok := templateRefused(err, in.Permissions); ok {
			return u.showTemplate(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, templatePath(r.realm, t.Name), "Security template "+t.Name+" saved.")
}

// confirmDeleteTemplate asks before deleting a template.
func (u *UI) confirmDeleteTemplate(r *req) error {
	t, err := u.svc.GetSecurityTemplate(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	path := templatePath(r.realm, t.Name)
	return r.confirm("Delete security template "+t.Name, "security-templates", confirmPage{
		Heading: "Delete the security template " + t.Name + "?",
		Points: []string{"It allows: " + templateSummary(*t) + ".",
			"Backends can no longer mint keys with the name " + t.Name + ": their requests are refused.",
			"Keys already minted from it keep working until they expire (" + ttlWords(t.TTLSeconds) +
				" after minting under its current settings, up to 24 hours for keys minted before its last change): " +
				"they carry their rules with them. To stop them sooner, deactivate the API keys that minted them."},
		Action: path + "/delete", Button: "Delete template", Back: path, Allowed: r.p.Role.CanWrite(),
	})
}

func (u *UI) deleteTemplate(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	name := r.c.Param("name")
	if err := u.svc.DeleteSecurityTemplate(r.ctx, r.realm, name); err != nil {
		return r.fail(err)
	}
	return r.done(f, templatesPath(r.realm), "Security template "+name+" deleted.")
}

// mintTestKey mints a test key of the template and sends the browser to
// the template's page, which shows it once. A role that may not change
// the realm is refused by the minting itself (403).
func (u *UI) mintTestKey(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	if u.mint == nil {
		return r.u.message(r.c, http.StatusNotImplemented, "Not available", "This Ward server cannot mint test keys.")
	}
	t, err := u.svc.GetSecurityTemplate(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	k, err := u.mint(r.ctx, r.realm, t.Name)
	if err != nil {
		return r.fail(err)
	}
	r.s.keepSecret(&shownSecret{Realm: r.realm, Slot: testKeySlot(t.ID), Secret: k.Key, Until: k.ExpiresAt.UTC()}, u.now())
	return r.done(f, templatePath(r.realm, t.Name), "Test key minted from "+t.Name+".")
}

func templatesPath(realmName string) string {
	return realmPath(realmName, "security-templates")
}

func templatePath(realmName, name string) string {
	return realmPath(realmName, "security-templates", name)
}
