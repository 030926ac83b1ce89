package mail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	netmail "net/mail"
	"sync"
	"time"
)

// Sender delivers one composed message. Implementations: *SMTP and *Outbox.
// A Sender returns an error wrapped with Permanent when trying again cannot
// help; any other error is retried by the Mailer.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// ErrLeaseLost is what a Queue answers when the mail it is asked about is
// no longer held by this claim (another node took it over after the lease
// ran out, or it is gone). The Mailer then leaves the mail alone.
var ErrLeaseLost = errors.New("mail: the claim on this mail was lost")

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Job is one mail claimed from the Queue for one delivery attempt.
type Job struct {
	// ID names the queued mail for good; the Message-ID is ID@the sender's
	// domain, the same on every attempt, so a receiver can recognise a
	// mail sent twice.
	ID string
	// Lease is the Queue's name for this claim; the Mailer hands it back.
	Lease string
	// Attempts counts the attempts, this one included.
	Attempts int
	Mail     Mail
}

// Queue is where the Mailer takes mail from: a durable outbox shared by
// every node (realm.MailQueue, adapted by cmd/ward). Claims are leases:
// while a node holds a mail no other node gets it, and a mail whose node
// died is claimed again once its lease has run out. Every method but Claim
// answers ErrLeaseLost when the claim no longer holds the mail.
type Queue interface {
	// Claim leases up to max mails that are due, for lease.
	Claim(ctx context.Context, max int, lease time.Duration) ([]Job, error)
	// Extend renews the lease while an attempt runs.
	Extend(ctx context.Context, j Job, lease time.Duration) error
	// Retry makes the mail due again after the given wait (zero: a mail
	// handed back at shutdown).
	Retry(ctx context.Context, j Job, after time.Duration) error
	// Delivered and Failed end the mail: it leaves the queue and its
	// outcome is recorded (never its link or body).
	Delivered(ctx context.Context, j Job, messageID string) error
	Failed(ctx context.Context, j Job, err error) error
}

// Config configures New. Sender and Queue are required; everything else
// has a default.
type Config struct {
	Sender Sender
	Queue  Queue
	// Wake, when set, makes the Mailer claim at once instead of at the
	// next poll: the queue signals on it when this node queued mail.
	Wake <-chan struct{}
	// From is the sender, "Name <addr>"; default "Ward <no-reply@localhost>".
	From string
	// Logger receives delivery warnings and failures (never a link or body);
	// default slog.Default().
	Logger *slog.Logger
	// Workers deliver in parallel; default 4, so one slow server does not
	// hold up every mail.
	Workers int
	// MaxAttempts per mail, including the first; default 10.
	MaxAttempts int
	// InitialBackoff is the wait after the first failure, doubling after each
	// further one up to MaxBackoff; defaults 2 s and 5 min (10 attempts span
	// about 13 minutes: past a relay restart or greylisting, and still well
	// inside the 30-minute life of a reset link).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// AttemptTimeout bounds one Send; default 60 s.
	AttemptTimeout time.Duration
	// Lease is how long a claim holds a mail; default 30 s. It is renewed
	// every Lease/3 while an attempt runs, so it bounds how long the mail
	// of a node that died waits for another node, not how long a send may
	// take.
	Lease time.Duration
	// PollInterval is how often the queue is asked for due mail when
	// nothing woke the Mailer (other nodes' mail, retries, mail of a node
	// that died); default 2 s.
	PollInterval time.Duration
	// Now dates the composed messages; default time.Now.
	Now func() time.Time
	// Templates overrides the embedded template tree (package templates);
	// it must hold mail/layout.html and mail/{kind}.txt and .html.
	Templates fs.FS
}

