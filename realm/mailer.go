package realm

import (
	"context"
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
	if err := appendEvents(ctx, tx, s.event(a, orgID, eventRealm, "user.set_password_link_issued", "user", u.ID,
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
	s.recordMailFailure(ctx, orgID, r, u.ID, purpose, "could not be queued: "+err.Error())
}

// MailFailed records that a link mail was finally not delivered (the
// mailer's failure callback), in orgID's audit log. It acts as System.
func (s *Service) MailFailed(ctx context.Context, orgID, realmID, userID, purpose, reason string) {
	r, err := s.store.GetRealm(ctx, realmID)
	if err != nil {
		s.log.Error("recording a mail failure: realm lookup", "realm_id", realmID, "err", err)
		return
	}
	if orgID == "" {
		orgID = r.OrgID
	}
	s.recordMailFailure(ctx, orgID, r, userID, purpose, reason)
}

func (s *Service) recordMailFailure(ctx context.Context, orgID string, r *Realm, userID, purpose, reason string) {
	eventRealm := r.ID
	if r.Name == ConsoleRealm {
		eventRealm = ""
	}
	e := s.event(access{p: System}, orgID, eventRealm, "mail.failed", "user", userID,
		map[string]any{"purpose": purpose, "reason": reason})
	if err := appendEvents(context.WithoutCancel(ctx), s.store, e); err != nil {
		s.log.Error("recording a mail failure event", "user_id", userID, "err", err)
	}
}
