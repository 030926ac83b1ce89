package sql

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/wardiam/ward/realm"
)

// RevokeToken records the revocation of jti until expiresAt. Revoking twice
// is not an error.
func (s *Store) RevokeToken(ctx context.Context, realmID, jti string, expiresAt time.Time) error {
	m := revokedTokenModel{RealmID: realmID, JTI: jti, ExpiresAt: dbTime(expiresAt)}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		tx.tokenChanges.add(realmID)
		return nil
	})
}

// IsTokenRevoked reports whether jti was revoked in the realm.
// Every introspection asks it, so it is a statement prepared once on the
// read pool (gorm's Count built the query anew each time: a third of an
// introspection's CPU).
func (s *Store) IsTokenRevoked(ctx context.Context, realmID, jti string) (bool, error) {
	rows, err := s.query(ctx, isTokenRevokedSQL, realmID, jti)
	if err != nil {
		return false, mapErr(err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, mapErr(err)
	}
	return found, nil
}

const isTokenRevokedSQL = `SELECT 1 FROM revoked_tokens WHERE realm_id = ? AND jti = ? LIMIT 1`

// CreateSetupToken inserts t.
func (s *Store) CreateSetupToken(ctx context.Context, t *realm.SetupToken) error {
	m := setupTokenModel{Hash: t.Hash, ExpiresAt: dbTime(t.ExpiresAt), UsedAt: dbTimePtr(t.UsedAt)}
	return mapErr(s.q(ctx).Create(&m).Error)
}

// UseSetupToken marks the unexpired, unused token with hash used. The
// conditional update makes it single-use even under concurrent calls.
func (s *Store) UseSetupToken(ctx context.Context, hash []byte, now time.Time) error {
	now = dbTime(now)
	res := s.q(ctx).Model(&setupTokenModel{}).
		Where("hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).
		Update("used_at", now)
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// CreateActionToken stores t and marks older unused tokens of the same user
// and purpose used, so only the newest link works.
func (s *Store) CreateActionToken(ctx context.Context, t *realm.ActionToken) error {
	m := actionTokenModel{Hash: t.Hash, RealmID: t.RealmID, UserID: t.UserID, Purpose: t.Purpose,
		ExpiresAt: dbTime(t.ExpiresAt), UsedAt: dbTimePtr(t.UsedAt), CreatedAt: dbTime(t.CreatedAt)}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Model(&actionTokenModel{}).
			Where("realm_id = ? AND user_id = ? AND purpose = ? AND used_at IS NULL", t.RealmID, t.UserID, t.Purpose).
			Update("used_at", m.CreatedAt).Error
		if err != nil {
			return mapErr(err)
		}
		err = tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such user in the realm
		}
		return mapErr(err)
	})
}

// VoidActionTokens marks every unused token of the user used.
func (s *Store) VoidActionTokens(ctx context.Context, realmID, userID string, now time.Time) error {
	return mapErr(s.q(ctx).Model(&actionTokenModel{}).
		Where("realm_id = ? AND user_id = ? AND used_at IS NULL", realmID, userID).
		Update("used_at", dbTime(now)).Error)
}

// UseActionToken marks the unexpired, unused token with hash used and
// returns it.
func (s *Store) UseActionToken(ctx context.Context, hash []byte, now time.Time) (*realm.ActionToken, error) {
	now = dbTime(now)
	var out *realm.ActionToken
	err := s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&actionTokenModel{}).
			Where("hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).
			Update("used_at", now)
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		var m actionTokenModel
		if err := tx.q(ctx).Where("hash = ?", hash).Take(&m).Error; err != nil {
			return mapErr(err)
		}
		t := fromActionToken(m)
		out = &t
		return nil
	})
	return out, err
}

// DeleteExpiredRevokedTokens removes revocations of tokens that expired
// before now.
func (s *Store) DeleteExpiredRevokedTokens(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&revokedTokenModel{})
	return res.RowsAffected, mapErr(res.Error)
}

// DeleteExpiredActionTokens removes action tokens that expired before now.
func (s *Store) DeleteExpiredActionTokens(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&actionTokenModel{})
	return res.RowsAffected, mapErr(res.Error)
}
