package sql

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// login_failures (migration 0005): the sign-in form's brute-force state.
// Counting is one upsert and locking one conditional UPDATE, so concurrent
// failures on several nodes neither lose counts nor lock twice.

type loginFailureModel struct {
	RealmID     string `gorm:"primaryKey"`
	AccountKey  string `gorm:"primaryKey"`
	Failures    int
	Lockouts    int
	LockedUntil *time.Time
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

func (loginFailureModel) TableName() string { return "login_failures" }

func (m *loginFailureModel) toRealm() *realm.LoginFailure {
	return &realm.LoginFailure{RealmID: m.RealmID, Key: m.AccountKey, Failures: m.Failures, Lockouts: m.Lockouts,
		LockedUntil: fromDBTimePtr(m.LockedUntil), UpdatedAt: fromDBTime(m.UpdatedAt)}
}

// GetLoginFailure returns the key's state.
func (s *Store) GetLoginFailure(ctx context.Context, realmID, key string) (*realm.LoginFailure, error) {
	var m loginFailureModel
	if err := s.q(ctx).Where("realm_id = ? AND account_key = ?", realmID, key).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return m.toRealm(), nil
}

// AddLoginFailure counts one failure with a single upsert; an attempt
// while the key is locked is not counted.
func (s *Store) AddLoginFailure(ctx context.Context, realmID, key string, now time.Time) (*realm.LoginFailure, error) {
	var m loginFailureModel
	err := s.q(ctx).Raw(`INSERT INTO login_failures (realm_id, account_key, failures, lockouts, locked_until, updated_at)
VALUES (?, ?, 1, 0, NULL, ?)
ON CONFLICT (realm_id, account_key) DO UPDATE SET
  failures = CASE WHEN login_failures.locked_until IS NOT NULL AND login_failures.locked_until > excluded.updated_at
    THEN login_failures.failures ELSE login_failures.failures + 1 END,
  updated_at = excluded.updated_at
RETURNING realm_id, account_key, failures, lockouts, locked_until, updated_at`, realmID, key, dbTime(now)).Scan(&m).Error
	if foreignKeyViolation(err) {
		return nil, realm.ErrNotFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return m.toRealm(), nil
}

// LockLogin locks the key if it has reached threshold failures.
func (s *Store) LockLogin(ctx context.Context, realmID, key, userID string, threshold int, until, now time.Time) (bool, error) {
	res := s.q(ctx).Model(&loginFailureModel{}).
		Where("realm_id = ? AND account_key = ? AND failures >= ?", realmID, key, threshold).
		Updates(map[string]any{"failures": 0, "lockouts": gorm.Expr("lockouts + 1"), "locked_until": dbTime(until),
			"updated_at": dbTime(now), "user_id": userID})
	if res.Error != nil {
		return false, mapErr(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ClearLoginFailures deletes the key's row.
func (s *Store) ClearLoginFailures(ctx context.Context, realmID, key string) error {
	return mapErr(s.q(ctx).Where("realm_id = ? AND account_key = ?", realmID, key).Delete(&loginFailureModel{}).Error)
}

// DeleteStaleLoginFailures deletes rows untouched since before whose lock
// (if any) ended before it too.
func (s *Store) DeleteStaleLoginFailures(ctx context.Context, before time.Time) (int64, error) {
	before = dbTime(before)
	res := s.q(ctx).Where("updated_at < ? AND (locked_until IS NULL OR locked_until < ?)", before, before).Delete(&loginFailureModel{})
	return res.RowsAffected, mapErr(res.Error)
}
