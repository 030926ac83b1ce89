package console

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Realm-scoped handlers (…/realms/{realm}/…). The service resolves the realm
// name within the caller's org, so another org's realm is a 404 there.

type rawJSON = json.RawMessage

// ---- attributes ----

// listAttributes answers every definition of the realm in one page: a realm
// has few, and the service lists them unpaged.
func (a *API) listAttributes(c echo.Context) error {
	if _, err := listOptions(c); err != nil {
		return err
	}
	attrs, err := a.svc.ListAttributes(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(realm.Page[realm.Attribute]{Items: attrs}, toAttribute))
}

func (a *API) createAttribute(c echo.Context) error {
	var req attributeCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	at, err := a.svc.CreateAttribute(ctx(c), c.Param("realm"), realm.AttributeInput{Name: req.Name, Type: req.Type, Multi: req.Multi, Description: req.Description})
	if err != nil {
		return err
	}
	return created(c, at.Name, toAttribute(at))
}

func (a *API) getAttribute(c echo.Context) error {
	at, err := a.svc.GetAttribute(ctx(c), c.Param("realm"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAttribute(at))
}

func (a *API) updateAttribute(c echo.Context) error {
	var req attributePatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.AttributePatch{
		Type:        patchValue(&pf, "type", req.Type),
		Multi:       patchValue(&pf, "multi", req.Multi),
		Description: clearable(req.Description),
	}
	if err := pf.err(); err != nil {
		return err
	}
	at, err := a.svc.UpdateAttribute(ctx(c), c.Param("realm"), c.Param("name"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAttribute(at))
}

func (a *API) deleteAttribute(c echo.Context) error {
	if err := a.svc.DeleteAttribute(ctx(c), c.Param("realm"), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- groups ----

func (a *API) listGroups(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListGroups(ctx(c), c.Param("realm"), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toGroup))
}

func (a *API) createGroup(c echo.Context) error {
	var req groupCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	g, err := a.svc.CreateGroup(ctx(c), c.Param("realm"), realm.GroupInput{Name: req.Name, Description: req.Description,
		Attributes: req.Attributes, IPAllowList: req.IPAllowList, IDPPrimaryPriority: req.IDPPrimaryPriority})
	if err != nil {
		return err
	}
	return created(c, g.ID, toGroup(g))
}

func (a *API) getGroup(c echo.Context) error {
	g, err := a.svc.GetGroup(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toGroup(g))
}

func (a *API) updateGroup(c echo.Context) error {
	var req groupPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.GroupPatch{
		Name:               patchValue(&pf, "name", req.Name),
		Description:        clearable(req.Description),
		IPAllowList:        patchValue(&pf, "ip_allow_list", req.IPAllowList),
		IDPPrimaryPriority: patchValue(&pf, "idp_primary_priority", req.IDPPrimaryPriority),
	}
	if req.Attributes.Set {
		attrs, err := decodeAttributes(req.Attributes)
		if err != nil {
			return err
		}
		patch.Attributes = attrs
	}
	if err := pf.err(); err != nil {
		return err
	}
	g, err := a.svc.UpdateGroup(ctx(c), c.Param("realm"), c.Param("id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toGroup(g))
}

// decodeAttributes reads a patch's attribute map with json.Number numbers.
// null clears every value: the map replaces all values, and an empty one
// leaves none.
func decodeAttributes(o Optional[rawJSON]) (map[string]any, error) {
	if o.Null {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(o.Value))
	dec.UseNumber()
	var attrs map[string]any
	if err := dec.Decode(&attrs); err != nil || attrs == nil {
		return nil, realm.Invalid("attributes", "must be an object of attribute names to values")
	}
	return attrs, nil
}

func (a *API) deleteGroup(c echo.Context) error {
	if err := a.svc.DeleteGroup(ctx(c), c.Param("realm"), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) listGroupMembers(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListGroupMembers(ctx(c), c.Param("realm"), c.Param("id"), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toGroupMember))
}

// ---- users ----

func (a *API) listUsers(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	q := realm.UserSearch{ListOptions: o, Status: c.QueryParam("status"), GroupID: c.QueryParam("group_id")}
	switch c.QueryParam("locked") {
	case "":
	case "true":
		q.Locked = true
	case "false":
	default:
		return realm.Invalid("locked", "must be true or false")
	}
	page, err := a.svc.SearchUsers(ctx(c), c.Param("realm"), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userListResponse{listResponse: listOf(page.Page, toUser), Total: page.Total})
}

// userListResponse is the users list with how many users match in all.
type userListResponse struct {
	listResponse[userDTO]
	Total int `json:"total"`
}

func (a *API) createUser(c echo.Context) error {
	var req userCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := a.svc.CreateUser(ctx(c), c.Param("realm"), realm.UserInput{
		Email: req.Email, FirstName: req.FirstName, LastName: req.LastName,
		Groups: req.Groups, PrimaryGroup: req.PrimaryGroup, SendSetPasswordEmail: req.SendSetPasswordEmail,
	})
	if err != nil {
		return err
	}
	return created(c, u.ID, toUserView(u))
}

func (a *API) getUser(c echo.Context) error {
	u, err := a.svc.GetUser(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	links, err := a.idps.UserIdentities(ctx(c), c.Param("realm"), u.ID)
	if err != nil {
		return err
	}
	d := toUserView(u)
	d.IdentityProviders = make([]userIdentityDTO, 0, len(links))
	for _, l := range links {
		d.IdentityProviders = append(d.IdentityProviders, userIdentityDTO{Alias: l.ProviderAlias, Subject: l.Subject})
	}
	return c.JSON(http.StatusOK, d)
}

func (a *API) updateUser(c echo.Context) error {
	var req userPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.UserPatch{
		Email:        patchValue(&pf, "email", req.Email),
		FirstName:    patchValue(&pf, "first_name", req.FirstName),
		LastName:     patchValue(&pf, "last_name", req.LastName),
		Active:       patchValue(&pf, "active", req.Active),
		Groups:       clearable(req.Groups),
		PrimaryGroup: clearable(req.PrimaryGroup),
	}
	if err := pf.err(); err != nil {
		return err
	}
	u, err := a.svc.UpdateUser(ctx(c), c.Param("realm"), c.Param("id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserView(u))
}

// deleteUser always refuses: users are deactivated, never deleted
// (CONTRACT §3), so that audit history and token subjects stay meaningful.
func (a *API) deleteUser(c echo.Context) error {
	return &methodNotAllowedError{
		allow:  "GET, PATCH",
		detail: `users cannot be deleted; deactivate the user instead with PATCH {"active": false}`,
	}
}

// sendSetPasswordEmail answers 202: the link is issued now, the mail is
// delivered in the background.
func (a *API) sendSetPasswordEmail(c echo.Context) error {
	if err := a.svc.SendSetPasswordEmail(ctx(c), c.Param("realm"), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

func (a *API) listUserSessions(c echo.Context) error {
	list, err := a.svc.ListUserSessions(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	items := make([]userSessionDTO, 0, len(list))
	for i := range list {
		items = append(items, toUserSession(&list[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (a *API) revokeUserSession(c echo.Context) error {
	if err := a.svc.RevokeUserSession(ctx(c), c.Param("realm"), c.Param("id"), c.Param("session_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) logoutUser(c echo.Context) error {
	if err := a.svc.LogoutUser(ctx(c), c.Param("realm"), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) unlockUser(c echo.Context) error {
	u, err := a.svc.UnlockUser(ctx(c), c.Param("realm"), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserView(u))
}

func (a *API) addUserToGroup(c echo.Context) error {
	u, err := a.svc.AddUserToGroup(ctx(c), c.Param("realm"), c.Param("id"), c.Param("group_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserView(u))
}

func (a *API) removeUserFromGroup(c echo.Context) error {
	if _, err := a.svc.RemoveUserFromGroup(ctx(c), c.Param("realm"), c.Param("id"), c.Param("group_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- clients ----

func (a *API) listClients(c echo.Context) error {
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	page, err := a.svc.ListClients(ctx(c), c.Param("realm"), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toClient))
}

func (a *API) createClient(c echo.Context) error {
	var req clientCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v, secret, err := a.svc.CreateClient(ctx(c), c.Param("realm"), realm.ClientInput{
		ClientID: req.ClientID, Name: req.Name, Kind: req.Kind, Description: req.Description,
		Groups: req.Groups, PrimaryGroup: req.PrimaryGroup, Audience: req.Audience, Public: req.Public,
		RedirectURIs: req.RedirectURIs, WebOrigins: req.WebOrigins, Communication: req.Communication,
		DisplayName: req.DisplayName, OfflineAccess: req.OfflineAccess, IDTokenAlg: req.IDTokenAlg,
		DefaultScopes: req.DefaultScopes, OptionalScopes: req.OptionalScopes,
	})
	if err != nil {
		return err
	}
	d := toClientView(v)
	d.ClientSecret = secret // empty for public clients, and then omitted
	withSecret(c)
	return created(c, v.ClientID, d)
}

func (a *API) getClient(c echo.Context) error {
	v, err := a.svc.GetClient(ctx(c), c.Param("realm"), c.Param("client_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClientView(v))
}

func (a *API) updateClient(c echo.Context) error {
	var req clientPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.ClientPatch{
		Name:           patchValue(&pf, "name", req.Name),
		Description:    clearable(req.Description),
		Active:         patchValue(&pf, "active", req.Active),
		Groups:         clearable(req.Groups),
		PrimaryGroup:   clearable(req.PrimaryGroup),
		Audience:       clearable(req.Audience),
		RedirectURIs:   clearable(req.RedirectURIs),
		WebOrigins:     clearable(req.WebOrigins),
		Communication:  clearable(req.Communication),
		DisplayName:    clearable(req.DisplayName),
		OfflineAccess:  patchValue(&pf, "offline_access", req.OfflineAccess),
		IDTokenAlg:     clearable(req.IDTokenAlg),
		DefaultScopes:  patchValue(&pf, "default_scopes", req.DefaultScopes),
		OptionalScopes: patchValue(&pf, "optional_scopes", req.OptionalScopes),
	}
	if err := pf.err(); err != nil {
		return err
	}
	v, err := a.svc.UpdateClient(ctx(c), c.Param("realm"), c.Param("client_id"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClientView(v))
}

func (a *API) rotateClientSecret(c echo.Context) error {
	var req rotateRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	v, secret, err := a.svc.RotateClientSecret(ctx(c), c.Param("realm"), c.Param("client_id"), req.GraceSeconds)
	if err != nil {
		return err
	}
	d := toClientView(v)
	d.ClientSecret = secret
	withSecret(c)
	return c.JSON(http.StatusOK, d)
}

func (a *API) addClientToGroup(c echo.Context) error {
	v, err := a.svc.AddClientToGroup(ctx(c), c.Param("realm"), c.Param("client_id"), c.Param("group_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClientView(v))
}

func (a *API) removeClientFromGroup(c echo.Context) error {
	if _, err := a.svc.RemoveClientFromGroup(ctx(c), c.Param("realm"), c.Param("client_id"), c.Param("group_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- events ----

func (a *API) listRealmEvents(c echo.Context) error {
	return a.listEvents(c, c.Param("realm"))
}
