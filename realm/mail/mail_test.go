package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wardiam/ward/realm/mail/mailtest"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testLink = "https://iam.example.com/realms/acme/login-actions/set-password?token=tok_3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e"

// outcomes collects the callbacks of a Mailer.
type outcomes struct {
	delivered chan Result
	failed    chan Result
}

func newOutcomes() *outcomes {
	return &outcomes{delivered: make(chan Result, 100), failed: make(chan Result, 100)}
}

func (o *outcomes) wait(t *testing.T) (Result, bool) {
	t.Helper()
	select {
	case r := <-o.delivered:
		return r, true
	case r := <-o.failed:
		return r, false
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery outcome within 20s")
		return Result{}, false
	}
}

// logBuffer is a concurrency-safe sink for a JSON slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func smtpSender(t *testing.T, rawURL string, cfg SMTPConfig) *SMTP {
	t.Helper()
	cfg.URL = rawURL
	cfg.Timeout = 5 * time.Second
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setPasswordMail() Mail {
	return Mail{
		Kind: KindSetPassword, To: "ada@example.com", FirstName: "Ada",
		RealmName: "Acme Assets", Link: testLink, RealmID: "rlm_1", UserID: "usr_1",
	}
}

func TestSMTPStartTLSAuthDeliversSetPasswordMail(t *testing.T) {
	cert, pool := mailtest.SelfSignedCert(t)
	srv := mailtest.Start(t, &mailtest.Server{User: "ward", Pass: "p@ss:w/rd%"}, mailtest.StartTLS, cert)
	pass := url.UserPassword("ward", "p@ss:w/rd%").String()
	sender := smtpSender(t, "smtp://"+pass+"@"+srv.Addr, SMTPConfig{RootCAs: pool})
	if s := sender.String(); strings.Contains(s, "p@ss") || !strings.Contains(s, "starttls=required") {
		t.Errorf("String() = %q: must hide the password and show starttls=required (credentials given)", s)
	}
	o := newOutcomes()
	logger, logs := newLogger()
	m := newMailer(t, Config{Sender: sender, From: "Acme IAM <iam@acme.example>", Logger: logger}, o)

	in := setPasswordMail()
	in.FirstName = "Zoë <b>"
	id := m.Enqueue(in)
	res, ok := o.wait(t)
	if !ok {
		t.Fatalf("delivery failed: %v", res.Err)
	}
	if res.Attempts != 1 || res.Kind != KindSetPassword || res.RealmID != "rlm_1" || res.UserID != "usr_1" || res.To != "ada@example.com" || res.MessageID == "" {
		t.Errorf("result = %+v", res)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("server mailtest.Received %d mails, want 1", len(got))
	}
	r := got[0]
	if !r.TLS {
		t.Error("mail was not sent over STARTTLS")
	}
	if r.AuthUser != "ward" {
		t.Errorf("AUTH user = %q, want ward", r.AuthUser)
	}
	if r.From != "iam@acme.example" || len(r.To) != 1 || r.To[0] != "ada@example.com" {
		t.Errorf("envelope from %q to %v", r.From, r.To)
	}
	p := mailtest.Parse(t, r.Data)
	if addr, err := netmail.ParseAddress(p.From); err != nil || addr.Address != "iam@acme.example" || addr.Name != "Acme IAM" {
		t.Errorf("From = %q", p.From)
	}
	if addr, err := netmail.ParseAddress(p.To); err != nil || addr.Address != "ada@example.com" {
		t.Errorf("To = %q", p.To)
	}
	if p.Subject != "Set your password for Acme Assets" {
		t.Errorf("Subject = %q", p.Subject)
	}
	// The Message-ID is the queue ID under the sender's domain: the same on
	// every attempt and every node.
	if p.MessageID != "<"+res.MessageID+">" || res.MessageID != id+"@acme.example" {
		t.Errorf("Message-ID = %q, result %q", p.MessageID, res.MessageID)
	}
	if p.AutoSubmitted != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", p.AutoSubmitted)
	}
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		if !strings.Contains(body, testLink) && !strings.Contains(body, strings.ReplaceAll(testLink, "&", "&amp;")) {
			t.Errorf("%s part lacks the link:\n%s", name, body)
		}
		if !strings.Contains(body, "Acme Assets") || !strings.Contains(body, "12 hours") {
			t.Errorf("%s part lacks realm name or validity:\n%s", name, body)
		}
	}
	if !strings.Contains(p.Text, "Hello Zoë <b>,") {
		t.Errorf("text part greets wrongly:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, "Hello Zoë &lt;b&gt;,") || strings.Contains(p.HTML, "Zoë <b>") {
		t.Errorf("html part does not escape the first name:\n%s", p.HTML)
	}
	if strings.Contains(p.HTML, `href="`+testLink+`"`) == false {
		t.Errorf("html part has no anchor to the link:\n%s", p.HTML)
	}
	if l := logs.String(); strings.Contains(l, "tok_") || strings.Contains(l, "p@ss") {
		t.Errorf("logs carry the link or password:\n%s", l)
	}
}

