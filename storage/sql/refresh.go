package sqlstore

import (
	"context"
	"time"

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

// CreateRefreshToken inserts t; an unknown realm is ErrNotFound.
func (s *Store) CreateRefreshToken(ctx context.Context, t *realm.RefreshToken) error {
	m := refreshTokenModel{ID: t.ID, RealmID: t.RealmID, FamilyID: t.FamilyID, SessionID: t.SessionID,
		UserID: t.UserID, ClientID: t.ClientID, AccessJTI: t.AccessJTI, Offline: t.Offline, Data: t.Data,
		Used: t.Used, Revoked: t.Revoked, ExpiresAt: dbTime(t.ExpiresAt), CreatedAt: dbTime(t.CreatedAt)}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
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
// with its tokens in the last accessTTL.
func (s *Store) RevokeRefreshFamily(ctx context.Context, realmID, familyID string, now time.Time, accessTTL time.Duration) ([]realm.RevokedAccess, error) {
	var out []realm.RevokedAccess
	err := s.tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Model(&refreshTokenModel{}).Where("realm_id = ? AND family_id = ?", realmID, familyID).
			Update("revoked", true).Error; err != nil {
			return mapErr(err)
		}
		var rows []refreshTokenModel
		if err := tx.q(ctx).Select("access_jti", "created_at").
			Where("realm_id = ? AND family_id = ? AND created_at > ? AND access_jti <> ?", realmID, familyID, dbTime(now.Add(-accessTTL)), "").
			Find(&rows).Error; err != nil {
			return mapErr(err)
		}
		out = out[:0]
		for _, r := range rows {
			out = append(out, realm.RevokedAccess{JTI: r.AccessJTI, ExpiresAt: fromDBTime(r.CreatedAt).Add(accessTTL)})
		}
		return nil
	})
	return out, err
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
