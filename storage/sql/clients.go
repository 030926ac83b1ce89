package sqlstore

import (
	"context"

	"github.com/wardiam/ward/realm"
)

// CreateClient inserts c and its group memberships.
func (s *Store) CreateClient(ctx context.Context, c *realm.Client) error {
	m, err := toClient(c)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such realm or org
		}
		if err != nil {
			return mapErr(err)
		}
		return tx.setClientGroups(ctx, c.RealmID, c.ID, c.Groups, false)
	})
}

func (s *Store) setClientGroups(ctx context.Context, realmID, clientPK string, groups []string, replace bool) error {
	if replace {
		if err := s.q(ctx).Where("client_pk = ?", clientPK).Delete(&clientGroupModel{}).Error; err != nil {
			return mapErr(err)
		}
	}
	groups = uniqueSorted(groups)
	if len(groups) == 0 {
		return nil
	}
	rows := make([]clientGroupModel, len(groups))
	for i, g := range groups {
		rows[i] = clientGroupModel{RealmID: realmID, ClientPK: clientPK, GroupID: g}
	}
	err := s.q(ctx).Create(&rows).Error
	if foreignKeyViolation(err) {
		return realm.Invalid("groups", "no such group in this realm")
	}
	return mapErr(err)
}

// clientRow is a client joined with one of its group IDs.
type clientRow struct {
	Client        clientModel `gorm:"embedded"`
	MemberGroupID *string
}

// GetClient finds a client of the realm by OAuth2 client_id. It is on the
// token endpoint's path, so it reads the client and its groups in one
// query: one row per group (or one row with no group).
func (s *Store) GetClient(ctx context.Context, realmID, clientID string) (*realm.Client, error) {
	var rows []clientRow
	err := s.q(ctx).Table("clients").
		Select("clients.*, client_groups.group_id AS member_group_id").
		Joins("LEFT JOIN client_groups ON client_groups.client_pk = clients.id").
		Where("clients.realm_id = ? AND clients.client_id = ?", realmID, clientID).
		Order("client_groups.group_id").
		Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	if len(rows) == 0 {
		return nil, realm.ErrNotFound
	}
	var groups []string
	for _, r := range rows {
		if r.MemberGroupID != nil {
			groups = append(groups, *r.MemberGroupID)
		}
	}
	c, err := fromClient(rows[0].Client, groups)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// ListClients lists the realm's clients by ID; Query matches name and
// client_id; orgID, when set, keeps the clients acting for that org.
func (s *Store) ListClients(ctx context.Context, realmID, orgID string, opts realm.ListOptions) (realm.Page[realm.Client], error) {
	db := s.q(ctx).Model(&clientModel{}).Where("realm_id = ?", realmID)
	if orgID != "" {
		db = db.Where("org_id = ?", orgID)
	}
	db = whereQuery(db, opts.Query, "name", "client_id")
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m clientModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Client]{}, mapErr(err)
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.ID
	}
	groups := map[string][]string{}
	if len(ids) > 0 {
		var links []clientGroupModel
		if err := s.q(ctx).Where("client_pk IN ?", ids).Order("client_pk, group_id").Find(&links).Error; err != nil {
			return realm.Page[realm.Client]{}, mapErr(err)
		}
		for _, l := range links {
			groups[l.ClientPK] = append(groups[l.ClientPK], l.GroupID)
		}
	}
	items := make([]realm.Client, len(rows))
	for i, m := range rows {
		if items[i], err = fromClient(m, groups[m.ID]); err != nil {
			return realm.Page[realm.Client]{}, err
		}
	}
	return pageOf(items, next), nil
}

// UpdateClient saves every field of c and replaces its memberships. The
// client is found by realm and internal ID.
func (s *Store) UpdateClient(ctx context.Context, c *realm.Client) error {
	m, err := toClient(c)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&clientModel{}).Where("realm_id = ? AND id = ?", c.RealmID, c.ID).Updates(map[string]any{
			"client_id":                  m.ClientID,
			"name":                       m.Name,
			"description":                m.Description,
			"kind":                       m.Kind,
			"active":                     m.Active,
			"public":                     m.Public,
			"audience":                   m.Audience,
			"primary_group":              m.PrimaryGroup,
			"redirect_uris":              m.RedirectURIs,
			"web_origins":                m.WebOrigins,
			"communication":              m.Communication,
			"display_name":               m.DisplayName,
			"org_id":                     m.OrgID,
			"org_role":                   m.OrgRole,
			"secret_hash":                m.SecretHash,
			"previous_secret_hash":       m.PreviousSecretHash,
			"previous_secret_expires_at": m.PreviousSecretExpiresAt,
			"updated_at":                 m.UpdatedAt,
		})
		if foreignKeyViolation(res.Error) {
			return realm.ErrNotFound // no such org
		}
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		return tx.setClientGroups(ctx, c.RealmID, c.ID, c.Groups, true)
	})
}
