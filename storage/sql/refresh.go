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

// insertRefreshSQL inserts a refresh token; its revoked flag is its
// parent's when the parent is revoked (see CreateRefreshToken).
const insertRefreshSQL = `INSERT INTO refresh_tokens
 (id, realm_id, family_id, session_id, user_id, client_id, access_jti, offline, data, used, revoked, expires_at, created_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
 ? OR COALESCE((SELECT p.revoked FROM refresh_tokens p WHERE p.realm_id = ? AND p.id = ?), ?), ?, ?)`

// CreateRefreshToken inserts t; an unknown realm is ErrNotFound. A family
// revoked meanwhile (a reuse racing the refresh that made this token)
// takes the new token with it: revocation marks every row of the family
// at once, the parent included, so the insert copies the parent's flag in
// the same statement (one prepared round trip on the refresh path).
func (s *Store) CreateRefreshToken(ctx context.Context, t *realm.RefreshToken) error {
	_, err := s.exec(ctx, insertRefreshSQL, t.ID, t.RealmID, t.FamilyID, t.SessionID, t.UserID, t.ClientID,
		t.AccessJTI, t.Offline, t.Data, t.Used, t.Revoked, t.RealmID, t.ParentID, false,
		dbTime(t.ExpiresAt), dbTime(t.CreatedAt))
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

const getRefreshSQL = `SELECT family_id, session_id, user_id, client_id, access_jti, offline, data, used, revoked,
 expires_at, created_at FROM refresh_tokens WHERE realm_id = ? AND id = ?`

// GetRefreshToken returns the token, used or revoked.
func (s *Store) GetRefreshToken(ctx context.Context, realmID, id string) (*realm.RefreshToken, error) {
	rows, err := s.query(ctx, getRefreshSQL, realmID, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		return nil, realm.ErrNotFound
	}
	t := &realm.RefreshToken{ID: id, RealmID: realmID}
	if err := rows.Scan(&t.FamilyID, &t.SessionID, &t.UserID, &t.ClientID, &t.AccessJTI, &t.Offline, &t.Data,
		&t.Used, &t.Revoked, &t.ExpiresAt, &t.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	t.ExpiresAt, t.CreatedAt = fromDBTime(t.ExpiresAt), fromDBTime(t.CreatedAt)
	return t, nil
}

const useRefreshSQL = `UPDATE refresh_tokens SET used = ? WHERE realm_id = ? AND id = ? AND used = ? AND revoked = ?`

// UseRefreshToken marks the token used. The WHERE on used and revoked
// makes the update itself the decision between concurrent refreshes.
func (s *Store) UseRefreshToken(ctx context.Context, realmID, id string) error {
	res, err := s.exec(ctx, useRefreshSQL, true, realmID, id, false, false)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(err)
	} else if n == 1 {
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

const getBrowserSessionSQL = `SELECT user_id, token_hash, auth_time, expires_at, revoked, created_at
 FROM browser_sessions WHERE id = ? AND realm_id = ?`

// GetBrowserSession returns the realm's session by ID.
func (s *Store) GetBrowserSession(ctx context.Context, realmID, id string) (*realm.BrowserSession, error) {
	rows, err := s.query(ctx, getBrowserSessionSQL, id, realmID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		return nil, realm.ErrNotFound
	}
	bs := &realm.BrowserSession{ID: id, RealmID: realmID}
	if err := rows.Scan(&bs.UserID, &bs.TokenHash, &bs.AuthTime, &bs.ExpiresAt, &bs.Revoked, &bs.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	bs.AuthTime, bs.ExpiresAt, bs.CreatedAt = fromDBTime(bs.AuthTime), fromDBTime(bs.ExpiresAt), fromDBTime(bs.CreatedAt)
	return bs, nil
}

// DeleteExpiredRefreshTokens removes tokens that expired before now.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&refreshTokenModel{})
	return res.RowsAffected, mapErr(res.Error)
}
