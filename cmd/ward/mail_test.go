package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

var setPasswordLink = regexp.MustCompile(`http://127\.0\.0\.1:\d+/realms/([a-z0-9-]+)/login-actions/set-password\?token=[A-Za-z0-9_%-]+`)

// adminFor bootstraps an org in w, starts ward and returns an admin client.
func adminFor(t testing.TB, w *wardEnv, serveArgs ...string) (*server, *admin) {
	t.Helper()
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	boot := parseBootstrap(t, out)
	s := w.serve(t, serveArgs...)
	tok, err := clientToken(context.Background(), s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	return s, &admin{t: t, base: s.URL, token: tok.AccessToken}
}

// TestSetPasswordMailOverSMTP: creating a user mails a set-password link
// through a real SMTP server; asking again mails a new link; a deactivated
// user gets none.
func TestSetPasswordMailOverSMTP(t *testing.T) {
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none", "WARD_MAIL_FROM=Vault IAM <iam@vault.test>")
	s, a := adminFor(t, w)

	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault Assets"})
	u := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})
	a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "quiet@vault.test", "first_name": "Q", "last_name": "Q", "send_set_password_email": false})

	got := smtpSrv.Wait(t, 1, 20*time.Second)
	m := mailtest.Parse(t, got[0].Data)
	if !strings.Contains(m.To, "ada@vault.test") || !strings.Contains(m.From, "iam@vault.test") {
		t.Errorf("mail From/To = %q / %q", m.From, m.To)
	}
	link1 := setPasswordLink.FindString(m.Text)
	if link1 == "" || !strings.HasPrefix(link1, s.URL+"/realms/vault/") || !strings.Contains(m.HTML, link1) {
		t.Fatalf("mail lacks an absolute set-password link for realm vault in both parts:\ntext: %s\nhtml: %s", m.Text, m.HTML)
	}
	if !strings.Contains(m.Text, "Ada") || !strings.Contains(m.Text, "Vault Assets") {
		t.Errorf("mail does not greet the user or name the realm:\n%s", m.Text)
	}

	id := u["id"].(string)
	if status, _, raw := a.do("POST", "/admin/v1/realms/vault/users/"+id+"/set-password-email", nil); status != 202 {
		t.Fatalf("set-password-email = %d: %s", status, raw)
	}
	got = smtpSrv.Wait(t, 2, 20*time.Second)
	link2 := setPasswordLink.FindString(mailtest.Parse(t, got[1].Data).Text)
	if link2 == "" || link2 == link1 {
		t.Fatalf("the second mail carries no new link (%q vs %q)", link2, link1)
	}

	a.must(200, "PATCH", "/admin/v1/realms/vault/users/"+id, map[string]any{"active": false})
	a.must(409, "POST", "/admin/v1/realms/vault/users/"+id+"/set-password-email", nil)

	// Only Ada's two mails: the quiet user asked for none, the deactivated
	// user got none.
	time.Sleep(300 * time.Millisecond)
	if n := len(smtpSrv.Received()); n != 2 {
		t.Errorf("%d mails sent, want 2", n)
	}
	if strings.Contains(s.stderr.String(), link1) {
		t.Errorf("with SMTP configured, the set-password link appears in the log")
	}
}

// TestSetPasswordMailToOutbox: without SMTP, the mail is an .eml file in the
// outbox and its link is logged.
func TestSetPasswordMailToOutbox(t *testing.T) {
	w := newWardEnv(t, "")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})

	outbox := filepath.Join(w.dataDir, "outbox")
	var files []string
	for deadline := time.Now().Add(20 * time.Second); len(files) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(outbox, "*.eml"))
	}
	if len(files) != 1 {
		t.Fatalf("outbox holds %d .eml files, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	m := mailtest.Parse(t, raw)
	link := setPasswordLink.FindString(m.Text)
	if link == "" || !strings.Contains(m.To, "ada@vault.test") {
		t.Fatalf("outbox mail to %q without a set-password link:\n%s", m.To, m.Text)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("outbox file mode %v, want 0600", fi.Mode().Perm())
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.stderr.String(), link); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the outbox link is not in the log:\n%s", s.stderr.String())
		}
	}
}