func TestSMTPImplicitTLSDeliversResetMail(t *testing.T) {
	cert, pool := mailtest.SelfSignedCert(t)
	srv := mailtest.Start(t, &mailtest.Server{}, mailtest.Implicit, cert)
	o := newOutcomes()
	m := newMailer(t, Config{Sender: smtpSender(t, "smtps://"+srv.Addr, SMTPConfig{RootCAs: pool})}, o)
	resetLink := "https://iam.example.com/realms/acme/login-actions/set-password?token=reset_77"
	m.Enqueue(Mail{Kind: KindResetPassword, To: "Bob <bob@example.com>", FirstName: "Bob", RealmName: "Acme", Link: resetLink})
	if res, ok := o.wait(t); !ok {
		t.Fatalf("delivery failed: %v", res.Err)
	}
	got := srv.Received()
	if len(got) != 1 || !got[0].TLS {
		t.Fatalf("mailtest.Received %d mails (tls=%v)", len(got), len(got) == 1 && got[0].TLS)
	}
	p := mailtest.Parse(t, got[0].Data)
	if p.Subject != "Reset your password for Acme" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if addr, _ := netmail.ParseAddress(p.From); addr == nil || addr.Address != "no-reply@localhost" || addr.Name != "Ward" {
		t.Errorf("default From = %q", p.From)
	}
	for _, body := range []string{p.Text, p.HTML} {
		if !strings.Contains(body, resetLink) || !strings.Contains(body, "30 minutes") || !strings.Contains(body, "Bob") {
			t.Errorf("reset body lacks link, validity or name:\n%s", body)
		}
	}
}

// TestInvitationMailNamesOrgAndRole (issue 19): a console member's
// set-password mail is an invitation naming the organization and the role,
// in the subject and both bodies.
func TestInvitationMailNamesOrgAndRole(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	o := newOutcomes()
	m := newMailer(t, Config{Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{})}, o)
	link := "https://iam.example.com/realms/console/login-actions/set-password?token=inv_1"
	m.Enqueue(Mail{Kind: KindSetPassword, To: "mia@example.com", FirstName: "Mia", RealmName: "Ward console", Link: link,
		OrgName: "Acme Assets", Role: "admin"})
	if res, ok := o.wait(t); !ok {
		t.Fatalf("delivery failed: %v", res.Err)
	}
	p := mailtest.Parse(t, srv.Received()[0].Data)
	if p.Subject != "You are invited to Acme Assets as admin" {
		t.Errorf("Subject = %q", p.Subject)
	}
	for _, body := range []string{p.Text, p.HTML} {
		if !strings.Contains(body, "Acme Assets") || !strings.Contains(body, "admin") || !strings.Contains(body, link) {
			t.Errorf("invitation body lacks the organization, the role or the link:\n%s", body)
		}
	}
}

func TestSMTPRetriesTemporaryRefusalThenDeliversOnce(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{RefuseData: 2}, mailtest.Plain, nil)
	o := newOutcomes()
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Logger: logger, InitialBackoff: time.Second, MaxBackoff: time.Minute,
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if !ok {
		t.Fatalf("delivery failed: %v", res.Err)
	}
	if res.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", res.Attempts)
	}
	if n := len(srv.Received()); n != 1 {
		t.Errorf("server accepted %d mails, want exactly 1", n)
	}
	if n := srv.DataCommands(); n != 3 {
		t.Errorf("DATA commands = %d, want 3", n)
	}
	if got := m.q.retryWaits(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("backoff = %v, want [1s 2s]", got)
	}
	l := logs.String()
	if strings.Count(l, "will retry") != 2 || !strings.Contains(l, "451") {
		t.Errorf("expected two retry warnings naming the 451:\n%s", l)
	}
	if strings.Contains(l, "tok_") {
		t.Errorf("logs carry the link:\n%s", l)
	}
}

