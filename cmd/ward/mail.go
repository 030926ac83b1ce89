package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"log/slog"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/realm/mail"
)

// newMailQueue builds the outbox the service queues link mails into. Its
// sealing key is derived from the master key, so every node opens what
// another queued, and the signing keys' key is used for nothing else.
func newMailQueue(store realm.Store, master []byte, log *slog.Logger) (*realm.MailQueue, error) {
	key, err := hkdf.Key(sha256.New, master, nil, "ward mail outbox v1", 32)
	if err != nil {
		return nil, err
	}
	return realm.NewMailQueue(realm.MailQueueConfig{Store: store, Key: key, Logger: log})
}

// newMailer starts the delivery worker over the outbox: SMTP when
// WARD_SMTP_URL is set, else .eml files in the outbox directory.
func newMailer(s *settings, log *slog.Logger, q *realm.MailQueue) (*mail.Mailer, error) {
	sender, err := mail.NewSender(mail.SenderConfig{SMTPURL: s.SMTPURL, OutboxDir: s.OutboxDir, Logger: log})
	if err != nil {
		return nil, err
	}
	return mail.New(mail.Config{Sender: sender, Queue: mailQueue{q}, Wake: q.Wake(), From: s.MailFrom, Logger: log})
}

// mailQueue adapts realm.MailQueue to mail.Queue: realm/mail imports
// nothing of realm (it carries the templates), so the types are
// translated here, field by field.
type mailQueue struct{ q *realm.MailQueue }

func (a mailQueue) Claim(ctx context.Context, max int, lease time.Duration) ([]mail.Job, error) {
	claimed, err := a.q.Claim(ctx, max, lease)
	jobs := make([]mail.Job, len(claimed))
	for i, c := range claimed {
		jobs[i] = mail.Job{ID: c.ID, Lease: c.Lease, Attempts: c.Attempts, Mail: mail.Mail{
			Kind: mail.Kind(c.Mail.Purpose), To: c.Mail.To, FirstName: c.Mail.FirstName,
			RealmName: c.Mail.RealmDisplayName, Link: c.Mail.Link, ValidFor: c.Mail.ValidFor,
			OrgName: c.Mail.OrgName, Role: c.Mail.Role,
			OrgID: c.OrgID, RealmID: c.RealmID, UserID: c.UserID,
		}}
	}
	return jobs, err
}

func (a mailQueue) Extend(ctx context.Context, j mail.Job, lease time.Duration) error {
	return leaseErr(a.q.Extend(ctx, queued(j), lease))
}

func (a mailQueue) Retry(ctx context.Context, j mail.Job, after time.Duration) error {
	return leaseErr(a.q.Retry(ctx, queued(j), after))
}

func (a mailQueue) Delivered(ctx context.Context, j mail.Job, messageID string) error {
	return leaseErr(a.q.Delivered(ctx, queued(j), messageID))
}

func (a mailQueue) Failed(ctx context.Context, j mail.Job, err error) error {
	return leaseErr(a.q.Failed(ctx, queued(j), err.Error()))
}

// queued is what realm.MailQueue needs back to follow up on a claim (no
// link: the outcome does not carry it).
func queued(j mail.Job) realm.QueuedMail {
	return realm.QueuedMail{ID: j.ID, Lease: j.Lease, Attempts: j.Attempts, OrgID: j.Mail.OrgID,
		RealmID: j.Mail.RealmID, UserID: j.Mail.UserID, Mail: realm.LinkMail{Purpose: string(j.Mail.Kind)}}
}

// leaseErr: the store's ErrNotFound for a follow-up means the claim no
// longer holds the mail.
func leaseErr(err error) error {
	if errors.Is(err, realm.ErrNotFound) {
		return mail.ErrLeaseLost
	}
	return err
}
