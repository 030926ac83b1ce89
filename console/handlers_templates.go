package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- security templates (CONTRACT §6) ----

func (a *API) listSecurityTemplates(c echo.Context) error {
	ts, err := a.svc.ListSecurityTemplates(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	// A realm has at most realm.MaxSecurityTemplates, so they come in
	// one page, in the shape of every other list.
	out := listResponse[securityTemplateDTO]{Items: make([]securityTemplateDTO, 0, len(ts))}
	for i := range ts {
		out.Items = append(out.Items, toSecurityTemplate(&ts[i]))
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) createSecurityTemplate(c echo.Context) error {
	var req securityTemplateCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := a.svc.CreateSecurityTemplate(ctx(c), c.Param("realm"), realm.SecurityTemplateInput{
		Name:                      req.Name,
		Description:               req.Description,
		Permissions:               req.Permissions,
		TTLSeconds:                req.TTLSeconds,
		LimitPerMinute:            req.LimitPerMinute,
		LimitPerSourceIPPerMinute: req.LimitPerSourceIPPerMinute,
		DirScope:                  req.DirScope,
		IPRanges:                  req.IPRanges,
		Countries:                 req.Countries,
	})
	if err != nil {
		return err
	}
	return created(c, t.Name, toSecurityTemplate(t))
}

func (a *API) getSecurityTemplate(c echo.Context) error {
	t, err := a.svc.GetSecurityTemplate(ctx(c), c.Param("realm"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSecurityTemplate(t))
}

func (a *API) updateSecurityTemplate(c echo.Context) error {
	var req securityTemplatePatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.SecurityTemplatePatch{
		Description:               patchValue(&pf, "description", req.Description),
		Permissions:               patchValue(&pf, "permissions", req.Permissions),
		TTLSeconds:                patchValue(&pf, "ttl_seconds", req.TTLSeconds),
		LimitPerMinute:            limitChange(req.LimitPerMinute),
		LimitPerSourceIPPerMinute: limitChange(req.LimitPerSourceIPPerMinute),
		DirScope:                  patchValue(&pf, "dir_scope", req.DirScope),
		IPRanges:                  patchValue(&pf, "ip_ranges", req.IPRanges),
		Countries:                 patchValue(&pf, "countries", req.Countries),
	}
	if err := pf.err(); err != nil {
		return err
	}
	t, err := a.svc.UpdateSecurityTemplate(ctx(c), c.Param("realm"), c.Param("name"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSecurityTemplate(t))
}

func (a *API) deleteSecurityTemplate(c echo.Context) error {
	if err := a.svc.DeleteSecurityTemplate(ctx(c), c.Param("realm"), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
