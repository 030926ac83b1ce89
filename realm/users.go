package realm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Users are never deleted: there is no DeleteUser. Deactivation (PATCH
// active=false) is the way to stop a user, and keeps the audit trail whole.

const emailTaken = "a user with this email already exists in the realm"

// ListUsers lists a realm's users (password hashes cleared).
func (s *Service) ListUsers(ctx context.Context, realmName string, o ListOptions) (Page[User], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[User]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[User]{}, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[User]{}, err
	}
	p, err := s.store.ListUsers(ctx, r.ID, o)
	if err != nil {
		return Page[User]{}, err
	}
	for i := range p.Items {
		p.Items[i] = *userView(&p.Items[i])
	}
	return p, nil
}

// SearchUsers lists a realm's users matching q (password hashes cleared),
// with how many match in all. An unknown status, or a group that is not
// the realm's, is a 400 naming the filter.
func (s *Service) SearchUsers(ctx context.Context, realmName string, q UserSearch) (UserPage, error) {
	a, err := canRead(ctx)
	if err != nil {
		return UserPage{}, err
	}
	if q.ListOptions, err = pageOptions(q.ListOptions); err != nil {
		return UserPage{}, err
	}
	switch q.Status {
	case "", UserStatusActive, UserStatusDeactivated, UserStatusInvited:
	default:
		return UserPage{}, Invalid("status", "must be active, deactivated or invited")
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return UserPage{}, err
	}
	if q.GroupID != "" {
		if TextProblem(q.GroupID, false) != "" || len(q.GroupID) > maxEventRefLen {
			return UserPage{}, Invalid("group_id", "is not a group of this realm")
		}
		if _, err := s.store.GetGroup(ctx, r.ID, q.GroupID); errors.Is(err, ErrNotFound) {
			return UserPage{}, Invalid("group_id", "is not a group of this realm")
		} else if err != nil {
			return UserPage{}, err
		}
	}
	p, total, err := s.store.SearchUsers(ctx, r.ID, q, s.now())
	if err != nil {
		return UserPage{}, err
	}
	for i := range p.Items {
		p.Items[i] = *userView(&p.Items[i])
	}
	return UserPage{Page: p, Total: total}, nil
}

// CreateUser creates an active user. Email, first and last name are
// required; the email is unique in the realm case-insensitively. Unless
// SendSetPasswordEmail is false, the same transaction issues a set-password
// link and queues its mail (sent once it has committed).
func (s *Service) CreateUser(ctx context.Context, realmName string, in UserInput) (*UserView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	email := strings.TrimSpace(in.Email)
	checkEmail(v, "email", email)
	first := requiredName(v, "first_name", in.FirstName)
	last := requiredName(v, "last_name", in.LastName)
	send := in.SendSetPasswordEmail == nil || *in.SendSetPasswordEmail
	var (
		view *UserView
		r    *Realm
		u    *User
	)
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err = a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		groups, ids, err := checkGroups(ctx, tx, v, r.ID, in.Groups)
		if err != nil {
			return err
		}
		checkPrimary(v, "user", in.PrimaryGroup, ids)
		if err := v.OrNil(); err != nil {
			return err
		}
		if _, err := tx.GetUserByEmail(ctx, r.ID, email); err == nil {
			return Conflict("email", emailTaken)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		u = &User{ID: s.newID(), RealmID: r.ID, Email: email, FirstName: first, LastName: last,
			Active: true, Groups: ids, PrimaryGroup: in.PrimaryGroup, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return asConflict(err, "email", emailTaken)
		}
		names, eff, err := groupClaims(ctx, tx, r.ID, groups, u.PrimaryGroup)
		if err != nil {
			return err
		}
		if err := checkClaimsFit("groups", names, eff); err != nil {
			return err // rolls the user back
		}
		view = &UserView{User: *userView(u), EffectiveAttributes: eff}
		if err := appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventUserCreated, "user", u.ID,
			map[string]any{"email": u.Email, "groups": u.Groups, "primary_group": u.PrimaryGroup})); err != nil {
			return err
		}
		if !send {
			return nil
		}
		link, err := s.issueSetPasswordLink(ctx, tx, a, r, u, r.OrgID)
		if err != nil {
			return err
		}
		return s.queueLinkMail(ctx, tx, r.OrgID, r, u, PurposeSetPassword, link, setPasswordTTL)
	})
	if err != nil {
		return nil, err
	}
	if send {
		s.mailQueued()
	}
	return view, nil
}

