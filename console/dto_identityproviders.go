package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardiam/ward/realm"
)

// identityProviderDTO is an identity provider as the admin API shows it
// (CONTRACT §9): the client secret is write-only (has_client_secret says
// whether there is one), lists are always arrays, and the settings of the
// other kind are null, as are the SAML service provider's endpoints of an
// OIDC provider.
type identityProviderDTO struct {
	ID             string               `json:"id"`
	Alias          string               `json:"alias"`
	Kind           string               `json:"kind"`
	DisplayName    string               `json:"display_name"`
	Enabled        bool                 `json:"enabled"`
	DisabledReason *string              `json:"disabled_reason"`
	SAML           *samlSettingsDTO     `json:"saml"`
	OIDC           *oidcSettingsDTO     `json:"oidc"`
	JIT            bool                 `json:"jit"`
	LinkByEmail    bool                 `json:"link_by_email"`
	GroupClaim     string               `json:"group_claim"`
	GroupMappings  []groupMappingDTO    `json:"group_mappings"`
	DefaultGroups  []string             `json:"default_groups"`
	Attributes     idpAttributeNamesDTO `json:"attributes"`
	RedirectURI    string               `json:"redirect_uri"`
	SPEntityID     *string              `json:"sp_entity_id"`
	SPMetadataURL  *string              `json:"sp_metadata_url"`
	CreatedAt      time.Time            `json:"created_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
}

type samlSettingsDTO struct {
	// MetadataURL is null for pasted metadata.
	MetadataURL *string `json:"metadata_url"`
	// MetadataXML is the metadata as pasted or as last read from the URL.
	MetadataXML string `json:"metadata_xml"`
}

type oidcSettingsDTO struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	HasClientSecret bool     `json:"has_client_secret"`
	Scopes          []string `json:"scopes"`
}

type groupMappingDTO struct {
	External string `json:"external"`
	Group    string `json:"group"`
}

type idpAttributeNamesDTO struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func toIdentityProvider(v *realm.IdentityProviderView) identityProviderDTO {
	d := identityProviderDTO{ID: v.ID, Alias: v.Alias, Kind: string(v.Kind), DisplayName: v.DisplayName,
		Enabled: v.Enabled, DisabledReason: nullable(v.DisabledReason), JIT: v.JIT, LinkByEmail: v.LinkByEmail,
		GroupClaim: v.GroupClaim, GroupMappings: make([]groupMappingDTO, 0, len(v.GroupMappings)),
		DefaultGroups: nonNil(v.DefaultGroups),
		Attributes: idpAttributeNamesDTO{Email: v.Attributes.Email, FirstName: v.Attributes.FirstName,
			LastName: v.Attributes.LastName},
		RedirectURI: v.RedirectURI, SPEntityID: nullable(v.SPEntityID), SPMetadataURL: nullable(v.SPMetadataURL),
		CreatedAt: utc(v.CreatedAt), UpdatedAt: utc(v.UpdatedAt)}
	for _, m := range v.GroupMappings {
		d.GroupMappings = append(d.GroupMappings, groupMappingDTO{External: m.External, Group: m.Group})
	}
	if v.SAML != nil {
		d.SAML = &samlSettingsDTO{MetadataURL: nullable(v.SAML.MetadataURL), MetadataXML: v.SAML.MetadataXML}
	}
	if v.OIDC != nil {
		d.OIDC = &oidcSettingsDTO{Issuer: v.OIDC.Issuer, ClientID: v.OIDC.ClientID,
			HasClientSecret: v.HasClientSecret, Scopes: nonNil(v.OIDC.Scopes)}
	}
	return d
}

// identityProviderCreateRequest: left-out (or null) enabled and jit are
// true; the settings of the provider's kind are required, the other kind's
// refused (the service's checks).
type identityProviderCreateRequest struct {
	Alias         string             `json:"alias"`
	Kind          string             `json:"kind"`
	DisplayName   string             `json:"display_name"`
	Enabled       *bool              `json:"enabled"`
	SAML          *samlRequest       `json:"saml"`
	OIDC          *oidcCreateRequest `json:"oidc"`
	JIT           *bool              `json:"jit"`
	LinkByEmail   bool               `json:"link_by_email"`
	GroupClaim    string             `json:"group_claim"`
	GroupMappings groupMappingsReq   `json:"group_mappings"`
	DefaultGroups []string           `json:"default_groups"`
	Attributes    *attributeNamesReq `json:"attributes"`
}

// identityProviderPatchRequest: a left-out field stays as it is. null
// clears display_name and group_claim, empties group_mappings and
// default_groups and resets attributes to the defaults; it is refused for
// the rest. The alias and kind do not change (unknown fields here).
type identityProviderPatchRequest struct {
	DisplayName   Optional[string]            `json:"display_name"`
	Enabled       Optional[bool]              `json:"enabled"`
	SAML          Optional[samlRequest]       `json:"saml"`
	OIDC          Optional[oidcPatchRequest]  `json:"oidc"`
	JIT           Optional[bool]              `json:"jit"`
	LinkByEmail   Optional[bool]              `json:"link_by_email"`
	GroupClaim    Optional[string]            `json:"group_claim"`
	GroupMappings Optional[groupMappingsReq]  `json:"group_mappings"`
	DefaultGroups Optional[[]string]          `json:"default_groups"`
	Attributes    Optional[attributeNamesReq] `json:"attributes"`
}

// samlRequest sets a SAML provider's metadata: metadata_url or
// metadata_xml. On a PATCH it replaces both, and the metadata is read
// again.
type samlRequest struct {
	MetadataURL string `json:"metadata_url"`
	MetadataXML string `json:"metadata_xml"`
}

func (r *samlRequest) UnmarshalJSON(b []byte) error {
	type plain samlRequest
	return decodeNested("saml", b, (*plain)(r))
}

func (r *samlRequest) input() *realm.SAMLInput {
	if r == nil {
		return nil
	}
	return &realm.SAMLInput{MetadataURL: r.MetadataURL, MetadataXML: r.MetadataXML}
}

// oidcCreateRequest: a left-out (or null) client_secret or "" makes a
// public client (PKCE only); left-out scopes are openid, email and
// profile.
type oidcCreateRequest struct {
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"client_id"`
	ClientSecret *string   `json:"client_secret"`
	Scopes       *[]string `json:"scopes"`
}

