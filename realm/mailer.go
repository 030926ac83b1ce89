package realm

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Mailer hands link mails to delivery. realm/mail implements it (cmd/ward
// adapts it); EnqueueLinkMail must return at once, never waiting on the
// network. The service calls it only after the transaction that stored the
// link's token has committed, so a mail never carries a link that a
// rollback voided.
type Mailer interface {
	EnqueueLinkMail(LinkMail) error
}

// Link mail purposes.
const (
	PurposeSetPassword   = "set_password"
	PurposeResetPassword = "reset_password"
)

// LinkMail is one mail carrying a single-use link.
type LinkMail struct {
	Purpose          string // PurposeSetPassword or PurposeResetPassword
	To               string
	FirstName        string
	RealmDisplayName string
	Link             string // absolute
	ValidFor         time.Duration
	// OrgID is whose audit log a delivery failure goes to: the realm's
	// org, or for a console account the org that invited it.
	OrgID   string
	RealmID string
	UserID  string
}

// issueSetPasswordLink stores a new set-password token for u inside tx
// (voiding older ones) with its event, and returns the link's path.
func (s *Service) issueSetPasswordLink(ctx context.Context, tx Store, a access, r *Realm, u *User, orgID string) (string, error) {
	token, hash := newLinkToken(s.random)
	now := s.now()
	t := &ActionToken{Hash: hash, RealmID: r.ID, UserID: u.ID, Purpose: PurposeSetPassword,
		ExpiresAt: now.Add(setPasswordTTL), CreatedAt: now}
	eventRealm := r.ID
	if r.Name == ConsoleRealm {
		eventRealm = "" // console accounts are org-level business
	}
	if err := tx.CreateActionToken(ctx, t); err != nil {
		return "", err
	}
	if err := appendEvents(ctx, tx, s.event(a, orgID, eventRealm, EventUserSetPasswordLinkIssued, "user", u.ID,
		map[string]any{"expires_at": t.ExpiresAt.Format(time.RFC3339)})); err != nil {
		return "", err
	}
	return "/realms/" + url.PathEscape(r.Name) + "/login-actions/set-password?token=" + url.QueryEscape(token), nil
}

// mailLink queues a link mail after commit. A mail that cannot be queued
// does not undo the change that asked for it: it is logged and recorded as
// an event, and the admin can send the link again.
func (s *Service) mailLink(ctx context.Context, orgID string, r *Realm, u *User, purpose, path string, validFor time.Duration) {
	if s.mailer == nil {
		s.log.Warn("no mailer configured: link mail not sent", "realm", r.Name, "user_id", u.ID, "purpose", purpose)
		return
	}
	display := r.DisplayName
	if display == "" {
		display = r.Name
	}
	err := s.mailer.EnqueueLinkMail(LinkMail{
		Purpose: purpose, To: u.Email, FirstName: u.FirstName, RealmDisplayName: display,
		Link: s.publicURL + path, ValidFor: validFor, OrgID: orgID, RealmID: r.ID, UserID: u.ID,
	})
	if err == nil {
		return
	}
	s.log.Error("link mail could not be queued", "realm", r.Name, "user_id", u.ID, "purpose", purpose, "err", err)
	s.mailFailures.record(ctx, orgID, r, u.ID, purpose, "could not be queued: "+err.Error())
}

// MailFailures records link mails that were finally not delivered as
// mail.failed events, acting as System. It needs only the store, so the
// mail queue, whose failure callback Record is, can be built before the
// Service that enqueues into it.
type MailFailures struct {
	Store  Store
	Clock  func() time.Time // default time.Now
	Random io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger     // default slog.Default()
}

// Record records the final failure of a link mail to a user of realmID in
// orgID's audit log (the realm's org when orgID is empty).
func (m MailFailures) Record(ctx context.Context, orgID, realmID, userID, purpose, reason string) {
	r, err := m.Store.GetRealm(ctx, realmID)
	if err != nil {
		m.logger().Error("recording a mail failure: realm lookup", "realm_id", realmID, "err", err)
		return
	}
	if orgID == "" {
		orgID = r.OrgID
	}
	m.record(ctx, orgID, r, userID, purpose, reason)
}

func (m MailFailures) record(ctx context.Context, orgID string, r *Realm, userID, purpose, reason string) {
	eventRealm := r.ID
	if r.Name == ConsoleRealm {
		eventRealm = "" // console accounts are org-level business
	}
	clock := m.Clock
	if clock == nil {
		clock = time.Now
	}
	now := clock().UTC().Truncate(time.Microsecond)
	e := &Event{ID: NewID(now, m.Random), OrgID: orgID, RealmID: eventRealm, Type: EventMailFailed,
		ActorType: System.ActorType, ActorID: System.ActorID, TargetType: "user", TargetID: userID,
		Details: map[string]any{"purpose": purpose, "reason": reason}, Time: now}
	if err := appendEvents(context.WithoutCancel(ctx), m.Store, e); err != nil {
		m.logger().Error("recording a mail failure event", "user_id", userID, "err", err)
	}
}

func (m MailFailures) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}
