package sql

import (
	"context"
	"slices"
	"strings"

	"github.com/wardiam/ward/realm"
)

// CreateAttribute inserts a. Every change of a definition also bumps the
// realm's schema version, in the same transaction (see
// realm.ClientClaimsStore).
func (s *Store) CreateAttribute(ctx context.Context, a *realm.Attribute) error {
	m := toAttribute(a)
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		return tx.bumpSchemaVersion(ctx, a.RealmID)
	})
}

// GetAttribute finds the realm's definition by name.
func (s *Store) GetAttribute(ctx context.Context, realmID, name string) (*realm.Attribute, error) {
	var m attributeModel
	if err := s.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	a := fromAttribute(m)
	return &a, nil
}

// ListAttributes lists the realm's definitions by name.
func (s *Store) ListAttributes(ctx context.Context, realmID string) ([]realm.Attribute, error) {
	var rows []attributeModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Order("name").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.Attribute, len(rows))
	for i, m := range rows {
		out[i] = fromAttribute(m)
	}
	return out, nil
}

// UpdateAttribute saves a's type, multiplicity, description and update
// time. The name is the key and does not change.
func (s *Store) UpdateAttribute(ctx context.Context, a *realm.Attribute) error {
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&attributeModel{}).Where("realm_id = ? AND name = ?", a.RealmID, a.Name).Updates(map[string]any{
			"type":        string(a.Type),
			"multi":       a.Multi,
			"description": a.Description,
			"updated_at":  dbTime(a.UpdatedAt),
		})
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		return tx.bumpSchemaVersion(ctx, a.RealmID)
	})
}

// DeleteAttribute removes the realm's definition.
func (s *Store) DeleteAttribute(ctx context.Context, realmID, name string) error {
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Where("realm_id = ? AND name = ?", realmID, name).Delete(&attributeModel{})
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		return tx.bumpSchemaVersion(ctx, realmID)
	})
}

