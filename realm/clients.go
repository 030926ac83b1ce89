package realm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Realm clients: service accounts (confidential, client_credentials only)
// and applications (authorization code + PKCE, public or confidential).
// Secrets are returned by CreateClient and RotateClientSecret only; every
// Client handed out by the Service has its hashes cleared.

const clientIDTaken = "client_id already exists in the realm"

// clientShape is the kind-dependent part of a client, validated together
// because what is allowed depends on the kind.
type clientShape struct {
	kind          ClientKind
	public        bool
	redirectURIs  []string
	webOrigins    []string
	communication string
}

// check validates the shape and returns the stored communication mode; it
// replaces webOrigins by their serialized form, which is what is stored.
func (c *clientShape) check(v *ValidationError) Communication {
	switch c.kind {
	case KindServiceAccount:
		if c.public {
			v.Add("public", "a service account is always confidential")
		}
		if len(c.redirectURIs) > 0 {
			v.Add("redirect_uris", "a service account has no redirect URIs")
		}
		if len(c.webOrigins) > 0 {
			v.Add("web_origins", "a service account has no web origins")
		}
		if c.communication != "" {
			v.Add("communication", "only applications have a communication mode")
		}
		return ""
	case KindApplication:
		checkRedirectURIs(v, c.redirectURIs, c.public)
		c.webOrigins = checkWebOrigins(v, c.webOrigins)
		switch Communication(c.communication) {
		case "", CommRedirect:
			return CommRedirect
		case CommPostMessage:
			checkPostMessageOrigins(v, c.redirectURIs, c.webOrigins)
			return CommPostMessage
		}
		v.Add("communication", "must be redirect or post_message")
		return ""
	}
	v.Add("kind", "must be service_account or application")
	return ""
}

// postMessageOrigins is the field of checkPostMessageOrigins' refusal: it
// is about the redirect URIs, the web origins and the communication
// together.
const postMessageOrigins = "web_origins"

// checkPostMessageOrigins: a post_message application's sign-in result is
// posted to the origin of its redirect URI, which must be one of its web
// origins (serialized, as checkWebOrigins returns them), or sign-in fails
// later with a page the user cannot act on. The refusal names the origins
// to add.
func checkPostMessageOrigins(v *ValidationError, redirectURIs, webOrigins []string) {
	var missing []string
	for i, raw := range redirectURIs {
		if redirectURIProblem(raw, true) != "" {
			continue // refused already
		}
		o := OriginOf(raw)
		switch {
		case o == "":
			v.Add(fmt.Sprintf("redirect_uris[%d]", i), "must be an http or https address: a post_message application's sign-in result is posted to the redirect URI's origin")
		case !slices.Contains(webOrigins, o) && !slices.Contains(missing, o):
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		v.Add(postMessageOrigins, fmt.Sprintf("must include %s, the origin of the redirect URIs: a post_message application's sign-in result is posted there (add it to Web origins)",
			strings.Join(missing, " and ")))
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListClients lists a realm's clients (hashes cleared).
func (s *Service) ListClients(ctx context.Context, realmName string, o ListOptions) (Page[Client], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Client]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Client]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[Client]{}, err
	}
	p, err := s.store.ListClients(ctx, r.ID, "", o)
	if err != nil {
		return Page[Client]{}, err
	}
	for i := range p.Items {
		p.Items[i] = *clientView(&p.Items[i])
	}
	return p, nil
}

