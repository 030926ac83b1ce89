package realm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

func TestLinkMails(t *testing.T) { eachBackend(t, testLinkMails) }

func testLinkMails(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.realm("shop")
	no := false

	// Creating a user mails one absolute set-password link, after commit.
	u := e.user("shop", "ada@example.com", nil, "")
	sent := e.mails.all()
	if len(sent) != 1 {
		t.Fatalf("%d mails after creating a user, want 1", len(sent))
	}
	m := sent[0]
	if m.Purpose != realm.PurposeSetPassword || m.To != "ada@example.com" || m.FirstName != "Ann" || m.UserID != u.ID ||
		!strings.HasPrefix(m.Link, "https://iam.example.test/realms/shop/login-actions/set-password?token=") {
		t.Fatalf("mail %+v", m)
	}

	// send_set_password_email:false mails nothing; a refused create mails
	// nothing either.
	if _, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "quiet@example.com", FirstName: "Q", LastName: "Q", SendSetPasswordEmail: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "ADA@example.com", FirstName: "A", LastName: "B"}); !errors.Is(err, realm.ErrConflict) {
		t.Fatalf("duplicate email: %v", err)
	}
	if n := len(e.mails.all()); n != 1 {
		t.Fatalf("%d mails, want still 1", n)
	}

	// Asking again mails a new link; viewers may not; deactivated users get
	// none.
	if err := e.svc.SendSetPasswordEmail(e.viewer, "shop", u.ID); !errors.Is(err, realm.ErrForbidden) {
		t.Fatalf("viewer: %v", err)
	}
	if err := e.svc.SendSetPasswordEmail(e.admin, "shop", u.ID); err != nil {
		t.Fatal(err)
	}
	sent = e.mails.all()
	if len(sent) != 2 || sent[1].Link == sent[0].Link {
		t.Fatalf("second mail: %+v", sent)
	}
	inactive := false
	if _, err := e.svc.UpdateUser(e.admin, "shop", u.ID, realm.UserPatch{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SendSetPasswordEmail(e.admin, "shop", u.ID); !errors.Is(err, realm.ErrConflict) {
		t.Fatalf("deactivated user: %v, want conflict", err)
	}
	if _, err := e.svc.GetUser(e.admin, "other", u.ID); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("unknown realm: %v", err)
	}

	// A new console member gets a link in the console realm.
	if _, err := e.svc.CreateMember(e.owner, realm.MemberInput{Email: "mia@acme.test", FirstName: "Mia", LastName: "M", Role: realm.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	sent = e.mails.all()
	if len(sent) != 3 || !strings.Contains(sent[2].Link, "/realms/console/login-actions/set-password?token=") || sent[2].To != "mia@acme.test" ||
		sent[2].OrgID != e.orgID {
		t.Fatalf("member mail: %+v", sent)
	}
	// A failed invitation shows in the inviting org's log.
	e.mailFailures().Record(t.Context(), sent[2].OrgID, sent[2].RealmID, sent[2].UserID, realm.PurposeSetPassword, "550 mailbox unavailable")
	if orgEv, _ := e.svc.ListEvents(e.owner, "", realm.EventFilter{Type: "mail.failed"}); len(orgEv.Items) != 1 {
		t.Fatalf("org-level mail.failed events: %+v", orgEv.Items)
	}

	// A mail that cannot be queued does not undo the user; it is an event.
	e.mails.fail = errors.New("queue full")
	bo, err := e.svc.CreateUser(e.admin, "shop", realm.UserInput{Email: "bo@example.com", FirstName: "Bo", LastName: "B"})
	if err != nil {
		t.Fatalf("a mail failure failed the create: %v", err)
	}
	if _, err := e.svc.GetUser(e.admin, "shop", bo.ID); err != nil {
		t.Fatal(err)
	}
	ev, err := e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: "mail.failed"})
	if err != nil || len(ev.Items) != 1 || ev.Items[0].TargetID != bo.ID {
		t.Fatalf("mail.failed events %+v, %v", ev.Items, err)
	}
	// And the delivery callback records final failures the same way.
	e.mailFailures().Record(t.Context(), "", bo.RealmID, bo.ID, realm.PurposeSetPassword, "550 no such user")
	ev, _ = e.svc.ListEvents(e.owner, "shop", realm.EventFilter{Type: "mail.failed"})
	// (The test clock stands still, so both events have the same time.)
	if len(ev.Items) != 2 || (ev.Items[0].Details["reason"] != "550 no such user" && ev.Items[1].Details["reason"] != "550 no such user") {
		t.Fatalf("mail.failed events after Record: %+v", ev.Items)
	}
}
