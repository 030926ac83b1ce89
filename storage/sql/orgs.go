package sql

import (
	"context"

	"github.com/wardiam/ward/realm"
)

// CreateOrg inserts o.
func (s *Store) CreateOrg(ctx context.Context, o *realm.Org) error {
	m := toOrg(o)
	return mapErr(s.q(ctx).Create(&m).Error)
}

// GetOrg finds an org by ID.
func (s *Store) GetOrg(ctx context.Context, id string) (*realm.Org, error) {
	var m orgModel
	if err := s.q(ctx).Where("id = ?", id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	o := fromOrg(m)
	return &o, nil
}

// GetOrgBySlug finds an org by slug.
func (s *Store) GetOrgBySlug(ctx context.Context, slug string) (*realm.Org, error) {
	var m orgModel
	if err := s.q(ctx).Where("slug = ?", slug).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	o := fromOrg(m)
	return &o, nil
}

// CountOrgs counts every org.
func (s *Store) CountOrgs(ctx context.Context) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&orgModel{}).Count(&n).Error
	return n, mapErr(err)
}

// CreateMember inserts m.
func (s *Store) CreateMember(ctx context.Context, m *realm.Member) error {
	mm := toMember(m)
	err := s.q(ctx).Create(&mm).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound // the org or the user does not exist
	}
	return mapErr(err)
}

// GetMember finds a member of org, with User filled.
func (s *Store) GetMember(ctx context.Context, orgID, id string) (*realm.Member, error) {
	var m memberModel
	if err := s.q(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	members, err := s.fillMemberUsers(ctx, []memberModel{m})
	if err != nil {
		return nil, err
	}
	return &members[0], nil
}

// ListMembers lists org's members by ID; Query matches the user's email or
// names.
func (s *Store) ListMembers(ctx context.Context, orgID string, opts realm.ListOptions) (realm.Page[realm.Member], error) {
	db := s.q(ctx).Table("members").Select("members.*").Where("members.org_id = ?", orgID)
	if opts.Query != "" {
		db = db.Joins("JOIN users ON users.id = members.user_id")
		db = whereQuery(db, opts.Query, "users.email", "users.first_name", "users.last_name")
	}
	rows, next, err := keysetPage(db, "members.id", opts.Cursor, clampLimit(opts.Limit), func(m memberModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Member]{}, mapErr(err)
	}
	items, err := s.fillMemberUsers(ctx, rows)
	if err != nil {
		return realm.Page[realm.Member]{}, err
	}
	return pageOf(items, next), nil
}

// ListMembershipsOfUser lists a console user's memberships, oldest first.
func (s *Store) ListMembershipsOfUser(ctx context.Context, userID string) ([]realm.Member, error) {
	var rows []memberModel
	if err := s.q(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	return s.fillMemberUsers(ctx, rows)
}

// fillMemberUsers converts members and loads their users in one query.
func (s *Store) fillMemberUsers(ctx context.Context, rows []memberModel) ([]realm.Member, error) {
	out := make([]realm.Member, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.UserID
	}
	users, err := s.usersByID(ctx, "", ids)
	if err != nil {
		return nil, err
	}
	for i, m := range rows {
		out[i] = fromMember(m)
		if u, ok := users[m.UserID]; ok {
			out[i].User = u
		}
	}
	return out, nil
}

// UpdateMember saves m's role and update time.
func (s *Store) UpdateMember(ctx context.Context, m *realm.Member) error {
	res := s.q(ctx).Model(&memberModel{}).Where("org_id = ? AND id = ?", m.OrgID, m.ID).
		Updates(map[string]any{"role": string(m.Role), "updated_at": dbTime(m.UpdatedAt)})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// DeleteMember removes a member of org.
func (s *Store) DeleteMember(ctx context.Context, orgID, id string) error {
	res := s.q(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&memberModel{})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// CountOwners counts org's owners.
func (s *Store) CountOwners(ctx context.Context, orgID string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&memberModel{}).Where("org_id = ? AND role = ?", orgID, string(realm.RoleOwner)).Count(&n).Error
	return n, mapErr(err)
}