// CreateClient creates a realm client. Confidential clients get a secret,
// returned here once; public applications get "".
func (s *Service) CreateClient(ctx context.Context, realmName string, in ClientInput) (*ClientView, string, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	v := &ValidationError{}
	clientID := strings.TrimSpace(in.ClientID)
	if clientID != "" && !clientIDPattern.MatchString(clientID) {
		v.Add("client_id", "must be 3 to 64 characters: letters, digits, dots, underscores and hyphens")
	}
	if clientID == "" {
		clientID = newClientID(s.random)
	}
	name := requiredName(v, "name", in.Name)
	desc := optionalText(v, "description", in.Description, maxDescriptionLen)
	display := optionalText(v, "display_name", in.DisplayName, maxNameLen)
	checkAudience(v, in.Audience)
	shape := clientShape{kind: ClientKind(in.Kind), public: in.Public, redirectURIs: in.RedirectURIs,
		webOrigins: in.WebOrigins, communication: in.Communication}
	comm := shape.check(v)
	scopes := scopesInput{defaults: in.DefaultScopes, offline: &in.OfflineAccess}
	if in.DefaultScopes == nil && shape.kind == KindApplication {
		defs := DefaultClientScopes()
		scopes.defaults = &defs
	}
	if in.OptionalScopes != nil {
		// offline_access listed or flagged: on create either asks for it
		// (a PATCH must keep the two in agreement).
		optional := slices.Clone(in.OptionalScopes)
		if in.OfflineAccess && !slices.Contains(optional, ScopeOfflineAccess) {
			optional = append(optional, ScopeOfflineAccess)
		}
		scopes.optional = &optional
		in.OfflineAccess = slices.Contains(optional, ScopeOfflineAccess)
	}
	defaultScopes, optionalScopes, offline := clientScopes(v, shape.kind, Client{}, scopes)
	idAlg := checkIDTokenAlg(v, shape.kind, in.IDTokenAlg)
	var view *ClientView
	var secret string
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		groups, ids, err := checkGroups(ctx, tx, v, r.ID, in.Groups)
		if err != nil {
			return err
		}
		checkPrimary(v, "client", in.PrimaryGroup, ids)
		if err := v.OrNil(); err != nil {
			return err
		}
		if _, err := tx.GetClient(ctx, r.ID, clientID); err == nil {
			return Conflict("client_id", clientIDTaken)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		c := &Client{
			ID: s.newID(), RealmID: r.ID, ClientID: clientID, Name: name, Description: desc,
			Kind: shape.kind, Active: true, Public: in.Public, Audience: nonNil(in.Audience),
			Groups: ids, PrimaryGroup: in.PrimaryGroup, RedirectURIs: nonNil(in.RedirectURIs),
			WebOrigins: nonNil(shape.webOrigins), Communication: comm, DisplayName: display,
			AllowOfflineAccess: offline, IDTokenAlg: idAlg, CreatedAt: now, UpdatedAt: now,
			DefaultScopes: defaultScopes, OptionalScopes: optionalScopes,
		}
		if !c.Public {
			secret, c.SecretHash = NewSecret(s.random)
		}
		if err := tx.CreateClient(ctx, c); err != nil {
			return asConflict(err, "client_id", clientIDTaken)
		}
		names, eff, err := groupClaims(ctx, tx, r.ID, groups, c.PrimaryGroup)
		if err != nil {
			return err
		}
		if err := checkClaimsFit("groups", names, eff); err != nil {
			return err // rolls the client back
		}
		view = &ClientView{Client: *clientView(c), EffectiveAttributes: eff}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventClientCreated, "client", c.ClientID,
			map[string]any{"name": c.Name, "kind": string(c.Kind), "public": c.Public,
				"groups": c.Groups, "audience": c.Audience}))
	})
	if err != nil {
		return nil, "", err
	}
	return view, secret, nil
}

// GetClient returns a realm client with its effective attributes.
func (s *Service) GetClient(ctx context.Context, realmName, clientID string) (*ClientView, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetClient(ctx, r.ID, clientID)
	if err != nil {
		return nil, err
	}
	return s.clientView(ctx, s.store, c)
}

func (s *Service) clientView(ctx context.Context, st Store, c *Client) (*ClientView, error) {
	_, eff, err := subjectClaims(ctx, st, c.RealmID, c.Groups, c.PrimaryGroup)
	if err != nil {
		return nil, err
	}
	return &ClientView{Client: *clientView(c), EffectiveAttributes: eff}, nil
}

