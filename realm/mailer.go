package realm

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Link mail purposes.
const (
	PurposeSetPassword   = "set_password"
	PurposeResetPassword = "reset_password"
)

// LinkMail is what one mail carrying a single-use link says. It travels
// sealed in the mail outbox: the link is a credential whose only other
// copy in the database is a hash.
type LinkMail struct {
	Purpose          string        `json:"purpose"` // PurposeSetPassword or PurposeResetPassword
	To               string        `json:"to"`
	FirstName        string        `json:"first_name"`
	RealmDisplayName string        `json:"realm_display_name"`
	Link             string        `json:"link"` // absolute
	ValidFor         time.Duration `json:"valid_for"`
	// OrgName and Role are set on a console member's invitation: the mail
	// names the organization and the role it was invited to.
	OrgName string `json:"org_name,omitempty"`
	Role    string `json:"role,omitempty"`
}

// OutboxMail is one row of the mail outbox (MailOutboxStore): a link mail
// queued in the transaction that made its link, until a node has
// delivered it or given up on it.
type OutboxMail struct {
	// ID is time-sortable and fixed for the mail's life; the mail's
	// Message-ID is made from it, so a mail sent twice (a crash between
	// the SMTP server's acceptance and the row's deletion) is recognisable.
	ID string
	// OrgID, RealmID and UserID say whose audit log the outcome goes to and
	// about whom; RealmID is the user's realm (the console realm for a
	// console account). Purpose is the LinkMail's.
	OrgID   string
	RealmID string
	UserID  string
	Purpose string
	// Sealed is the LinkMail, JSON, encrypted with a key derived from the
	// master key (AES-256-GCM, nonce first, the ID as additional data).
	Sealed []byte
	// Attempts counts the claims so far (a claim is one delivery attempt).
	Attempts int
	// DueAt is when the row may next be claimed: at once when queued, the
	// end of a claim's lease while a node holds it, the next retry after a
	// failed attempt.
	DueAt time.Time
	// Lease names the current (or last) claim; empty before the first.
	Lease     string
	CreatedAt time.Time
}

