package main

import (
	"context"
	"log/slog"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/realm/mail"
)

// newMailer builds the mail queue from settings: SMTP when WARD_SMTP_URL is
// set, else .eml files in the outbox. Final delivery failures are recorded
// as events by failures.
func newMailer(s *settings, log *slog.Logger, failures realm.MailFailures) (*mail.Mailer, error) {
	sender, err := mail.NewSender(mail.SenderConfig{SMTPURL: s.SMTPURL, OutboxDir: s.OutboxDir, Logger: log})
	if err != nil {
		return nil, err
	}
	return mail.New(mail.Config{
		Sender: sender, From: s.MailFrom, Logger: log,
		OnFailure: func(r mail.Result) {
			failures.Record(context.Background(), r.OrgID, r.RealmID, r.UserID, string(r.Kind), r.Err.Error())
		},
	})
}

// linkMailer adapts mail.Mailer to realm.Mailer: realm must not import
// realm/mail (which carries the templates).
type linkMailer struct{ m *mail.Mailer }

func (l linkMailer) EnqueueLinkMail(in realm.LinkMail) error {
	return l.m.Enqueue(mail.Mail{
		Kind: mail.Kind(in.Purpose), To: in.To, FirstName: in.FirstName, RealmName: in.RealmDisplayName,
		Link: in.Link, ValidFor: in.ValidFor, OrgID: in.OrgID, RealmID: in.RealmID, UserID: in.UserID,
	})
}
