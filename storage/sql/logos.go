package sql

import (
	"context"

	"gorm.io/gorm/clause"

	"github.com/wardiam/ward/realm"
)

// realmLogoModel is a realm's login page logo (realm.RealmLogoStore).
type realmLogoModel struct {
	RealmID     string `gorm:"primaryKey"`
	ContentType string
	Data        []byte
}

func (realmLogoModel) TableName() string { return "realm_logos" }

// SetRealmLogo stores or replaces the realm's logo.
func (s *Store) SetRealmLogo(ctx context.Context, realmID, contentType string, data []byte) error {
	err := s.q(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "realm_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"content_type", "data"})}).
		Create(&realmLogoModel{RealmID: realmID, ContentType: contentType, Data: data}).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// DeleteRealmLogo removes the realm's logo, if any.
func (s *Store) DeleteRealmLogo(ctx context.Context, realmID string) error {
	return mapErr(s.q(ctx).Where("realm_id = ?", realmID).Delete(&realmLogoModel{}).Error)
}

// GetRealmLogo reads the realm's logo.
func (s *Store) GetRealmLogo(ctx context.Context, realmID string) (string, []byte, error) {
	var m realmLogoModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Take(&m).Error; err != nil {
		return "", nil, mapErr(err)
	}
	return m.ContentType, m.Data, nil
}