func (r *oidcCreateRequest) UnmarshalJSON(b []byte) error {
	type plain oidcCreateRequest
	return decodeNested("oidc", b, (*plain)(r))
}

func (r *oidcCreateRequest) input() *realm.OIDCInput {
	if r == nil {
		return nil
	}
	in := &realm.OIDCInput{Issuer: r.Issuer, ClientID: r.ClientID, ClientSecret: r.ClientSecret}
	if r.Scopes != nil {
		in.Scopes = nonNil(*r.Scopes)
	}
	return in
}

// oidcPatchRequest: a left-out member stays; client_secret "" or null
// removes the secret; null is refused for the rest.
type oidcPatchRequest struct {
	Issuer       Optional[string]   `json:"issuer"`
	ClientID     Optional[string]   `json:"client_id"`
	ClientSecret Optional[string]   `json:"client_secret"`
	Scopes       Optional[[]string] `json:"scopes"`
}

func (r *oidcPatchRequest) UnmarshalJSON(b []byte) error {
	type plain oidcPatchRequest
	return decodeNested("oidc", b, (*plain)(r))
}

// input is the service's change; realm.OIDCInput keeps what is empty or
// nil.
func (r *oidcPatchRequest) input(pf *patchFields) *realm.OIDCInput {
	in := &realm.OIDCInput{ClientSecret: clearable(r.ClientSecret)}
	if v := patchValue(pf, "oidc.issuer", r.Issuer); v != nil {
		if *v == "" {
			pf.errs.Add("oidc.issuer", "is required")
		}
		in.Issuer = *v
	}
	if v := patchValue(pf, "oidc.client_id", r.ClientID); v != nil {
		if *v == "" {
			pf.errs.Add("oidc.client_id", "is required")
		}
		in.ClientID = *v
	}
	if v := patchValue(pf, "oidc.scopes", r.Scopes); v != nil {
		in.Scopes = nonNil(*v)
	}
	return in
}

type groupMappingReq struct {
	External string `json:"external"`
	Group    string `json:"group"`
}

// groupMappingsReq decodes each mapping strictly, so that a bad member is
// named with its index (group_mappings[i].x).
type groupMappingsReq []groupMappingReq

func (r *groupMappingsReq) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &fieldValueError{field: "group_mappings", msg: "must be an array of {\"external\",\"group\"} objects"}
	}
	out := make(groupMappingsReq, len(raw))
	for i, item := range raw {
		if err := decodeNested(fmt.Sprintf("group_mappings[%d]", i), item, &out[i]); err != nil {
			return err
		}
	}
	*r = out
	return nil
}

func (r groupMappingsReq) mappings() []realm.GroupMapping {
	out := make([]realm.GroupMapping, len(r))
	for i, m := range r {
		out[i] = realm.GroupMapping{External: m.External, Group: m.Group}
	}
	return out
}

// attributeNamesReq: a name left out (or "") takes the default.
type attributeNamesReq struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func (r *attributeNamesReq) UnmarshalJSON(b []byte) error {
	type plain attributeNamesReq
	return decodeNested("attributes", b, (*plain)(r))
}

func (r attributeNamesReq) names() realm.IdPAttributeNames {
	return realm.IdPAttributeNames{Email: r.Email, FirstName: r.FirstName, LastName: r.LastName}
}

// decodeNested decodes a nested object strictly (no unknown members, as
// the body's own decoder does at the top) and names a bad member with its
// path under field. encoding/json's own errors name neither the object nor
// the index a member is in.
func decodeNested(field string, b []byte, dst any) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		return nil
	}
	var (
		typeErr  *json.UnmarshalTypeError
		fieldErr *fieldValueError
	)
	switch {
	case errors.As(err, &fieldErr):
		return err
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return &fieldValueError{field: field, msg: fmt.Sprintf("must be an object, not %s", typeErr.Value)}
		}
		return &fieldValueError{field: field + "." + typeErr.Field,
			msg: fmt.Sprintf("must be %s, not %s", jsonTypeName(typeErr.Type.String()), typeErr.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return &fieldValueError{field: field + "." + name, msg: "unknown field"}
	}
	return &fieldValueError{field: field, msg: "must be an object"}
}

// userIdentityDTO is a user's link to one of the realm's identity
// providers: the provider's alias and the user's subject there.
type userIdentityDTO struct {
	Alias   string `json:"alias"`
	Subject string `json:"subject"`
}
