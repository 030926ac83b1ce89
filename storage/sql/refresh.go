package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardiam/ward/realm"
)

var _ realm.RefreshTokenStore = (*Store)(nil)

type refreshTokenModel struct {
	ID        string `gorm:"primaryKey"`
	RealmID   string `gorm:"primaryKey"`
	FamilyID  string
	SessionID string
	UserID    string
	ClientID  string
	AccessJTI string `gorm:"column:access_jti"`
	Offline   bool
	Data      []byte
	Used      bool
	Revoked   bool
	ExpiresAt time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (refreshTokenModel) TableName() string { return "refresh_tokens" }

// CreateRefreshToken inserts t; an unknown realm is ErrNotFound. A token
// of a family with a revoked member is revoked at once.
func (s *Store) CreateRefreshToken(ctx context.Context, t *realm.RefreshToken) error {
	m := refreshTokenModel{ID: t.ID, RealmID: t.RealmID, FamilyID: t.FamilyID, SessionID: t.SessionID,
		UserID: t.UserID, ClientID: t.ClientID, AccessJTI: t.AccessJTI, Offline: t.Offline, Data: t.Data,
		Used: t.Used, Revoked: t.Revoked, ExpiresAt: dbTime(t.ExpiresAt), CreatedAt: dbTime(t.CreatedAt)}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	if err != nil {
		return mapErr(err)
	}
	// A family revoked meanwhile (a reuse racing the refresh that made
	// this token) takes the new token with it: checked after the insert,
	// so either the revocation's UPDATE saw the row or this sees the
	// revocation.
	var n int64
	if err := s.q(ctx).Model(&refreshTokenModel{}).
		Where("realm_id = ? AND family_id = ? AND revoked = ?", t.RealmID, t.FamilyID, true).
		Limit(1).Count(&n).Error; err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return mapErr(s.q(ctx).Model(&refreshTokenModel{}).Where("realm_id = ? AND id = ?", t.RealmID, t.ID).
			Update("revoked", true).Error)
	}
	return nil
}

// GetRefreshToken returns the token, used or revoked.
func (s *Store) GetRefreshToken(ctx context.Context, realmID, id string) (*realm.RefreshToken, error) {
	var m refreshTokenModel
	if err := s.q(ctx).Where("realm_id = ? AND id = ?", realmID, id).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return &realm.RefreshToken{ID: m.ID, RealmID: m.RealmID, FamilyID: m.FamilyID, SessionID: m.SessionID,
		UserID: m.UserID, ClientID: m.ClientID, AccessJTI: m.AccessJTI, Offline: m.Offline, Data: m.Data,
		Used: m.Used, Revoked: m.Revoked, ExpiresAt: fromDBTime(m.ExpiresAt), CreatedAt: fromDBTime(m.CreatedAt)}, nil
}

// UseRefreshToken marks the token used. The WHERE on used and revoked
// makes the update itself the decision between concurrent refreshes.
func (s *Store) UseRefreshToken(ctx context.Context, realmID, id string) error {
	res := s.q(ctx).Model(&refreshTokenModel{}).
		Where("realm_id = ? AND id = ? AND used = ? AND revoked = ?", realmID, id, false, false).
		Update("used", true)
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if _, err := s.GetRefreshToken(ctx, realmID, id); err != nil {
		return err
	}
	return realm.ErrAlreadyUsed
}

// RevokeRefreshFamily revokes the family and lists the access tokens issued
// with its tokens in the last accessTTL. Concurrent reuses of one family
// (losers of a refresh race) run it at once; on Postgres two multi-row
// UPDATEs can lock the same rows in different orders and one is chosen as
// a deadlock victim, so it is one statement, retried: the work is
// idempotent.
func (s *Store) RevokeRefreshFamily(ctx context.Context, realmID, familyID string, now time.Time, accessTTL time.Duration) ([]realm.RevokedAccess, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.q(ctx).Model(&refreshTokenModel{}).
			Where("realm_id = ? AND family_id = ? AND revoked = ?", realmID, familyID, false).
			Update("revoked", true).Error
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	var rows []refreshTokenModel
	if err := s.q(ctx).Select("access_jti", "created_at").
		Where("realm_id = ? AND family_id = ? AND created_at > ? AND access_jti <> ?", realmID, familyID, dbTime(now.Add(-accessTTL)), "").
		Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.RevokedAccess, 0, len(rows))
	for _, r := range rows {
		out = append(out, realm.RevokedAccess{JTI: r.AccessJTI, ExpiresAt: fromDBTime(r.CreatedAt).Add(accessTTL)})
	}
	return out, nil
}

// retryable reports a Postgres deadlock or serialization failure (a
// statement that may simply be run again); SQLite serialises writers.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// RevokeUserRefreshTokens revokes every refresh token of the user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, realmID, userID string) error {
	return mapErr(s.q(ctx).Model(&refreshTokenModel{}).Where("realm_id = ? AND user_id = ?", realmID, userID).
		Update("revoked", true).Error)
}

// GetBrowserSession returns the realm's session by ID.
func (s *Store) GetBrowserSession(ctx context.Context, realmID, id string) (*realm.BrowserSession, error) {
	var m browserSessionModel
	if err := s.q(ctx).Where("id = ? AND realm_id = ?", id, realmID).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return &realm.BrowserSession{ID: m.ID, RealmID: m.RealmID, UserID: m.UserID, TokenHash: m.TokenHash,
		AuthTime: fromDBTime(m.AuthTime), ExpiresAt: fromDBTime(m.ExpiresAt), Revoked: m.Revoked,
		CreatedAt: fromDBTime(m.CreatedAt)}, nil
}

// DeleteExpiredRefreshTokens removes tokens that expired before now.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&refreshTokenModel{})
	return res.RowsAffected, mapErr(res.Error)
}
