package mail

import (
	"encoding/json"
	"github.com/wardiam/ward/realm/mail/mailtest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutboxWritesPrivateParseableEMLAndLogsLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "outbox")
	logger, logs := newLogger()
	ob, err := NewOutbox(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: ob, Logger: logger}, o)
	resetLink := "https://iam.example.com/realms/acme/login-actions/set-password?token=reset_42"
	m.Enqueue(setPasswordMail())
	m.Enqueue(Mail{Kind: KindResetPassword, To: "bob@example.com", FirstName: "Bob", RealmName: "Acme", Link: resetLink})
	for range 2 {
		if res, ok := o.wait(t); !ok {
			t.Fatalf("outbox delivery failed: %v", res.Err)
		}
	}

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("outbox dir mode = %v, want 0700", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("outbox holds %d entries, want 2 (no temp files left): %v", len(entries), entries)
	}
	links := map[string]string{} // kind → link found in the file
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") {
			t.Errorf("unexpected file %q", name)
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, info.Mode().Perm())
		}
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		p := mailtest.Parse(t, raw)
		switch {
		case strings.Contains(name, "-set_password-"):
			if p.To != "<ada@example.com>" && p.To != "ada@example.com" || p.Subject != "Set your password for Acme Assets" {
				t.Errorf("set-password mail: To %q Subject %q", p.To, p.Subject)
			}
			if strings.Contains(p.Text, testLink) && strings.Contains(p.HTML, testLink) {
				links["set_password"] = testLink
			}
		case strings.Contains(name, "-reset_password-"):
			if strings.Contains(p.Text, resetLink) && strings.Contains(p.HTML, resetLink) {
				links["reset_password"] = resetLink
			}
		default:
			t.Errorf("file %q names no kind", name)
		}
	}
	if len(links) != 2 {
		t.Errorf("links found in files: %v, want both kinds with the link in text and html", links)
	}

	// Each mail logs its link once, at Info, with the file it went to.
	var logged []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "mail written to outbox" {
			logged = append(logged, rec)
		}
	}
	if len(logged) != 2 {
		t.Fatalf("outbox log lines = %d, want 2:\n%s", len(logged), logs.String())
	}
	seen := map[string]bool{}
	for _, rec := range logged {
		if rec["level"] != "INFO" {
			t.Errorf("level = %v, want INFO", rec["level"])
		}
		link, _ := rec["link"].(string)
		seen[link] = true
		file, _ := rec["file"].(string)
		if _, err := os.Stat(file); err != nil {
			t.Errorf("logged file %q: %v", file, err)
		}
	}
	if !seen[testLink] || !seen[resetLink] {
		t.Errorf("logged links = %v", seen)
	}
	if strings.Contains(logs.String(), "Hello") {
		t.Error("log carries the mail body")
	}
}

func TestOutboxTightensExistingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutbox(dir, nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("mode = %v, want 0700", st.Mode().Perm())
	}
	if _, err := NewOutbox("", nil); err == nil {
		t.Error("empty dir accepted")
	}
}

func TestOutboxFileIsUnwritableDirectoryError(t *testing.T) {
	// A path whose parent is a file cannot become a directory.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutbox(filepath.Join(f, "outbox"), nil); err == nil {
		t.Error("NewOutbox under a regular file succeeded")
	}
}
