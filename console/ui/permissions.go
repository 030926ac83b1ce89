package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The permissions screen: the realm's permission catalog (CONTRACT §6),
// the "resource_type:action" names that API keys are given. A permission's
// name is what keys hold, so only its description changes; deleting one
// that a key holds is refused by the service with a 409 naming the keys,
// shown on the permission's page.

func (u *UI) registerPermissions(e *echo.Echo) {
	e.GET("/console/realms/:realm/permissions", u.page(u.permissionsPage))
	e.POST("/console/realms/:realm/permissions", u.page(u.createPermission))
	e.GET("/console/realms/:realm/permissions/:name", u.page(u.permissionPage))
	e.POST("/console/realms/:realm/permissions/:name", u.page(u.updatePermission))
	e.GET("/console/realms/:realm/permissions/:name/delete", u.page(u.confirmDeletePermission))
	e.POST("/console/realms/:realm/permissions/:name/delete", u.page(u.deletePermission))
}

// permissionsView is the data of console/permissions.html.
type permissionsView struct {
	base
	Permissions []realm.Permission
}

func (u *UI) permissionsPage(r *req) error { return u.showPermissions(r, http.StatusOK, nil, nil) }

func (u *UI) showPermissions(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Permissions", "permissions")
	if err != nil {
		return r.fail(err)
	}
	list, err := u.svc.ListPermissions(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	b.refill(f, fe)
	return r.render(status, "permissions.html", &permissionsView{base: b, Permissions: list})
}

func (u *UI) createPermission(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	p, err := u.svc.CreatePermission(r.ctx, r.realm, realm.PermissionInput{
		Name: strings.TrimSpace(f.Get("name")), Description: f.Get("description"),
	})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showPermissions(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, permissionsPath(r.realm), "Permission "+p.Name+" created.")
}

// permissionView is the data of console/permission.html.
type permissionView struct {
	base
	P *realm.Permission
}

func (u *UI) permissionPage(r *req) error { return u.showPermission(r, http.StatusOK, nil, nil) }

func (u *UI) showPermission(r *req, status int, f url.Values, fe fieldErrors) error {
	p, err := u.svc.GetPermission(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Permission "+p.Name, "permissions")
	if err != nil {
		return r.fail(err)
	}
	// Errors may come without a form (a refused delete): the edit form
	// then shows the stored description, never a blank one.
	if !b.refill(f, fe) {
		b.Form.Set("description", p.Description)
	}
	return r.render(status, "permission.html", &permissionView{base: b, P: p})
}

func (u *UI) updatePermission(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	desc := f.Get("description")
	p, err := u.svc.UpdatePermission(r.ctx, r.realm, r.c.Param("name"), realm.PermissionPatch{Description: &desc})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showPermission(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, permissionPath(r.realm, p.Name), "Permission "+p.Name+" saved.")
}

// confirmDeletePermission asks before deleting a permission.
func (u *UI) confirmDeletePermission(r *req) error {
	p, err := u.svc.GetPermission(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	path := permissionPath(r.realm, p.Name)
	return r.confirm("Delete permission "+p.Name, "permissions", confirmPage{
		Heading: "Delete the permission " + p.Name + "?",
		Points: []string{"The permission is removed from the realm's catalog. Ward refuses while an API key holds it; " +
			"take it from those keys first.",
			"No key loses anything: a permission no key holds grants nothing."},
		Action: path + "/delete", Button: "Delete permission", Back: path, Allowed: r.p.Role.CanWrite(),
	})
}

func (u *UI) deletePermission(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	name := r.c.Param("name")
	if err := u.svc.DeletePermission(r.ctx, r.realm, name); err != nil {
		if fe, status, ok := refused(err); ok {
			// The refusal (held by keys) is about the permission as a
			// whole, not a field of the edit form.
			return u.showPermission(r, status, nil, fe.asWhole())
		}
		return r.fail(err)
	}
	return r.done(f, permissionsPath(r.realm), "Permission "+name+" deleted.")
}

func permissionsPath(realmName string) string {
	return realmPath(realmName, "permissions")
}

func permissionPath(realmName, name string) string {
	return realmPath(realmName, "permissions", name)
}
