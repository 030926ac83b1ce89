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

// securityTemplateModel is a row of security_templates; the lists are JSON
// arrays and a NULL limit is no limit.
type securityTemplateModel struct {
	ID                        string `gorm:"primaryKey"`
	RealmID                   string
	Name                      string
	Description               string
	Permissions               string
	TTLSeconds                int `gorm:"column:ttl_seconds"`
	LimitPerMinute            *int
	LimitPerSourceIPPerMinute *int   `gorm:"column:limit_per_source_ip_per_minute"`
	DirScope                  string `gorm:"column:dir_scope"`
	IPRanges                  string `gorm:"column:ip_ranges"`
	Countries                 string
	CreatedAt                 time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt                 time.Time `gorm:"autoUpdateTime:false"`
}

func (securityTemplateModel) TableName() string { return "security_templates" }

// templatePermissionModel is one permission a template holds, as a row the
// catalog's foreign key protects.
type templatePermissionModel struct {
	TemplateID string `gorm:"primaryKey"`
	RealmID    string
	Permission string `gorm:"primaryKey"`
}

func (templatePermissionModel) TableName() string { return "security_template_permissions" }

func toSecurityTemplate(t *realm.SecurityTemplate) (securityTemplateModel, error) {
	m := securityTemplateModel{ID: t.ID, RealmID: t.RealmID, Name: t.Name, Description: t.Description,
		TTLSeconds: t.TTLSeconds, LimitPerMinute: t.LimitPerMinute, LimitPerSourceIPPerMinute: t.LimitPerSourceIPPerMinute,
		CreatedAt: dbTime(t.CreatedAt), UpdatedAt: dbTime(t.UpdatedAt)}
	for _, l := range []struct {
		dst  *string
		src  []string
		name string
	}{
		{&m.Permissions, t.Permissions, "permissions"},
		{&m.DirScope, t.DirScope, "dir_scope"},
		{&m.IPRanges, t.IPRanges, "ip_ranges"},
		{&m.Countries, t.Countries, "countries"},
	} {
		s, err := encodeJSON(l.src, "[]")
		if err != nil {
			return securityTemplateModel{}, fmt.Errorf("storage/sql: encode security template %s: %w", l.name, err)
		}
		*l.dst = s
	}
	return m, nil
}

func fromSecurityTemplate(m securityTemplateModel) (realm.SecurityTemplate, error) {
	t := realm.SecurityTemplate{ID: m.ID, RealmID: m.RealmID, Name: m.Name, Description: m.Description,
		TTLSeconds: m.TTLSeconds, LimitPerMinute: m.LimitPerMinute, LimitPerSourceIPPerMinute: m.LimitPerSourceIPPerMinute,
		Permissions: []string{}, DirScope: []string{}, IPRanges: []string{}, Countries: []string{},
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}
	for _, l := range []struct {
		src  string
		dst  *[]string
		name string
	}{
		{m.Permissions, &t.Permissions, "permissions"},
		{m.DirScope, &t.DirScope, "dir_scope"},
		{m.IPRanges, &t.IPRanges, "ip_ranges"},
		{m.Countries, &t.Countries, "countries"},
	} {
		if err := decodeJSON(l.src, l.dst); err != nil {
			return realm.SecurityTemplate{}, fmt.Errorf("storage/sql: decode %s of security template %s: %w", l.name, m.ID, err)
		}
	}
	return t, nil
}

// templateNameTaken is the conflict of the per-realm unique name.
var templateNameTaken = realm.Conflict("name", "a security template with this name already exists in the realm")

