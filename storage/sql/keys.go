package sql

import (
	"context"

	"github.com/wardiam/ward/realm"
)

// CreateSigningKey inserts k.
func (s *Store) CreateSigningKey(ctx context.Context, k *realm.SigningKey) error {
	m := toSigningKey(k)
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// ListSigningKeys lists the realm's keys, newest first.
func (s *Store) ListSigningKeys(ctx context.Context, realmID string) ([]realm.SigningKey, error) {
	var rows []signingKeyModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.SigningKey, len(rows))
	for i, m := range rows {
		out[i] = fromSigningKey(m)
	}
	return out, nil
}

// UpdateSigningKey saves k's active flag and retirement time; key material
// never changes.
func (s *Store) UpdateSigningKey(ctx context.Context, k *realm.SigningKey) error {
	res := s.q(ctx).Model(&signingKeyModel{}).Where("realm_id = ? AND id = ?", k.RealmID, k.ID).Updates(map[string]any{
		"active":     k.Active,
		"retired_at": dbTimePtr(k.RetiredAt),
	})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}
