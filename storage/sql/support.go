package sql

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm/clause"

	"github.com/wardiam/ward/realm"
)

type supportAccessModel struct {
	OrgID        string `gorm:"primaryKey"`
	EnabledAt    *time.Time
	EnabledUntil *time.Time
	UpdatedBy    string
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (supportAccessModel) TableName() string { return "support_access" }

// GetSupportAccess returns the org's support access; off when there is no
// row.
func (s *Store) GetSupportAccess(ctx context.Context, orgID string) (*realm.SupportAccess, error) {
	var m supportAccessModel
	err := s.q(ctx).Where("org_id = ?", orgID).Take(&m).Error
	if err != nil {
		if err = mapErr(err); errors.Is(err, realm.ErrNotFound) {
			return &realm.SupportAccess{OrgID: orgID}, nil
		}
		return nil, err
	}
	return &realm.SupportAccess{OrgID: m.OrgID, EnabledAt: fromDBTimePtr(m.EnabledAt), Until: fromDBTimePtr(m.EnabledUntil),
		UpdatedBy: m.UpdatedBy, UpdatedAt: fromDBTime(m.UpdatedAt)}, nil
}

// SetSupportAccess writes the org's support access (one statement, an
// upsert on the org).
func (s *Store) SetSupportAccess(ctx context.Context, a *realm.SupportAccess) error {
	m := supportAccessModel{OrgID: a.OrgID, EnabledAt: dbTimePtr(a.EnabledAt), EnabledUntil: dbTimePtr(a.Until),
		UpdatedBy: a.UpdatedBy, UpdatedAt: dbTime(a.UpdatedAt)}
	err := s.q(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "org_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"enabled_at", "enabled_until", "updated_by", "updated_at"}),
	}).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// LockOrgSupport locks the org's row for the rest of the transaction
// (PostgreSQL; SQLite transactions take the database's write lock when
// they begin).
func (s *Store) LockOrgSupport(ctx context.Context, orgID string) error {
	query := "SELECT id FROM orgs WHERE id = ?"
	if s.dialect == Postgres {
		query += " FOR UPDATE"
	}
	var ids []string
	if err := s.q(ctx).Raw(query, orgID).Scan(&ids).Error; err != nil {
		return mapErr(err)
	}
	if len(ids) == 0 {
		return realm.ErrNotFound
	}
	return nil
}
