package realm

import (
	"context"
	"strings"
	"time"
)

// CurrentOrg returns the caller's organization. Every role may read it.
func (s *Service) CurrentOrg(ctx context.Context) (*Org, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, ErrNotFound
	}
	return s.store.GetOrg(ctx, orgID)
}

// ---- Members: every role may see who administers the org (a viewer "sees
// everything read-only"); only owners add, change or remove members. ----

// ListMembers lists the org's console members.
func (s *Service) ListMembers(ctx context.Context, o ListOptions) (Page[Member], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Member]{}, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return Page[Member]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Member]{}, err
	}
	p, err := s.store.ListMembers(ctx, orgID, o)
	if err != nil {
		return Page[Member]{}, err
	}
	for i := range p.Items {
		p.Items[i] = *memberView(&p.Items[i])
	}
	return p, nil
}

// CreateMember adds a console member to the caller's org, creating the
// console account for the email or reusing the existing one. An account
// without a password gets a set-password link, issued in the same
// transaction and mailed after it commits.
func (s *Service) CreateMember(ctx context.Context, in MemberInput) (*Member, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	email := strings.TrimSpace(in.Email)
	checkEmail(v, "email", email)
	first := requiredName(v, "first_name", in.FirstName)
	last := requiredName(v, "last_name", in.LastName)
	checkRole(v, "role", in.Role)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	console, err := s.ensureSystem(ctx, a)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var (
		m      *Member
		mailed bool
	)
	err = s.store.InTx(ctx, func(tx Store) error {
		user, created, err := s.consoleUser(ctx, tx, console.ID, email, first, last)
		if err != nil {
			return err
		}
		if !created {
			ms, err := tx.ListMembershipsOfUser(ctx, user.ID)
			if err != nil {
				return err
			}
			for _, existing := range ms {
				if existing.OrgID == orgID {
					return Conflict("email", "this account is already a member of the organization")
				}
			}
		}
		m = &Member{ID: s.newID(), OrgID: orgID, UserID: user.ID, Role: in.Role, CreatedAt: now, UpdatedAt: now, User: user}
		if err := tx.CreateMember(ctx, m); err != nil {
			return asConflict(err, "email", "this account is already a member of the organization")
		}
		if err := appendEvents(ctx, tx, s.event(a, orgID, "", EventMemberCreated, "member", m.ID,
			map[string]any{"user_id": user.ID, "email": user.Email, "role": string(m.Role), "user_created": created})); err != nil {
			return err
		}
		// A console account that already has a password (a member of
		// another org) signs in as it is; a new one gets a link.
		if user.PasswordHash != "" || !user.Active {
			return nil
		}
		mailed = true
		return s.invite(ctx, tx, a, orgID, console, user, m.Role)
	})
	if err != nil {
		return nil, err
	}
	if mailed {
		s.mailQueued()
	}
	return memberView(m), nil
}

// GetMember returns one member of the caller's org.
func (s *Service) GetMember(ctx context.Context, id string) (*Member, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	m, err := s.store.GetMember(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	return memberView(m), nil
}

// invite issues a console account's set-password link and queues the
// invitation mail naming the organization and the role, in tx.
func (s *Service) invite(ctx context.Context, tx Store, a access, orgID string, console *Realm, user *User, role Role) error {
	org, err := tx.GetOrg(ctx, orgID)
	if err != nil {
		return err
	}
	link, err := s.issueSetPasswordLink(ctx, tx, a, console, user, orgID)
	if err != nil {
		return err
	}
	return s.queueInvitation(ctx, tx, org, console, user, role, link)
}

// ResendInvitation mails a member who has not set a password yet a new
// invitation (links sent before stop working). Owners only, as inviting.
// A member who has a password signs in with it: a conflict.
func (s *Service) ResendInvitation(ctx context.Context, id string) (*Member, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	console, err := s.ensureSystem(ctx, a)
	if err != nil {
		return nil, err
	}
	var m *Member
	err = s.store.InTx(ctx, func(tx Store) error {
		if m, err = tx.GetMember(ctx, orgID, id); err != nil {
			return err
		}
		user, err := tx.GetUser(ctx, console.ID, m.UserID)
		if err != nil {
			return err
		}
		switch {
		case !user.Active:
			return Conflict("member", "the account is deactivated")
		case user.PasswordHash != "":
			return Conflict("member", "the member has set a password already and signs in with it")
		}
		return s.invite(ctx, tx, a, orgID, console, user, m.Role)
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	return memberView(m), nil
}

// errLastOwner: an org must keep an owner, or nobody could manage members
// and org clients any more.
var errLastOwner = Conflict("role", "the organization's last owner cannot be demoted or removed")

// UpdateMember changes a member's role. The last owner keeps its role.
func (s *Service) UpdateMember(ctx context.Context, id string, p MemberPatch) (*Member, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	if p.Role != nil {
		v := &ValidationError{}
		checkRole(v, "role", *p.Role)
		if err := v.OrNil(); err != nil {
			return nil, err
		}
	}
	var m *Member
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		if m, err = tx.GetMember(ctx, orgID, id); err != nil {
			return err
		}
		if p.Role == nil || *p.Role == m.Role {
			return nil
		}
		if m.Role == RoleOwner {
			n, err := tx.CountOwners(ctx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return errLastOwner
			}
		}
		old := m.Role
		m.Role = *p.Role
		m.UpdatedAt = s.now()
		if err := tx.UpdateMember(ctx, m); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, orgID, "", EventMemberUpdated, "member", m.ID,
			map[string]any{"user_id": m.UserID, "old_role": string(old), "role": string(m.Role)}))
	})
	if err != nil {
		return nil, err
	}
	return memberView(m), nil
}