// SendSetPasswordEmail mails the user a new set-password link (12 h, single
// use), voiding older links. A deactivated user gets none (409).
func (s *Service) SendSetPasswordEmail(ctx context.Context, realmName, id string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	var (
		r *Realm
		u *User
	)
	err = s.store.InTx(ctx, func(tx Store) error {
		if r, err = a.realm(ctx, tx, realmName); err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, r.ID, id); err != nil {
			return err
		}
		if !u.Active {
			return Conflict("active", "the user is deactivated; reactivate it first")
		}
		link, err := s.issueSetPasswordLink(ctx, tx, a, r, u, r.OrgID)
		if err != nil {
			return err
		}
		return s.queueLinkMail(ctx, tx, r.OrgID, r, u, PurposeSetPassword, link, setPasswordTTL)
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	return nil
}

// GetUser returns a user with its effective attributes.
func (s *Service) GetUser(ctx context.Context, realmName, id string) (*UserView, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, r.ID, id)
	if err != nil {
		return nil, err
	}
	return s.userView(ctx, s.store, u)
}

func (s *Service) userView(ctx context.Context, st Store, u *User) (*UserView, error) {
	_, eff, err := subjectClaims(ctx, st, u.RealmID, u.Groups, u.PrimaryGroup)
	if err != nil {
		return nil, err
	}
	lock, err := s.signInLock(ctx, st, u)
	if err != nil {
		return nil, err
	}
	return &UserView{User: *userView(u), EffectiveAttributes: eff, HasPassword: u.PasswordHash != "", Lock: lock}, nil
}

