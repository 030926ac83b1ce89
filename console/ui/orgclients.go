package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The organization's admin API clients (issue 19): console-realm clients
// that act for the org with a role through client_credentials, as the
// admin API's /admin/v1/clients. Owners only, like that API: the page
// answers others as the service does (forbidden). A new or rotated secret
// is shown once, through the session's one-shot slot, like a realm
// client's.

func (u *UI) registerOrgClients(e *echo.Echo) {
	e.GET("/console/api-clients", u.page(u.orgClientsPage))
	e.POST("/console/api-clients", u.page(u.createOrgClient))
	e.GET("/console/api-clients/:client_id", u.page(u.orgClientPage))
	e.POST("/console/api-clients/:client_id", u.page(u.updateOrgClient))
	e.POST("/console/api-clients/:client_id/rotate", u.page(u.rotateOrgClient))
	e.POST("/console/api-clients/:client_id/active", u.page(u.setOrgClientActive))
}

// orgClientsView is the data of console/api_clients.html and, with C set,
// console/api_client.html.
type orgClientsView struct {
	base
	Clients []realm.Client
	Next    string
	Paged   bool
	Roles   []realm.Role
	C       *realm.Client
	Secret  *shownSecret
}

func orgClientPath(clientID string) string { return "/console/api-clients/" + url.PathEscape(clientID) }

func (u *UI) orgClientsPage(r *req) error { return u.showOrgClients(r, http.StatusOK, nil, nil) }

func (u *UI) showOrgClients(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("API clients", "api-clients")
	if err != nil {
		return r.fail(err)
	}
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	page, err := u.svc.ListOrgClients(r.ctx, realm.ListOptions{Cursor: cursor})
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("role", string(realm.RoleViewer))
	}
	return r.render(status, "api_clients.html", &orgClientsView{base: b, Clients: page.Items, Next: page.NextCursor,
		Paged: cursor != "", Roles: memberRoles})
}

func (u *UI) createOrgClient(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	c, secret, err := u.svc.CreateOrgClient(r.ctx, realm.OrgClientInput{Name: f.Get("name"), Description: f.Get("description"),
		Role: realm.Role(f.Get("role"))})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showOrgClients(r, status, f, fe)
		}
		return r.fail(err)
	}
	r.s.keepSecret(&shownSecret{Slot: c.ClientID, Secret: secret}, u.now())
	return r.done(f, orgClientPath(c.ClientID), "API client "+c.Name+" created with role "+string(c.OrgRole)+".")
}

func (u *UI) orgClientPage(r *req) error { return u.showOrgClient(r, http.StatusOK, nil, nil) }

func (u *UI) showOrgClient(r *req, status int, f url.Values, fe fieldErrors) error {
	c, err := u.svc.GetOrgClient(r.ctx, r.c.Param("client_id"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base(c.Name, "api-clients")
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form = url.Values{"name": {c.Name}, "description": {c.Description}, "role": {string(c.OrgRole)}}
	}
	v := &orgClientsView{base: b, C: c, Roles: memberRoles}
	if status == http.StatusOK {
		if v.Secret, err = r.takeSecret(c.ClientID); err != nil {
			return r.fail(err)
		}
	}
	return r.render(status, "api_client.html", v)
}

func (u *UI) updateOrgClient(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	name, desc, role := f.Get("name"), f.Get("description"), realm.Role(f.Get("role"))
	c, err := u.svc.UpdateOrgClient(r.ctx, r.c.Param("client_id"), realm.OrgClientPatch{Name: &name, Description: &desc, Role: &role})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showOrgClient(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, orgClientPath(c.ClientID), "API client "+c.Name+" saved.")
}

func (u *UI) rotateOrgClient(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	grace := 0
	if s := strings.TrimSpace(f.Get("grace_seconds")); s != "" {
		if grace, err = strconv.Atoi(s); err != nil {
			return u.showOrgClient(r, http.StatusBadRequest, nil, fieldErrors{"grace_seconds": "must be a whole number of seconds"})
		}
	}
	c, secret, err := u.svc.RotateOrgClientSecret(r.ctx, r.c.Param("client_id"), grace)
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showOrgClient(r, status, nil, fe)
		}
		return r.fail(err)
	}
	r.s.keepSecret(&shownSecret{Slot: c.ClientID, Secret: secret}, u.now())
	return r.done(f, orgClientPath(c.ClientID), "New secret for "+c.Name+".")
}

func (u *UI) setOrgClientActive(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	active := f.Get("active") == "true"
	c, err := u.svc.UpdateOrgClient(r.ctx, r.c.Param("client_id"), realm.OrgClientPatch{Active: &active})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showOrgClient(r, status, nil, fe)
		}
		return r.fail(err)
	}
	flash := "API client " + c.Name + " disabled: its tokens stop working at once."
	if active {
		flash = "API client " + c.Name + " enabled. Tokens issued before it was disabled stay dead."
	}
	return r.done(f, orgClientPath(c.ClientID), flash)
}