// MailOutboxStore keeps queued link mails. Several nodes share it: a
// claim is a lease, so two nodes never hold the same mail at once, and a
// node that dies holding one loses it to the next claim after the lease.
type MailOutboxStore interface {
	// EnqueueMail stores a new row (inside the caller's transaction).
	EnqueueMail(ctx context.Context, m *OutboxMail) error
	// ClaimMail leases up to limit rows due at now (DueAt <= now), those
	// due longest first: each gets Lease lease (a name new for each call),
	// DueAt until and one more attempt. A row another caller claims at the
	// same moment is skipped, never returned to both.
	ClaimMail(ctx context.Context, now, until time.Time, lease string, limit int) ([]OutboxMail, error)
	// RescheduleMail sets DueAt of the row id if lease still holds it:
	// later (a retry), the lease's new end (renewal) or now (release).
	// ErrNotFound when the row is gone or another claim holds it.
	RescheduleMail(ctx context.Context, id, lease string, dueAt time.Time) error
	// DeleteMail removes the row id if lease still holds it; ErrNotFound
	// otherwise.
	DeleteMail(ctx context.Context, id, lease string) error
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

// queueLinkMail puts a link mail into the outbox inside tx, the
// transaction that made the link: the mail is queued if and only if the
// change that asked for it commits. After the commit, call mailQueued.
func (s *Service) queueLinkMail(ctx context.Context, tx Store, orgID string, r *Realm, u *User, purpose, path string, validFor time.Duration) error {
	return s.queueMail(ctx, tx, orgID, r, u, LinkMail{Purpose: purpose, Link: s.publicURL + path, ValidFor: validFor})
}

// queueInvitation queues a console member's set-password mail, which
// names the organization and the role.
func (s *Service) queueInvitation(ctx context.Context, tx Store, org *Org, console *Realm, u *User, role Role, path string) error {
	return s.queueMail(ctx, tx, org.ID, console, u, LinkMail{Purpose: PurposeSetPassword, Link: s.publicURL + path,
		ValidFor: setPasswordTTL, OrgName: org.Name, Role: string(role)})
}

// queueMail fills in m's recipient and realm and queues it.
func (s *Service) queueMail(ctx context.Context, tx Store, orgID string, r *Realm, u *User, m LinkMail) error {
	if s.mail == nil {
		s.log.Warn("no mail queue configured: link mail not sent", "realm", r.Name, "user_id", u.ID, "purpose", m.Purpose)
		return nil
	}
	m.RealmDisplayName = r.DisplayName
	if m.RealmDisplayName == "" {
		m.RealmDisplayName = r.Name
	}
	m.To, m.FirstName = u.Email, u.FirstName
	return s.mail.enqueue(ctx, tx, orgID, r.ID, u.ID, m)
}

// mailQueued wakes this node's mail worker after a commit that queued
// mail, so it goes out at once rather than at the next poll.
func (s *Service) mailQueued() {
	if s.mail != nil {
		s.mail.wakeUp()
	}
}

// MailQueueConfig configures NewMailQueue.
type MailQueueConfig struct {
	Store Store
	// Key seals the queued mails: 32 bytes, derived from the master key, so
	// every node sharing the database opens what another sealed.
	Key    []byte
	Clock  func() time.Time // default time.Now
	Random io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger     // default slog.Default()
}

// MailQueue is the realm side of the mail outbox: the Service queues link
// mails into it inside its transactions, and a delivery worker (realm/mail,
// wired by cmd/ward) claims them, reports each attempt's outcome and gets
// woken when this node queued something. Outcomes become mail.sent and
// mail.failed events in the transaction that deletes the row, so a mail's
// final event is recorded exactly once. Events carry no link and no body.
type MailQueue struct {
	store  Store
	aead   cipher.AEAD
	clock  func() time.Time
	random io.Reader
	log    *slog.Logger
	wake   chan struct{}
}

// NewMailQueue builds a MailQueue.
func NewMailQueue(cfg MailQueueConfig) (*MailQueue, error) {
	if cfg.Store == nil {
		return nil, errors.New("realm: MailQueueConfig.Store is required")
	}
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("realm: mail queue key must be 32 bytes, got %d", len(cfg.Key))
	}
	block, err := aes.NewCipher(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("realm: mail queue key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("realm: mail queue key: %w", err)
	}
	q := &MailQueue{store: cfg.Store, aead: aead, clock: cfg.Clock, random: cfg.Random, log: cfg.Logger,
		wake: make(chan struct{}, 1)}
	if q.clock == nil {
		q.clock = time.Now
	}
	if q.random == nil {
		q.random = rand.Reader
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	return q, nil
}

// QueuedMail is a claimed mail, opened, as the worker sees it.
type QueuedMail struct {
	ID       string // the outbox row; also the Message-ID's local part
	Lease    string
	Attempts int // this attempt included
	OrgID    string
	RealmID  string
	UserID   string
	Mail     LinkMail
}

// Wake receives a value after a commit on this node queued mail; the
// worker polls for the rest (other nodes' mail, retries, lost leases).
func (q *MailQueue) Wake() <-chan struct{} { return q.wake }

func (q *MailQueue) wakeUp() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (q *MailQueue) now() time.Time { return q.clock().UTC().Truncate(time.Microsecond) }

func (q *MailQueue) enqueue(ctx context.Context, tx Store, orgID, realmID, userID string, m LinkMail) error {
	now := q.now()
	id := NewID(now, q.random)
	sealed, err := q.seal(id, m)
	if err != nil {
		return err
	}
	return tx.EnqueueMail(ctx, &OutboxMail{ID: id, OrgID: orgID, RealmID: realmID, UserID: userID,
		Purpose: m.Purpose, Sealed: sealed, DueAt: now, CreatedAt: now})
}

// additionalData binds a sealed mail to its row: a payload copied into
// another row does not open.
func mailAdditionalData(id string) []byte { return []byte("ward mail outbox v1\x00" + id) }

func (q *MailQueue) seal(id string, m LinkMail) ([]byte, error) {
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, q.aead.NonceSize(), q.aead.NonceSize()+len(plain)+q.aead.Overhead())
	if _, err := io.ReadFull(q.random, nonce); err != nil {
		return nil, fmt.Errorf("realm: sealing mail: %w", err)
	}
	return q.aead.Seal(nonce, nonce, plain, mailAdditionalData(id)), nil
}

// errMailUnsealed hides why a mail did not open: the wrong master key and
// a damaged row look the same.
var errMailUnsealed = errors.New("the queued mail does not decrypt (wrong master key or damaged row)")

func (q *MailQueue) open(row *OutboxMail) (LinkMail, error) {
	var m LinkMail
	n := q.aead.NonceSize()
	if len(row.Sealed) < n+q.aead.Overhead() {
		return m, errMailUnsealed
	}
	plain, err := q.aead.Open(nil, row.Sealed[:n], row.Sealed[n:], mailAdditionalData(row.ID))
	if err != nil || json.Unmarshal(plain, &m) != nil {
		return m, errMailUnsealed
	}
	return m, nil
}

// unsealedRetry is how long a mail that does not decrypt waits before
// this or another node tries again. One node started with the wrong master
// key must not destroy what the others can send, so such a mail fails
// only once any link it could carry has expired (setPasswordTTL, the
// longest).
const unsealedRetry = 5 * time.Minute

// Claim leases up to max due mails for lease and returns them opened. A
// mail whose link expired before it could be sent fails here (mail.failed)
// and is not returned: sending it could not help. One that does not
// decrypt is handed back for later (unsealedRetry) until then.
func (q *MailQueue) Claim(ctx context.Context, max int, lease time.Duration) ([]QueuedMail, error) {
	var id [16]byte
	if _, err := io.ReadFull(q.random, id[:]); err != nil {
		return nil, fmt.Errorf("realm: mail lease: %w", err)
	}
	now := q.now()
	rows, err := q.store.ClaimMail(ctx, now, now.Add(lease), hex.EncodeToString(id[:]), max)
	if err != nil {
		return nil, err
	}
	out := make([]QueuedMail, 0, len(rows))
	for i := range rows {
		row := &rows[i]
		qm := QueuedMail{ID: row.ID, Lease: row.Lease, Attempts: row.Attempts, OrgID: row.OrgID,
			RealmID: row.RealmID, UserID: row.UserID, Mail: LinkMail{Purpose: row.Purpose}}
		m, err := q.open(row)
		if err != nil && now.Before(row.CreatedAt.Add(setPasswordTTL)) {
			q.log.Error("queued link mail does not decrypt here; handed back for later", "mail_id", qm.ID,
				"realm_id", qm.RealmID, "user_id", qm.UserID, "purpose", qm.Mail.Purpose, "reason", err.Error())
			if rerr := q.Retry(ctx, qm, unsealedRetry); rerr != nil {
				q.log.Warn("handing back a queued mail", "mail_id", qm.ID, "err", rerr)
			}
			continue
		}
		if err == nil && m.ValidFor > 0 && !now.Before(row.CreatedAt.Add(m.ValidFor)) {
			err = errors.New("the link expired before the mail could be delivered")
		}
		if err != nil {
			// The worker never sees this mail, so the failure is logged here.
			q.log.Error("queued link mail not sent", "mail_id", qm.ID, "realm_id", qm.RealmID, "user_id", qm.UserID,
				"purpose", qm.Mail.Purpose, "reason", err.Error())
			if ferr := q.Failed(ctx, qm, err.Error()); ferr != nil {
				// The rest of the batch still goes out; this row's lease
				// runs out and it is claimed again.
				q.log.Warn("recording a failed queued mail", "mail_id", qm.ID, "err", ferr)
			}
			continue
		}
		qm.Mail = m
		out = append(out, qm)
	}
	return out, nil
}

// Extend renews the lease on m while an attempt is in flight. ErrNotFound:
// the lease was lost (the mail is gone or another node holds it).
func (q *MailQueue) Extend(ctx context.Context, m QueuedMail, lease time.Duration) error {
	return q.store.RescheduleMail(ctx, m.ID, m.Lease, q.now().Add(lease))
}

// Retry makes m due again after the given backoff (zero: at once, as
// when a node stopping hands a mail back). ErrNotFound: the lease was lost.
func (q *MailQueue) Retry(ctx context.Context, m QueuedMail, after time.Duration) error {
	return q.store.RescheduleMail(ctx, m.ID, m.Lease, q.now().Add(after))
}

// Delivered deletes m and records mail.sent, in one transaction. If the
// lease was lost (another node took the mail over), nothing is recorded
// and ErrNotFound returned: the other node records its own outcome.
func (q *MailQueue) Delivered(ctx context.Context, m QueuedMail, messageID string) error {
	return q.finish(ctx, m, EventMailSent, map[string]any{"purpose": m.Mail.Purpose, "message_id": messageID,
		"attempts": m.Attempts})
}

// Failed deletes m and records mail.failed with reason (no link, no body),
// in one transaction; as Delivered when the lease was lost.
func (q *MailQueue) Failed(ctx context.Context, m QueuedMail, reason string) error {
	return q.finish(ctx, m, EventMailFailed, map[string]any{"purpose": m.Mail.Purpose, "reason": reason,
		"attempts": m.Attempts})
}

func (q *MailQueue) finish(ctx context.Context, m QueuedMail, typ EventType, details map[string]any) error {
	return q.store.InTx(ctx, func(tx Store) error {
		if err := tx.DeleteMail(ctx, m.ID, m.Lease); err != nil {
			return err
		}
		r, err := tx.GetRealm(ctx, m.RealmID)
		if err != nil {
			return err
		}
		eventRealm := r.ID
		if r.Name == ConsoleRealm {
			eventRealm = "" // console accounts are org-level business
		}
		now := q.now()
		return appendEvents(ctx, tx, &Event{ID: NewID(now, q.random), OrgID: m.OrgID, RealmID: eventRealm, Type: typ,
			ActorType: System.ActorType, ActorID: System.ActorID, TargetType: "user", TargetID: m.UserID,
			Details: details, Time: now})
	})
}
