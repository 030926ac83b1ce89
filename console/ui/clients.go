package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The clients screen: a realm's OAuth2 clients, service accounts and
// applications. A confidential client's secret exists in clear only in the
// response of CreateClient or RotateClientSecret; the console keeps it in
// the session's one-shot slot (keepSecret) across the POST→redirect and the
// client's page takes it (takeSecret), so it is shown exactly once and a
// reload, the back button or a shared URL never shows it again. It never
// travels in a URL, a flash message or a log line.

func (u *UI) registerClients(e *echo.Echo) {
	e.GET("/console/realms/:realm/clients", u.page(u.clientsPage))
	e.POST("/console/realms/:realm/clients", u.page(u.createClient))
	e.GET("/console/realms/:realm/clients/:client_id", u.page(u.clientPage))
	e.POST("/console/realms/:realm/clients/:client_id", u.page(u.updateClient))
	e.GET("/console/realms/:realm/clients/:client_id/rotate", u.page(u.rotatePage))
	e.POST("/console/realms/:realm/clients/:client_id/rotate", u.page(u.rotateSecret))
	e.GET("/console/realms/:realm/clients/:client_id/deactivate", u.page(u.deactivatePage))
	e.POST("/console/realms/:realm/clients/:client_id/deactivate", u.page(u.setClientActive(false)))
	e.POST("/console/realms/:realm/clients/:client_id/activate", u.page(u.setClientActive(true)))
}

// clientsView is the data of console/clients.html.
type clientsView struct {
	base
	Clients []realm.Client
	Next    string // cursor of the next page, "" on the last
	Paged   bool   // a page after the first
	Q       string
	Groups  []realm.Group
}

// KindFixed tells the shared client fields whether the form is for one
// kind (a client's page) or both (the new-client form, which labels the
// fields that apply to one kind only).
func (*clientsView) KindFixed() bool { return false }

func (u *UI) clientsPage(r *req) error { return u.showClients(r, http.StatusOK, nil, nil) }

func (u *UI) showClients(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Clients", "clients")
	if err != nil {
		return r.fail(err)
	}
	q := strings.TrimSpace(r.c.QueryParam("q"))
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	page, err := u.svc.ListClients(r.ctx, r.realm, realm.ListOptions{Limit: 50, Cursor: cursor, Query: q})
	if err != nil {
		return r.fail(err)
	}
	groups, _, err := u.allGroups(r)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("kind", string(realm.KindServiceAccount))
		b.Form.Set("communication", string(realm.CommRedirect))
		b.Form.Set("id_token_signed_response_alg", realm.IDTokenRS256)
		for _, sc := range realm.DefaultClientScopes() {
			b.Form.Set(scopeField(sc), scopeDefault)
		}
	}
	return r.render(status, "clients.html", &clientsView{base: b, Clients: page.Items, Next: page.NextCursor, Paged: cursor != "",
		Q: q, Groups: groups})
}

func (u *UI) createClient(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	kind := f.Get("kind")
	in := realm.ClientInput{
		ClientID: strings.TrimSpace(f.Get("client_id")), Name: strings.TrimSpace(f.Get("name")), Kind: kind,
		Description: f.Get("description"), Audience: lines(f.Get("audience")),
		Public: f.Get("public") == "on", RedirectURIs: lines(f.Get("redirect_uris")), WebOrigins: lines(f.Get("web_origins")),
		DisplayName: f.Get("display_name"), OfflineAccess: f.Get("offline_access") == "on",
	}
	switch realm.ClientKind(kind) {
	case realm.KindServiceAccount:
		in.Groups, in.PrimaryGroup = f["groups"], f.Get("primary_group")
	case realm.KindApplication:
		// The menus always send a value, so they count only for the kind
		// they belong to; typed fields go to the service, which names any
		// that do not fit the kind.
		in.Communication, in.IDTokenAlg = f.Get("communication"), f.Get("id_token_signed_response_alg")
		defaults, optional, ok, bad := formScopes(f, in.OfflineAccess)
		if bad != nil {
			return u.showClients(r, http.StatusBadRequest, f, bad)
		}
		if ok {
			in.DefaultScopes, in.OptionalScopes = &defaults, optional
		}
		if len(f["groups"]) > 0 || f.Get("primary_group") != "" {
			return u.showClients(r, http.StatusBadRequest, f, fieldErrors{
				"groups": "only service accounts are members of groups; an application signs users in, who have their own groups"})
		}
	}
	c, secret, err := u.svc.CreateClient(r.ctx, r.realm, in)
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showClients(r, status, f, fe)
		}
		return r.fail(err)
	}
	flash := "Client " + c.Name + " created."
	if secret != "" {
		r.s.keepSecret(&shownSecret{Realm: r.realm, Slot: c.ClientID, Secret: secret}, u.now())
	} else {
		flash = "Client " + c.Name + " created. It is a public application: it has no secret and signs users in with PKCE."
	}
	return r.done(f, clientPath(r.realm, c.ClientID), flash)
}

