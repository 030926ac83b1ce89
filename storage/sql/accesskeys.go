package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardiam/ward/realm"
)

// permissionModel is a row of the permission catalog.
type permissionModel struct {
	RealmID     string `gorm:"primaryKey"`
	Name        string `gorm:"primaryKey"`
	Description string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

func (permissionModel) TableName() string { return "permissions" }

// apiKeyModel is a row of api_keys; permissions is a JSON array.
type apiKeyModel struct {
	ID          string `gorm:"primaryKey"`
	RealmID     string
	Prefix      string
	Hash        []byte
	Description string
	Permissions string
	Active      bool
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
	ExpiresAt   *time.Time
	LastUsedAt  *time.Time
}

func (apiKeyModel) TableName() string { return "api_keys" }

// apiKeyPermissionModel is one permission a key holds, as a row the
// catalog's foreign key protects.
type apiKeyPermissionModel struct {
	APIKeyID   string `gorm:"column:api_key_id;primaryKey"`
	RealmID    string
	Permission string `gorm:"primaryKey"`
}

func (apiKeyPermissionModel) TableName() string { return "api_key_permissions" }

func fromPermission(m permissionModel) realm.Permission {
	return realm.Permission{RealmID: m.RealmID, Name: m.Name, Description: m.Description,
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}
}

// permissionTaken is the conflict of the catalog's primary key.
var permissionTaken = realm.Conflict("name", "the permission already exists in the realm")

// CreatePermission inserts p.
func (s *Store) CreatePermission(ctx context.Context, p *realm.Permission) error {
	m := permissionModel{RealmID: p.RealmID, Name: p.Name, Description: p.Description,
		CreatedAt: dbTime(p.CreatedAt), UpdatedAt: dbTime(p.UpdatedAt)}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	if ok, _ := uniqueViolation(err); ok {
		return permissionTaken
	}
	return mapErr(err)
}

// GetPermission finds a permission of the realm by name.
func (s *Store) GetPermission(ctx context.Context, realmID, name string) (*realm.Permission, error) {
	var m permissionModel
	if err := s.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	p := fromPermission(m)
	return &p, nil
}

// ListPermissions lists the realm's whole catalog by name.
func (s *Store) ListPermissions(ctx context.Context, realmID string) ([]realm.Permission, error) {
	var rows []permissionModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Order("name").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.Permission, len(rows))
	for i, m := range rows {
		out[i] = fromPermission(m)
	}
	// Byte order on every backend: a PostgreSQL database with a
	// linguistic collation would otherwise skip ':', '-' and '_' when
	// sorting. The catalog is bounded (realm.MaxPermissions).
	slices.SortFunc(out, func(a, b realm.Permission) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CountPermissions counts the realm's catalog.
func (s *Store) CountPermissions(ctx context.Context, realmID string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&permissionModel{}).Where("realm_id = ?", realmID).Count(&n).Error
	return n, mapErr(err)
}

// UpdatePermission saves p's description.
func (s *Store) UpdatePermission(ctx context.Context, p *realm.Permission) error {
	res := s.q(ctx).Model(&permissionModel{}).Where("realm_id = ? AND name = ?", p.RealmID, p.Name).
		Updates(map[string]any{"description": p.Description, "updated_at": dbTime(p.UpdatedAt)})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// DeletePermission removes a permission; the foreign keys of
// api_key_permissions and security_template_permissions refuse while a
// key or template holds it.
func (s *Store) DeletePermission(ctx context.Context, realmID, name string) error {
	res := s.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Delete(&permissionModel{})
	if foreignKeyViolation(res.Error) {
		return realm.Conflict("name", fmt.Sprintf("the permission %q is held by an API key or a security template", name))
	}
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// PermissionHolders lists up to limit holders of the permission: the keys
// by ID, then the security templates by ID.
func (s *Store) PermissionHolders(ctx context.Context, realmID, name string, limit int) ([]realm.PermissionHolder, error) {
	out := []realm.PermissionHolder{}
	if limit <= 0 {
		return out, nil
	}
	var rows []struct {
		ID   string
		Name string
	}
	err := s.q(ctx).Raw(`SELECT k.id, k.prefix AS name FROM api_key_permissions p JOIN api_keys k ON k.id = p.api_key_id
		WHERE p.realm_id = ? AND p.permission = ? ORDER BY k.id LIMIT ?`, realmID, name, limit).Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out = append(out, realm.PermissionHolder{Kind: "api_key", ID: r.ID, Name: r.Name})
	}
	if len(out) >= limit {
		return out, nil
	}
	rows = nil
	err = s.q(ctx).Raw(`SELECT t.id, t.name FROM security_template_permissions p JOIN security_templates t ON t.id = p.template_id
		WHERE p.realm_id = ? AND p.permission = ? ORDER BY t.id LIMIT ?`, realmID, name, limit-len(out)).Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out = append(out, realm.PermissionHolder{Kind: "security_template", ID: r.ID, Name: r.Name})
	}
	return out, nil
}

func toAPIKey(k *realm.APIKey) (apiKeyModel, error) {
	perms, err := encodeJSON(k.Permissions, "[]")
	if err != nil {
		return apiKeyModel{}, fmt.Errorf("storage/sql: encode API key permissions: %w", err)
	}
	return apiKeyModel{ID: k.ID, RealmID: k.RealmID, Prefix: k.Prefix, Hash: k.Hash, Description: k.Description,
		Permissions: perms, Active: k.Active, CreatedAt: dbTime(k.CreatedAt), UpdatedAt: dbTime(k.UpdatedAt),
		ExpiresAt: dbTimePtr(k.ExpiresAt), LastUsedAt: dbTimePtr(k.LastUsedAt)}, nil
}

func fromAPIKey(m apiKeyModel) (realm.APIKey, error) {
	perms := []string{}
	if err := decodeJSON(m.Permissions, &perms); err != nil {
		return realm.APIKey{}, fmt.Errorf("storage/sql: decode permissions of API key %s: %w", m.ID, err)
	}
	return realm.APIKey{ID: m.ID, RealmID: m.RealmID, Prefix: m.Prefix, Hash: m.Hash, Description: m.Description,
		Permissions: perms, Active: m.Active, CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt),
		ExpiresAt: fromDBTimePtr(m.ExpiresAt), LastUsedAt: fromDBTimePtr(m.LastUsedAt)}, nil
}

