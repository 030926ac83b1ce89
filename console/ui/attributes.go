package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// attributeTypes are offered in the type menus, in this order.
var attributeTypes = []attributes.Type{attributes.String, attributes.Integer, attributes.Number, attributes.Boolean, attributes.Date}

func (u *UI) registerAttributes(e *echo.Echo) {
	e.GET("/console/realms/:realm/attributes", u.page(u.attributesPage))
	e.POST("/console/realms/:realm/attributes", u.page(u.createAttribute))
	e.GET("/console/realms/:realm/attributes/:name", u.page(u.attributePage))
	e.POST("/console/realms/:realm/attributes/:name", u.page(u.updateAttribute))
	e.GET("/console/realms/:realm/attributes/:name/delete", u.page(u.confirmDeleteAttribute))
	e.POST("/console/realms/:realm/attributes/:name/delete", u.page(u.deleteAttribute))
}

// attributesView is the data of console/attributes.html.
type attributesView struct {
	base
	Attributes []realm.Attribute
	Types      []attributes.Type
}

func (u *UI) attributesPage(r *req) error { return u.showAttributes(r, http.StatusOK, nil, nil) }

func (u *UI) showAttributes(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Attributes", "attributes")
	if err != nil {
		return r.fail(err)
	}
	list, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("type", string(attributes.String))
	}
	return r.render(status, "attributes.html", &attributesView{base: b, Attributes: list, Types: attributeTypes})
}

func (u *UI) createAttribute(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	a, err := u.svc.CreateAttribute(r.ctx, r.realm, realm.AttributeInput{
		Name: strings.TrimSpace(f.Get("name")), Type: f.Get("type"), Multi: f.Get("multi") == "on",
		Description: f.Get("description"),
	})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showAttributes(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, attributesPath(r.realm), "Attribute "+a.Name+" created.")
}

// attributeView is the data of console/attribute.html.
type attributeView struct {
	base
	A     *realm.Attribute
	Types []attributes.Type
}

func (u *UI) attributePage(r *req) error { return u.showAttribute(r, http.StatusOK, nil, nil) }

func (u *UI) showAttribute(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Attribute "+r.c.Param("name"), "attributes")
	if err != nil {
		return r.fail(err)
	}
	a, err := u.svc.GetAttribute(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	// Errors may come without a form (a refused delete): the edit form
	// then shows the stored values, never blanks that saving would store.
	if !b.refill(f, fe) {
		b.Form.Set("type", string(a.Type))
		if a.Multi {
			b.Form.Set("multi", "on")
		}
		b.Form.Set("description", a.Description)
	}
	return r.render(status, "attribute.html", &attributeView{base: b, A: a, Types: attributeTypes})
}

func (u *UI) updateAttribute(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	typ, multi, desc := f.Get("type"), f.Get("multi") == "on", f.Get("description")
	a, err := u.svc.UpdateAttribute(r.ctx, r.realm, r.c.Param("name"), realm.AttributePatch{Type: &typ, Multi: &multi, Description: &desc})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showAttribute(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, attributesPath(r.realm), "Attribute "+a.Name+" saved.")
}

// confirmDeleteAttribute asks before deleting the definition.
func (u *UI) confirmDeleteAttribute(r *req) error {
	a, err := u.svc.GetAttribute(r.ctx, r.realm, r.c.Param("name"))
	if err != nil {
		return r.fail(err)
	}
	path := attributesPath(r.realm) + "/" + url.PathEscape(a.Name)
	return r.confirm("Delete attribute "+a.Name, "attributes", confirmPage{
		Heading: "Delete the attribute " + a.Name + "?",
		Points: []string{"The definition is removed from the realm. Ward refuses while a group sets this attribute " +
			"or a policy condition uses it; remove those first.",
			"Tokens already issued keep the values they carry until they expire."},
		Action: path + "/delete", Button: "Delete attribute", Back: path, Allowed: r.p.Role.CanWrite(),
	})
}

func (u *UI) deleteAttribute(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	name := r.c.Param("name")
	if err := u.svc.DeleteAttribute(r.ctx, r.realm, name); err != nil {
		if fe, status, ok := refused(err); ok {
			// The refusal (in use by groups or policies) is about the
			// attribute as a whole, not a field of the edit form.
			return u.showAttribute(r, status, nil, fe.asWhole())
		}
		return r.fail(err)
	}
	return r.done(f, attributesPath(r.realm), "Attribute "+name+" deleted.")
}

func attributesPath(realmName string) string {
	return realmPath(realmName, "attributes")
}