// setTemplatePermissions replaces the template's permission rows (inside a
// transaction). A permission missing from the realm's catalog is
// ErrNotFound.
func (s *Store) setTemplatePermissions(ctx context.Context, t *realm.SecurityTemplate) error {
	if err := s.q(ctx).Where("template_id = ?", t.ID).Delete(&templatePermissionModel{}).Error; err != nil {
		return mapErr(err)
	}
	if len(t.Permissions) == 0 {
		return nil
	}
	rows := make([]templatePermissionModel, len(t.Permissions))
	for i, p := range t.Permissions {
		rows[i] = templatePermissionModel{TemplateID: t.ID, RealmID: t.RealmID, Permission: p}
	}
	err := s.q(ctx).Create(&rows).Error
	if foreignKeyViolation(err) {
		return &realm.NotFoundError{Reason: "a permission of the template is not in the realm's catalog"}
	}
	return mapErr(err)
}

// CreateSecurityTemplate inserts t and its permission rows.
func (s *Store) CreateSecurityTemplate(ctx context.Context, t *realm.SecurityTemplate) error {
	m, err := toSecurityTemplate(t)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such realm
		}
		if ok, name := uniqueViolation(err); ok &&
			(name == "security_templates_realm_name_key" || name == "security_templates.realm_id, security_templates.name") {
			return templateNameTaken
		}
		if err != nil {
			return mapErr(err)
		}
		return tx.setTemplatePermissions(ctx, t)
	})
}

// GetSecurityTemplate finds a template of the realm by name.
func (s *Store) GetSecurityTemplate(ctx context.Context, realmID, name string) (*realm.SecurityTemplate, error) {
	var m securityTemplateModel
	if err := s.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	t, err := fromSecurityTemplate(m)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// ListSecurityTemplates lists all of the realm's templates by name.
func (s *Store) ListSecurityTemplates(ctx context.Context, realmID string) ([]realm.SecurityTemplate, error) {
	var rows []securityTemplateModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.SecurityTemplate, len(rows))
	for i, m := range rows {
		t, err := fromSecurityTemplate(m)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	// Byte order on every backend, whatever the collation makes of '-'
	// and '_'; there are at most realm.MaxSecurityTemplates.
	slices.SortFunc(out, func(a, b realm.SecurityTemplate) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CountSecurityTemplates counts the realm's templates.
func (s *Store) CountSecurityTemplates(ctx context.Context, realmID string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&securityTemplateModel{}).Where("realm_id = ?", realmID).Count(&n).Error
	return n, mapErr(err)
}

// UpdateSecurityTemplate saves everything of t but its ID, realm, name
// and creation time, replacing its permission rows when they changed.
func (s *Store) UpdateSecurityTemplate(ctx context.Context, t *realm.SecurityTemplate) error {
	m, err := toSecurityTemplate(t)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		var before securityTemplateModel
		if err := tx.q(ctx).Select("permissions").Where("realm_id = ? AND id = ?", t.RealmID, t.ID).
			Take(&before).Error; err != nil {
			return mapErr(err)
		}
		// A map, so that gorm writes NULL limits too.
		if err := tx.q(ctx).Model(&securityTemplateModel{}).Where("realm_id = ? AND id = ?", t.RealmID, t.ID).Updates(map[string]any{
			"description":                    m.Description,
			"permissions":                    m.Permissions,
			"ttl_seconds":                    m.TTLSeconds,
			"limit_per_minute":               m.LimitPerMinute,
			"limit_per_source_ip_per_minute": m.LimitPerSourceIPPerMinute,
			"dir_scope":                      m.DirScope,
			"ip_ranges":                      m.IPRanges,
			"countries":                      m.Countries,
			"updated_at":                     m.UpdatedAt,
		}).Error; err != nil {
			return mapErr(err)
		}
		if before.Permissions == m.Permissions {
			return nil
		}
		return tx.setTemplatePermissions(ctx, t)
	})
}

