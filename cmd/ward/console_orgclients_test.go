package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// TestConsoleBrowserOrgClientsAndInvitations (issue 19): an owner manages
// the organization's admin API clients in the console (created with a role,
// its secret shown once and working, the role changed, the secret rotated,
// disabled), and resends a member's invitation, which names the
// organization and the role. Through the real ward binary.
func TestConsoleBrowserOrgClientsAndInvitations(t *testing.T) {
	e := newConsoleEnv(t)
	pw := e.member(t, "olga@acme.test", "owner")
	tab := e.signedIn(t, "olga@acme.test", pw, 120*time.Second)

	e.visit(t, tab, "/console/api-clients")
	fill(t, tab, map[string]string{"#api-client-name": "CI deploys", "#member-role": "admin"})
	submit(t, tab, `form[aria-labelledby="new-api-client"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	clientID, secret := strings.TrimSpace(text(t, tab, "#client-id-value")), strings.TrimSpace(text(t, tab, "#client-secret"))
	if clientID == "" || len(secret) < 20 || text(t, tab, "[data-api-client-role]") != "admin" {
		t.Fatalf("the new API client's page: id %q, secret of %d characters, role %q", clientID, len(secret), text(t, tab, "[data-api-client-role]"))
	}
	api := func(sec string) (*admin, error) {
		tok, err := clientToken(context.Background(), e.s.URL, "console", clientID, sec, oauth2.AuthStyleInHeader)
		if err != nil {
			return nil, err
		}
		return &admin{t: t, base: e.s.URL, token: tok.AccessToken}, nil
	}
	a, err := api(secret)
	if err != nil {
		t.Fatalf("the shown secret: %v", err)
	}
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "by-ci"})
	// Shown once: the page again has no secret.
	e.visit(t, tab, "/console/api-clients/"+clientID)
	if count(t, tab, "#client-secret") != 0 {
		t.Error("the secret is shown a second time")
	}

	// A viewer now: new tokens may read, not write.
	fill(t, tab, map[string]string{"#member-role": "viewer"})
	submit(t, tab, `form[aria-labelledby="edit-api-client"] button[type=submit]`)
	if a, err = api(secret); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := a.do("POST", "/admin/v1/realms", map[string]any{"name": "by-ci-2"}); status != 403 {
		t.Errorf("a viewer API client creating a realm: %d, want 403", status)
	}
	a.must(200, "GET", "/admin/v1/realms", nil)

	// A new secret, no grace: the old one stops working.
	submit(t, tab, `form[aria-labelledby="rotate-api-client"] button[type=submit]`)
	waitPage(t, tab, "dialog#secret-dialog[open]")
	newSecret := strings.TrimSpace(text(t, tab, "#client-secret"))
	if _, err := api(secret); err == nil {
		t.Error("the old secret works after a rotation without grace")
	}
	if _, err := api(newSecret); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	// Disabled: no token.
	e.visit(t, tab, "/console/api-clients/"+clientID)
	submit(t, tab, `form[aria-labelledby="active-api-client"] button[type=submit]`)
	if _, err := api(newSecret); err == nil || text(t, tab, "h1 [data-status]") != "Disabled" {
		t.Errorf("after disabling: token err %v, status %q", err, text(t, tab, "h1 [data-status]"))
	}
	e.visit(t, tab, "/console/api-clients")
	if count(t, tab, `tr[data-api-client="`+clientID+`"]`) != 1 {
		t.Errorf("the list lacks the API client:\n%s", text(t, tab, "main"))
	}
	screenshot(t, tab, "api-clients")

	// An invited member: shown as such, and the invitation resent names
	// the organization and the role.
	e.visit(t, tab, "/console/members")
	fill(t, tab, map[string]string{"#member-email": "nina@acme.test", "#member-first": "Nina", "#member-last": "N", "#member-role": "viewer"})
	submit(t, tab, `form[aria-labelledby="add-member"] button[type=submit]`)
	if n := count(t, tab, `tr[data-member="nina@acme.test"] [data-invited]`); n != 1 {
		t.Errorf("the members list does not mark nina invited:\n%s", text(t, tab, "main"))
	}
	if err := clickLink(tab, `tr[data-member="nina@acme.test"] a`); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "[data-member-status]")
	if got := text(t, tab, "[data-member-status]"); got != "Invited — no password yet" {
		t.Errorf("a new member's status: %q", got)
	}
	submit(t, tab, "form[data-resend] button[type=submit]")
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "A new invitation was sent to nina@acme.test") {
		t.Errorf("after resending: flash %q", flash)
	}
	subjects := 0
	dir := filepath.Join(e.w.dataDir, "outbox")
	for deadline := time.Now().Add(20 * time.Second); subjects < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		subjects = 0
		entries, _ := os.ReadDir(dir)
		for _, f := range entries {
			raw, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil || !strings.HasSuffix(f.Name(), ".eml") {
				continue
			}
			if m := mailtest.Parse(t, raw); strings.Contains(m.To, "nina@acme.test") {
				if !strings.HasPrefix(m.Subject, "You are invited to ") || !strings.HasSuffix(m.Subject, " as viewer") {
					t.Errorf("invitation subject %q", m.Subject)
				}
				subjects++
			}
		}
	}
	if subjects != 2 {
		t.Errorf("%d invitation mails to nina, want 2 (the first and the resent one)", subjects)
	}
}