// CountGroupsUsingAttribute counts the realm's groups that set a value for
// name. Attribute values are JSON text, and JSON queries differ between the
// dialects, so a textual prefilter narrows the rows and Go decides exactly.
// This runs when an attribute is deleted or changed, not on a hot path.
func (s *Store) CountGroupsUsingAttribute(ctx context.Context, realmID, name string) (int64, error) {
	key, err := encodeJSON(name, `""`)
	if err != nil {
		return 0, err
	}
	var rows []groupModel
	err = s.q(ctx).Select("id", "attributes").
		Where(`realm_id = ? AND attributes LIKE ? ESCAPE '\'`, realmID, "%"+escapeLike(key)+"%").
		Find(&rows).Error
	if err != nil {
		return 0, mapErr(err)
	}
	var n int64
	for _, m := range rows {
		var attrs map[string]any
		if err := decodeJSON(m.Attributes, &attrs); err != nil {
			return 0, err
		}
		if _, ok := attrs[name]; ok {
			n++
		}
	}
	return n, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CreateGroup inserts g.
func (s *Store) CreateGroup(ctx context.Context, g *realm.Group) error {
	m, err := toGroup(g)
	if err != nil {
		return err
	}
	err = s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// GetGroup finds a group of the realm.
func (s *Store) GetGroup(ctx context.Context, realmID, id string) (*realm.Group, error) {
	var m groupModel
	if err := s.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	g, err := fromGroup(m)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// GetGroups returns the realm's groups among ids, by ID.
func (s *Store) GetGroups(ctx context.Context, realmID string, ids []string) ([]realm.Group, error) {
	out := []realm.Group{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []groupModel
	if err := s.q(ctx).Where("realm_id = ? AND id IN ?", realmID, ids).Order("id").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	for _, m := range rows {
		g, err := fromGroup(m)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// ListGroups lists the realm's groups by ID; Query matches name and
// description.
func (s *Store) ListGroups(ctx context.Context, realmID string, opts realm.ListOptions) (realm.Page[realm.Group], error) {
	db := whereQuery(s.q(ctx).Model(&groupModel{}).Where("realm_id = ?", realmID), opts.Query, "name", "description")
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m groupModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Group]{}, mapErr(err)
	}
	items := make([]realm.Group, len(rows))
	for i, m := range rows {
		if items[i], err = fromGroup(m); err != nil {
			return realm.Page[realm.Group]{}, err
		}
	}
	return pageOf(items, next), nil
}

// UpdateGroup saves g's name, description, attributes, IP allow list,
// identity-provider primary priority and update time.
func (s *Store) UpdateGroup(ctx context.Context, g *realm.Group) error {
	m, err := toGroup(g)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&groupModel{}).Where("realm_id = ? AND id = ?", g.RealmID, g.ID).Updates(map[string]any{
			"name":                 m.Name,
			"name_lower":           m.NameLower,
			"description":          m.Description,
			"attributes":           m.Attributes,
			"ip_allow_list":        m.IPAllowList,
			"idp_primary_priority": m.IDPPrimaryPriority,
			"updated_at":           m.UpdatedAt,
		})
		if err := oneRow(res); err != nil {
			return err
		}
		// Its members' token claims change (tokenepochs.go).
		tx.tokenChanges.add(g.RealmID)
		return nil
	})
}

// DeleteGroup removes the group; its memberships go with it (foreign keys
// cascade).
func (s *Store) DeleteGroup(ctx context.Context, realmID, id string) error {
	return s.tx(ctx, func(tx *Store) error {
		if err := oneRow(tx.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Delete(&groupModel{})); err != nil {
			return err
		}
		tx.tokenChanges.add(realmID)
		return nil
	})
}

// Cursor prefixes for ListGroupMembers, which pages over users then
// clients.
const (
	memberCursorUser   = "user:"
	memberCursorClient = "client:"
)

// ListGroupMembers lists the group's users then its clients, each by ID.
// Query matches email and names of users, name and client_id of clients.
func (s *Store) ListGroupMembers(ctx context.Context, realmID, groupID string, opts realm.ListOptions) (realm.Page[realm.GroupMember], error) {
	var none realm.Page[realm.GroupMember]
	if _, err := s.GetGroup(ctx, realmID, groupID); err != nil {
		return none, err
	}
	limit := clampLimit(opts.Limit)
	items := []realm.GroupMember{}
	next := ""
	userCursor, clientCursor, afterUsers := "", "", false
	switch {
	case strings.HasPrefix(opts.Cursor, memberCursorClient):
		clientCursor, afterUsers = strings.TrimPrefix(opts.Cursor, memberCursorClient), true
	default:
		userCursor = strings.TrimPrefix(opts.Cursor, memberCursorUser)
	}
	if !afterUsers {
		db := s.q(ctx).Table("users").Select("users.*").
			Joins("JOIN user_groups ON user_groups.user_id = users.id").
			Where("user_groups.realm_id = ? AND user_groups.group_id = ?", realmID, groupID)
		db = whereQuery(db, opts.Query, "users.email", "users.first_name", "users.last_name", "users.first_name || ' ' || users.last_name")
		users, more, err := keysetPage(db, "users.id", userCursor, limit, func(m userModel) string { return m.ID })
		if err != nil {
			return none, mapErr(err)
		}
		for _, u := range users {
			items = append(items, realm.GroupMember{Kind: "user", ID: u.ID, Name: u.Email})
		}
		if more != "" {
			return pageOf(items, memberCursorUser+more), nil
		}
	}
	// Fill the rest of the page with clients, reading one extra to learn
	// whether a next page exists.
	room := limit - len(items)
	db := s.q(ctx).Table("clients").Select("clients.*").
		Joins("JOIN client_groups ON client_groups.client_pk = clients.id").
		Where("client_groups.realm_id = ? AND client_groups.group_id = ?", realmID, groupID)
	db = whereQuery(db, opts.Query, "clients.name", "clients.client_id")
	if clientCursor != "" {
		db = db.Where("clients.id > ?", clientCursor)
	}
	var clients []clientModel
	if err := db.Order("clients.id").Limit(room + 1).Find(&clients).Error; err != nil {
		return none, mapErr(err)
	}
	more := len(clients) > room
	if more {
		clients = clients[:room]
	}
	for _, c := range clients {
		items = append(items, realm.GroupMember{Kind: "client", ID: c.ID, ClientID: c.ClientID, Name: c.Name})
	}
	if more && len(items) > 0 {
		last := items[len(items)-1]
		if last.Kind == "user" {
			next = memberCursorUser + last.ID
		} else {
			next = memberCursorClient + last.ID
		}
	}
	return pageOf(items, next), nil
}

// CountPrimaryUses counts the realm's users and clients whose primary group
// is id.
func (s *Store) CountPrimaryUses(ctx context.Context, realmID, id string) (int64, error) {
	var users, clients int64
	if err := s.q(ctx).Model(&userModel{}).Where("realm_id = ? AND primary_group = ?", realmID, id).Count(&users).Error; err != nil {
		return 0, mapErr(err)
	}
	if err := s.q(ctx).Model(&clientModel{}).Where("realm_id = ? AND primary_group = ?", realmID, id).Count(&clients).Error; err != nil {
		return 0, mapErr(err)
	}
	return users + clients, nil
}

// Member groupings: every membership row of the group's members, ordered
// by member so that each member's groups arrive together.
const (
	userGroupingsSQL = `SELECT m.user_id, m.group_id, u.primary_group
FROM user_groups m JOIN users u ON u.realm_id = m.realm_id AND u.id = m.user_id
WHERE m.realm_id = ? AND m.user_id IN (SELECT user_id FROM user_groups WHERE realm_id = ? AND group_id = ?)
ORDER BY m.user_id`
	clientGroupingsSQL = `SELECT c.client_id, m.group_id, c.primary_group
FROM client_groups m JOIN clients c ON c.realm_id = m.realm_id AND c.id = m.client_pk
WHERE m.realm_id = ? AND m.client_pk IN (SELECT client_pk FROM client_groups WHERE realm_id = ? AND group_id = ?)
ORDER BY m.client_pk`
)

// ListMemberGroupings streams the membership rows of the group's users,
// then its clients, and keeps the first member of each distinct
// combination of groups and primary group: memory grows with the
// combinations, not with the members.
func (s *Store) ListMemberGroupings(ctx context.Context, realmID, groupID string) ([]realm.SubjectGroups, error) {
	out := []realm.SubjectGroups{}
	seen := map[string]bool{}
	for _, q := range []struct{ kind, sql string }{{"user", userGroupingsSQL}, {"client", clientGroupingsSQL}} {
		rows, err := s.q(ctx).Raw(q.sql, realmID, realmID, groupID).Rows()
		if err != nil {
			return nil, mapErr(err)
		}
		var cur *realm.SubjectGroups
		keep := func() {
			if cur == nil {
				return
			}
			slices.Sort(cur.Groups)
			key := cur.PrimaryGroup + "\x00" + strings.Join(cur.Groups, ",")
			if !seen[key] {
				seen[key] = true
				out = append(out, *cur)
			}
		}
		for rows.Next() {
			var id, gid, primary string
			if err := rows.Scan(&id, &gid, &primary); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			if cur == nil || cur.ID != id {
				keep()
				cur = &realm.SubjectGroups{Kind: q.kind, ID: id, PrimaryGroup: primary}
			}
			cur.Groups = append(cur.Groups, gid)
		}
		keep()
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}
