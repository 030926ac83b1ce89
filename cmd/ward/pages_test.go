package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

var (
	csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	nonceAttr = regexp.MustCompile(`nonce="[^"]+"`)
)

// browser is an HTTP client with a cookie jar, as a person's browser.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// page fetches a login-actions page and returns its body and CSRF token.
func page(t testing.TB, c *http.Client, link string) (*http.Response, string, string) {
	t.Helper()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("GET %s = %d without a CSRF field:\n%s", link, resp.StatusCode, body)
	}
	return resp, body, m[1]
}

func post(t testing.TB, c *http.Client, target string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(t, resp)
}

// TestSetPasswordAndResetPages: the emailed link opens a CSRF-protected,
// unframeable page that sets the password once; the reset page answers the
// same for every email and mails a 30-minute link to real accounts.
func TestSetPasswordAndResetPages(t *testing.T) {
	smtpSrv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_SMTP_URL=smtp://"+smtpSrv.Addr+"?starttls=none")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault Assets"})
	a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "L"})
	link := setPasswordLink.FindString(mailtest.Parse(t, smtpSrv.Wait(t, 1, 20*time.Second)[0].Data).Text)
	if link == "" {
		t.Fatal("no link mailed")
	}
	target := strings.SplitN(link, "?", 2)[0]
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])

	b := browser(t)
	resp, body, csrf := page(t, b, link)
	if resp.StatusCode != 200 || !strings.Contains(body, "Vault Assets") || !strings.Contains(body, `name="password_confirm"`) {
		t.Fatalf("set-password page = %d:\n%s", resp.StatusCode, body)
	}
	for header, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if !strings.Contains(resp.Header.Get(header), want) {
			t.Errorf("%s = %q, want %q", header, resp.Header.Get(header), want)
		}
	}
	form := url.Values{"csrf_token": {csrf}, "token": token["token"], "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}

	// Forged or missing CSRF: refused, nothing changes.
	if status, _ := post(t, http.DefaultClient, target, form); status != 403 {
		t.Errorf("POST without the CSRF cookie = %d, want 403", status)
	}
	forged := url.Values{"csrf_token": {"forged"}, "token": form["token"], "password": form["password"], "password_confirm": form["password"]}
	if status, _ := post(t, b, target, forged); status != 403 {
		t.Errorf("POST with a forged CSRF token = %d, want 403", status)
	}
	// A too-short password is refused by field, and keeps the link good.
	_, _, csrf = page(t, b, link)
	short := url.Values{"csrf_token": {csrf}, "token": form["token"], "password": {"short"}, "password_confirm": {"short"}}
	if status, body := post(t, b, target, short); status != 400 || !strings.Contains(body, "at least 10 characters") {
		t.Errorf("short password = %d:\n%s", status, body)
	}
	// A huge form is refused.
	_, _, csrf = page(t, b, link)
	huge := url.Values{"csrf_token": {csrf}, "token": form["token"], "password": {strings.Repeat("x", 100<<10)}}
	if status, _ := post(t, b, target, huge); status != 413 {
		t.Errorf("huge form = %d, want 413", status)
	}

	_, _, csrf = page(t, b, link)
	form.Set("csrf_token", csrf)
	if status, body := post(t, b, target, form); status != 200 || !strings.Contains(body, "Your password is set") {
		t.Fatalf("set password = %d:\n%s", status, body)
	}
	// Used: its page says so as it opens, with no form (issue 19), and a
	// form sent again (the CSRF cookie still set) is refused too.
	used, uerr := b.Get(link)
	if uerr != nil {
		t.Fatal(uerr)
	}
	if body := readBody(t, used); used.StatusCode != 400 || !strings.Contains(body, "invalid, expired or already used") ||
		strings.Contains(body, "<form") {
		t.Errorf("the used link's page = %d, want 400 saying so without a form:\n%s", used.StatusCode, body)
	}
	if status, body := post(t, b, target, form); status != 400 || !strings.Contains(body, "invalid, expired or already used") {
		t.Errorf("second use of the link = %d, want 400:\n%s", status, body)
	}

	// Forgot password: the same answer for a stranger and for Ada; only Ada
	// gets a mail, with a 30-minute link that works.
	resetURL := s.URL + "/realms/vault/login-actions/reset-password"
	var answers []string
	for _, email := range []string{"stranger@vault.test", "ada@vault.test"} {
		_, _, csrf := page(t, b, resetURL)
		status, body := post(t, b, resetURL, url.Values{"csrf_token": {csrf}, "email": {email}})
		if status != 200 {
			t.Fatalf("reset for %s = %d", email, status)
		}
		// Per-response randomness (CSRF token, CSP nonce) aside.
		answers = append(answers, nonceAttr.ReplaceAllString(csrfField.ReplaceAllString(body, ""), ""))
	}
	if answers[0] != answers[1] {
		t.Errorf("the reset page answers differently for unknown and known emails")
	}
	mails := smtpSrv.Wait(t, 2, 20*time.Second)
	reset := mailtest.Parse(t, mails[1].Data)
	resetLink := setPasswordLink.FindString(reset.Text)
	if !strings.Contains(reset.To, "ada@vault.test") || !strings.Contains(reset.Text, "30 minutes") || resetLink == "" {
		t.Fatalf("reset mail to %q:\n%s", reset.To, reset.Text)
	}
	_, _, csrf = page(t, b, resetLink)
	rt, _ := url.ParseQuery(strings.SplitN(resetLink, "?", 2)[1])
	if status, body := post(t, b, target, url.Values{"csrf_token": {csrf}, "token": rt["token"], "password": {"a brand new secret"}, "password_confirm": {"a brand new secret"}}); status != 200 {
		t.Fatalf("reset link = %d:\n%s", status, body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(smtpSrv.Received()); n != 2 {
		t.Errorf("%d mails, want 2 (no mail for the stranger)", n)
	}

	// Unknown realm: a plain 404 page.
	resp, err := http.Get(s.URL + "/realms/nowhere/login-actions/reset-password")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown realm = %d, want 404", resp.StatusCode)
	}
}
