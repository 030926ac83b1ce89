package sql

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// mail_outbox (migration 0010): link mails waiting for delivery. A claim
// is one conditional UPDATE (due_at <= now), so of several nodes claiming
// at once each row goes to exactly one; follow-ups name the claim's lease,
// so a node whose lease ran out cannot touch a row another node now holds.

type mailOutboxModel struct {
	ID        string `gorm:"primaryKey"`
	OrgID     string
	RealmID   string
	UserID    string
	Purpose   string
	Sealed    []byte
	Attempts  int
	DueAt     time.Time
	Lease     string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (mailOutboxModel) TableName() string { return "mail_outbox" }

// EnqueueMail stores a new outbox row.
func (s *Store) EnqueueMail(ctx context.Context, m *realm.OutboxMail) error {
	if m.ID == "" || len(m.Sealed) == 0 {
		return errors.New("storage/sql: EnqueueMail: a row needs an ID and a sealed mail")
	}
	row := mailOutboxModel{ID: m.ID, OrgID: m.OrgID, RealmID: m.RealmID, UserID: m.UserID, Purpose: m.Purpose,
		Sealed: m.Sealed, Attempts: m.Attempts, DueAt: dbTime(m.DueAt), Lease: m.Lease, CreatedAt: dbTime(m.CreatedAt)}
	if err := s.q(ctx).Create(&row).Error; err != nil {
		if foreignKeyViolation(err) {
			return realm.ErrNotFound
		}
		return mapErr(err)
	}
	return nil
}

// claimMail leases the due rows picked by the subquery. The outer
// due_at <= now is checked again on the row itself: on Postgres an UPDATE
// that waited for another claim's commit re-reads the row and skips it, on
// SQLite writers are serialized anyway.
const claimMail = `UPDATE mail_outbox SET due_at = ?, lease = ?, attempts = attempts + 1
WHERE due_at <= ? AND id IN (SELECT id FROM mail_outbox WHERE due_at <= ? ORDER BY due_at, id LIMIT ?)`

// ClaimMail leases up to limit due rows and returns them in ID order.
func (s *Store) ClaimMail(ctx context.Context, now, until time.Time, lease string, limit int) ([]realm.OutboxMail, error) {
	if lease == "" || limit < 1 || !until.After(now) {
		return nil, errors.New("storage/sql: ClaimMail: needs a lease name, a positive limit and a lease end after now")
	}
	t := dbTime(now)
	var rows []mailOutboxModel
	err := s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Exec(claimMail, dbTime(until), lease, t, t, limit)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.q(ctx).Where("lease = ?", lease).Order("id").Find(&rows).Error
	})
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.OutboxMail, len(rows))
	for i, r := range rows {
		out[i] = realm.OutboxMail{ID: r.ID, OrgID: r.OrgID, RealmID: r.RealmID, UserID: r.UserID, Purpose: r.Purpose,
			Sealed: r.Sealed, Attempts: r.Attempts, DueAt: fromDBTime(r.DueAt), Lease: r.Lease, CreatedAt: fromDBTime(r.CreatedAt)}
	}
	return out, nil
}

// RescheduleMail moves the row's due_at if lease still holds it.
func (s *Store) RescheduleMail(ctx context.Context, id, lease string, dueAt time.Time) error {
	if lease == "" { // an unclaimed row is held by nobody
		return realm.ErrNotFound
	}
	return heldMail(s.q(ctx).Model(&mailOutboxModel{}).Where("id = ? AND lease = ?", id, lease).
		Update("due_at", dbTime(dueAt)))
}

// DeleteMail removes the row if lease still holds it.
func (s *Store) DeleteMail(ctx context.Context, id, lease string) error {
	if lease == "" {
		return realm.ErrNotFound
	}
	return heldMail(s.q(ctx).Where("id = ? AND lease = ?", id, lease).Delete(&mailOutboxModel{}))
}

// heldMail maps a follow-up that matched no row (gone, or claimed under
// another lease) to ErrNotFound.
func heldMail(res *gorm.DB) error {
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}
