package sql

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/wardiam/ward/realm"
)

// console_sessions (migration 0009): the console UI's web sessions. Plain
// gorm, like the other console-side tables: a console request is not the
// token endpoint's hot path, and one indexed lookup per request does not
// need a prepared statement.

type consoleSessionModel struct {
	IDHash    []byte `gorm:"primaryKey"`
	Owner     string
	Data      []byte
	ExpiresAt time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	Version   int64
}

func (consoleSessionModel) TableName() string { return "console_sessions" }

// consoleSessionTaken is the conflict for a second session with the same
// id_hash: the shared table of unique keys does not list this table, and
// a clash means the cookie's random value was reused, which the console
// must not paper over.
var consoleSessionTaken = realm.Conflict("id", "a console session with this ID already exists")

// consoleSessionErr maps a write's error, naming the primary key's
// violation as a conflict on id.
func consoleSessionErr(err error) error {
	if ok, name := uniqueViolation(err); ok &&
		(name == "console_sessions_pkey" || name == "console_sessions.id_hash") {
		return consoleSessionTaken
	}
	return mapErr(err)
}

// pruneConsoleSessions keeps the owner's newest keep sessions, the one
// just created always among them (its hash is placed first, whatever its
// expiry), and deletes the rest. One statement, so it lands in the
// creation's transaction without a read round trip. Ties on expires_at
// keep the most recently updated, then the greater hash, so the order is
// total and both backends delete the same rows.
const pruneConsoleSessions = `DELETE FROM console_sessions WHERE owner = ? AND id_hash NOT IN (
  SELECT id_hash FROM console_sessions WHERE owner = ?
  ORDER BY CASE WHEN id_hash = ? THEN 0 ELSE 1 END, expires_at DESC, updated_at DESC, id_hash DESC
  LIMIT ?)`

// CreateConsoleSession inserts cs and trims its owner's sessions to keep,
// in one transaction.
func (s *Store) CreateConsoleSession(ctx context.Context, cs *realm.ConsoleSession, keep int) error {
	// Refused before any write: a session the cap would delete at once, a
	// hash that is not a SHA-256 or an ownerless session (which the cap
	// could not bound) is the caller's bug.
	switch {
	case keep < 1:
		return fmt.Errorf("storage/sql: CreateConsoleSession: keep is %d, must be at least 1", keep)
	case len(cs.IDHash) != sha256.Size:
		return fmt.Errorf("storage/sql: CreateConsoleSession: id hash is %d bytes, want %d", len(cs.IDHash), sha256.Size)
	case cs.Owner == "":
		return errors.New("storage/sql: CreateConsoleSession: owner is empty")
	case len(cs.Data) > realm.MaxConsoleSessionData:
		return realm.ErrConsoleSessionTooLarge
	}
	updated := dbTime(cs.UpdatedAt)
	m := consoleSessionModel{IDHash: cs.IDHash, Owner: cs.Owner, Data: nonNilBytes(cs.Data),
		ExpiresAt: dbTime(cs.ExpiresAt), CreatedAt: updated, UpdatedAt: updated, Version: 1}
	return s.tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Create(&m).Error; err != nil {
			return consoleSessionErr(err)
		}
		return mapErr(tx.q(ctx).Exec(pruneConsoleSessions, cs.Owner, cs.Owner, cs.IDHash, keep).Error)
	})
}

// GetConsoleSession returns the unexpired session with idHash.
func (s *Store) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (*realm.ConsoleSession, error) {
	var m consoleSessionModel
	if err := s.q(ctx).Where("id_hash = ? AND expires_at > ?", idHash, dbTime(now)).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return &realm.ConsoleSession{IDHash: m.IDHash, Owner: m.Owner, Data: nonNilBytes(m.Data),
		ExpiresAt: fromDBTime(m.ExpiresAt), UpdatedAt: fromDBTime(m.UpdatedAt), Version: m.Version}, nil
}

// consoleSessionChanged is the conflict for an update whose version is
// stale: another node wrote the session since the caller read it.
var consoleSessionChanged = realm.Conflict("version", "the console session was changed by another request")

// UpdateConsoleSession writes data if the session with idHash is still at
// version and has not expired at updatedAt. Both conditions are in the
// one UPDATE, so the check and the write are atomic on either backend: of
// two concurrent updates from the same version exactly one matches a row.
func (s *Store) UpdateConsoleSession(ctx context.Context, idHash, data []byte, updatedAt time.Time, version int64) (int64, error) {
	if len(data) > realm.MaxConsoleSessionData {
		return 0, realm.ErrConsoleSessionTooLarge
	}
	t := dbTime(updatedAt)
	res := s.q(ctx).Model(&consoleSessionModel{}).
		Where("id_hash = ? AND version = ? AND expires_at > ?", idHash, version, t).
		Updates(map[string]any{"data": nonNilBytes(data), "updated_at": t, "version": version + 1})
	if res.Error != nil {
		return 0, mapErr(res.Error)
	}
	if res.RowsAffected == 1 {
		return version + 1, nil
	}
	// No row matched: gone (or expired) and changed need different
	// answers (sign in again versus re-read and retry), so look once; the
	// read is only on this path, not on every update.
	var n int64
	if err := s.q(ctx).Model(&consoleSessionModel{}).
		Where("id_hash = ? AND expires_at > ?", idHash, t).Count(&n).Error; err != nil {
		return 0, mapErr(err)
	}
	if n == 0 {
		return 0, realm.ErrNotFound
	}
	return 0, consoleSessionChanged
}

// DeleteConsoleSession removes the session if present: signing out twice
// (two tabs) is not an error.
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	return mapErr(s.q(ctx).Where("id_hash = ?", idHash).Delete(&consoleSessionModel{}).Error)
}

// DeleteExpiredConsoleSessions removes sessions that expired before before.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, before time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(before)).Delete(&consoleSessionModel{})
	return res.RowsAffected, mapErr(res.Error)
}

// nonNilBytes turns nil into an empty slice: data is NOT NULL, and pgx
// sends a nil slice as NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