// clientView is the data of console/client.html.
type clientView struct {
	base
	C *realm.ClientView
	// Secret is the client's new secret on the one page view that shows it.
	Secret     *shownSecret
	Groups     []realm.Group
	GroupNames map[string]string
	Effective  []attrRow
}

func (v *clientView) IsApp() bool { return v.C.Kind == realm.KindApplication }

// KindFixed: a client's page edits one kind (see clientsView.KindFixed).
func (*clientView) KindFixed() bool { return true }

func (u *UI) clientPage(r *req) error { return u.showClient(r, http.StatusOK, nil, nil) }

func (u *UI) showClient(r *req, status int, f url.Values, fe fieldErrors) error {
	c, err := u.svc.GetClient(r.ctx, r.realm, r.c.Param("client_id"))
	if err != nil {
		return r.fail(err)
	}
	// Titled by its name, as users and groups are: the client ID is a
	// machine's name for it (shown on the page).
	b, err := r.base(c.Name, "clients")
	if err != nil {
		return r.fail(err)
	}
	groups, names, err := u.allGroups(r)
	if err != nil {
		return r.fail(err)
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form = clientForm(c)
	}
	v := &clientView{base: b, C: c, Groups: groups, GroupNames: names, Effective: attrRows(defs, c.EffectiveAttributes)}
	if status == http.StatusOK {
		// Taken only by a page that is shown as such, never by a refused
		// form: the secret is shown on exactly one page view.
		if v.Secret, err = r.takeSecret(c.ClientID); err != nil {
			return r.fail(err)
		}
	}
	return r.render(status, "client.html", v)
}

// clientForm is the edit form filled with the client's current values.
func clientForm(c *realm.ClientView) url.Values {
	f := url.Values{}
	f.Set("name", c.Name)
	f.Set("description", c.Description)
	f.Set("audience", strings.Join(c.Audience, "\n"))
	f["groups"] = append([]string(nil), c.Groups...)
	f.Set("primary_group", c.PrimaryGroup)
	f.Set("redirect_uris", strings.Join(c.RedirectURIs, "\n"))
	f.Set("web_origins", strings.Join(c.WebOrigins, "\n"))
	f.Set("communication", string(c.Communication))
	f.Set("display_name", c.DisplayName)
	if c.AllowOfflineAccess {
		f.Set("offline_access", "on")
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = realm.IDTokenRS256
	}
	f.Set("id_token_signed_response_alg", alg)
	for _, sc := range c.DefaultScopes {
		f.Set(scopeField(sc), scopeDefault)
	}
	for _, sc := range c.OptionalScopes {
		if sc != realm.ScopeOfflineAccess {
			f.Set(scopeField(sc), scopeOptional)
		}
	}
	for _, sc := range formScopeNames {
		if f.Get(scopeField(sc)) == "" {
			f.Set(scopeField(sc), scopeNever)
		}
	}
	return f
}

// The scope choices of the application form: for profile and email, a
// radio group "scope_NAME" granting it always (a default scope), when asked
// (an optional scope) or never; offline_access is the offline access
// checkbox.
const (
	scopeDefault  = "default"
	scopeOptional = "optional"
	scopeNever    = "never"
)

var formScopeNames = []string{realm.ScopeProfile, realm.ScopeEmail}

func scopeField(scope string) string { return "scope_" + scope }

// formScopes reads the scope radio groups into default and optional scopes
// (offline_access among the optional ones when offline is checked); ok is
// false when the form has none of them (nothing to change). A choice other
// than the three the form offers is bad (a tampered form), not "never".
func formScopes(f url.Values, offline bool) (defaults, optional []string, ok bool, bad fieldErrors) {
	defaults, optional = []string{}, []string{}
	for _, sc := range formScopeNames {
		switch v := f.Get(scopeField(sc)); v {
		case scopeDefault:
			defaults = append(defaults, sc)
		case scopeOptional:
			optional = append(optional, sc)
		case scopeNever:
		case "":
			continue
		default:
			if bad == nil {
				bad = fieldErrors{}
			}
			bad[scopeField(sc)] = "choose always, when asked or never"
		}
		ok = true
	}
	if offline {
		optional = append(optional, realm.ScopeOfflineAccess)
	}
	return defaults, optional, ok, bad
}

