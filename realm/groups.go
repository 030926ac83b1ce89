package realm

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ListGroups lists a realm's groups.
func (s *Service) ListGroups(ctx context.Context, realmName string, o ListOptions) (Page[Group], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Group]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Group]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[Group]{}, err
	}
	return s.store.ListGroups(ctx, r.ID, o)
}

// CreateGroup creates a group with attribute values checked against the
// realm's definitions. Group names are unique per realm case-insensitively
// (the store's unique index; 409 naming "name").
func (s *Service) CreateGroup(ctx context.Context, realmName string, in GroupInput) (*Group, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	name := requiredName(v, "name", in.Name)
	desc := optionalText(v, "description", in.Description, maxDescriptionLen)
	ipList := CheckIPAllowList(v, "ip_allow_list", in.IPAllowList)
	checkIdPPrimaryPriority(v, in.IDPPrimaryPriority)
	var g *Group
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		defs, err := tx.ListAttributes(ctx, r.ID)
		if err != nil {
			return err
		}
		values := checkGroupValues(v, defs, in.Attributes)
		if err := v.OrNil(); err != nil {
			return err
		}
		now := s.now()
		g = &Group{ID: s.newID(), RealmID: r.ID, Name: name, Description: desc, Attributes: values,
			IPAllowList: ipList, IDPPrimaryPriority: in.IDPPrimaryPriority, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateGroup(ctx, g); err != nil {
			return asConflict(err, "name", fmt.Sprintf("a group named %q already exists", name))
		}
		if err := checkGroupClaims(ctx, tx, g, "attributes"); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventGroupCreated, "group", g.ID,
			map[string]any{"name": g.Name, "attributes": sortedKeys(values), "ip_allow_list": ipList,
				"idp_primary_priority": g.IDPPrimaryPriority}))
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// GetGroup returns one group of the realm.
func (s *Service) GetGroup(ctx context.Context, realmName, id string) (*Group, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	return s.store.GetGroup(ctx, r.ID, id)
}

// UpdateGroup changes a group. Attributes, when non-nil, replaces all the
// group's values (nil entries inside it are simply not set).
func (s *Service) UpdateGroup(ctx context.Context, realmName, id string, p GroupPatch) (*Group, error) {
	a, err := canWrite(ctx)
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
	var ipList []string
	if p.IPAllowList != nil {
		ipList = CheckIPAllowList(v, "ip_allow_list", *p.IPAllowList)
	}
	if p.IDPPrimaryPriority != nil {
		checkIdPPrimaryPriority(v, *p.IDPPrimaryPriority)
	}
	var g *Group
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		var values map[string]any
		if p.Attributes != nil {
			defs, err := tx.ListAttributes(ctx, r.ID)
			if err != nil {
				return err
			}
			values = checkGroupValues(v, defs, p.Attributes)
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		if g, err = tx.GetGroup(ctx, r.ID, id); err != nil {
			return err
		}
		var ch changed
		if p.Name != nil && name != g.Name {
			g.Name = name
			ch.add("name")
		}
		if p.Description != nil && desc != g.Description {
			g.Description = desc
			ch.add("description")
		}
		if p.Attributes != nil {
			g.Attributes = values
			ch.add("attributes")
		}
		if p.IPAllowList != nil && !slices.Equal(ipList, g.IPAllowList) {
			g.IPAllowList = ipList
			ch.add("ip_allow_list")
		}
		if p.IDPPrimaryPriority != nil && *p.IDPPrimaryPriority != g.IDPPrimaryPriority {
			g.IDPPrimaryPriority = *p.IDPPrimaryPriority
			ch.add("idp_primary_priority")
		}
		if len(ch) == 0 {
			return nil
		}
		g.UpdatedAt = s.now()
		if err := tx.UpdateGroup(ctx, g); err != nil {
			return asConflict(err, "name", fmt.Sprintf("a group named %q already exists", g.Name))
		}
		// Its members' tokens carry its name and values.
		if ch.has("attributes") {
			err = checkGroupClaims(ctx, tx, g, "attributes")
		} else if ch.has("name") {
			err = checkGroupClaims(ctx, tx, g, "name")
		}
		if err != nil {
			return err
		}
		d := ch.details()
		d["name"] = g.Name
		if ch.has("ip_allow_list") {
			d["ip_allow_list"] = g.IPAllowList
		}
		if ch.has("idp_primary_priority") {
			d["idp_primary_priority"] = g.IDPPrimaryPriority
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventGroupUpdated, "group", g.ID, d))
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// DeleteGroup deletes a group and its memberships. A group that is some
// subject's primary group cannot go (409), for the same reason a subject
// cannot leave its primary group; nor can a group an identity provider's
// group mappings or default groups name (409 naming the providers): its
// sign-ins would put people in a group that is gone.
func (s *Service) DeleteGroup(ctx context.Context, realmName, id string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		g, err := tx.GetGroup(ctx, r.ID, id)
		if err != nil {
			return err
		}
		aliases, err := tx.IdentityProvidersUsingGroup(ctx, r.ID, id)
		if err != nil {
			return err
		}
		if len(aliases) > 0 {
			return Conflict("id", fmt.Sprintf("the group is named by the group mappings or default groups of identity provider(s) %s; take it out of them first",
				strings.Join(aliases, ", ")))
		}
		n, err := tx.CountPrimaryUses(ctx, r.ID, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflict("id", fmt.Sprintf("the group is the primary group of %d user(s) or client(s); set another primary group first", n))
		}
		// Leaving a group can grow a member's claims (a single-valued
		// attribute the groups disagreed on may be settled): the members,
		// read before the memberships go, must still fit after.
		groupings, err := tx.ListMemberGroupings(ctx, r.ID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, r.ID, id); err != nil {
			return err
		}
		if len(groupings) > 0 {
			defs, err := tx.ListAttributes(ctx, r.ID)
			if err != nil {
				return err
			}
			if err := checkGroupings(ctx, tx, defs, r.ID, groupings, "id"); err != nil {
				return err
			}
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventGroupDeleted, "group", g.ID,
			map[string]any{"name": g.Name}))
	})
}

// ListGroupMembers lists the users and clients in a group.
func (s *Service) ListGroupMembers(ctx context.Context, realmName, id string, o ListOptions) (Page[GroupMember], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[GroupMember]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[GroupMember]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[GroupMember]{}, err
	}
	if _, err := s.store.GetGroup(ctx, r.ID, id); err != nil {
		return Page[GroupMember]{}, err
	}
	return s.store.ListGroupMembers(ctx, r.ID, id, o)
}

// checkIdPPrimaryPriority: 0 (never the primary group) to
// MaxIdPPrimaryPriority.
func checkIdPPrimaryPriority(v *ValidationError, n int) {
	if n < 0 || n > MaxIdPPrimaryPriority {
		v.Add("idp_primary_priority", fmt.Sprintf("must be an integer from 0 to %d", MaxIdPPrimaryPriority))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
