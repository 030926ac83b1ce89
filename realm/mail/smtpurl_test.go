package mail

import (
	"strings"
	"testing"
)

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		url  string
		want SMTPSettings
	}{
		{"smtp://mail.example.com", SMTPSettings{Host: "mail.example.com", Port: 587, StartTLS: StartTLSOpportunistic}},
		{"smtp://u:p@mail.example.com", SMTPSettings{Host: "mail.example.com", Port: 587, StartTLS: StartTLSRequired, Username: "u", Password: "p"}},
		{"smtp://u:p@mail.example.com:25?starttls=opportunistic", SMTPSettings{Host: "mail.example.com", Port: 25, StartTLS: StartTLSOpportunistic, Username: "u", Password: "p"}},
		{"smtp://127.0.0.1:2525?starttls=none", SMTPSettings{Host: "127.0.0.1", Port: 2525, StartTLS: StartTLSNone}},
		{"smtp://localhost?starttls=REQUIRED", SMTPSettings{Host: "localhost", Port: 587, StartTLS: StartTLSRequired}},
		{"smtps://mail.example.com", SMTPSettings{Host: "mail.example.com", Port: 465, ImplicitTLS: true, StartTLS: StartTLSNone}},
		{"smtps://a%40b.c:p%3Ass@[::1]:1465?auth=scram-sha-256", SMTPSettings{Host: "::1", Port: 1465, ImplicitTLS: true, StartTLS: StartTLSNone, Username: "a@b.c", Password: "p:ss", Auth: "SCRAM-SHA-256"}},
	}
	for _, c := range cases {
		got, err := ParseSMTPURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.url, got, c.want)
		}
	}
}

func TestParseSMTPURLRejects(t *testing.T) {
	bad := []string{
		"",
		"http://mail.example.com",
		"smtp://",
		"smtp://mail.example.com:0",
		"smtp://mail.example.com:99999",
		"smtp://mail.example.com/path",
		"smtp://mail.example.com?starttls=maybe",
		"smtp://mail.example.com?tls=off",
		"smtps://mail.example.com?starttls=required",
		"smtp://mail.example.com?auth=plain",
		"smtp://u:secret@mail.example.com?auth=ntlm",
		"smtp://:secret@mail.example.com",
		"smtp://u:secret@mail.example.com:port",
		"smtp://u:secret@mail.example.com%zz",
	}
	for _, raw := range bad {
		_, err := ParseSMTPURL(raw)
		if err == nil {
			t.Errorf("%q accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error shows the password: %v", raw, err)
		}
	}
}

func TestNewSenderPicksSMTPOrOutbox(t *testing.T) {
	logger, logs := newLogger()
	s, err := NewSender(SenderConfig{SMTPURL: "smtp://u:topsecret@mail.example.com", OutboxDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*SMTP); !ok {
		t.Errorf("with a URL: %T, want *SMTP", s)
	}
	dir := t.TempDir() + "/outbox"
	s, err = NewSender(SenderConfig{OutboxDir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if ob, ok := s.(*Outbox); !ok || ob.Dir() != dir {
		t.Errorf("without a URL: %T, want *Outbox in %s", s, dir)
	}
	if _, err := NewSender(SenderConfig{}); err == nil {
		t.Error("no URL and no outbox accepted")
	}
	if _, err := NewSender(SenderConfig{SMTPURL: "smtp://u:topsecret@mail.example.com?starttls=bogus"}); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("bad URL: %v", err)
	}
	l := logs.String()
	if strings.Contains(l, "topsecret") || !strings.Contains(l, "u:xxxxx@mail.example.com:587") || !strings.Contains(l, dir) {
		t.Errorf("startup log:\n%s", l)
	}
}