func (u *UI) updateClient(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("client_id")
	c, err := u.svc.GetClient(r.ctx, r.realm, id)
	if err != nil {
		return r.fail(err)
	}
	name, desc := strings.TrimSpace(f.Get("name")), f.Get("description")
	aud := lines(f.Get("audience"))
	p := realm.ClientPatch{Name: &name, Description: &desc, Audience: &aud}
	// Only the fields of the client's kind are sent: the others are not on
	// its form, and the service refuses them for the other kind.
	if c.Kind == realm.KindApplication {
		redirects, origins := lines(f.Get("redirect_uris")), lines(f.Get("web_origins"))
		comm, display, alg := f.Get("communication"), f.Get("display_name"), f.Get("id_token_signed_response_alg")
		offline := f.Get("offline_access") == "on"
		p.RedirectURIs, p.WebOrigins, p.Communication, p.DisplayName, p.IDTokenAlg, p.OfflineAccess =
			&redirects, &origins, &comm, &display, &alg, &offline
		defaults, optional, ok, bad := formScopes(f, offline)
		if bad != nil {
			return u.showClient(r, http.StatusBadRequest, f, bad)
		}
		if ok {
			p.DefaultScopes, p.OptionalScopes = &defaults, &optional
		}
	} else {
		groups, primary := append([]string{}, f["groups"]...), f.Get("primary_group")
		p.Groups, p.PrimaryGroup = &groups, &primary
	}
	v, err := u.svc.UpdateClient(r.ctx, r.realm, id, p)
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showClient(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, clientPath(r.realm, v.ClientID), "Client "+v.Name+" saved.")
}

// clientConfirmView is the data of console/client_rotate.html and
// console/client_deactivate.html: a confirmation page with one form.
type clientConfirmView struct {
	base
	C *realm.ClientView
}

// IsApp: the client is an application (not a service account).
func (v *clientConfirmView) IsApp() bool { return v.C.Kind == realm.KindApplication }

func (u *UI) rotatePage(r *req) error {
	return u.showConfirm(r, http.StatusOK, "client_rotate.html", "Rotate secret", nil, nil)
}

func (u *UI) deactivatePage(r *req) error {
	return u.showConfirm(r, http.StatusOK, "client_deactivate.html", "Deactivate", nil, nil)
}

func (u *UI) showConfirm(r *req, status int, page, title string, f url.Values, fe fieldErrors) error {
	c, err := u.svc.GetClient(r.ctx, r.realm, r.c.Param("client_id"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base(title+" · "+c.Name, "clients")
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("grace_seconds", "0")
	}
	return r.render(status, page, &clientConfirmView{base: b, C: c})
}

func (u *UI) rotateSecret(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("client_id")
	// Only the reading of the number is the console's: its range is the
	// service's rule, and RotateClientSecret names grace_seconds when it
	// refuses it.
	grace, err := strconv.Atoi(strings.TrimSpace(f.Get("grace_seconds")))
	if err != nil {
		return u.showConfirm(r, http.StatusBadRequest, "client_rotate.html", "Rotate secret", f,
			fieldErrors{"grace_seconds": "must be a whole number of seconds"})
	}
	c, secret, err := u.svc.RotateClientSecret(r.ctx, r.realm, id, grace)
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showConfirm(r, status, "client_rotate.html", "Rotate secret", f, fe)
		}
		return r.fail(err)
	}
	r.s.keepSecret(&shownSecret{Realm: r.realm, Slot: c.ClientID, Secret: secret}, u.now())
	flash := "Client " + c.Name + " secret rotated. The previous secret stopped working."
	if grace > 0 {
		flash = fmt.Sprintf("Client %s secret rotated. The previous secret keeps working for %d seconds.", c.Name, grace)
	}
	return r.done(f, clientPath(r.realm, c.ClientID), flash)
}

// setClientActive deactivates (from the confirmation page) or reactivates
// a client.
func (u *UI) setClientActive(active bool) handler {
	return func(r *req) error {
		f, done, err := r.form()
		if done || err != nil {
			return err
		}
		c, err := u.svc.UpdateClient(r.ctx, r.realm, r.c.Param("client_id"), realm.ClientPatch{Active: &active})
		if err != nil {
			return r.fail(err)
		}
		flash := "Client " + c.Name + " deactivated. Its tokens no longer work and it cannot get new ones."
		if active {
			flash = "Client " + c.Name + " reactivated."
		}
		return r.done(f, clientPath(r.realm, c.ClientID), flash)
	}
}

func clientsPath(realmName string) string {
	return realmPath(realmName, "clients")
}

func clientPath(realmName, clientID string) string {
	return realmPath(realmName, "clients", clientID)
}