// Mailer is the delivery worker: it claims mail from the Queue, composes
// it, sends it with Sender, and reports each attempt's outcome back to the
// Queue, which decides nothing: the backoff and attempt limit are here.
type Mailer struct {
	cfg      Config
	log      *slog.Logger
	composer *composer

	stopClaiming chan struct{} // closed by Close: claim no more
	closeOnce    sync.Once
	sendCtx      context.Context // cancelled when Close gives up waiting
	abort        context.CancelFunc
	freed        chan struct{} // a worker finished (buffered 1)
	done         chan struct{} // closed when the loop and its sends have returned
}

// New checks the configuration, parses the templates and starts the
// delivery loop. Call Close to stop it.
func New(cfg Config) (*Mailer, error) {
	if cfg.Sender == nil {
		return nil, errors.New("mail: Config.Sender is required")
	}
	if cfg.Queue == nil {
		return nil, errors.New("mail: Config.Queue is required")
	}
	if cfg.From == "" {
		cfg.From = "Ward <no-reply@localhost>"
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: From %q is not an address: %w", cfg.From, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	defaults := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.InitialBackoff, 2 * time.Second}, {&cfg.MaxBackoff, 5 * time.Minute},
		{&cfg.AttemptTimeout, 60 * time.Second}, {&cfg.Lease, 30 * time.Second}, {&cfg.PollInterval, 2 * time.Second},
	}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Templates == nil {
		cfg.Templates = defaultTemplates()
	}
	comp, err := newComposer(cfg.Templates, *from, cfg.Now)
	if err != nil {
		return nil, err
	}
	sendCtx, abort := context.WithCancel(context.Background())
	m := &Mailer{
		cfg: cfg, log: cfg.Logger, composer: comp,
		stopClaiming: make(chan struct{}), sendCtx: sendCtx, abort: abort,
		freed: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go m.run()
	return m, nil
}

// Compose renders a mail without sending it (previews, tests).
func (m *Mailer) Compose(in Mail) (*Message, error) {
	return m.composer.compose(in, "")
}

// Close stops claiming mail and waits for the attempts in flight. If ctx
// ends first they are aborted and their mails handed back to the queue
// (due at once, for whichever node runs next), and Close returns ctx's
// error. Mail still queued stays queued: nothing is lost by stopping.
func (m *Mailer) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { close(m.stopClaiming) })
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		m.abort()
		<-m.done
		return ctx.Err()
	}
}

// Backoff is the wait after the given number of failed attempts (1 or
// more): InitialBackoff doubling up to MaxBackoff.
func (m *Mailer) Backoff(failures int) time.Duration {
	d := m.cfg.InitialBackoff
	for i := 1; i < failures && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, m.cfg.MaxBackoff)
}

// run claims as many mails as there are idle workers whenever woken, a
// worker finished, or the poll interval passed, and hands each to a
// goroutine of its own.
func (m *Mailer) run() {
	defer close(m.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, m.cfg.Workers) // one token per attempt in flight
	poll := time.NewTicker(m.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-m.stopClaiming:
			return
		default:
		}
		if idle := m.cfg.Workers - len(busy); idle > 0 {
			jobs, err := m.cfg.Queue.Claim(m.sendCtx, idle, m.cfg.Lease)
			if err != nil {
				m.log.Warn("mail queue: claiming due mail failed; trying again at the next poll", "error", err.Error())
			}
			for _, j := range jobs {
				busy <- struct{}{}
				wg.Go(func() {
					defer func() {
						<-busy
						m.signalFreed()
					}()
					m.attempt(j)
				})
			}
			if err == nil && len(jobs) == idle {
				continue // there may be more due: claim again as soon as a worker is free
			}
		}
		select {
		case <-m.stopClaiming:
			return
		case <-m.cfg.Wake:
		case <-m.freed:
		case <-poll.C:
		}
	}
}

func (m *Mailer) signalFreed() {
	select {
	case m.freed <- struct{}{}:
	default:
	}
}

