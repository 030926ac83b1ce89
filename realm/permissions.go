package realm

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Permission is one entry of a realm's permission catalog (CONTRACT §6):
// what API keys (and, later, security templates) may be given. Name is
// "resource_type:action", the pair the attributes Guard checks.
type Permission struct {
	RealmID     string
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PermissionHolder is an API key or security template that holds a
// permission: what a refused deletion names.
type PermissionHolder struct {
	Kind string // "api_key" or "security_template"
	ID   string
	Name string // the key's prefix, or the template's name
}

// AccessKeyStore keeps the permission catalog and API keys.
type AccessKeyStore interface {
	CreatePermission(ctx context.Context, p *Permission) error
	GetPermission(ctx context.Context, realmID, name string) (*Permission, error)
	// ListPermissions lists the whole catalog ordered by name (it is
	// bounded by MaxPermissions).
	ListPermissions(ctx context.Context, realmID string) ([]Permission, error)
	CountPermissions(ctx context.Context, realmID string) (int64, error)
	// UpdatePermission saves the description and update time.
	UpdatePermission(ctx context.Context, p *Permission) error
	// DeletePermission removes a permission no key holds; while one does
	// it is a *ConflictError (the database refuses too).
	DeletePermission(ctx context.Context, realmID, name string) error
	// PermissionHolders lists up to limit keys holding the permission,
	// ordered by ID.
	PermissionHolders(ctx context.Context, realmID, name string, limit int) ([]PermissionHolder, error)

	// CreateAPIKey inserts the key with its permissions, each of which must
	// be in the catalog (ErrNotFound otherwise).
	CreateAPIKey(ctx context.Context, k *APIKey) error
	GetAPIKey(ctx context.Context, realmID, id string) (*APIKey, error)
	// GetAPIKeys returns the realm's keys with the given IDs, ordered by
	// ID; IDs that are not keys of the realm are absent.
	GetAPIKeys(ctx context.Context, realmID string, ids []string) ([]APIKey, error)
	// GetAPIKeyByHash finds the realm's key whose secret hashes to hash
	// (the exchange's one query).
	GetAPIKeyByHash(ctx context.Context, realmID string, hash []byte) (*APIKey, error)
	// GetClientWithAPIKey reads the realm's client as GetClientClaims does
	// but without groups (an API key's token carries none), together with
	// the realm's key whose secret hashes to keyHash, nil when there is
	// none, and the realm's IP allow list (RealmIPAllowList): an
	// exchange's one query. An unknown client is ErrNotFound.
	GetClientWithAPIKey(ctx context.Context, realmID, clientID string, keyHash []byte) (*ClientClaims, *APIKey, error)
	// ListAPIKeys orders by ID; Query matches description and prefix.
	ListAPIKeys(ctx context.Context, realmID string, f APIKeyFilter) (Page[APIKey], error)
	// UpdateAPIKey saves description, permissions, active
	// and update time.
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	// TouchAPIKey sets last_used_at to minute unless it already is that
	// minute or later: at most one write per key per minute.
	TouchAPIKey(ctx context.Context, realmID, id string, minute time.Time) error
}

// Bounds of the catalog. A key's permissions travel in every token it is
// exchanged for, so they stay well under the claims bound.
const (
	MaxPermissions         = 500 // per realm
	MaxKeyPermissions      = 100 // per key
	maxPermissionNameLen   = 127
	maxPermissionsListPage = 500
)

// PermissionPattern is CONTRACT §6's rule for permission names.
var PermissionPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}:[a-z][a-z0-9_-]{0,62}$`)

const permissionRule = "must be resource_type:action, each part starting with a lower-case letter, then lower-case letters, digits, underscores or hyphens (at most 63 characters each)"

// PermissionInput adds a permission to the catalog.
type PermissionInput struct {
	Name        string
	Description string
}

// PermissionPatch changes a permission's description (its name is what
// keys hold, so it does not change).
type PermissionPatch struct {
	Description *string
}

// ListPermissions lists the realm's catalog.
func (s *Service) ListPermissions(ctx context.Context, realmName string) ([]Permission, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) ([]Permission, error) {
		return s.store.ListPermissions(ctx, r.ID)
	})
}

// GetPermission returns one permission of the catalog.
func (s *Service) GetPermission(ctx context.Context, realmName, name string) (*Permission, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) (*Permission, error) {
		return s.store.GetPermission(ctx, r.ID, name)
	})
}

// CreatePermission adds a permission; a name already in the catalog is a
// 409 naming "name".
func (s *Service) CreatePermission(ctx context.Context, realmName string, in PermissionInput) (*Permission, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		v.Add("name", "is required")
	case !PermissionPattern.MatchString(name):
		v.Add("name", permissionRule)
	}
	p := &Permission{Name: name, Description: optionalText(v, "description", in.Description, maxDescriptionLen)}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		n, err := tx.CountPermissions(ctx, r.ID)
		if err != nil {
			return err
		}
		if n >= MaxPermissions {
			return Conflict("name", fmt.Sprintf("a realm has at most %d permissions; delete unused ones first", MaxPermissions))
		}
		now := s.now()
		p.RealmID, p.CreatedAt, p.UpdatedAt = r.ID, now, now
		if err := tx.CreatePermission(ctx, p); err != nil {
			return asConflict(err, "name", fmt.Sprintf("the permission %q already exists", p.Name))
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPermissionCreated, "permission", p.Name,
			map[string]any{"name": p.Name}))
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdatePermission changes a permission's description.
func (s *Service) UpdatePermission(ctx context.Context, realmName, name string, patch PermissionPatch) (*Permission, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	var desc string
	if patch.Description != nil {
		desc = optionalText(v, "description", *patch.Description, maxDescriptionLen)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var p *Permission
	err = s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if p, err = tx.GetPermission(ctx, r.ID, name); err != nil {
			return err
		}
		if patch.Description == nil || desc == p.Description {
			return nil
		}
		p.Description, p.UpdatedAt = desc, s.now()
		if err := tx.UpdatePermission(ctx, p); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPermissionUpdated, "permission", p.Name,
			map[string]any{"name": p.Name, "changed": []string{"description"}}))
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// maxHoldersNamed bounds the keys a refused deletion names.
const maxHoldersNamed = 10

// DeletePermission removes a permission from the catalog. While a key
// holds it the answer is a 409 naming the keys (by prefix and ID), so the
// admin knows what to change first.
func (s *Service) DeletePermission(ctx context.Context, realmName, name string) error {
	a, err := canWrite(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Store) error {
		r, err := a.realm(ctx, tx, realmName)
		if err != nil {
			return err
		}
		p, err := tx.GetPermission(ctx, r.ID, name)
		if err != nil {
			return err
		}
		holders, err := tx.PermissionHolders(ctx, r.ID, p.Name, maxHoldersNamed+1)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			return holdersConflict(p.Name, holders)
		}
		if err := tx.DeletePermission(ctx, r.ID, p.Name); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventPermissionDeleted, "permission", p.Name,
			map[string]any{"name": p.Name}))
	})
}

// holdersConflict is the 409 of deleting a held permission.
func holdersConflict(name string, holders []PermissionHolder) error {
	more := ""
	if len(holders) > maxHoldersNamed {
		holders, more = holders[:maxHoldersNamed], " and more"
	}
	named := make([]string, len(holders))
	for i, h := range holders {
		if h.Kind == "security_template" {
			named[i] = fmt.Sprintf("security template %s (%s)", h.Name, h.ID)
		} else {
			named[i] = fmt.Sprintf("API key %s (%s)", h.Name, h.ID)
		}
	}
	return Conflict("name", fmt.Sprintf("the permission %q is held by %s%s; take it from them first",
		name, strings.Join(named, ", "), more))
}