// DeleteMember removes a member from the org. The console account stays
// (it may belong to other orgs, and users are never deleted).
func (s *Service) DeleteMember(ctx context.Context, id string) error {
	a, err := ownerOnly(ctx)
	if err != nil {
		return err
	}
	orgID, err := a.orgID()
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		m, err := tx.GetMember(ctx, orgID, id)
		if err != nil {
			return err
		}
		if m.Role == RoleOwner {
			n, err := tx.CountOwners(ctx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return errLastOwner
			}
		}
		if err := tx.DeleteMember(ctx, orgID, id); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, orgID, "", EventMemberDeleted, "member", m.ID,
			map[string]any{"user_id": m.UserID, "role": string(m.Role)}))
	})
}

// MembershipOf returns a console user's current membership of orgID;
// ErrNotFound when there is none. It takes no principal: the admin API's
// authentication calls it to check that the org and role a console token
// names still hold.
func (s *Service) MembershipOf(ctx context.Context, userID, orgID string) (*Member, error) {
	if userID == "" || orgID == "" {
		return nil, ErrNotFound
	}
	ms, err := s.store.ListMembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].OrgID == orgID {
			return &ms[i], nil
		}
	}
	return nil, ErrNotFound
}

// ---- Org admin clients: console-realm service accounts acting for the
// caller's org with a role. Owners only; another org's are not found. ----

// consoleRealm returns the console realm (made by EnsureSystem).
func (s *Service) consoleRealm(ctx context.Context, a access) (*Realm, error) {
	return s.ensureSystem(ctx, a)
}

// orgClient finds an org admin client of orgID.
func orgClient(ctx context.Context, st Store, consoleID, orgID, clientID string) (*Client, error) {
	c, err := st.GetClient(ctx, consoleID, clientID)
	if err != nil {
		return nil, err
	}
	if c.OrgID == "" || c.OrgID != orgID {
		return nil, ErrNotFound
	}
	return c, nil
}

// ListOrgClients lists the org's admin clients.
func (s *Service) ListOrgClients(ctx context.Context, o ListOptions) (Page[Client], error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return Page[Client]{}, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return Page[Client]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Client]{}, err
	}
	console, err := s.consoleRealm(ctx, a)
	if err != nil {
		return Page[Client]{}, err
	}
	p, err := s.store.ListClients(ctx, console.ID, orgID, o)
	if err != nil {
		return Page[Client]{}, err
	}
	items := p.Items[:0]
	for _, c := range p.Items {
		if c.OrgID == orgID { // belt and braces: never list another org's
			items = append(items, *clientView(&c))
		}
	}
	p.Items = items
	return p, nil
}

// CreateOrgClient creates an org admin client and returns its secret, the
// only time it is shown.
func (s *Service) CreateOrgClient(ctx context.Context, in OrgClientInput) (*Client, string, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, "", err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, "", err
	}
	v := &ValidationError{}
	name := requiredName(v, "name", in.Name)
	desc := optionalText(v, "description", in.Description, maxDescriptionLen)
	checkRole(v, "role", in.Role)
	if err := v.OrNil(); err != nil {
		return nil, "", err
	}
	console, err := s.consoleRealm(ctx, a)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	secret, hash := NewSecret(s.random)
	c := &Client{
		ID: s.newID(), RealmID: console.ID, ClientID: newClientID(s.random), Name: name, Description: desc,
		Kind: KindServiceAccount, Active: true, OrgID: orgID, OrgRole: in.Role, SecretHash: hash,
		Audience: []string{}, Groups: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateClient(ctx, c); err != nil {
			return asConflict(err, "client_id", "client_id already taken")
		}
		return appendEvents(ctx, tx, s.event(a, orgID, "", EventClientCreated, "client", c.ClientID,
			map[string]any{"name": c.Name, "kind": string(c.Kind), "role": string(c.OrgRole)}))
	})
	if err != nil {
		return nil, "", err
	}
	return clientView(c), secret, nil
}

// GetOrgClient returns one of the org's admin clients.
func (s *Service) GetOrgClient(ctx context.Context, clientID string) (*Client, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	console, err := s.consoleRealm(ctx, a)
	if err != nil {
		return nil, err
	}
	c, err := orgClient(ctx, s.store, console.ID, orgID, clientID)
	if err != nil {
		return nil, err
	}
	return clientView(c), nil
}

