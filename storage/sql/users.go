package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// CreateUser inserts u and its group memberships.
func (s *Store) CreateUser(ctx context.Context, u *realm.User) error {
	m := toUser(u)
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such realm
		}
		if err != nil {
			return mapErr(err)
		}
		return tx.setUserGroups(ctx, u.RealmID, u.ID, u.Groups, false)
	})
}

// setUserGroups replaces the user's memberships. The composite foreign keys
// refuse a group of another realm.
func (s *Store) setUserGroups(ctx context.Context, realmID, userID string, groups []string, replace bool) error {
	if replace {
		if err := s.q(ctx).Where("user_id = ?", userID).Delete(&userGroupModel{}).Error; err != nil {
			return mapErr(err)
		}
	}
	groups = uniqueSorted(groups)
	if len(groups) == 0 {
		return nil
	}
	rows := make([]userGroupModel, len(groups))
	for i, g := range groups {
		rows[i] = userGroupModel{RealmID: realmID, UserID: userID, GroupID: g}
	}
	err := s.q(ctx).Create(&rows).Error
	if foreignKeyViolation(err) {
		return realm.Invalid("groups", "no such group in this realm")
	}
	return mapErr(err)
}

// GetUser finds a user of the realm.
func (s *Store) GetUser(ctx context.Context, realmID, id string) (*realm.User, error) {
	return s.getUser(ctx, "realm_id = ? AND id = ?", realmID, id)
}

// GetUserByEmail finds a user of the realm by email, case-insensitively.
func (s *Store) GetUserByEmail(ctx context.Context, realmID, email string) (*realm.User, error) {
	return s.getUser(ctx, "realm_id = ? AND email_lower = ?", realmID, strings.ToLower(email))
}

func (s *Store) getUser(ctx context.Context, where string, args ...any) (*realm.User, error) {
	var m userModel
	if err := s.q(ctx).Where(where, args...).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	var groups []string
	if err := s.q(ctx).Model(&userGroupModel{}).Where("user_id = ?", m.ID).Order("group_id").Pluck("group_id", &groups).Error; err != nil {
		return nil, mapErr(err)
	}
	u := fromUser(m, emptyNilSlice(groups))
	return &u, nil
}

// ListUsers lists the realm's users by ID; Query matches email and names.
func (s *Store) ListUsers(ctx context.Context, realmID string, opts realm.ListOptions) (realm.Page[realm.User], error) {
	db := whereQuery(s.q(ctx).Model(&userModel{}).Where("realm_id = ?", realmID), opts.Query, userSearchColumns...)
	return s.userPage(ctx, db, opts)
}

// userSearchColumns are what a users list's query matches: the email, each
// name and the full name as the console shows it.
var userSearchColumns = []string{"email", "first_name", "last_name", "first_name || ' ' || last_name"}

// SearchUsers lists the realm's users that match q, and counts them all.
func (s *Store) SearchUsers(ctx context.Context, realmID string, q realm.UserSearch, now time.Time) (realm.Page[realm.User], int, error) {
	filtered := func() *gorm.DB {
		db := whereQuery(s.q(ctx).Model(&userModel{}).Where("realm_id = ?", realmID), q.Query, userSearchColumns...)
		switch q.Status {
		case realm.UserStatusActive:
			db = db.Where("active = ?", true)
		case realm.UserStatusDeactivated:
			db = db.Where("active = ?", false)
		case realm.UserStatusInvited:
			db = db.Where("active = ? AND password_hash = ? AND NOT EXISTS (SELECT 1 FROM user_identities ui WHERE ui.realm_id = users.realm_id AND ui.user_id = users.id)", true, "")
		}
		if q.GroupID != "" {
			db = db.Where("id IN (SELECT user_id FROM user_groups WHERE realm_id = ? AND group_id = ?)", realmID, q.GroupID)
		}
		if q.Locked {
			db = db.Where("id IN (SELECT user_id FROM login_failures WHERE realm_id = ? AND locked_until > ? AND user_id <> ?)", realmID, dbTime(now), "")
		}
		return db
	}
	var total int64
	if err := filtered().Count(&total).Error; err != nil {
		return realm.Page[realm.User]{}, 0, mapErr(err)
	}
	page, err := s.userPage(ctx, filtered(), q.ListOptions)
	return page, int(total), err
}

