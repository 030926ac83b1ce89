package realm

import (
	"context"
	"fmt"
	"strings"
)

// Realm events are org-level (empty RealmID): a realm's own log goes when
// the realm is deleted, and its creation and deletion must outlive it.

// ListRealms lists the org's realms. Every role may read.
func (s *Service) ListRealms(ctx context.Context, o ListOptions) (Page[Realm], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Realm]{}, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return Page[Realm]{}, err
	}
	if o, err = pageOptions(o); err != nil {
		return Page[Realm]{}, err
	}
	return s.store.ListRealms(ctx, orgID, o)
}

// CreateRealm creates a realm with its ES256 signing key, in one
// transaction with its event. The display name defaults to the name.
func (s *Service) CreateRealm(ctx context.Context, in RealmInput) (*Realm, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	name := in.Name
	if msg := checkRealmName(name); msg != "" {
		v.Add("name", msg)
	}
	display := optionalText(v, "display_name", in.DisplayName, maxNameLen)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	if display == "" {
		display = name
	}
	now := s.now()
	r := &Realm{ID: s.newID(), OrgID: orgID, Name: name, DisplayName: display, CreatedAt: now, UpdatedAt: now}
	taken := fmt.Sprintf("realm name %q is taken", name)
	// Cheap early answer for the common duplicate; the unique index decides
	// races.
	if _, err := s.store.GetRealmByName(ctx, name); err == nil {
		return nil, Conflict("name", taken)
	}
	// Key generation needs no database; doing it first keeps the write
	// transaction short.
	key, err := s.keys.NewSigningKey(ctx, r.ID, AlgES256)
	if err != nil {
		return nil, fmt.Errorf("realm: signing key: %w", err)
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateRealm(ctx, r); err != nil {
			return asConflict(err, "name", taken)
		}
		if err := tx.CreateSigningKey(ctx, key); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, orgID, "", EventRealmCreated, "realm", r.ID,
			map[string]any{"name": r.Name, "display_name": r.DisplayName}))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// GetRealm returns one of the org's realms by name.
func (s *Service) GetRealm(ctx context.Context, name string) (*Realm, error) {
	a, err := canRead(ctx)
	if err != nil {
		return nil, err
	}
	return a.realm(ctx, s.store, name)
}

// setDisplayName sets r's display name (empty: its name), noting a change.
func setDisplayName(r *Realm, display string, ch *changed) {
	if display == "" {
		display = r.Name
	}
	if display != r.DisplayName {
		r.DisplayName = display
		ch.add("display_name")
	}
}

// UpdateRealm changes a realm's display name and whether its login page
// shows the password form (CONTRACT §9). The event names the fields that
// changed.
func (s *Service) UpdateRealm(ctx context.Context, name string, p RealmPatch) (*Realm, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var display string
	if p.DisplayName != nil {
		display = optionalText(v, "display_name", *p.DisplayName, maxNameLen)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var r *Realm
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		if r, err = a.realm(ctx, tx, name); err != nil {
			return err
		}
		var ch changed
		if p.DisplayName != nil {
			setDisplayName(r, display, &ch)
		}
		if p.PasswordLogin != nil && *p.PasswordLogin == r.PasswordLoginDisabled {
			r.PasswordLoginDisabled = !*p.PasswordLogin
			ch.add("password_login")
		}
		if len(ch) == 0 {
			return nil
		}
		r.UpdatedAt = s.now()
		if err := tx.UpdateRealm(ctx, r); err != nil {
			return err
		}
		d := ch.details()
		d["name"], d["display_name"], d["password_login"] = r.Name, r.DisplayName, !r.PasswordLoginDisabled
		return appendEvents(ctx, tx, s.event(a, r.OrgID, "", EventRealmUpdated, "realm", r.ID, d))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// DeleteRealm removes a realm and everything in it. Owners only, and the
// caller must repeat the realm's name in confirm.
func (s *Service) DeleteRealm(ctx context.Context, name, confirm string) error {
	a, err := ownerOnly(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, name)
		if err != nil {
			return err
		}
		if strings.TrimSpace(confirm) != r.Name {
			return Invalid("confirm", "must repeat the realm's name to delete it")
		}
		if err := tx.DeleteRealm(ctx, r.ID); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, "", EventRealmDeleted, "realm", r.ID,
			map[string]any{"name": r.Name}))
	})
}