// keyPermissionsErr: a permission that left the catalog while the key was
// being written is the request's conflict, not a server error.
func keyPermissionsErr(err error) error {
	if foreignKeyViolation(err) {
		return realm.Conflict("permissions", "a permission was removed from the catalog meanwhile; try again")
	}
	return mapErr(err)
}

// setKeyPermissions replaces the key's permission rows (inside a
// transaction).
func (s *Store) setKeyPermissions(ctx context.Context, k *realm.APIKey) error {
	if err := s.q(ctx).Where("api_key_id = ?", k.ID).Delete(&apiKeyPermissionModel{}).Error; err != nil {
		return mapErr(err)
	}
	if len(k.Permissions) == 0 {
		return nil
	}
	rows := make([]apiKeyPermissionModel, len(k.Permissions))
	for i, p := range k.Permissions {
		rows[i] = apiKeyPermissionModel{APIKeyID: k.ID, RealmID: k.RealmID, Permission: p}
	}
	return keyPermissionsErr(s.q(ctx).Create(&rows).Error)
}

// CreateAPIKey inserts k and its permission rows.
func (s *Store) CreateAPIKey(ctx context.Context, k *realm.APIKey) error {
	m, err := toAPIKey(k)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Create(&m).Error; err != nil {
			if foreignKeyViolation(err) {
				return realm.ErrNotFound
			}
			return mapErr(err)
		}
		return tx.setKeyPermissions(ctx, k)
	})
}

