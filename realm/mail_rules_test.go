package realm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

func TestLinkMails(t *testing.T) { eachBackend(t, testLinkMails) }

func testLinkMails(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	no := false

	// Creating a user queues one absolute set-password link.
	u := e.user("shop", "ada@example.com", nil, "")
	sent := e.mails.take()
	if len(sent) != 1 {
		t.Fatalf("%d mails after creating a user, want 1", len(sent))
	}
	m := sent[0]
	if m.Mail.Purpose != realm.PurposeSetPassword || m.Mail.To != "ada@example.com" || m.Mail.FirstName != "Ann" ||
		m.UserID != u.ID || m.RealmID != u.RealmID || m.OrgID != e.orgID || m.Attempts != 1 ||
		m.Mail.RealmDisplayName != "shop" || m.Mail.ValidFor != 12*time.Hour ||
		!strings.HasPrefix(m.Mail.Link, "https://iam.example.test/realms/shop/login-actions/set-password?token=") {
		t.Fatalf("mail %+v", m)
	}

	// send_set_password_email:false queues nothing; a refused create
	// queues nothing either.
	if _, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "quiet@example.com", FirstName: "Q", LastName: "Q", SendSetPasswordEmail: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "ADA@example.com", FirstName: "A", LastName: "B"}); !errors.Is(err, realm.ErrConflict) {
		t.Fatalf("duplicate email: %v", err)
	}
	if n := len(e.mails.take()); n != 1 {
		t.Fatalf("%d mails, want still 1", n)
	}

	// Asking again queues a new link; viewers may not; deactivated users
	// get none.
	if err := e.svc.SendSetPasswordEmail(e.viewer, "shop", u.ID); !errors.Is(err, realm.ErrForbidden) {
		t.Fatalf("viewer: %v", err)
	}
	if err := e.svc.SendSetPasswordEmail(e.admin, "shop", u.ID); err != nil {
		t.Fatal(err)
	}
	sent = e.mails.take()
	if len(sent) != 2 || sent[1].Mail.Link == sent[0].Mail.Link {
		t.Fatalf("second mail: %+v", sent)
	}
	inactive := false
	if _, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SendSetPasswordEmail(e.admin, "shop", u.ID); !errors.Is(err, realm.ErrConflict) {
		t.Fatalf("deactivated user: %v, want conflict", err)
	}

	// A new console member gets a link in the console realm; its outcome
	// goes to the inviting org's log, not a realm's.
	if _, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "mia@acme.test", FirstName: "Mia", LastName: "M", Role: realm.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	sent = e.mails.take()
	if len(sent) != 3 || !strings.Contains(sent[2].Mail.Link, "/realms/console/login-actions/set-password?token=") ||
		sent[2].Mail.To != "mia@acme.test" || sent[2].OrgID != e.orgID {
		t.Fatalf("member mail: %+v", sent)
	}
	orgEv, err := e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: realm.EventMailSent})
	if err != nil || len(orgEv.Items) != 1 || orgEv.Items[0].TargetID != sent[2].UserID {
		t.Fatalf("org-level mail.sent events: %+v, %v", orgEv.Items, err)
	}
	ev, err := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailSent})
	if err != nil || len(ev.Items) != 2 {
		t.Fatalf("realm mail.sent events: %+v, %v", ev.Items, err)
	}
}

// failingOutbox is the real store whose outbox refuses new mail.
type failingOutbox struct{ realm.Store }

func (failingOutbox) EnqueueMail(context.Context, *realm.OutboxMail) error { return errDiskFull }

func (f failingOutbox) InTx(ctx context.Context, fn func(tx realm.Store) error) error {
	return f.Store.InTx(ctx, func(tx realm.Store) error { return fn(failingOutbox{tx}) })
}

func TestLinkMailQueuedWithItsChange(t *testing.T) { eachBackend(t, testLinkMailQueuedWithItsChange) }