func TestSMTPGivesUpAfterMaxAttempts(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{RefuseData: 1000}, mailtest.Plain, nil)
	o := newOutcomes()
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Logger: logger, MaxAttempts: 4, InitialBackoff: time.Second, MaxBackoff: 3 * time.Second,
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered, want failure")
	}
	if res.Attempts != 4 || IsPermanent(res.Err) || res.UserID != "usr_1" || res.RealmID != "rlm_1" {
		t.Errorf("result = %+v (permanent=%v)", res, IsPermanent(res.Err))
	}
	if got := m.q.retryWaits(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{time.Second, 2 * time.Second, 3 * time.Second}) {
		t.Errorf("backoff = %v, want [1s 2s 3s] (doubling, capped)", got)
	}
	if len(srv.Received()) != 0 {
		t.Error("server stored a mail it refused")
	}
	l := logs.String()
	if !strings.Contains(l, `"msg":"mail delivery failed"`) || !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, `"user_id":"usr_1"`) {
		t.Errorf("final failure not logged as an error with the user id:\n%s", l)
	}
	if strings.Contains(l, "tok_") || strings.Contains(l, "Hello") {
		t.Errorf("logs carry the link or body:\n%s", l)
	}
}

func TestSMTPPermanentRefusalFailsWithoutRetry(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{RefuseRcpt: 550}, mailtest.Plain, nil)
	o := newOutcomes()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Logger: slog.New(slog.DiscardHandler),
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered, want failure")
	}
	if res.Attempts != 1 || !IsPermanent(res.Err) || !strings.Contains(res.Err.Error(), "550") {
		t.Errorf("result = %+v, want one permanent 550", res)
	}
	if len(m.q.retryWaits()) != 0 {
		t.Errorf("slept %v before a permanent failure", m.q.retryWaits())
	}
}

func TestSMTPWrongPasswordIsPermanentAndNotLogged(t *testing.T) {
	cert, pool := mailtest.SelfSignedCert(t)
	srv := mailtest.Start(t, &mailtest.Server{User: "ward", Pass: "right-password"}, mailtest.StartTLS, cert)
	o := newOutcomes()
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://ward:wrong-password@"+srv.Addr, SMTPConfig{RootCAs: pool}),
		Logger: logger,
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered with a wrong password")
	}
	if res.Attempts != 1 || !IsPermanent(res.Err) {
		t.Errorf("result = %+v, want one permanent failure (535)", res)
	}
	if srv.AuthFailures() != 1 || len(srv.Received()) != 0 {
		t.Errorf("auth failures %d, mailtest.Received %d", srv.AuthFailures(), len(srv.Received()))
	}
	if l := logs.String(); strings.Contains(l, "wrong-password") || strings.Contains(res.Err.Error(), "wrong-password") {
		t.Errorf("password leaked into logs or error:\n%s\n%v", l, res.Err)
	}
}

func TestSMTPRefusesUntrustedCertificate(t *testing.T) {
	cert, _ := mailtest.SelfSignedCert(t)
	srv := mailtest.Start(t, &mailtest.Server{}, mailtest.StartTLS, cert)
	o := newOutcomes()
	// starttls=required without a pool that trusts the test CA: the system
	// roots do not, so nothing may be sent.
	m := newMailer(t, Config{
		Sender:      smtpSender(t, "smtp://"+srv.Addr+"?starttls=required", SMTPConfig{}),
		MaxAttempts: 2, Logger: slog.New(slog.DiscardHandler),
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered over an unverified TLS connection")
	}
	if !strings.Contains(res.Err.Error(), "certificate") {
		t.Errorf("error = %v, want a certificate error", res.Err)
	}
	if len(srv.Received()) != 0 || srv.DataCommands() != 0 {
		t.Error("mail data reached an unverified server")
	}
}

func TestSMTPStartTLSRequiredButNotOffered(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	o := newOutcomes()
	m := newMailer(t, Config{
		Sender:      smtpSender(t, "smtp://"+srv.Addr+"?starttls=required", SMTPConfig{}),
		MaxAttempts: 2, Logger: slog.New(slog.DiscardHandler),
	}, o)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered in clear although STARTTLS was required")
	}
	if !strings.Contains(res.Err.Error(), "STARTTLS") || srv.DataCommands() != 0 {
		t.Errorf("error = %v, DATA commands %d", res.Err, srv.DataCommands())
	}
}

