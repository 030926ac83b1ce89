package realm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// IdentityProviders manages a realm's identity providers (CONTRACT §9)
// and does what a sign-in through one does to the realm's users
// (broker.go). It is a service of its own beside Service, whose store,
// clock and audit log it shares: Service has grown past what one type
// should hold.
type IdentityProviders struct {
	s       *Service
	aead    cipher.AEAD
	checker IdPChecker
}

// IdPChecker reads what a provider's settings point at when it is saved.
// Its errors' texts are the reasons a provider is saved disabled, shown to
// the admin: they must name what is wrong and carry no secret.
type IdPChecker interface {
	// SAMLMetadata returns the provider's metadata: read from metadataURL
	// when it is set, else metadataXML as given, and checked to describe
	// an identity provider with a signing certificate and a single
	// sign-on endpoint.
	SAMLMetadata(ctx context.Context, metadataURL, metadataXML string) (string, error)
	// OIDCDiscovery checks that issuer serves an OpenID Connect discovery
	// document for itself.
	OIDCDiscovery(ctx context.Context, issuer string) error
}

// IdentityProvidersConfig builds IdentityProviders.
type IdentityProvidersConfig struct {
	Service *Service
	// SecretKey (32 bytes, derived from the master key for this use only)
	// seals client secrets, SP keys and PKCE verifiers at rest.
	SecretKey []byte
	Checker   IdPChecker
}