// testLinkMailQueuedWithItsChange: once a change that mails a link is
// acknowledged, its mail is in the database, sealed (neither the link's
// token nor the address in clear), for any node, this one restarted
// included: nothing waits in memory. A change whose mail cannot be queued
// is not made. A mail that does not open fails (mail.failed) and leaves.
func testLinkMailQueuedWithItsChange(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	ctx := t.Context()
	u := e.user("shop", "ada@example.com", nil, "")
	if err := e.svc.RequestPasswordReset(ctx, "shop", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "mia@acme.test", FirstName: "Mia", LastName: "M", Role: realm.RoleViewer}); err != nil {
		t.Fatal(err)
	}

	// The raw rows: three, sealed.
	rows, err := e.store.ClaimMail(ctx, e.now, e.now.Add(time.Minute), "peek", 10)
	if err != nil || len(rows) != 3 {
		t.Fatalf("outbox rows after three changes: %d, %v", len(rows), err)
	}
	for _, r := range rows {
		for _, secret := range []string{"token=", "ada@example.com", "mia@acme.test", "iam.example.test"} {
			if bytes.Contains(r.Sealed, []byte(secret)) || bytes.Contains(r.Sealed, []byte(url.QueryEscape(secret))) {
				t.Errorf("outbox row %s holds %q in clear", r.ID, secret)
			}
		}
		if err := e.store.RescheduleMail(ctx, r.ID, "peek", e.now); err != nil {
			t.Fatal(err)
		}
	}

	// Another MailQueue with the same key (a restarted node) opens them.
	restarted := &mailbox{t: t, q: e.mailQueue(testMailKey)}
	got := restarted.take()
	purposes := map[string]int{}
	for _, m := range got {
		purposes[m.Mail.Purpose]++
	}
	if len(got) != 3 || purposes[realm.PurposeSetPassword] != 2 || purposes[realm.PurposeResetPassword] != 1 {
		t.Fatalf("the restarted node took %+v", got)
	}
	for _, m := range got {
		if m.UserID == u.ID && m.Mail.Purpose == realm.PurposeResetPassword {
			if err := e.svc.SetPasswordWithLink(ctx, "shop", tokenOf(t, m.Mail.Link), "long enough pw", "long enough pw"); err != nil {
				t.Fatalf("the queued reset link does not work: %v", err)
			}
		}
	}

	// No outbox, no change.
	broken, err := realm.NewService(realm.ServiceConfig{Store: failingOutbox{e.store}, Keys: testKeys{},
		Mail: e.mails.q, Clock: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.CreateUser(e.admin, "shop", realm.UserInput{Email: "bo@example.com", FirstName: "Bo", LastName: "B"}); !errors.Is(err, errDiskFull) {
		t.Fatalf("create with a broken outbox: %v, want the outbox's error", err)
	}
	if users, _ := e.svc.ListUsers(e.admin, "shop", realm.ListOptions{}); len(users.Items) != 1 {
		t.Fatalf("a create whose mail could not be queued left a user: %+v", users.Items)
	}

	// Sealed with another key, a mail does not open there. A node started
	// with the wrong master key hands it back for later instead of
	// destroying it, and a node with the right key sends it.
	cy := e.user("shop", "cy@example.com", nil, "")
	other := &mailbox{t: t, q: e.mailQueue([]byte("another key, not the master one!"))}
	if got := other.take(); len(got) != 0 {
		t.Fatalf("a mail opened under the wrong key: %+v", got)
	}
	if ev, _ := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailFailed}); len(ev.Items) != 0 {
		t.Fatalf("a node with the wrong key failed a mail others can send: %+v", ev.Items)
	}
	sent := len(e.mails.take()) // take lists every mail it has sent so far
	e.now = e.now.Add(5 * time.Minute)
	if got := e.mails.take()[sent:]; len(got) != 1 || got[0].UserID != cy.ID {
		t.Fatalf("the right key's node after the hand-back took %+v, want cy's mail", got)
	}
	sent++
	// One that never decrypts fails once any link it could carry has
	// expired (12 h).
	e.user("shop", "dee@example.com", nil, "")
	e.now = e.now.Add(12*time.Hour + time.Second)
	if got := other.take(); len(got) != 0 {
		t.Fatalf("a mail opened under the wrong key: %+v", got)
	}
	ev, _ := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailFailed})
	if len(ev.Items) != 1 || !strings.Contains(ev.Items[0].Details["reason"].(string), "does not decrypt") {
		t.Fatalf("mail.failed events: %+v", ev.Items)
	}
	if got := e.mails.take()[sent:]; len(got) != 0 {
		t.Fatalf("the failed mail is still queued: %+v", got)
	}
}

