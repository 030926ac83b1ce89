package sql

import (
	"context"

	"github.com/wardiam/ward/realm"
)

// CreateSigningKey inserts k and sets its realm's updated_at to k's
// creation time, in one transaction. Every node's cached provider
// (package oauth) compares the realm row's updated_at when it revalidates,
// so the JWKS of every node lists a key as soon as the key exists: a
// realm's first RS256 key is made when a node first signs an ID token with
// it, and the other nodes must publish it for that token to verify
// (CONTRACT §8). Set, not raised: only a different value is noticed.
func (s *Store) CreateSigningKey(ctx context.Context, k *realm.SigningKey) error {
	return s.tx(ctx, func(tx *Store) error {
		m := toSigningKey(k)
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		return mapErr(tx.q(ctx).Model(&realmModel{}).Where("id = ?", k.RealmID).Update("updated_at", dbTime(k.CreatedAt)).Error)
	})
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