// NewIdentityProviders builds the identity provider service.
func NewIdentityProviders(cfg IdentityProvidersConfig) (*IdentityProviders, error) {
	switch {
	case cfg.Service == nil:
		return nil, errors.New("realm: IdentityProvidersConfig.Service is required")
	case len(cfg.SecretKey) != 32:
		return nil, errors.New("realm: IdentityProvidersConfig.SecretKey must be 32 bytes")
	case cfg.Checker == nil:
		return nil, errors.New("realm: IdentityProvidersConfig.Checker is required")
	}
	block, err := aes.NewCipher(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &IdentityProviders{s: cfg.Service, aead: aead, checker: cfg.Checker}, nil
}

// IdentityProviderView is a provider as the admin API answers it: the
// sealed secrets left out, the endpoints its IdP admin needs filled in.
type IdentityProviderView struct {
	IdentityProvider
	// HasClientSecret says whether an OIDC provider has a client secret
	// (the secret itself is write-only).
	HasClientSecret bool
	// RedirectURI is the broker endpoint: the OIDC redirect URI and the
	// SAML assertion consumer service.
	RedirectURI string
	// SPEntityID and SPMetadataURL are what a SAML IdP is configured with.
	SPEntityID    string
	SPMetadataURL string
}

// SAMLInput sets a SAML provider's metadata: exactly one of the two.
type SAMLInput struct {
	MetadataURL string
	MetadataXML string
}

// OIDCInput sets an OpenID Connect provider. A nil ClientSecret on an
// update keeps the secret; "" removes it.
type OIDCInput struct {
	Issuer       string
	ClientID     string
	ClientSecret *string
	Scopes       []string
}

// IdentityProviderInput creates a provider. Nil Enabled and JIT are true.
type IdentityProviderInput struct {
	Alias         string
	Kind          string
	DisplayName   string
	Enabled       *bool
	SAML          *SAMLInput
	OIDC          *OIDCInput
	JIT           *bool
	LinkByEmail   bool
	GroupClaim    string
	GroupMappings []GroupMapping
	DefaultGroups []string
	Attributes    IdPAttributeNames
}

// IdentityProviderPatch changes a provider; nil fields stay. The alias
// and kind do not change: IdP admins have configured URLs with them.
type IdentityProviderPatch struct {
	DisplayName   *string
	Enabled       *bool
	SAML          *SAMLInput
	OIDC          *OIDCInput
	JIT           *bool
	LinkByEmail   *bool
	GroupClaim    *string
	GroupMappings *[]GroupMapping
	DefaultGroups *[]string
	Attributes    *IdPAttributeNames
}

// aliasPattern: aliases appear in URLs and in kc_idp_hint.
var aliasPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const (
	maxIdPURLLen      = 2048
	maxClientIDLen    = 255
	maxClientSecret   = 1024
	maxIdPScopes      = 20
	maxScopeLen       = 100
	maxClaimNameLen   = 256
	spCertificateLife = 20 * 365 * 24 * time.Hour
)

// ListIdentityProviders lists the realm's providers by alias.
func (ip *IdentityProviders) ListIdentityProviders(ctx context.Context, realmName string) ([]IdentityProviderView, error) {
	return readInRealm(ctx, ip.s, realmName, func(r *Realm) ([]IdentityProviderView, error) {
		ps, err := ip.s.store.ListIdentityProviders(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		out := make([]IdentityProviderView, len(ps))
		for i := range ps {
			out[i] = ip.view(r, &ps[i])
		}
		return out, nil
	})
}

// GetIdentityProvider returns one provider.
func (ip *IdentityProviders) GetIdentityProvider(ctx context.Context, realmName, alias string) (*IdentityProviderView, error) {
	return readInRealm(ctx, ip.s, realmName, func(r *Realm) (*IdentityProviderView, error) {
		p, err := ip.s.store.GetIdentityProvider(ctx, r.ID, alias)
		if err != nil {
			return nil, err
		}
		v := ip.view(r, p)
		return &v, nil
	})
}

// CreateIdentityProvider adds a provider. Every field is checked (400
// naming it); then the metadata or discovery document is read, and a
// provider asked to be enabled whose document cannot be read or is
// invalid is saved disabled with the reason (CONTRACT §9, issue 17).
func (ip *IdentityProviders) CreateIdentityProvider(ctx context.Context, realmName string, in IdentityProviderInput) (*IdentityProviderView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	alias := strings.TrimSpace(in.Alias)
	if !aliasPattern.MatchString(alias) {
		v.Add("alias", "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	kind := IdPKind(in.Kind)
	p := &IdentityProvider{Alias: alias, Kind: kind, Enabled: in.Enabled == nil || *in.Enabled,
		JIT: in.JIT == nil || *in.JIT, LinkByEmail: in.LinkByEmail}
	p.DisplayName = optionalText(v, "display_name", in.DisplayName, maxNameLen)
	var secret *string
	switch kind {
	case IdPSAML:
		if in.OIDC != nil {
			v.Add("oidc", "is for kind oidc")
		}
		p.SAML = checkSAMLInput(v, in.SAML)
	case IdPOIDC:
		if in.SAML != nil {
			v.Add("saml", "is for kind saml")
		}
		p.OIDC, secret = checkOIDCInput(v, in.OIDC, nil)
	default:
		v.Add("kind", `must be "saml" or "oidc"`)
	}
	p.GroupClaim = optionalText(v, "group_claim", in.GroupClaim, maxClaimNameLen)
	p.Attributes = checkAttributeNames(v, "attributes", in.Attributes)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	// Reading the document happens outside the transaction: it may take
	// seconds and must not hold the database.
	ip.checkDocument(ctx, p)
	var view IdentityProviderView
	err = ip.s.store.InTx(ctx, func(tx Store) error {
		// The membership lock, which DeleteGroup takes too: a group named
		// here cannot be deleted between this check and the write.
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if p.GroupMappings, p.DefaultGroups, err = checkIdPGroups(ctx, tx, v, r.ID, in.GroupMappings, in.DefaultGroups); err != nil {
			return err
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		ps, err := tx.ListIdentityProviders(ctx, r.ID)
		if err != nil {
			return err
		}
		if len(ps) >= MaxIdentityProviders {
			return Conflict("alias", fmt.Sprintf("the realm has %d identity providers, the most it may have", len(ps)))
		}
		now := ip.s.now()
		p.ID, p.RealmID, p.CreatedAt, p.UpdatedAt = ip.s.newID(), r.ID, now, now
		if err := ip.sealSecrets(p, secret); err != nil {
			return err
		}
		if err := tx.CreateIdentityProvider(ctx, p); err != nil {
			return asConflict(err, "alias", "the realm already has an identity provider with this alias")
		}
		view = ip.view(r, p)
		return appendEvents(ctx, tx, ip.s.event(a, r.OrgID, r.ID, EventIdentityProviderCreated, "identity_provider", p.ID,
			map[string]any{"alias": p.Alias, "kind": string(p.Kind), "enabled": p.Enabled, "disabled_reason": p.DisabledReason}))
	})
	if err != nil {
		return nil, err
	}
	return &view, nil
}

// UpdateIdentityProvider changes a provider. New metadata, a new issuer
// or switching it on reads the document again (see
// CreateIdentityProvider).
func (ip *IdentityProviders) UpdateIdentityProvider(ctx context.Context, realmName, alias string, patch IdentityProviderPatch) (*IdentityProviderView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	// The provider is read once to check the patch and read its document
	// outside the transaction, and again inside it; a change made in
	// between is a conflict rather than lost.
	r, err := a.realm(ctx, ip.s.store, realmName)
	if err != nil {
		return nil, err
	}
	before, err := ip.s.store.GetIdentityProvider(ctx, r.ID, alias)
	if err != nil {
		return nil, err
	}
	p := *before
	if before.SAML != nil {
		sm := *before.SAML
		p.SAML = &sm
	}
	if before.OIDC != nil {
		o := *before.OIDC
		p.OIDC = &o
	}
	v := &ValidationError{}
	var ch changed
	if patch.DisplayName != nil {
		if name := optionalText(v, "display_name", *patch.DisplayName, maxNameLen); name != p.DisplayName {
			p.DisplayName = name
			ch.add("display_name")
		}
	}
	recheck := false
	var secret *string
	switch {
	case patch.SAML != nil && p.Kind != IdPSAML:
		v.Add("saml", "is for kind saml")
	case patch.SAML != nil:
		if sm := checkSAMLInput(v, patch.SAML); sm != nil {
			if sm.MetadataURL != p.SAML.MetadataURL || sm.MetadataURL == "" && sm.MetadataXML != p.SAML.MetadataXML {
				ch.add("saml")
			}
			// The document is read again even when unchanged: an admin
			// saving the same URL asks for the metadata anew.
			recheck = true
			sm.SPKeySealed, sm.SPCertificate = p.SAML.SPKeySealed, p.SAML.SPCertificate
			p.SAML = sm
		}
	}
	switch {
	case patch.OIDC != nil && p.Kind != IdPOIDC:
		v.Add("oidc", "is for kind oidc")
	case patch.OIDC != nil:
		o, sec := checkOIDCInput(v, patch.OIDC, p.OIDC)
		if o != nil {
			if o.Issuer != p.OIDC.Issuer {
				recheck = true
			}
			if o.Issuer != p.OIDC.Issuer || o.ClientID != p.OIDC.ClientID || !slices.Equal(o.Scopes, p.OIDC.Scopes) || sec != nil {
				ch.add("oidc")
			}
			o.ClientSecretSealed = p.OIDC.ClientSecretSealed
			p.OIDC, secret = o, sec
		}
	}
	if patch.Enabled != nil {
		if *patch.Enabled && (!p.Enabled || p.DisabledReason != "") {
			recheck = true
		}
		if *patch.Enabled != p.Enabled {
			ch.add("enabled")
		}
		p.Enabled = *patch.Enabled
		if !p.Enabled {
			p.DisabledReason = ""
		}
	}
	if patch.JIT != nil && *patch.JIT != p.JIT {
		p.JIT = *patch.JIT
		ch.add("jit")
	}
	if patch.LinkByEmail != nil && *patch.LinkByEmail != p.LinkByEmail {
		p.LinkByEmail = *patch.LinkByEmail
		ch.add("link_by_email")
	}
	if patch.GroupClaim != nil {
		if c := optionalText(v, "group_claim", *patch.GroupClaim, maxClaimNameLen); c != p.GroupClaim {
			p.GroupClaim = c
			ch.add("group_claim")
		}
	}
	if patch.Attributes != nil {
		if at := checkAttributeNames(v, "attributes", *patch.Attributes); at != p.Attributes {
			p.Attributes = at
			ch.add("attributes")
		}
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	// A provider switched off because its document could not be read is
	// tried again when its source changes (one an admin switched off
	// stays off).
	if recheck && !p.Enabled && before.DisabledReason != "" && patch.Enabled == nil {
		p.Enabled = true
	}
	if recheck && p.Enabled {
		p.DisabledReason = ""
		ip.checkDocument(ctx, &p)
	}
	if p.Enabled != before.Enabled && !ch.has("enabled") {
		ch.add("enabled")
	}
	var view IdentityProviderView
	err = ip.s.store.InTx(ctx, func(tx Store) error {
		if err := tx.LockRealmMembership(ctx, r.ID); err != nil { // as in CreateIdentityProvider
			return err
		}
		cur, err := tx.GetIdentityProvider(ctx, r.ID, alias)
		if err != nil {
			return err
		}
		if !cur.UpdatedAt.Equal(before.UpdatedAt) {
			return Conflict("alias", "the identity provider changed while this change was made; try again")
		}
		if patch.GroupMappings != nil || patch.DefaultGroups != nil {
			mappings, defaults := p.GroupMappings, p.DefaultGroups
			if patch.GroupMappings != nil {
				mappings = *patch.GroupMappings
			}
			if patch.DefaultGroups != nil {
				defaults = *patch.DefaultGroups
			}
			m, d, err := checkIdPGroups(ctx, tx, v, r.ID, mappings, defaults)
			if err != nil {
				return err
			}
			if !slices.Equal(m, p.GroupMappings) {
				p.GroupMappings = m
				ch.add("group_mappings")
			}
			if !slices.Equal(d, p.DefaultGroups) {
				p.DefaultGroups = d
				ch.add("default_groups")
			}
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		if len(ch) == 0 && p.DisabledReason == before.DisabledReason {
			view = ip.view(r, &p)
			return nil
		}
		if err := ip.sealSecrets(&p, secret); err != nil {
			return err
		}
		p.UpdatedAt = ip.s.now()
		if err := tx.UpdateIdentityProvider(ctx, &p); err != nil {
			return err
		}
		view = ip.view(r, &p)
		d := ch.details()
		d["alias"], d["enabled"], d["disabled_reason"] = p.Alias, p.Enabled, p.DisabledReason
		return appendEvents(ctx, tx, ip.s.event(a, r.OrgID, r.ID, EventIdentityProviderUpdated, "identity_provider", p.ID, d))
	})
	if err != nil {
		return nil, err
	}
	return &view, nil
}

// DeleteIdentityProvider removes a provider with its users' links; the
// users stay, and sign in with a password once they have one.
func (ip *IdentityProviders) DeleteIdentityProvider(ctx context.Context, realmName, alias string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return ip.s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		p, err := tx.GetIdentityProvider(ctx, r.ID, alias)
		if err != nil {
			return err
		}
		if err := tx.DeleteIdentityProvider(ctx, r.ID, alias); err != nil {
			return err
		}
		return appendEvents(ctx, tx, ip.s.event(a, r.OrgID, r.ID, EventIdentityProviderDeleted, "identity_provider", p.ID,
			map[string]any{"alias": p.Alias, "kind": string(p.Kind)}))
	})
}

// view is p as answered: secrets out, endpoints in.
func (ip *IdentityProviders) view(r *Realm, p *IdentityProvider) IdentityProviderView {
	out := IdentityProviderView{IdentityProvider: *p}
	base := ip.s.publicURL + "/realms/" + r.Name
	out.RedirectURI = base + "/broker/" + p.Alias + "/endpoint"
	if p.SAML != nil {
		s := *p.SAML
		s.SPKeySealed = nil
		out.SAML = &s
		out.SPEntityID = SPEntityID(ip.s.publicURL, r.Name)
		out.SPMetadataURL = out.RedirectURI + "/descriptor"
	}
	if p.OIDC != nil {
		o := *p.OIDC
		out.HasClientSecret = o.ClientSecretSealed != nil
		o.ClientSecretSealed = nil
		out.OIDC = &o
	}
	return out
}

// SPEntityID is the entity ID Ward's service provider has for a realm's
// SAML providers: the realm's URL, as Keycloak's brokers have by default,
// so that an IdP configured for Keycloak keeps working.
func SPEntityID(publicURL, realmName string) string {
	return publicURL + "/realms/" + realmName
}

// checkDocument reads p's metadata or discovery document when p is to be
// enabled; failing that, p is disabled with the reason.
func (ip *IdentityProviders) checkDocument(ctx context.Context, p *IdentityProvider) {
	if !p.Enabled {
		return
	}
	var err error
	switch p.Kind {
	case IdPSAML:
		var xml string
		if xml, err = ip.checker.SAMLMetadata(ctx, p.SAML.MetadataURL, p.SAML.MetadataXML); err == nil {
			p.SAML.MetadataXML = xml
		}
	case IdPOIDC:
		err = ip.checker.OIDCDiscovery(ctx, p.OIDC.Issuer)
	}
	if err != nil {
		p.Enabled = false
		p.DisabledReason = disabledReason(err)
	}
}

// disabledReason is an error's text fit to store and show: one line,
// bounded.
func disabledReason(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if TextProblem(msg, false) != "" {
		msg = "the document could not be read"
	}
	if r := []rune(msg); len(r) > 500 {
		msg = string(r[:500]) + "…"
	}
	return msg
}

func checkSAMLInput(v *ValidationError, in *SAMLInput) *SAMLSettings {
	if in == nil {
		v.Add("saml", "is required for kind saml: metadata_url or metadata_xml")
		return nil
	}
	u, x := strings.TrimSpace(in.MetadataURL), strings.TrimSpace(in.MetadataXML)
	switch {
	case u == "" && x == "":
		v.Add("saml", "needs metadata_url or metadata_xml")
		return nil
	case u != "" && x != "":
		v.Add("saml", "takes metadata_url or metadata_xml, not both")
		return nil
	case u != "":
		if msg := idpURLProblem(u); msg != "" {
			v.Add("saml.metadata_url", msg)
			return nil
		}
	case len(x) > MaxSAMLMetadataBytes:
		v.Add("saml.metadata_xml", fmt.Sprintf("must be at most %d bytes", MaxSAMLMetadataBytes))
		return nil
	case TextProblem(x, true) != "":
		v.Add("saml.metadata_xml", TextProblem(x, true))
		return nil
	}
	return &SAMLSettings{MetadataURL: u, MetadataXML: x}
}

// checkOIDCInput checks an OIDC provider's settings; cur (on an update)
// fills what the input leaves empty. It returns the settings (without the
// sealed secret) and the new secret, if one was given.
func checkOIDCInput(v *ValidationError, in *OIDCInput, cur *OIDCSettings) (*OIDCSettings, *string) {
	if in == nil {
		v.Add("oidc", "is required for kind oidc: issuer and client_id")
		return nil, nil
	}
	o := &OIDCSettings{Issuer: strings.TrimSpace(in.Issuer), ClientID: strings.TrimSpace(in.ClientID)}
	if cur != nil {
		if o.Issuer == "" {
			o.Issuer = cur.Issuer
		}
		if o.ClientID == "" {
			o.ClientID = cur.ClientID
		}
	}
	ok := true
	if o.Issuer == "" {
		v.Add("oidc.issuer", "is required")
		ok = false
	} else if msg := idpURLProblem(o.Issuer); msg != "" {
		v.Add("oidc.issuer", msg)
		ok = false
	}
	if o.ClientID == "" {
		v.Add("oidc.client_id", "is required")
		ok = false
	} else if len(o.ClientID) > maxClientIDLen {
		v.Add("oidc.client_id", fmt.Sprintf("must be at most %d characters", maxClientIDLen))
		ok = false
	}
	var secret *string
	if in.ClientSecret != nil {
		s := *in.ClientSecret
		if len(s) > maxClientSecret {
			v.Add("oidc.client_secret", fmt.Sprintf("must be at most %d bytes", maxClientSecret))
			ok = false
		}
		secret = &s
	}
	switch {
	case in.Scopes != nil:
		o.Scopes = []string{"openid"}
		if len(in.Scopes) > maxIdPScopes {
			v.Add("oidc.scopes", fmt.Sprintf("must have at most %d entries", maxIdPScopes))
			ok = false
		}
		for i, sc := range in.Scopes {
			if sc == "" || len(sc) > maxScopeLen || strings.ContainsAny(sc, " \"\\") {
				v.Add(fmt.Sprintf("oidc.scopes[%d]", i), fmt.Sprintf("must be a scope token of 1 to %d characters", maxScopeLen))
				ok = false
			} else if !slices.Contains(o.Scopes, sc) {
				o.Scopes = append(o.Scopes, sc)
			}
		}
	case cur != nil:
		o.Scopes = cur.Scopes
	default:
		o.Scopes = []string{"openid", "email", "profile"}
	}
	if !ok {
		return nil, nil
	}
	return o, secret
}

// idpURLProblem: an absolute https URL, or http on a loopback host (a
// provider on the same machine, as in development and tests).
func idpURLProblem(raw string) string {
	if len(raw) > maxIdPURLLen {
		return fmt.Sprintf("must be at most %d characters", maxIdPURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute URL such as https://idp.example.com/…, without user information or fragment"
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "must use https (http only on localhost)"
	}
	return ""
}

func checkAttributeNames(v *ValidationError, field string, in IdPAttributeNames) IdPAttributeNames {
	return IdPAttributeNames{
		Email:     optionalText(v, field+".email", in.Email, maxClaimNameLen),
		FirstName: optionalText(v, field+".first_name", in.FirstName, maxClaimNameLen),
		LastName:  optionalText(v, field+".last_name", in.LastName, maxClaimNameLen),
	}
}

// checkIdPGroups checks mappings and default groups against the realm's
// groups, dropping duplicates; both come back sorted.
func checkIdPGroups(ctx context.Context, st Store, v *ValidationError, realmID string, mappings []GroupMapping, defaults []string) ([]GroupMapping, []string, error) {
	if len(mappings) > MaxGroupMappings {
		v.Add("group_mappings", fmt.Sprintf("must have at most %d entries", MaxGroupMappings))
		return nil, nil, nil
	}
	if len(defaults) > MaxDefaultGroups {
		v.Add("default_groups", fmt.Sprintf("must have at most %d entries", MaxDefaultGroups))
		return nil, nil, nil
	}
	ids := make([]string, 0, len(mappings)+len(defaults))
	for _, m := range mappings {
		ids = append(ids, m.Group)
	}
	ids = append(ids, defaults...)
	known := map[string]bool{}
	if len(ids) > 0 {
		found, err := st.GetGroups(ctx, realmID, ids)
		if err != nil {
			return nil, nil, err
		}
		for _, g := range found {
			known[g.ID] = true
		}
	}
	outM := make([]GroupMapping, 0, len(mappings))
	for i, m := range mappings {
		ext := strings.TrimSpace(m.External)
		switch {
		case ext == "":
			v.Add(fmt.Sprintf("group_mappings[%d].external", i), "is required")
		case len(ext) > maxExternalGroupLength:
			v.Add(fmt.Sprintf("group_mappings[%d].external", i), fmt.Sprintf("must be at most %d characters", maxExternalGroupLength))
		}
		if !known[m.Group] {
			v.Add(fmt.Sprintf("group_mappings[%d].group", i), "is not a group of this realm")
		}
		gm := GroupMapping{External: ext, Group: m.Group}
		if !slices.Contains(outM, gm) {
			outM = append(outM, gm)
		}
	}
	outD := make([]string, 0, len(defaults))
	for i, id := range defaults {
		if !known[id] {
			v.Add(fmt.Sprintf("default_groups[%d]", i), "is not a group of this realm")
		} else if !slices.Contains(outD, id) {
			outD = append(outD, id)
		}
	}
	slices.SortFunc(outM, func(a, b GroupMapping) int {
		if c := strings.Compare(a.External, b.External); c != 0 {
			return c
		}
		return strings.Compare(a.Group, b.Group)
	})
	slices.Sort(outD)
	return outM, outD, nil
}

// sealSecrets seals a new client secret into p and, for a new SAML
// provider, makes its SP key and certificate.
func (ip *IdentityProviders) sealSecrets(p *IdentityProvider, secret *string) error {
	if p.OIDC != nil && secret != nil {
		if *secret == "" {
			p.OIDC.ClientSecretSealed = nil
		} else {
			sealed, err := ip.seal(secretAD(p.ID, "oidc client secret"), []byte(*secret))
			if err != nil {
				return err
			}
			p.OIDC.ClientSecretSealed = sealed
		}
	}
	if p.SAML != nil && p.SAML.SPKeySealed == nil {
		key, cert, err := newSPKey(p, ip.s.now())
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if p.SAML.SPKeySealed, err = ip.seal(secretAD(p.ID, "saml sp key"), der); err != nil {
			return err
		}
		p.SAML.SPCertificate = cert
	}
	return nil
}

// newSPKey makes the SP's RSA key (RSA: SAML IdPs widely support it for
// signed requests, and it can also decrypt encrypted assertions) and a
// self-signed certificate for it, which is how SAML metadata carries keys.
func newSPKey(p *IdentityProvider, now time.Time) (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Ward SP " + p.Alias},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(spCertificateLife),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// SPKey opens a SAML provider's SP key.
func (ip *IdentityProviders) SPKey(p *IdentityProvider) (*rsa.PrivateKey, *x509.Certificate, error) {
	if p.SAML == nil || p.SAML.SPKeySealed == nil {
		return nil, nil, errors.New("realm: the provider has no SP key")
	}
	der, err := ip.open(secretAD(p.ID, "saml sp key"), p.SAML.SPKeySealed)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("realm: the SP key is not an RSA key")
	}
	cert, err := x509.ParseCertificate(p.SAML.SPCertificate)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// ClientSecret opens an OIDC provider's client secret; "" when it has none.
func (ip *IdentityProviders) ClientSecret(p *IdentityProvider) (string, error) {
	if p.OIDC == nil || p.OIDC.ClientSecretSealed == nil {
		return "", nil
	}
	b, err := ip.open(secretAD(p.ID, "oidc client secret"), p.OIDC.ClientSecretSealed)
	return string(b), err
}

// secretAD binds a sealed value to its provider and purpose: a value
// copied into another row or field does not open.
func secretAD(id, purpose string) []byte {
	return []byte("ward identity provider v1\x00" + purpose + "\x00" + id)
}

// errUnsealed hides why a value did not open: the wrong master key and a
// damaged row look the same.
var errUnsealed = errors.New("realm: a sealed identity provider secret does not decrypt (wrong master key or damaged row)")

func (ip *IdentityProviders) seal(ad, plain []byte) ([]byte, error) {
	nonce := make([]byte, ip.aead.NonceSize(), ip.aead.NonceSize()+len(plain)+ip.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return ip.aead.Seal(nonce, nonce, plain, ad), nil
}

func (ip *IdentityProviders) open(ad, sealed []byte) ([]byte, error) {
	n := ip.aead.NonceSize()
	if len(sealed) < n+ip.aead.Overhead() {
		return nil, errUnsealed
	}
	plain, err := ip.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// UserIdentities lists a user's links to the realm's providers (the
// console shows a user created by a provider with it).
func (ip *IdentityProviders) UserIdentities(ctx context.Context, realmName, userID string) ([]UserIdentity, error) {
	return readInRealm(ctx, ip.s, realmName, func(r *Realm) ([]UserIdentity, error) {
		if _, err := ip.s.store.GetUser(ctx, r.ID, userID); err != nil {
			return nil, err
		}
		return ip.s.store.ListUserIdentities(ctx, r.ID, userID)
	})
}

// Sweep removes sign-ins in flight that expired (the janitor's).
func (ip *IdentityProviders) Sweep(ctx context.Context) {
	if _, err := ip.s.store.DeleteExpiredBrokerStates(ctx, ip.s.now()); err != nil {
		ip.s.log.WarnContext(ctx, "realm: expired broker states not removed", "err", err)
	}
}