func TestSMTPOpportunisticWithoutTLSDeliversInClear(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{}, mailtest.Plain, nil)
	o := newOutcomes()
	m := newMailer(t, Config{Sender: smtpSender(t, "smtp://"+srv.Addr, SMTPConfig{})}, o)
	m.Enqueue(setPasswordMail())
	if res, ok := o.wait(t); !ok {
		t.Fatalf("opportunistic (default without credentials) failed: %v", res.Err)
	}
	if got := srv.Received(); len(got) != 1 || got[0].TLS {
		t.Errorf("mailtest.Received %+v", got)
	}
}

// blockingSender holds every Send until released.
type blockingSender struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	sent    []*Message
}

func (b *blockingSender) Send(ctx context.Context, m *Message) error {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.sent = append(b.sent, m)
	b.mu.Unlock()
	return nil
}

// TestLeaseRenewedWhileSending: an attempt that takes longer than a third
// of the lease renews it (so no other node takes the mail over while it is
// being sent), and the mail is delivered once. Asserted by order (renewals
// seen before the send is released), not by speed.
func TestLeaseRenewedWhileSending(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, Lease: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, o)
	m.Enqueue(setPasswordMail())
	<-bs.started
	for deadline := time.Now().Add(20 * time.Second); m.q.extendCalls() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lease was not renewed while the send was held")
		}
	}
	close(bs.release)
	if res, ok := o.wait(t); !ok || res.Attempts != 1 {
		t.Fatalf("outcome %+v (delivered=%v), want one delivery on the first attempt", res, ok)
	}
	if len(bs.sent) != 1 {
		t.Errorf("sent %d, want 1", len(bs.sent))
	}
}

// TestLostLeaseAbandonsTheAttempt: when the queue says another claim holds
// the mail now, the attempt in flight is cancelled and nothing is recorded
// by this node (the other reports its own outcome).
func TestLostLeaseAbandonsTheAttempt(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	m := newMailer(t, Config{Sender: bs, Lease: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, newOutcomes())
	m.q.mu.Lock()
	m.q.lose = true
	m.q.mu.Unlock()
	m.Enqueue(setPasswordMail())
	<-bs.started
	// The blocked send returns only when its context is cancelled.
	for deadline := time.Now().Add(20 * time.Second); len(m.q.retryWaits()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the attempt was not abandoned after its lease was lost")
		}
	}
	if len(bs.sent) != 0 || len(m.q.out.delivered) != 0 || len(m.q.out.failed) != 0 {
		t.Errorf("sent %d, delivered %d, failed %d; want nothing", len(bs.sent), len(m.q.out.delivered), len(m.q.out.failed))
	}
}

// TestCloseDrainsQueue: Close waits for the attempts in flight.
func TestCloseDrainsQueue(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, Logger: slog.New(slog.DiscardHandler)}, o)
	for range 3 {
		m.Enqueue(setPasswordMail())
	}
	for range 3 {
		<-bs.started
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v before the sends in flight ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(bs.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(bs.sent) != 3 || len(o.delivered) != 3 || m.q.pending() != 0 {
		t.Errorf("sent %d, delivered %d, still queued %d; want 3, 3, 0", len(bs.sent), len(o.delivered), m.q.pending())
	}
}

// TestCloseDeadlineHandsMailBack: past Close's deadline the sends in
// flight are aborted and their mails handed back to the queue (due at
// once, no failure recorded): stopping a node loses no mail.
func TestCloseDeadlineHandsMailBack(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, Workers: 2, Logger: slog.New(slog.DiscardHandler)}, o)
	for range 3 {
		m.Enqueue(setPasswordMail())
	}
	<-bs.started
	<-bs.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	if len(o.failed) != 0 || len(o.delivered) != 0 {
		t.Fatalf("outcomes recorded at shutdown: %d failed, %d delivered", len(o.failed), len(o.delivered))
	}
	if w := m.q.retryWaits(); fmt.Sprint(w) != "[0s 0s]" || m.q.pending() != 3 {
		t.Fatalf("handed back with waits %v, %d still queued; want [0s 0s] and 3", w, m.q.pending())
	}
}