// attempt sends one claimed mail once and reports the outcome.
func (m *Mailer) attempt(j Job) {
	msg, err := m.composer.compose(j.Mail, j.ID)
	if err != nil {
		// The mail itself is bad (an address the composer refuses): no
		// retry can help.
		m.finish(j, "", Permanent(err))
		return
	}
	actx, cancel := context.WithTimeout(m.sendCtx, m.cfg.AttemptTimeout)
	stopRenewing := m.renewLease(actx, cancel, j)
	err = m.cfg.Sender.Send(actx, msg)
	stopRenewing()
	cancel()
	if err != nil && m.sendCtx.Err() != nil {
		// Close gave up waiting: hand the mail back for the next node.
		m.report(j, "handing back", m.cfg.Queue.Retry(m.outcomeCtx(), j, 0))
		return
	}
	m.finish(j, msg.ID, err)
}

// finish records a delivery, a final failure, or schedules the retry.
func (m *Mailer) finish(j Job, messageID string, err error) {
	ctx, cancel := context.WithTimeout(m.outcomeCtx(), 30*time.Second)
	defer cancel()
	switch {
	case err == nil:
		if j.Attempts > 1 {
			m.log.Info("mail delivered after retry", m.attrs(j)...)
		}
		m.report(j, "recording the delivery", m.cfg.Queue.Delivered(ctx, j, messageID))
	case IsPermanent(err) || j.Attempts >= m.cfg.MaxAttempts:
		m.log.Error("mail delivery failed",
			append(m.attrs(j), slog.Bool("permanent", IsPermanent(err)), slog.String("error", err.Error()))...)
		m.report(j, "recording the failure", m.cfg.Queue.Failed(ctx, j, err))
	default:
		wait := m.Backoff(j.Attempts)
		m.log.Warn("mail delivery failed, will retry",
			append(m.attrs(j), slog.Duration("retry_in", wait), slog.String("error", err.Error()))...)
		m.report(j, "scheduling the retry", m.cfg.Queue.Retry(ctx, j, wait))
	}
}

// report logs a queue call that failed. A lost lease is not an error:
// another node holds the mail now and reports its outcome. Any other
// failure leaves the mail claimed, so it is tried again after its lease.
func (m *Mailer) report(j Job, what string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrLeaseLost):
		m.log.Info("mail queue: another node took over the mail", append(m.attrs(j), slog.String("while", what))...)
	default:
		m.log.Error("mail queue: "+what+" failed; the mail is tried again after its lease",
			append(m.attrs(j), slog.String("error", err.Error()))...)
	}
}

// outcomeCtx outlives an aborted send, so its outcome can still be
// written.
func (m *Mailer) outcomeCtx() context.Context { return context.WithoutCancel(m.sendCtx) }

// renewLease extends j's lease every Lease/3 while the attempt runs; if
// the lease is lost the attempt is cancelled, since another node may be
// sending the same mail. The returned func stops it.
func (m *Mailer) renewLease(ctx context.Context, cancel context.CancelFunc, j Job) (stop func()) {
	quit := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(m.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := m.cfg.Queue.Extend(ctx, j, m.cfg.Lease); errors.Is(err, ErrLeaseLost) {
					m.log.Warn("mail queue: lease lost during an attempt; abandoning it", m.attrs(j)...)
					cancel()
					return
				} else if err != nil && ctx.Err() == nil {
					m.log.Warn("mail queue: renewing the lease failed", append(m.attrs(j), slog.String("error", err.Error()))...)
				}
			}
		}
	}()
	return func() { close(quit); <-stopped }
}

// attrs identify a mail in logs by kind, realm, user and queue ID; never
// by link or content.
func (m *Mailer) attrs(j Job) []any {
	return []any{
		slog.String("kind", string(j.Mail.Kind)),
		slog.String("realm_id", j.Mail.RealmID),
		slog.String("user_id", j.Mail.UserID),
		slog.String("mail_id", j.ID),
		slog.Int("attempts", j.Attempts),
	}
}