// DeleteSecurityTemplate removes the realm's template by name (its
// permission rows go with it).
func (s *Store) DeleteSecurityTemplate(ctx context.Context, realmID, name string) error {
	res := s.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Delete(&securityTemplateModel{})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// DeactivatedAPIKeys lists the realm's inactive keys changed at or after
// since, most recently changed first, at most limit.
func (s *Store) DeactivatedAPIKeys(ctx context.Context, realmID string, since time.Time, limit int) ([]realm.DeactivatedKey, error) {
	out := []realm.DeactivatedKey{}
	if limit <= 0 {
		return out, nil
	}
	var rows []struct {
		ID        string
		UpdatedAt time.Time
	}
	// active = false as a literal, so that the partial index
	// api_keys_deactivated serves the query.
	err := s.q(ctx).Model(&apiKeyModel{}).Select("id, updated_at").
		Where("realm_id = ? AND active = false AND updated_at >= ?", realmID, dbTime(since)).
		Order("updated_at DESC, id").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out = append(out, realm.DeactivatedKey{ID: r.ID, UpdatedAt: fromDBTime(r.UpdatedAt)})
	}
	return out, nil
}

// getMintReadSQL reads a key by hash and, beside it, its realm's IP allow
// list and the realm's template of the given name (NULL columns when there
// is none).
const getMintReadSQL = `SELECT k.id, k.realm_id, k.prefix, k.hash, k.description, k.permissions, k.active,
 k.created_at, k.updated_at, k.expires_at, k.last_used_at, r.ip_allow_list,
 t.id, t.name, t.description, t.permissions, t.ttl_seconds, t.limit_per_minute, t.limit_per_source_ip_per_minute,
 t.dir_scope, t.ip_ranges, t.countries, t.created_at, t.updated_at
FROM api_keys k
JOIN realms r ON r.id = k.realm_id
LEFT JOIN security_templates t ON t.realm_id = k.realm_id AND t.name = ?
WHERE k.realm_id = ? AND k.hash = ?`

// GetMintRead reads a key, its realm's allow list and a template in one
// statement, prepared once: a mint's one query.
func (s *Store) GetMintRead(ctx context.Context, realmID string, keyHash []byte, template string) (*realm.MintRead, error) {
	rows, err := s.query(ctx, getMintReadSQL, template, realmID, keyHash)
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
		k                           apiKeyModel
		expires, used               dbsql.NullTime
		network                     string
		tid, tname, tdesc, tperms   dbsql.NullString
		tscope, tranges, tcountries dbsql.NullString
		tttl, tlimit, tlimitIP      dbsql.NullInt64
		tcreated, tupdated          dbsql.NullTime
	)
	if err := rows.Scan(&k.ID, &k.RealmID, &k.Prefix, &k.Hash, &k.Description, &k.Permissions, &k.Active,
		&k.CreatedAt, &k.UpdatedAt, &expires, &used, &network,
		&tid, &tname, &tdesc, &tperms, &tttl, &tlimit, &tlimitIP, &tscope, &tranges, &tcountries, &tcreated, &tupdated); err != nil {
		return nil, mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if expires.Valid {
		k.ExpiresAt = &expires.Time
	}
	if used.Valid {
		k.LastUsedAt = &used.Time
	}
	key, err := fromAPIKey(k)
	if err != nil {
		return nil, err
	}
	out := &realm.MintRead{Key: &key, RealmIPAllowList: []string{}}
	if err := decodeJSON(network, &out.RealmIPAllowList); err != nil {
		return nil, fmt.Errorf("storage/sql: decode the IP allow list of realm %s: %w", realmID, err)
	}
	if !tid.Valid {
		return out, nil
	}
	m := securityTemplateModel{ID: tid.String, RealmID: realmID, Name: tname.String, Description: tdesc.String,
		Permissions: tperms.String, TTLSeconds: int(tttl.Int64), DirScope: tscope.String, IPRanges: tranges.String,
		Countries: tcountries.String, CreatedAt: tcreated.Time, UpdatedAt: tupdated.Time}
	if tlimit.Valid {
		n := int(tlimit.Int64)
		m.LimitPerMinute = &n
	}
	if tlimitIP.Valid {
		n := int(tlimitIP.Int64)
		m.LimitPerSourceIPPerMinute = &n
	}
	t, err := fromSecurityTemplate(m)
	if err != nil {
		return nil, err
	}
	out.Template = &t
	return out, nil
}
