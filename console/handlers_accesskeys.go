package console

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- permission catalog (CONTRACT §6) ----

func (a *API) listPermissions(c echo.Context) error {
	ps, err := a.svc.ListPermissions(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	// The catalog is bounded (realm.MaxPermissions), so it comes in one
	// page, in the shape of every other list.
	out := listResponse[permissionDTO]{Items: make([]permissionDTO, 0, len(ps))}
	for i := range ps {
		out.Items = append(out.Items, toPermission(&ps[i]))
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) createPermission(c echo.Context) error {
	var req permissionCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := a.svc.CreatePermission(ctx(c), c.Param("realm"), realm.PermissionInput{Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	return created(c, p.Name, toPermission(p))
}

func (a *API) getPermission(c echo.Context) error {
	p, err := a.svc.GetPermission(ctx(c), c.Param("realm"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPermission(p))
}

func (a *API) updatePermission(c echo.Context) error {
	var req permissionPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := a.svc.UpdatePermission(ctx(c), c.Param("realm"), c.Param("name"),
		realm.PermissionPatch{Description: clearable(req.Description)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPermission(p))
}

func (a *API) deletePermission(c echo.Context) error {
	if err := a.svc.DeletePermission(ctx(c), c.Param("realm"), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- API keys (CONTRACT §6) ----

func (a *API) listAPIKeys(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	f := realm.APIKeyFilter{ListOptions: o}
	// Exactly true or false, as documented: strconv.ParseBool's "1", "t"
	// or "TRUE" would make a typo such as ?active=T silently mean true.
	switch s := c.QueryParam("active"); s {
	case "":
	case "true", "false":
		v := s == "true"
		f.Active = &v
	default:
		return realm.Invalid("active", "must be true or false")
	}
	page, err := a.svc.ListAPIKeys(ctx(c), c.Param("realm"), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toAPIKey))
}

func (a *API) createAPIKey(c echo.Context) error {
	var req apiKeyCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := realm.APIKeyInput{Description: req.Description, Permissions: req.Permissions}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return realm.Invalid("expires_at", "must be an RFC 3339 timestamp such as 2027-01-02T15:04:05Z")
		}
		in.ExpiresAt = &t
	}
	k, err := a.svc.CreateAPIKey(ctx(c), c.Param("realm"), in)
	if err != nil {
		return err
	}
	withSecret(c)
	dto := toAPIKey(&k.APIKey)
	dto.Key = k.Key
	return created(c, k.ID, dto)
}

func (a *API) getAPIKey(c echo.Context) error {
	k, err := a.svc.GetAPIKey(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIKey(k))
}

func (a *API) updateAPIKey(c echo.Context) error {
	var req apiKeyPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.APIKeyPatch{
		Description: patchValue(&pf, "description", req.Description),
		Permissions: patchValue(&pf, "permissions", req.Permissions),
		Active:      patchValue(&pf, "active", req.Active),
	}
	if err := pf.err(); err != nil {
		return err
	}
	k, err := a.svc.UpdateAPIKey(ctx(c), c.Param("realm"), c.Param("id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIKey(k))
}

// deleteAPIKey always refuses: keys stay for the audit trail (CONTRACT §6).
func (a *API) deleteAPIKey(c echo.Context) error {
	return &methodNotAllowedError{
		allow:  "GET, PATCH",
		detail: `API keys cannot be deleted; deactivate the key instead with PATCH {"active": false}`,
	}
}

// bulkAPIKeys answers POST …/api-keys:bulk: every key or none changes.
func (a *API) bulkAPIKeys(c echo.Context) error {
	var req apiKeyBulkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var v realm.ValidationError
	if req.IDs == nil {
		v.Add("ids", "is required")
	}
	if req.Active == nil {
		v.Add("active", "is required: true to reactivate, false to deactivate")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	n, err := a.svc.SetAPIKeysActive(ctx(c), c.Param("realm"), req.IDs, *req.Active)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"updated": n})
}