func TestComposeRejectsBadInput(t *testing.T) {
	m := newMailer(t, Config{Sender: &blockingSender{}}, nil)
	cases := map[string]func(*Mail){
		"relative link":   func(in *Mail) { in.Link = "/realms/acme/login-actions/set-password?token=x" },
		"javascript link": func(in *Mail) { in.Link = "javascript:alert(1)" },
		"no host":         func(in *Mail) { in.Link = "https:///x" },
		"bad address":     func(in *Mail) { in.To = "not an address" },
		"unknown kind":    func(in *Mail) { in.Kind = "welcome" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			in := setPasswordMail()
			mutate(&in)
			_, err := m.Compose(in)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "token=") {
				t.Errorf("error carries the link: %v", err)
			}
		})
	}
}

func TestComposeKeepsDisplayNameOnOneLine(t *testing.T) {
	m := newMailer(t, Config{Sender: &blockingSender{}}, nil)
	in := setPasswordMail()
	in.RealmName = "Acme\r\nBcc: victim@example.com"
	msg, err := m.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := netmail.ReadMessage(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := parsed.Header.Get("Bcc"); b != "" {
		t.Fatalf("header injected: Bcc = %q", b)
	}
	if s := parsed.Header.Get("Subject"); strings.ContainsAny(s, "\r\n") || !strings.Contains(s, "Acme") {
		t.Errorf("Subject = %q", s)
	}
}

func TestComposeValidForOverridesDefault(t *testing.T) {
	m := newMailer(t, Config{Sender: &blockingSender{}}, nil)
	in := setPasswordMail()
	in.ValidFor = time.Hour
	msg, err := m.Compose(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, "expires in 1 hour.") || !strings.Contains(msg.HTML, "expires in 1 hour.") {
		t.Errorf("validity not rendered:\n%s", msg.Text)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	q := newMemQueue(nil)
	if _, err := New(Config{Queue: q}); err == nil {
		t.Error("New without Sender succeeded")
	}
	if _, err := New(Config{Sender: &blockingSender{}}); err == nil {
		t.Error("New without Queue succeeded")
	}
	if _, err := New(Config{Sender: &blockingSender{}, Queue: q, From: "not an address"}); err == nil {
		t.Error("New with bad From succeeded")
	}
}

// TestBackoffPolicy: 2 s doubling up to 5 min by default (10 attempts
// span about 13 minutes).
func TestBackoffPolicy(t *testing.T) {
	m := newMailer(t, Config{Sender: &blockingSender{}}, nil)
	var got []time.Duration
	for n := 1; n <= 9; n++ {
		got = append(got, m.Backoff(n))
	}
	want := "[2s 4s 8s 16s 32s 1m4s 2m8s 4m16s 5m0s]"
	if fmt.Sprint(got) != want {
		t.Errorf("backoff after 1..9 failures = %v, want %s", got, want)
	}
}

// flakySender fails every attempt for one address and records the rest.
type flakySender struct {
	bad  string
	mu   sync.Mutex
	sent []string
}

func (f *flakySender) Send(_ context.Context, m *Message) error {
	if m.To.Address == f.bad {
		return errors.New("451 try later")
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.To.Address)
	f.mu.Unlock()
	return nil
}

// TestMailInBackoffDoesNotHoldUpOthers: a mail waiting out its backoff
// does not occupy a worker; the next mail is delivered meanwhile.
func TestMailInBackoffDoesNotHoldUpOthers(t *testing.T) {
	fs := &flakySender{bad: "grey@example.com"}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: fs, Workers: 1, MaxAttempts: 2, Logger: slog.New(slog.DiscardHandler)}, o)
	hold := make(chan struct{}) // the backoff lasts until the test ends it
	m.q.mu.Lock()
	m.q.holdRetries = hold
	m.q.mu.Unlock()
	grey := setPasswordMail()
	grey.To = "grey@example.com"
	m.Enqueue(grey)
	m.Enqueue(setPasswordMail())
	res, ok := o.wait(t)
	if !ok || res.To != "ada@example.com" {
		t.Fatalf("first outcome = %+v (delivered=%v), want ada delivered while grey waits", res, ok)
	}
	close(hold)
	res, ok = o.wait(t)
	if ok || res.To != "grey@example.com" || res.Attempts != 2 {
		t.Errorf("second outcome = %+v (delivered=%v)", res, ok)
	}
}