func TestMailQueueLeaseAndRetry(t *testing.T) { eachBackend(t, testMailQueueLeaseAndRetry) }

// testMailQueueLeaseAndRetry, on the injected clock: a claim holds a mail
// for its lease against every other node; after it, another node takes the
// mail over and the first can no longer finish it (no event from it); a
// retry waits its backoff; the one delivery is recorded once, without the
// link, and the outbox ends empty. A final failure is mail.failed with the
// reason; a link that expired in the queue is never sent.
func testMailQueueLeaseAndRetry(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	ctx := t.Context()
	nodeA, nodeB := e.mailQueue(testMailKey), e.mailQueue(testMailKey)
	const lease = 30 * time.Second
	u := e.user("shop", "ada@example.com", nil, "")

	claim := func(q *realm.MailQueue) []realm.QueuedMail {
		t.Helper()
		got, err := q.Claim(ctx, 10, lease)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a := claim(nodeA)
	if len(a) != 1 || a[0].Attempts != 1 || a[0].UserID != u.ID {
		t.Fatalf("node A claimed %+v", a)
	}
	if got := claim(nodeB); len(got) != 0 {
		t.Fatalf("node B claimed a held mail: %+v", got)
	}
	e.now = e.now.Add(lease - time.Second)
	if got := claim(nodeB); len(got) != 0 {
		t.Fatalf("node B claimed before the lease ended: %+v", got)
	}
	// Node A stops renewing (it hangs or died); the lease runs out.
	e.now = e.now.Add(time.Second)
	b := claim(nodeB)
	if len(b) != 1 || b[0].ID != a[0].ID || b[0].Attempts != 2 {
		t.Fatalf("node B after the lease: %+v", b)
	}
	if err := nodeA.Delivered(ctx, a[0], "x@test"); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("node A finishing a mail it lost: %v, want ErrNotFound", err)
	}
	if err := nodeA.Extend(ctx, a[0], lease); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("node A renewing a lease it lost: %v, want ErrNotFound", err)
	}
	// Node B's attempt fails; the retry waits 4 s.
	if err := nodeB.Retry(ctx, b[0], 4*time.Second); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(4*time.Second - time.Microsecond)
	if got := claim(nodeA); len(got) != 0 {
		t.Fatalf("claimed before the backoff ended: %+v", got)
	}
	e.now = e.now.Add(time.Microsecond)
	a = claim(nodeA)
	if len(a) != 1 || a[0].Attempts != 3 {
		t.Fatalf("claim after the backoff: %+v", a)
	}
	if err := nodeA.Extend(ctx, a[0], lease); err != nil {
		t.Fatalf("renewing a held lease: %v", err)
	}
	if err := nodeA.Delivered(ctx, a[0], a[0].ID+"@vault.test"); err != nil {
		t.Fatal(err)
	}
	ev, _ := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailSent})
	if len(ev.Items) != 1 {
		t.Fatalf("mail.sent events: %+v", ev.Items)
	}
	d := ev.Items[0]
	if d.TargetID != u.ID || d.ActorType != realm.System.ActorType || d.Details["message_id"] != a[0].ID+"@vault.test" ||
		d.Details["purpose"] != realm.PurposeSetPassword || fmt.Sprint(d.Details["attempts"]) != "3" || len(d.Details) != 3 {
		t.Fatalf("mail.sent event %+v", d)
	}
	e.now = e.now.Add(time.Hour)
	if got := claim(nodeB); len(got) != 0 {
		t.Fatalf("a delivered mail is still queued: %+v", got)
	}

	// A final failure.
	e.user("shop", "bo@example.com", nil, "")
	f := claim(nodeA)
	if len(f) != 1 {
		t.Fatalf("claimed %+v", f)
	}
	if err := nodeA.Failed(ctx, f[0], "550 no such user"); err != nil {
		t.Fatal(err)
	}
	ev, _ = e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailFailed})
	if len(ev.Items) != 1 || ev.Items[0].Details["reason"] != "550 no such user" || ev.Items[0].TargetID != f[0].UserID {
		t.Fatalf("mail.failed events %+v", ev.Items)
	}

	// A reset link (30 minutes) that waited 30 minutes is not sent.
	if err := e.svc.RequestPasswordReset(ctx, "shop", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(30 * time.Minute)
	if got := claim(nodeB); len(got) != 0 {
		t.Fatalf("an expired link was handed out for sending: %+v", got)
	}
	ev, _ = e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: realm.EventMailFailed})
	if len(ev.Items) != 2 || !strings.Contains(ev.Items[0].Details["reason"].(string)+ev.Items[1].Details["reason"].(string), "expired") {
		t.Fatalf("mail.failed events %+v", ev.Items)
	}
	for _, it := range ev.Items {
		for _, v := range it.Details {
			if s, _ := v.(string); strings.Contains(s, "token") || strings.Contains(s, "http") {
				t.Errorf("a mail event carries a link: %+v", it)
			}
		}
	}
}

