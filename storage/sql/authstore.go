package sql

import (
	"context"
	"time"

	"github.com/wardiam/ward/realm"
)

type authRequestModel struct {
	Kind      string `gorm:"primaryKey"`
	Signature string `gorm:"primaryKey"`
	RealmID   string `gorm:"primaryKey"`
	RequestID string
	ClientID  string
	UserID    string
	SessionID string
	Data      []byte
	Used      bool
	ExpiresAt time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (authRequestModel) TableName() string { return "auth_requests" }

type browserSessionModel struct {
	ID        string `gorm:"primaryKey"`
	RealmID   string
	UserID    string
	TokenHash []byte
	AuthTime  time.Time
	ExpiresAt time.Time
	Revoked   bool
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	IPAddress string    `gorm:"column:ip_address"`
}

func (browserSessionModel) TableName() string { return "browser_sessions" }

// CreateAuthRequest inserts r; a row of the same kind and signature is a
// conflict.
func (s *Store) CreateAuthRequest(ctx context.Context, r *realm.AuthRequest) error {
	m := authRequestModel{Kind: r.Kind, Signature: r.Signature, RealmID: r.RealmID, RequestID: r.RequestID,
		ClientID: r.ClientID, UserID: r.UserID, SessionID: r.SessionID, Data: r.Data, Used: r.Used,
		ExpiresAt: dbTime(r.ExpiresAt), CreatedAt: dbTime(r.CreatedAt)}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// GetAuthRequest returns the row, used or not.
func (s *Store) GetAuthRequest(ctx context.Context, realmID, kind, signature string) (*realm.AuthRequest, error) {
	var m authRequestModel
	err := s.q(ctx).Where("realm_id = ? AND kind = ? AND signature = ?", realmID, kind, signature).Take(&m).Error
	if err != nil {
		return nil, mapErr(err)
	}
	return &realm.AuthRequest{Kind: m.Kind, Signature: m.Signature, RealmID: m.RealmID, RequestID: m.RequestID,
		ClientID: m.ClientID, UserID: m.UserID, SessionID: m.SessionID, Data: m.Data, Used: m.Used,
		ExpiresAt: fromDBTime(m.ExpiresAt), CreatedAt: fromDBTime(m.CreatedAt)}, nil
}

// UseAuthRequest marks the row used. The WHERE used = false makes the
// update itself the decision: of concurrent callers only one changes a row.
func (s *Store) UseAuthRequest(ctx context.Context, realmID, kind, signature string) error {
	res := s.q(ctx).Model(&authRequestModel{}).
		Where("realm_id = ? AND kind = ? AND signature = ? AND used = ?", realmID, kind, signature, false).
		Update("used", true)
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if _, err := s.GetAuthRequest(ctx, realmID, kind, signature); err != nil {
		return err
	}
	return realm.ErrAlreadyUsed
}

// DeleteAuthRequest removes the row if present.
func (s *Store) DeleteAuthRequest(ctx context.Context, realmID, kind, signature string) error {
	return mapErr(s.q(ctx).Where("realm_id = ? AND kind = ? AND signature = ?", realmID, kind, signature).
		Delete(&authRequestModel{}).Error)
}

// DeleteExpiredAuthRequests removes rows that expired before now.
func (s *Store) DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&authRequestModel{})
	return res.RowsAffected, mapErr(res.Error)
}

// CreateBrowserSession inserts bs; an unknown user is ErrNotFound.
func (s *Store) CreateBrowserSession(ctx context.Context, bs *realm.BrowserSession) error {
	m := browserSessionModel{ID: bs.ID, RealmID: bs.RealmID, UserID: bs.UserID, TokenHash: bs.TokenHash,
		AuthTime: dbTime(bs.AuthTime), ExpiresAt: dbTime(bs.ExpiresAt), Revoked: bs.Revoked, CreatedAt: dbTime(bs.CreatedAt), IPAddress: bs.IPAddress}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// GetBrowserSessionByToken returns the realm's session with tokenHash.
func (s *Store) GetBrowserSessionByToken(ctx context.Context, realmID string, tokenHash []byte) (*realm.BrowserSession, error) {
	var m browserSessionModel
	if err := s.q(ctx).Where("token_hash = ? AND realm_id = ?", tokenHash, realmID).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return &realm.BrowserSession{ID: m.ID, RealmID: m.RealmID, UserID: m.UserID, TokenHash: m.TokenHash,
		AuthTime: fromDBTime(m.AuthTime), ExpiresAt: fromDBTime(m.ExpiresAt), Revoked: m.Revoked,
		CreatedAt: fromDBTime(m.CreatedAt), IPAddress: m.IPAddress}, nil
}

// RevokeBrowserSession revokes one session.
func (s *Store) RevokeBrowserSession(ctx context.Context, realmID, id string) error {
	res := s.q(ctx).Model(&browserSessionModel{}).Where("realm_id = ? AND id = ?", realmID, id).Update("revoked", true)
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// RevokeUserSessions revokes every session of the user.
func (s *Store) RevokeUserSessions(ctx context.Context, realmID, userID string) error {
	return mapErr(s.q(ctx).Model(&browserSessionModel{}).Where("realm_id = ? AND user_id = ?", realmID, userID).
		Update("revoked", true).Error)
}