// UpdateClient changes a realm client. Active false disables it (its tokens
// introspect inactive); kind, public and client_id never change.
func (s *Service) UpdateClient(ctx context.Context, realmName, clientID string, p ClientPatch) (*ClientView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var name, desc, display string
	if p.Name != nil {
		name = requiredName(v, "name", *p.Name)
	}
	if p.Description != nil {
		desc = optionalText(v, "description", *p.Description, maxDescriptionLen)
	}
	if p.DisplayName != nil {
		display = optionalText(v, "display_name", *p.DisplayName, maxNameLen)
	}
	if p.Audience != nil {
		checkAudience(v, *p.Audience)
	}
	var view *ClientView
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		c, err := tx.GetClient(ctx, r.ID, clientID)
		if err != nil {
			return err
		}
		shape := clientShape{kind: c.Kind, public: c.Public, redirectURIs: c.RedirectURIs,
			webOrigins: c.WebOrigins, communication: string(c.Communication)}
		if p.RedirectURIs != nil {
			shape.redirectURIs = *p.RedirectURIs
		}
		if p.WebOrigins != nil {
			shape.webOrigins = *p.WebOrigins
		}
		if p.Communication != nil {
			shape.communication = *p.Communication
		}
		// Only re-check what the patch touches, so that a client stored under
		// older rules can still be renamed.
		sv := &ValidationError{}
		comm := shape.check(sv)
		for _, f := range sv.Fields {
			touched := (p.RedirectURIs != nil && strings.HasPrefix(f.Field, "redirect_uris")) ||
				(p.WebOrigins != nil && strings.HasPrefix(f.Field, "web_origins")) ||
				(p.Communication != nil && f.Field == "communication") ||
				// A post_message application's origins depend on all three.
				((p.RedirectURIs != nil || p.WebOrigins != nil || p.Communication != nil) &&
					(f.Field == postMessageOrigins || strings.HasPrefix(f.Field, "redirect_uris")) &&
					strings.Contains(f.Message, "post_message"))
			if touched {
				v.Fields = append(v.Fields, f)
			}
		}
		defaultScopes, optionalScopes, offline := clientScopes(v, c.Kind, *c,
			scopesInput{defaults: p.DefaultScopes, optional: p.OptionalScopes, offline: p.OfflineAccess})
		idAlg := c.IDTokenAlg
		if p.IDTokenAlg != nil {
			idAlg = checkIDTokenAlg(v, c.Kind, *p.IDTokenAlg)
		}
		groups, primary, err := groupsPatch(ctx, tx, v, "client", r.ID, c.Groups, c.PrimaryGroup, p.Groups, p.PrimaryGroup)
		if err != nil {
			return err
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		var ch changed
		var events []*Event
		set := func(field string, differs bool, apply func()) {
			if differs {
				apply()
				ch.add(field)
			}
		}
		set("name", p.Name != nil && name != c.Name, func() { c.Name = name })
		set("description", p.Description != nil && desc != c.Description, func() { c.Description = desc })
		set("display_name", p.DisplayName != nil && display != c.DisplayName, func() { c.DisplayName = display })
		set("audience", p.Audience != nil && !slices.Equal(*p.Audience, c.Audience), func() { c.Audience = nonNil(*p.Audience) })
		set("redirect_uris", p.RedirectURIs != nil && !slices.Equal(*p.RedirectURIs, c.RedirectURIs), func() { c.RedirectURIs = nonNil(*p.RedirectURIs) })
		set("web_origins", p.WebOrigins != nil && !slices.Equal(shape.webOrigins, c.WebOrigins), func() { c.WebOrigins = nonNil(shape.webOrigins) })
		set("communication", p.Communication != nil && comm != c.Communication, func() { c.Communication = comm })
		set("offline_access", offline != c.AllowOfflineAccess, func() { c.AllowOfflineAccess = offline })
		set("default_scopes", !slices.Equal(defaultScopes, nonNil(c.DefaultScopes)), func() { c.DefaultScopes = defaultScopes })
		set("optional_scopes", !slices.Equal(optionalScopes, nonNil(c.OptionalScopes)), func() { c.OptionalScopes = optionalScopes })
		set("id_token_signed_response_alg", idAlg != c.IDTokenAlg, func() { c.IDTokenAlg = idAlg })
		set("groups", !slices.Equal(groups, c.Groups), func() { c.Groups = groups })
		set("primary_group", primary != c.PrimaryGroup, func() { c.PrimaryGroup = primary })
		if len(ch) > 0 {
			events = append(events, s.event(a, r.OrgID, r.ID, EventClientUpdated, "client", c.ClientID, ch.details()))
		}
		deactivated := false
		if p.Active != nil && *p.Active != c.Active {
			s.setActive(&c.Active, &c.TokensValidAfter, *p.Active)
			deactivated = !c.Active
			events = append(events, s.event(a, r.OrgID, r.ID, activeEvent("client", c.Active), "client", c.ClientID, nil))
		}
		if len(events) > 0 {
			c.UpdatedAt = s.now()
			if err := tx.UpdateClient(ctx, c); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, events...); err != nil {
				return err
			}
		}
		if deactivated {
			// Its refresh tokens end here, so a reactivation does not
			// bring them back (its access tokens end by TokensValidAfter).
			if err := tx.RevokeClientRefreshTokens(ctx, r.ID, c.ClientID); err != nil {
				return err
			}
		}
		view, err = s.clientView(ctx, tx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// RotateClientSecret gives a confidential client a new secret, returned
// once; the previous one keeps working for graceSeconds (0..86400).
func (s *Service) RotateClientSecret(ctx context.Context, realmName, clientID string, graceSeconds int) (*ClientView, string, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := checkGraceSeconds(graceSeconds); err != nil {
		return nil, "", err
	}
	var view *ClientView
	var secret string
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		c, err := tx.GetClient(ctx, r.ID, clientID)
		if err != nil {
			return err
		}
		if secret, err = s.rotate(c, graceSeconds); err != nil {
			return err
		}
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		if err := appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventClientSecretRotated, "client", c.ClientID,
			map[string]any{"grace_seconds": graceSeconds})); err != nil {
			return err
		}
		view, err = s.clientView(ctx, tx, c)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return view, secret, nil
}