// TestMemberInvitation (issue 19): a console member's invitation names the
// organization and the role; an owner may resend it while the member has
// no password (the older link stops working), and not after.
func TestMemberInvitation(t *testing.T) { eachBackend(t, testMemberInvitation) }

func testMemberInvitation(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.mails.take()
	m, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "mia@acme.test", FirstName: "Mia", LastName: "M", Role: realm.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	org, err := e.svc.CurrentOrg(e.owner)
	if err != nil {
		t.Fatal(err)
	}
	first := e.mails.all()
	if len(first) != 1 || first[0].OrgName != org.Name || first[0].Role != "admin" {
		t.Fatalf("invitation mail: %+v, want it to name %q and admin", first, org.Name)
	}
	got, err := e.svc.GetMember(e.owner, m.ID)
	if err != nil || !got.Invited {
		t.Fatalf("a member without a password: invited %v, %v", got != nil && got.Invited, err)
	}
	if _, err := e.svc.ResendInvitation(e.admin, m.ID); !errors.Is(err, realm.ErrForbidden) {
		t.Errorf("an admin resending: %v, want forbidden (owners invite)", err)
	}
	if _, err := e.svc.ResendInvitation(e.owner, m.ID); err != nil {
		t.Fatal(err)
	}
	all := e.mails.all() // the outbox keeps both until they are delivered
	if len(all) != 2 || all[1].OrgName != org.Name || all[1].Role != "admin" || all[1].Link == first[0].Link {
		t.Fatalf("resent invitation: %+v", all)
	}
	again := all[1:]
	ctx := t.Context()
	if ok, _ := e.svc.ActionLinkUsable(ctx, realm.ConsoleRealm, tokenOf(t, first[0].Link)); ok {
		t.Error("the first invitation's link still works after a resend")
	}
	const pw = "copper lantern orbit meadow"
	if err := e.svc.SetPasswordWithLink(ctx, realm.ConsoleRealm, tokenOf(t, again[0].Link), pw, pw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResendInvitation(e.owner, m.ID); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("resending to a member with a password: %v, want conflict", err)
	}
	if got, _ := e.svc.GetMember(e.owner, m.ID); got.Invited {
		t.Error("a member with a password is still invited")
	}
}