// UpdateUser changes a user. Active false deactivates, true reactivates.
// Replacing the groups so that the primary group is dropped is a conflict
// unless the same patch sets primary_group.
func (s *Service) UpdateUser(ctx context.Context, realmName, id string, p UserPatch) (*UserView, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var email, first, last string
	if p.Email != nil {
		email = strings.TrimSpace(*p.Email)
		checkEmail(v, "email", email)
	}
	if p.FirstName != nil {
		first = requiredName(v, "first_name", *p.FirstName)
	}
	if p.LastName != nil {
		last = requiredName(v, "last_name", *p.LastName)
	}
	var view *UserView
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.ID, id)
		if err != nil {
			return err
		}
		groups, primary, err := groupsPatch(ctx, tx, v, "user", r.ID, u.Groups, u.PrimaryGroup, p.Groups, p.PrimaryGroup)
		if err != nil {
			return err
		}
		if err := v.OrNil(); err != nil {
			return err
		}
		var ch changed
		var events []*Event
		if p.Email != nil && email != u.Email {
			if other, err := tx.GetUserByEmail(ctx, r.ID, email); err == nil && other.ID != u.ID {
				return Conflict("email", emailTaken)
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			// The sign-in lock is the address's: the old one's state
			// (which names this user for the users list) goes with it.
			if !strings.EqualFold(email, u.Email) {
				if err := tx.ClearLoginFailures(ctx, r.ID, LoginAccountKey(u.Email)); err != nil {
					return err
				}
			}
			u.Email = email
			ch.add("email")
		}
		if p.FirstName != nil && first != u.FirstName {
			u.FirstName = first
			ch.add("first_name")
		}
		if p.LastName != nil && last != u.LastName {
			u.LastName = last
			ch.add("last_name")
		}
		if !slices.Equal(groups, u.Groups) {
			u.Groups = groups
			ch.add("groups")
		}
		if primary != u.PrimaryGroup {
			u.PrimaryGroup = primary
			ch.add("primary_group")
		}
		if len(ch) > 0 {
			d := ch.details()
			d["email"] = u.Email
			events = append(events, s.event(a, r.OrgID, r.ID, EventUserUpdated, "user", u.ID, d))
		}
		if p.Active != nil && *p.Active != u.Active {
			s.setActive(&u.Active, &u.TokensValidAfter, *p.Active)
			events = append(events, s.event(a, r.OrgID, r.ID, activeEvent("user", u.Active), "user", u.ID,
				map[string]any{"email": u.Email}))
		}
		if len(events) > 0 {
			u.UpdatedAt = s.now()
			if err := tx.UpdateUser(ctx, u); err != nil {
				return asConflict(err, "email", emailTaken)
			}
			if err := appendEvents(ctx, tx, events...); err != nil {
				return err
			}
		}
		// A link mailed to the old address, or issued before deactivation,
		// must not work afterwards (not even after a reactivation).
		if ch.has("email") || !u.Active {
			if err := tx.VoidActionTokens(ctx, r.ID, u.ID, s.now()); err != nil {
				return err
			}
		}
		if !u.Active {
			if err := endSignIns(ctx, tx, r.ID, u.ID); err != nil {
				return err
			}
		}
		view, err = s.userView(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// AddUserToGroup puts a user in a group (idempotent). The group is a path
// ID: one that is not a group of the realm is not found.
func (s *Service) AddUserToGroup(ctx context.Context, realmName, id, groupID string) (*UserView, error) {
	return s.changeUserGroup(ctx, realmName, id, groupID, true)
}

// RemoveUserFromGroup takes a user out of a group (idempotent); leaving the
// primary group is a conflict.
func (s *Service) RemoveUserFromGroup(ctx context.Context, realmName, id, groupID string) (*UserView, error) {
	return s.changeUserGroup(ctx, realmName, id, groupID, false)
}

func (s *Service) changeUserGroup(ctx context.Context, realmName, id, groupID string, add bool) (*UserView, error) {
	var view *UserView
	err := s.changeGroup(ctx, realmName, groupID, add, func(tx Store, r *Realm) (*member, error) {
		u, err := tx.GetUser(ctx, r.ID, id)
		if err != nil {
			return nil, err
		}
		return &member{
			kind: "user", id: u.ID, groups: &u.Groups, primary: u.PrimaryGroup, updatedAt: &u.UpdatedAt,
			save: func() error { return tx.UpdateUser(ctx, u) },
			view: func() (err error) { view, err = s.userView(ctx, tx, u); return err },
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// member is a user or client joining or leaving a group: what changeGroup
// needs to know of it, whichever kind it is.
type member struct {
	kind      string // target type: "user" or "client"
	id        string // event target
	groups    *[]string
	primary   string
	updatedAt *time.Time
	save      func() error // stores the changed groups
	view      func() error // builds the caller's answer, inside the tx
}

// changeGroup is AddUserToGroup and friends: in one transaction, load the
// subject, check the group is the realm's, toggle the membership (leaving
// the primary group is a conflict), save and log when something changed.
func (s *Service) changeGroup(ctx context.Context, realmName, groupID string, add bool, load func(tx Store, r *Realm) (*member, error)) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		m, err := load(tx, r)
		if err != nil {
			return err
		}
		if _, err := tx.GetGroup(ctx, r.ID, groupID); err != nil {
			return err
		}
		groups, changedNow, err := toggleGroup(*m.groups, m.primary, groupID, add)
		if err != nil {
			return err
		}
		if changedNow {
			if err := checkMemberClaims(ctx, tx, r.ID, groups, m.primary); err != nil {
				return err
			}
			*m.groups = groups
			*m.updatedAt = s.now()
			if err := m.save(); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, groupEvent(m.kind, add), m.kind, m.id,
				map[string]any{"group_id": groupID})); err != nil {
				return err
			}
		}
		return m.view()
	})
}

// toggleGroup adds or removes groupID in the sorted groups; it reports
// whether anything changed, and refuses to remove the primary group.
func toggleGroup(groups []string, primary, groupID string, add bool) ([]string, bool, error) {
	has := slices.Contains(groups, groupID)
	switch {
	case add && has, !add && !has:
		return groups, false, nil
	case add:
		out := append(slices.Clone(groups), groupID)
		slices.Sort(out)
		return out, true, nil
	case groupID == primary:
		return nil, false, errLeavePrimary
	}
	out := slices.DeleteFunc(slices.Clone(groups), func(g string) bool { return g == groupID })
	return out, true, nil
}
