package console

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Organization-level handlers: members, org admin clients, realms and the
// org's own audit log. Role rules (owner only, viewer read only) are the
// service's; handlers only translate.

func (a *API) listMembers(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListMembers(ctx(c), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toMember))
}

func (a *API) createMember(c echo.Context) error {
	var req memberCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := a.svc.CreateMember(ctx(c), realm.MemberInput{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName, Role: realm.Role(req.Role)})
	if err != nil {
		return err
	}
	return created(c, m.ID, toMember(m))
}

func (a *API) getMember(c echo.Context) error {
	m, err := a.svc.GetMember(ctx(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMember(m))
}

func (a *API) updateMember(c echo.Context) error {
	var req memberPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	var patch realm.MemberPatch
	if r := patchValue(&pf, "role", req.Role); r != nil {
		role := realm.Role(*r)
		patch.Role = &role
	}
	if err := pf.err(); err != nil {
		return err
	}
	m, err := a.svc.UpdateMember(ctx(c), c.Param("id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMember(m))
}

func (a *API) deleteMember(c echo.Context) error {
	if err := a.svc.DeleteMember(ctx(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) listOrgClients(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListOrgClients(ctx(c), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toOrgClient))
}

func (a *API) createOrgClient(c echo.Context) error {
	var req orgClientCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cl, secret, err := a.svc.CreateOrgClient(ctx(c), realm.OrgClientInput{Name: req.Name, Description: req.Description, Role: realm.Role(req.Role)})
	if err != nil {
		return err
	}
	d := toOrgClient(cl)
	d.ClientSecret = secret
	withSecret(c)
	return created(c, cl.ClientID, d)
}

func (a *API) getOrgClient(c echo.Context) error {
	cl, err := a.svc.GetOrgClient(ctx(c), c.Param("client_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrgClient(cl))
}

func (a *API) updateOrgClient(c echo.Context) error {
	var req orgClientPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.OrgClientPatch{
		Name:        patchValue(&pf, "name", req.Name),
		Description: clearable(req.Description),
		Active:      patchValue(&pf, "active", req.Active),
	}
	if r := patchValue(&pf, "role", req.Role); r != nil {
		role := realm.Role(*r)
		patch.Role = &role
	}
	if err := pf.err(); err != nil {
		return err
	}
	cl, err := a.svc.UpdateOrgClient(ctx(c), c.Param("client_id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrgClient(cl))
}

func (a *API) rotateOrgClientSecret(c echo.Context) error {
	var req rotateRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	cl, secret, err := a.svc.RotateOrgClientSecret(ctx(c), c.Param("client_id"), req.GraceSeconds)
	if err != nil {
		return err
	}
	d := toOrgClient(cl)
	d.ClientSecret = secret
	withSecret(c)
	return c.JSON(http.StatusOK, d)
}

func (a *API) listOrgEvents(c echo.Context) error {
	return a.listEvents(c, "")
}

func (a *API) listRealms(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListRealms(ctx(c), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toRealm))
}

func (a *API) createRealm(c echo.Context) error {
	var req realmCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := a.svc.CreateRealm(ctx(c), realm.RealmInput{Name: req.Name, DisplayName: req.DisplayName})
	if err != nil {
		return err
	}
	return created(c, r.Name, toRealm(r))
}

func (a *API) getRealm(c echo.Context) error {
	r, err := a.svc.GetRealm(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRealm(r))
}

func (a *API) updateRealm(c echo.Context) error {
	var req realmPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.RealmPatch{
		DisplayName:   clearable(req.DisplayName),
		PasswordLogin: patchValue(&pf, "password_login", req.PasswordLogin),
	}
	if err := pf.err(); err != nil {
		return err
	}
	r, err := a.svc.UpdateRealm(ctx(c), c.Param("realm"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRealm(r))
}

// deleteRealm takes the confirmation as ?confirm=<realm name>: a DELETE
// body is ignored by some proxies and clients, a query parameter is not.
func (a *API) deleteRealm(c echo.Context) error {
	// The service checks role and visibility before the confirmation, so
	// a missing confirm never tells a caller more than a 403 or 404 would.
	if err := a.svc.DeleteRealm(ctx(c), c.Param("realm"), c.QueryParam("confirm")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) listEvents(c echo.Context, realmName string) error {
	f, err := eventFilter(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListEvents(ctx(c), realmName, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toEvent))
}

func (a *API) getRealmSettings(c echo.Context) error {
	r, err := a.svc.GetRealm(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettings(r))
}

func (a *API) updateRealmSettings(c echo.Context) error {
	var req settingsPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	p := realm.SettingsPatch{DisplayName: patchValue(&pf, "display_name", req.DisplayName)}
	if b := req.Branding; b != nil {
		p.AccentColor = clearable(b.AccentColor)
	}
	if pp := req.PasswordPolicy; pp != nil {
		p.PasswordMinLength, p.PasswordMinStrength = clearable(pp.MinLength), clearable(pp.MinStrength)
	}
	if bf := req.BruteForce; bf != nil {
		p.LockThreshold, p.MaxLockSeconds = clearable(bf.LockThreshold), clearable(bf.MaxLockSeconds)
	}
	if l := req.Lifetimes; l != nil {
		p.SessionSeconds, p.AccessTokenSeconds = clearable(l.SessionSeconds), clearable(l.AccessTokenSeconds)
	}
	if err := pf.err(); err != nil {
		return err
	}
	r, err := a.svc.UpdateRealmSettings(ctx(c), c.Param("realm"), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettings(r))
}

func (a *API) resendInvitation(c echo.Context) error {
	m, err := a.svc.ResendInvitation(ctx(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toMember(m))
}

// setRealmLogo takes the image as the request body (PNG or JPEG, decided
// by its bytes).
func (a *API) setRealmLogo(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, realm.MaxLogoBytes+1))
	if err != nil {
		return realm.Invalid("logo", "could not be read")
	}
	r, err := a.svc.SetRealmLogo(ctx(c), c.Param("realm"), body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettings(r))
}

func (a *API) deleteRealmLogo(c echo.Context) error {
	r, err := a.svc.DeleteRealmLogo(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettings(r))
}
