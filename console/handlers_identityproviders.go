package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- identity providers (CONTRACT §9) ----

func (a *API) listIdentityProviders(c echo.Context) error {
	ps, err := a.idps.ListIdentityProviders(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	// A realm has at most realm.MaxIdentityProviders, so they come in one
	// page, in the shape of every other list.
	out := listResponse[identityProviderDTO]{Items: make([]identityProviderDTO, 0, len(ps))}
	for i := range ps {
		out.Items = append(out.Items, toIdentityProvider(&ps[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// createIdentityProvider answers 201 also when the provider's metadata or
// discovery document could not be read: the provider is then saved
// disabled, with disabled_reason saying why (the service decides).
func (a *API) createIdentityProvider(c echo.Context) error {
	var req identityProviderCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := realm.IdentityProviderInput{
		Alias: req.Alias, Kind: req.Kind, DisplayName: req.DisplayName, Enabled: req.Enabled,
		SAML: req.SAML.input(), OIDC: req.OIDC.input(), JIT: req.JIT, LinkByEmail: req.LinkByEmail,
		GroupClaim: req.GroupClaim, GroupMappings: req.GroupMappings.mappings(), DefaultGroups: nonNil(req.DefaultGroups),
	}
	if req.Attributes != nil {
		in.Attributes = req.Attributes.names()
	}
	p, err := a.idps.CreateIdentityProvider(ctx(c), c.Param("realm"), in)
	if err != nil {
		return err
	}
	return created(c, p.Alias, toIdentityProvider(p))
}

func (a *API) getIdentityProvider(c echo.Context) error {
	p, err := a.idps.GetIdentityProvider(ctx(c), c.Param("realm"), c.Param("alias"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toIdentityProvider(p))
}

func (a *API) updateIdentityProvider(c echo.Context) error {
	var req identityProviderPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var pf patchFields
	patch := realm.IdentityProviderPatch{
		DisplayName: clearable(req.DisplayName),
		Enabled:     patchValue(&pf, "enabled", req.Enabled),
		JIT:         patchValue(&pf, "jit", req.JIT),
		LinkByEmail: patchValue(&pf, "link_by_email", req.LinkByEmail),
		GroupClaim:  clearable(req.GroupClaim),
	}
	if s := patchValue(&pf, "saml", req.SAML); s != nil {
		patch.SAML = s.input()
	}
	if o := patchValue(&pf, "oidc", req.OIDC); o != nil {
		patch.OIDC = o.input(&pf)
	}
	if req.GroupMappings.Set {
		m := req.GroupMappings.Value.mappings() // none when null
		patch.GroupMappings = &m
	}
	if req.DefaultGroups.Set {
		d := nonNil(req.DefaultGroups.Value)
		patch.DefaultGroups = &d
	}
	if req.Attributes.Set {
		n := req.Attributes.Value.names() // the defaults when null
		patch.Attributes = &n
	}
	if err := pf.err(); err != nil {
		return err
	}
	p, err := a.idps.UpdateIdentityProvider(ctx(c), c.Param("realm"), c.Param("alias"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toIdentityProvider(p))
}

func (a *API) deleteIdentityProvider(c echo.Context) error {
	if err := a.idps.DeleteIdentityProvider(ctx(c), c.Param("realm"), c.Param("alias")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