// GetAPIKey finds a key of the realm by ID.
func (s *Store) GetAPIKey(ctx context.Context, realmID, id string) (*realm.APIKey, error) {
	var m apiKeyModel
	if err := s.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	k, err := fromAPIKey(m)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// GetAPIKeys returns the realm's keys among ids, by ID.
func (s *Store) GetAPIKeys(ctx context.Context, realmID string, ids []string) ([]realm.APIKey, error) {
	out := []realm.APIKey{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []apiKeyModel
	if err := s.q(ctx).Where("realm_id = ? AND id IN ?", realmID, ids).Order("id").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	for _, m := range rows {
		k, err := fromAPIKey(m)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

const getAPIKeyByHashSQL = `SELECT id, realm_id, prefix, hash, description, permissions, active, created_at, updated_at,
	expires_at, last_used_at FROM api_keys WHERE realm_id = ? AND hash = ?`

// GetAPIKeyByHash finds the realm's key with this secret hash: the
// exchange's one query, through a statement prepared once.
func (s *Store) GetAPIKeyByHash(ctx context.Context, realmID string, hash []byte) (*realm.APIKey, error) {
	rows, err := s.query(ctx, getAPIKeyByHashSQL, realmID, hash)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		return nil, realm.ErrNotFound
	}
	var (
		m             apiKeyModel
		expires, used dbsql.NullTime
	)
	if err := rows.Scan(&m.ID, &m.RealmID, &m.Prefix, &m.Hash, &m.Description, &m.Permissions, &m.Active,
		&m.CreatedAt, &m.UpdatedAt, &expires, &used); err != nil {
		return nil, mapErr(err)
	}
	if expires.Valid {
		m.ExpiresAt = &expires.Time
	}
	if used.Valid {
		m.LastUsedAt = &used.Time
	}
	k, err := fromAPIKey(m)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// ListAPIKeys lists the realm's keys by ID; Query matches description and
// prefix, Active filters by state.
func (s *Store) ListAPIKeys(ctx context.Context, realmID string, f realm.APIKeyFilter) (realm.Page[realm.APIKey], error) {
	db := whereQuery(s.q(ctx).Model(&apiKeyModel{}).Where("realm_id = ?", realmID), f.Query, "description", "prefix")
	if f.Active != nil {
		db = db.Where("active = ?", *f.Active)
	}
	rows, next, err := keysetPage(db, "id", f.Cursor, clampLimit(f.Limit), func(m apiKeyModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.APIKey]{}, mapErr(err)
	}
	items := make([]realm.APIKey, len(rows))
	for i, m := range rows {
		if items[i], err = fromAPIKey(m); err != nil {
			return realm.Page[realm.APIKey]{}, err
		}
	}
	return pageOf(items, next), nil
}

// UpdateAPIKey saves k's description, permissions and state, replacing
// its permission rows when they changed.
func (s *Store) UpdateAPIKey(ctx context.Context, k *realm.APIKey) error {
	m, err := toAPIKey(k)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		var before apiKeyModel
		if err := tx.q(ctx).Select("permissions").Where("realm_id = ? AND id = ?", k.RealmID, k.ID).
			Take(&before).Error; err != nil {
			return mapErr(err)
		}
		if err := tx.q(ctx).Model(&apiKeyModel{}).Where("realm_id = ? AND id = ?", k.RealmID, k.ID).Updates(map[string]any{
			"description": m.Description,
			"permissions": m.Permissions,
			"active":      m.Active,
			"updated_at":  m.UpdatedAt,
		}).Error; err != nil {
			return mapErr(err)
		}
		if before.Permissions == m.Permissions {
			return nil
		}
		return tx.setKeyPermissions(ctx, k)
	})
}

const touchAPIKeySQL = `UPDATE api_keys SET last_used_at = ?
	WHERE realm_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ?)`

// TouchAPIKey records a use in minute, writing only when the stored
// minute is older.
func (s *Store) TouchAPIKey(ctx context.Context, realmID, id string, minute time.Time) error {
	m := dbTime(minute)
	_, err := s.exec(ctx, touchAPIKeySQL, m, realmID, id, m)
	return mapErr(err)
}

// getClientWithAPIKeySQL reads a client, the realm's IP allow list and,
// beside them, the realm's key with the given hash (NULL columns when there
// is none).
const getClientWithAPIKeySQL = `SELECT ` + claimsColumns + `, r.ip_allow_list, k.id, k.prefix, k.description, k.permissions,
 k.active, k.created_at, k.updated_at, k.expires_at, k.last_used_at
FROM clients c
JOIN realms r ON r.id = c.realm_id
LEFT JOIN api_keys k ON k.realm_id = c.realm_id AND k.hash = ?
WHERE c.realm_id = ? AND c.client_id = ?`

// GetClientWithAPIKey reads a client and an API key in one statement,
// prepared once: the token exchange's one query.
func (s *Store) GetClientWithAPIKey(ctx context.Context, realmID, clientID string, keyHash []byte) (*realm.ClientClaims, *realm.APIKey, error) {
	rows, err := s.query(ctx, getClientWithAPIKeySQL, keyHash, realmID, clientID)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, mapErr(err)
		}
		return nil, nil, realm.ErrNotFound
	}
	var (
		m                         clientModel
		r                         clientRow
		id, prefix, desc, perms   dbsql.NullString
		active                    dbsql.NullBool
		created, updated, expires dbsql.NullTime
		used                      dbsql.NullTime
		realmList                 string
	)
	dest := append(r.claimsDest(&m), &realmList, &id, &prefix, &desc, &perms, &active, &created, &updated, &expires, &used)
	if err := rows.Scan(dest...); err != nil {
		return nil, nil, mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, mapErr(err)
	}
	r.fill(&m)
	c, err := fromClient(m, nil)
	if err != nil {
		return nil, nil, err
	}
	rl, err := decodeIPAllowList(realmList)
	if err != nil {
		return nil, nil, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", realmID, err)
	}
	cc := &realm.ClientClaims{Client: &c, Groups: []realm.Group{}, RealmIPAllowList: rl}
	if !id.Valid {
		return cc, nil, nil
	}
	km := apiKeyModel{ID: id.String, RealmID: realmID, Prefix: prefix.String, Hash: keyHash, Description: desc.String,
		Permissions: perms.String, Active: active.Bool, CreatedAt: created.Time, UpdatedAt: updated.Time}
	if expires.Valid {
		km.ExpiresAt = &expires.Time
	}
	if used.Valid {
		km.LastUsedAt = &used.Time
	}
	k, err := fromAPIKey(km)
	if err != nil {
		return nil, nil, err
	}
	return cc, &k, nil
}