// UpdateOrgClient changes an org admin client's name, description, role or
// active flag.
func (s *Service) UpdateOrgClient(ctx context.Context, clientID string, p OrgClientPatch) (*Client, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var name, desc string
	if p.Name != nil {
		name = requiredName(v, "name", *p.Name)
	}
	if p.Description != nil {
		desc = optionalText(v, "description", *p.Description, maxDescriptionLen)
	}
	if p.Role != nil {
		checkRole(v, "role", *p.Role)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	console, err := s.consoleRealm(ctx, a)
	if err != nil {
		return nil, err
	}
	var c *Client
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		if c, err = orgClient(ctx, tx, console.ID, orgID, clientID); err != nil {
			return err
		}
		var ch changed
		var events []*Event
		if p.Name != nil && name != c.Name {
			c.Name = name
			ch.add("name")
		}
		if p.Description != nil && desc != c.Description {
			c.Description = desc
			ch.add("description")
		}
		if p.Role != nil && *p.Role != c.OrgRole {
			c.OrgRole = *p.Role
			ch.add("role")
		}
		if len(ch) > 0 {
			d := ch.details()
			d["role"] = string(c.OrgRole)
			events = append(events, s.event(a, orgID, "", EventClientUpdated, "client", c.ClientID, d))
		}
		if p.Active != nil && *p.Active != c.Active {
			// An org admin client has client_credentials tokens only:
			// TokensValidAfter is all it takes to keep them dead.
			s.setActive(&c.Active, &c.TokensValidAfter, *p.Active)
			events = append(events, s.event(a, orgID, "", activeEvent("client", c.Active), "client", c.ClientID, nil))
		}
		if len(events) == 0 {
			return nil
		}
		c.UpdatedAt = s.now()
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return appendEvents(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	return clientView(c), nil
}

// RotateOrgClientSecret gives an org admin client a new secret; the old one
// keeps working for graceSeconds (0..86400).
func (s *Service) RotateOrgClientSecret(ctx context.Context, clientID string, graceSeconds int) (*Client, string, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, "", err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, "", err
	}
	if err := checkGraceSeconds(graceSeconds); err != nil {
		return nil, "", err
	}
	console, err := s.consoleRealm(ctx, a)
	if err != nil {
		return nil, "", err
	}
	var c *Client
	var secret string
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		if c, err = orgClient(ctx, tx, console.ID, orgID, clientID); err != nil {
			return err
		}
		if secret, err = s.rotate(c, graceSeconds); err != nil {
			return err
		}
		if err := tx.UpdateClient(ctx, c); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, orgID, "", EventClientSecretRotated, "client", c.ClientID,
			map[string]any{"grace_seconds": graceSeconds}))
	})
	if err != nil {
		return nil, "", err
	}
	return clientView(c), secret, nil
}

// rotate replaces c's secret. The previous hash stays valid until
// now+grace; with no grace it is dropped at once.
func (s *Service) rotate(c *Client, graceSeconds int) (string, error) {
	if c.Public {
		return "", Conflict("public", "a public client has no secret to rotate")
	}
	now := s.now()
	secret, hash := NewSecret(s.random)
	if graceSeconds > 0 && len(c.SecretHash) > 0 {
		c.PreviousSecretHash = c.SecretHash
		c.PreviousSecretExpiresAt = timePtr(now.Add(time.Duration(graceSeconds) * time.Second))
	} else {
		c.PreviousSecretHash = nil
		c.PreviousSecretExpiresAt = nil
	}
	c.SecretHash = hash
	c.UpdatedAt = now
	return secret, nil
}

// activeEvent names the event of switching a user or client on or off.
func activeEvent(kind string, active bool) EventType {
	switch {
	case kind == "user" && active:
		return EventUserReactivated
	case kind == "user":
		return EventUserDeactivated
	case active:
		return EventClientReactivated
	}
	return EventClientDeactivated
}

// groupEvent names the event of a user or client joining or leaving a
// group.
func groupEvent(kind string, joined bool) EventType {
	switch {
	case kind == "user" && joined:
		return EventUserGroupAdded
	case kind == "user":
		return EventUserGroupRemoved
	case joined:
		return EventClientGroupAdded
	}
	return EventClientGroupRemoved
}

// OrgMembership is one org a console member belongs to and the role held
// there.
type OrgMembership struct {
	Org  Org
	Role Role
}

// MemberOrgs lists the orgs the calling console member belongs to, oldest
// membership first, for the console's organization switcher. Only a
// member (a person) has other orgs; an org admin client acts for its one
// org and gets just that one.
func (s *Service) MemberOrgs(ctx context.Context) ([]OrgMembership, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	if a.p.ActorType != "member" {
		org, err := s.CurrentOrg(ctx)
		if err != nil {
			return nil, err
		}
		return []OrgMembership{{Org: *org, Role: a.p.Role}}, nil
	}
	ms, err := s.store.ListMembershipsOfUser(ctx, a.p.ActorID)
	if err != nil {
		return nil, err
	}
	out := make([]OrgMembership, 0, len(ms))
	for _, m := range ms {
		org, err := s.store.GetOrg(ctx, m.OrgID)
		if err != nil {
			return nil, err
		}
		out = append(out, OrgMembership{Org: *org, Role: m.Role})
	}
	return out, nil
}