// AddClientToGroup puts a client in a group (idempotent).
func (s *Service) AddClientToGroup(ctx context.Context, realmName, clientID, groupID string) (*ClientView, error) {
	return s.changeClientGroup(ctx, realmName, clientID, groupID, true)
}

// RemoveClientFromGroup takes a client out of a group (idempotent); leaving
// the primary group is a conflict.
func (s *Service) RemoveClientFromGroup(ctx context.Context, realmName, clientID, groupID string) (*ClientView, error) {
	return s.changeClientGroup(ctx, realmName, clientID, groupID, false)
}

func (s *Service) changeClientGroup(ctx context.Context, realmName, clientID, groupID string, add bool) (*ClientView, error) {
	var view *ClientView
	err := s.changeGroup(ctx, realmName, groupID, add, func(tx Store, r *Realm) (*member, error) {
		c, err := tx.GetClient(ctx, r.ID, clientID)
		if err != nil {
			return nil, err
		}
		return &member{
			kind: "client", id: c.ClientID, groups: &c.Groups, primary: c.PrimaryGroup, updatedAt: &c.UpdatedAt,
			save: func() error { return tx.UpdateClient(ctx, c) },
			view: func() (err error) { view, err = s.clientView(ctx, tx, c); return err },
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// setActive sets the active flag of a client or user. Deactivating also
// stamps validAfter (TokensValidAfter) with now: every token issued until
// now stays dead, even after a reactivation, as CONTRACT §3 wants of a
// disabled client's and a deactivated user's tokens.
func (s *Service) setActive(active *bool, validAfter **time.Time, to bool) {
	*active = to
	if !to {
		now := s.now()
		*validAfter = &now
	}
}

// checkOfflineAccess: offline_access (refresh tokens that outlive the
// browser session) is for applications, which sign users in; a service
// account has no session to outlive.
func checkOfflineAccess(v *ValidationError, kind ClientKind, on bool) {
	if on && kind != KindApplication {
		v.Add("offline_access", "only application clients may have offline access")
	}
}

// ID token signing algorithms an application may choose (CONTRACT §4).
const (
	IDTokenRS256 = AlgRS256
	IDTokenES256 = AlgES256
)

// checkIDTokenAlg validates an application's ID token algorithm and
// returns it with the default filled in. Service accounts get no ID tokens,
// so they may not set one.
func checkIDTokenAlg(v *ValidationError, kind ClientKind, alg string) string {
	if kind != KindApplication {
		if alg != "" {
			v.Add("id_token_signed_response_alg", "only application clients receive ID tokens")
		}
		return ""
	}
	switch alg {
	case "":
		return IDTokenRS256
	case IDTokenRS256, IDTokenES256:
		return alg
	}
	v.Add("id_token_signed_response_alg", "must be RS256 or ES256")
	return alg
}