// userPage reads one page of the users db selects, with their groups.
func (s *Store) userPage(ctx context.Context, db *gorm.DB, opts realm.ListOptions) (realm.Page[realm.User], error) {
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m userModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.User]{}, mapErr(err)
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.ID
	}
	groups, err := s.userGroups(ctx, ids)
	if err != nil {
		return realm.Page[realm.User]{}, err
	}
	items := make([]realm.User, len(rows))
	for i, m := range rows {
		items[i] = fromUser(m, groups[m.ID])
	}
	return pageOf(items, next), nil
}

// usersByID loads users (of realmID, when set) with their groups.
func (s *Store) usersByID(ctx context.Context, realmID string, ids []string) (map[string]*realm.User, error) {
	out := make(map[string]*realm.User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	db := s.q(ctx).Where("id IN ?", uniqueSorted(ids))
	if realmID != "" {
		db = db.Where("realm_id = ?", realmID)
	}
	var rows []userModel
	if err := db.Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	groups, err := s.userGroups(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		u := fromUser(m, groups[m.ID])
		out[m.ID] = &u
	}
	return out, nil
}

// userGroups loads the sorted group IDs of several users in one query.
func (s *Store) userGroups(ctx context.Context, userIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []userGroupModel
	if err := s.q(ctx).Where("user_id IN ?", uniqueSorted(userIDs)).Order("user_id, group_id").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.GroupID)
	}
	return out, nil
}

// UpdateUser saves every field of u and replaces its memberships.
func (s *Store) UpdateUser(ctx context.Context, u *realm.User) error {
	m := toUser(u)
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&userModel{}).Where("realm_id = ? AND id = ?", u.RealmID, u.ID).Updates(map[string]any{
			"email":              m.Email,
			"email_lower":        m.EmailLower,
			"first_name":         m.FirstName,
			"last_name":          m.LastName,
			"active":             m.Active,
			"primary_group":      m.PrimaryGroup,
			"password_hash":      m.PasswordHash,
			"updated_at":         m.UpdatedAt,
			"tokens_valid_after": m.TokensValidAfter,
		})
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		tx.tokenChanges.add(u.RealmID)
		return tx.setUserGroups(ctx, u.RealmID, u.ID, u.Groups, true)
	})
}

func uniqueSorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func emptyNilSlice(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// getUserClaimsSQL reads a user, their groups (name and attribute values)
// and the realm's attribute schema version in one statement: one row per
// group, or one row with NULL group columns. The password hash and the
// timestamps are not read: token issuing does not use them.
const getUserClaimsSQL = `SELECT u.email, u.first_name, u.last_name, u.active, u.primary_group, r.schema_version,
 r.ip_allow_list, g.id, g.name, g.attributes, g.ip_allow_list
FROM users u
JOIN realms r ON r.id = u.realm_id
LEFT JOIN user_groups ug ON ug.user_id = u.id
LEFT JOIN groups g ON g.realm_id = ug.realm_id AND g.id = ug.group_id
WHERE u.realm_id = ? AND u.id = ?
ORDER BY ug.group_id`

// GetUserClaims finds a user with their groups and the realm's attribute
// schema version: the code and refresh grants' one query for the user.
// Groups' Attributes maps are shared between calls (attrCache): read only.
func (s *Store) GetUserClaims(ctx context.Context, realmID, userID string) (*realm.UserClaims, error) {
	rows, err := s.query(ctx, getUserClaimsSQL, realmID, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var (
		u                       = realm.User{ID: userID, RealmID: realmID}
		groups                  = []realm.Group{}
		version                 int64
		realmList               string
		found                   bool
		gid, name, values, list dbsql.NullString
	)
	dest := []any{&u.Email, &u.FirstName, &u.LastName, &u.Active, &u.PrimaryGroup, &version, &realmList,
		&gid, &name, &values, &list}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, mapErr(err)
		}
		found = true
		if !gid.Valid {
			continue
		}
		attrs, err := s.attrs.get(gid.String, values.String)
		if err != nil {
			return nil, err
		}
		gl, err := decodeIPAllowList(list.String)
		if err != nil {
			return nil, fmt.Errorf("storage/sql: decode IP allow list of group %s: %w", gid.String, err)
		}
		u.Groups = append(u.Groups, gid.String)
		groups = append(groups, realm.Group{ID: gid.String, RealmID: realmID, Name: name.String, Attributes: attrs, IPAllowList: gl})
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if !found {
		return nil, realm.ErrNotFound
	}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	rl, err := decodeIPAllowList(realmList)
	if err != nil {
		return nil, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", realmID, err)
	}
	return &realm.UserClaims{User: &u, Groups: groups, SchemaVersion: version, RealmIPAllowList: rl}, nil
}
