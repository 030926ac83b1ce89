package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"

	"github.com/wardiam/ward/realm"
)

// CreateRealm inserts r.
func (s *Store) CreateRealm(ctx context.Context, r *realm.Realm) error {
	m, err := toRealm(r)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such org
		}
		if err != nil {
			return mapErr(err)
		}
		// Its token state epoch (tokenepochs.go), from the start.
		return mapErr(tx.q(ctx).Exec(createTokenEpochSQL, m.ID).Error)
	})
}

// GetRealmByName finds a realm by its server-wide unique name.
func (s *Store) GetRealmByName(ctx context.Context, name string) (*realm.Realm, error) {
	return s.getRealm(ctx, "name = ?", name)
}

// GetRealm finds a realm by ID.
func (s *Store) GetRealm(ctx context.Context, id string) (*realm.Realm, error) {
	return s.getRealm(ctx, "id = ?", id)
}

func (s *Store) getRealm(ctx context.Context, where string, arg string) (*realm.Realm, error) {
	var m realmModel
	if err := s.q(ctx).Where(where, arg).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	r, err := fromRealm(m)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRealms lists orgID's realms by ID; Query matches name and display
// name.
func (s *Store) ListRealms(ctx context.Context, orgID string, opts realm.ListOptions) (realm.Page[realm.Realm], error) {
	db := s.q(ctx).Model(&realmModel{})
	if orgID == "" {
		db = db.Where("org_id IS NULL")
	} else {
		db = db.Where("org_id = ?", orgID)
	}
	db = whereQuery(db, opts.Query, "name", "display_name")
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m realmModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Realm]{}, mapErr(err)
	}
	items := make([]realm.Realm, len(rows))
	for i, m := range rows {
		if items[i], err = fromRealm(m); err != nil {
			return realm.Page[realm.Realm]{}, err
		}
	}
	return pageOf(items, next), nil
}

// UpdateRealm saves r's name, display name, password-login switch and
// update time (the allow list is SetRealmIPAllowList's, so that a change
// of one never writes back a stale copy of the other).
func (s *Store) UpdateRealm(ctx context.Context, r *realm.Realm) error {
	settings, err := encodeJSON(r.Settings, "{}")
	if err != nil {
		return fmt.Errorf("storage/sql: encode realm settings: %w", err)
	}
	res := s.q(ctx).Model(&realmModel{}).Where("id = ?", r.ID).Updates(map[string]any{
		"name":                    r.Name,
		"display_name":            r.DisplayName,
		"password_login_disabled": r.PasswordLoginDisabled,
		"settings":                settings,
		"updated_at":              dbTime(r.UpdatedAt),
	})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// DeleteRealm removes a realm; foreign keys cascade to everything it owns.
// Events carry no foreign key and are removed explicitly.
func (s *Store) DeleteRealm(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Where("id = ?", id).Delete(&realmModel{})
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		tx.tokenChanges.realmDeleted(id)
		return mapErr(tx.q(ctx).Where("realm_id = ?", id).Delete(&eventModel{}).Error)
	})
}

// AttributeSchemaVersion returns the realm's attribute schema version.
func (s *Store) AttributeSchemaVersion(ctx context.Context, realmID string) (int64, error) {
	var v int64
	err := s.q(ctx).Raw("SELECT schema_version FROM realms WHERE id = ?", realmID).Row().Scan(&v)
	if errors.Is(err, dbsql.ErrNoRows) {
		return 0, realm.ErrNotFound
	}
	if err != nil {
		return 0, mapErr(err)
	}
	return v, nil
}

// bumpSchemaVersion changes the realm's attribute schema version; it runs
// in the transaction that changes a definition, so a reader never sees the
// new definitions with the old version. ErrNotFound when there is no realm.
func (s *Store) bumpSchemaVersion(ctx context.Context, realmID string) error {
	res := s.q(ctx).Exec("UPDATE realms SET schema_version = schema_version + 1 WHERE id = ?", realmID)
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	// Token claims are typed by the definitions (tokenepochs.go).
	s.tokenChanges.add(realmID)
	return nil
}

// LockRealmMembership takes the realm row's lock for the rest of the
// transaction. On PostgreSQL (READ COMMITTED) a change that then reads
// groups sees every change that held the lock before it, committed; without
// it two changes (values of group A, values of group B, for a member of
// both) could each pass the claims bound on the other's old state. SQLite
// needs no lock (its one writer connection runs transactions one at a
// time); both say ErrNotFound for an unknown realm.
func (s *Store) LockRealmMembership(ctx context.Context, realmID string) error {
	query := "SELECT id FROM realms WHERE id = ?"
	if s.dialect == Postgres {
		query += " FOR UPDATE"
	}
	var ids []string
	if err := s.q(ctx).Raw(query, realmID).Scan(&ids).Error; err != nil {
		return mapErr(err)
	}
	if len(ids) == 0 {
		return realm.ErrNotFound
	}
	return nil
}
