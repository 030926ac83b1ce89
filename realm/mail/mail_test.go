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

// sleeps records the backoff the Mailer asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
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

func newMailer(t *testing.T, cfg Config, o *outcomes) *Mailer {
	t.Helper()
	if o != nil {
		cfg.OnDelivered = func(r Result) { o.delivered <- r }
		cfg.OnFailure = func(r Result) { o.failed <- r }
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
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
	if err := m.Enqueue(in); err != nil {
		t.Fatal(err)
	}
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
	if p.MessageID != "<"+res.MessageID+">" || !strings.HasSuffix(res.MessageID, "@acme.example") {
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
	err := m.Enqueue(Mail{Kind: KindResetPassword, To: "Bob <bob@example.com>", FirstName: "Bob", RealmName: "Acme", Link: resetLink})
	if err != nil {
		t.Fatal(err)
	}
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

func TestSMTPRetriesTemporaryRefusalThenDeliversOnce(t *testing.T) {
	srv := mailtest.Start(t, &mailtest.Server{RefuseData: 2}, mailtest.Plain, nil)
	o := newOutcomes()
	sl := &sleeps{}
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Logger: logger, Sleep: sl.sleep, InitialBackoff: time.Second, MaxBackoff: time.Minute,
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
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
	if got := sl.got(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{time.Second, 2 * time.Second}) {
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
	sl := &sleeps{}
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Logger: logger, Sleep: sl.sleep, MaxAttempts: 4, InitialBackoff: time.Second, MaxBackoff: 3 * time.Second,
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered, want failure")
	}
	if res.Attempts != 4 || IsPermanent(res.Err) || res.UserID != "usr_1" || res.RealmID != "rlm_1" {
		t.Errorf("result = %+v (permanent=%v)", res, IsPermanent(res.Err))
	}
	if got := sl.got(); fmt.Sprint(got) != fmt.Sprint([]time.Duration{time.Second, 2 * time.Second, 3 * time.Second}) {
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
	sl := &sleeps{}
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=none", SMTPConfig{}),
		Sleep:  sl.sleep, Logger: slog.New(slog.DiscardHandler),
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
	res, ok := o.wait(t)
	if ok {
		t.Fatal("delivered, want failure")
	}
	if res.Attempts != 1 || !IsPermanent(res.Err) || !strings.Contains(res.Err.Error(), "550") {
		t.Errorf("result = %+v, want one permanent 550", res)
	}
	if len(sl.got()) != 0 {
		t.Errorf("slept %v before a permanent failure", sl.got())
	}
}

func TestSMTPWrongPasswordIsPermanentAndNotLogged(t *testing.T) {
	cert, pool := mailtest.SelfSignedCert(t)
	srv := mailtest.Start(t, &mailtest.Server{User: "ward", Pass: "right-password"}, mailtest.StartTLS, cert)
	o := newOutcomes()
	logger, logs := newLogger()
	m := newMailer(t, Config{
		Sender: smtpSender(t, "smtp://ward:wrong-password@"+srv.Addr, SMTPConfig{RootCAs: pool}),
		Logger: logger, Sleep: (&sleeps{}).sleep,
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
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
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=required", SMTPConfig{}),
		Sleep:  (&sleeps{}).sleep, MaxAttempts: 2, Logger: slog.New(slog.DiscardHandler),
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
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
		Sender: smtpSender(t, "smtp://"+srv.Addr+"?starttls=required", SMTPConfig{}),
		Sleep:  (&sleeps{}).sleep, MaxAttempts: 2, Logger: slog.New(slog.DiscardHandler),
	}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
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
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
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

func TestEnqueueNeverBlocksAndReportsFullQueue(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, QueueSize: 2, Workers: 1, Logger: slog.New(slog.DiscardHandler)}, o)
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
	<-bs.started // the worker holds the first mail; the queue is empty again
	for i := range 2 {
		if err := m.Enqueue(setPasswordMail()); err != nil {
			t.Fatalf("enqueue %d: %v", i+2, err)
		}
	}
	start := time.Now()
	err := m.Enqueue(setPasswordMail())
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("fourth enqueue: %v, want ErrQueueFull", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Enqueue on a full queue took %v", d)
	}
	close(bs.release)
	for range 3 {
		if res, ok := o.wait(t); !ok {
			t.Fatalf("failed: %v", res.Err)
		}
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(bs.sent) != 3 {
		t.Errorf("sent %d, want 3", len(bs.sent))
	}
	if err := m.Enqueue(setPasswordMail()); !errors.Is(err, ErrClosed) {
		t.Errorf("enqueue after Close: %v, want ErrClosed", err)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, Logger: slog.New(slog.DiscardHandler)}, o)
	for range 3 {
		if err := m.Enqueue(setPasswordMail()); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v before the queue drained", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(bs.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(bs.sent) != 3 || len(o.delivered) != 3 {
		t.Errorf("sent %d, delivered callbacks %d; want 3 and 3", len(bs.sent), len(o.delivered))
	}
}

func TestCloseDeadlineReportsUndeliveredMail(t *testing.T) {
	bs := &blockingSender{started: make(chan struct{}, 10), release: make(chan struct{})}
	o := newOutcomes()
	m := newMailer(t, Config{Sender: bs, Logger: slog.New(slog.DiscardHandler)}, o)
	for range 3 {
		if err := m.Enqueue(setPasswordMail()); err != nil {
			t.Fatal(err)
		}
	}
	<-bs.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	if len(o.failed) != 3 {
		t.Fatalf("failure callbacks = %d, want 3 (one in flight, two waiting)", len(o.failed))
	}
	for range 3 {
		r := <-o.failed
		if r.Err == nil || r.UserID != "usr_1" {
			t.Errorf("failure = %+v", r)
		}
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
			err := m.Enqueue(in)
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
	if _, err := New(Config{}); err == nil {
		t.Error("New without Sender succeeded")
	}
	if _, err := New(Config{Sender: &blockingSender{}, From: "not an address"}); err == nil {
		t.Error("New with bad From succeeded")
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

func TestMailInBackoffDoesNotHoldUpOthers(t *testing.T) {
	fs := &flakySender{bad: "grey@example.com"}
	release := make(chan struct{})
	o := newOutcomes()
	m := newMailer(t, Config{
		Sender: fs, Workers: 2, Logger: slog.New(slog.DiscardHandler),
		// The backoff of the failing mail lasts until the test releases it.
		Sleep: func(ctx context.Context, _ time.Duration) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		MaxAttempts: 2,
	}, o)
	grey := setPasswordMail()
	grey.To = "grey@example.com"
	if err := m.Enqueue(grey); err != nil {
		t.Fatal(err)
	}
	if err := m.Enqueue(setPasswordMail()); err != nil {
		t.Fatal(err)
	}
	res, ok := o.wait(t)
	if !ok || res.To != "ada@example.com" {
		t.Fatalf("first outcome = %+v (delivered=%v), want ada delivered while grey waits", res, ok)
	}
	close(release)
	res, ok = o.wait(t)
	if ok || res.To != "grey@example.com" || res.Attempts != 2 {
		t.Errorf("second outcome = %+v (delivered=%v)", res, ok)
	}
}
