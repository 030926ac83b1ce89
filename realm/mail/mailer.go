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

// Errors returned by Enqueue.
var (
	// ErrQueueFull: the delivery queue is at capacity; the mail was not
	// queued. The caller logs it (and may record an event); the API call
	// itself goes on.
	ErrQueueFull = errors.New("mail: delivery queue is full")
	// ErrClosed: Close has been called.
	ErrClosed = errors.New("mail: mailer is closed")
)

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

// Result is the final outcome of one mail, given to Config.OnDelivered or
// Config.OnFailure. It carries no link and no body, so it can be stored in
// an event as it is.
type Result struct {
	Kind      Kind
	To        string // recipient address
	OrgID     string
	RealmID   string
	UserID    string
	MessageID string
	Attempts  int
	// Err is nil for a delivery; for a failure the last error
	// (IsPermanent tells a refusal from exhausted retries; ErrClosed or a
	// context error when Close gave up on it).
	Err error
}

// Config configures New. Sender is required; everything else has a default.
type Config struct {
	Sender Sender
	// From is the sender, "Name <addr>"; default "Ward <no-reply@localhost>".
	From string
	// Logger receives delivery warnings and failures (never a link or body);
	// default slog.Default().
	Logger *slog.Logger
	// QueueSize bounds the mails waiting for delivery; default 1024.
	QueueSize int
	// Workers deliver in parallel, each taking one mail through all its
	// attempts; default 4, so one mail waiting out its backoff (a greylisting
	// server, say) does not hold up the others.
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
	// OnDelivered and OnFailure are called from a delivery goroutine after
	// the final outcome of each mail (the service records an event). They may
	// run concurrently and must not block for long: that worker waits.
	OnDelivered func(Result)
	OnFailure   func(Result)
	// Now and Sleep let tests control time. Sleep must return early with
	// ctx.Err() when ctx is done. Defaults: time.Now and a timer.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Templates overrides the embedded template tree (package templates);
	// it must hold mail/layout.html and mail/{kind}.txt and .html.
	Templates fs.FS
}

// Mailer composes mails and delivers them in the background.
type Mailer struct {
	cfg      Config
	log      *slog.Logger
	composer *composer

	mu     sync.Mutex // guards closed and sends on queue against close(queue)
	closed bool
	queue  chan job

	stop context.CancelFunc // aborts the workers (Close past its deadline)
	ctx  context.Context
	done chan struct{} // closed when every worker has returned
}

type job struct {
	msg     *Message
	orgID   string
	realmID string
	userID  string
}

// New checks the configuration, parses the templates and starts the
// delivery goroutines. Call Close to stop them.
func New(cfg Config) (*Mailer, error) {
	if cfg.Sender == nil {
		return nil, errors.New("mail: Config.Sender is required")
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
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Templates == nil {
		cfg.Templates = defaultTemplates()
	}
	comp, err := newComposer(cfg.Templates, *from, cfg.Now)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mailer{
		cfg:      cfg,
		log:      cfg.Logger,
		composer: comp,
		queue:    make(chan job, cfg.QueueSize),
		stop:     cancel,
		ctx:      ctx,
		done:     make(chan struct{}),
	}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(m.run)
	}
	go func() {
		wg.Wait()
		close(m.done)
	}()
	return m, nil
}

// Compose renders a mail without sending it (previews, tests).
func (m *Mailer) Compose(in Mail) (*Message, error) {
	return m.composer.compose(in)
}

// Enqueue composes the mail and queues it for delivery. It returns at once:
// an error means the mail will not be sent (bad input, ErrQueueFull,
// ErrClosed); nil means the outcome will reach OnDelivered or OnFailure.
// Call it after the transaction that made the link has committed, so a mail
// never carries a link the database does not know.
func (m *Mailer) Enqueue(in Mail) error {
	msg, err := m.composer.compose(in)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	select {
	case m.queue <- job{msg: msg, orgID: in.OrgID, realmID: in.RealmID, userID: in.UserID}:
		return nil
	default:
		return ErrQueueFull
	}
}

// Close stops accepting mail and waits until the queued mails have been
// delivered or have failed. If ctx ends first, the delivery in progress is
// aborted, every mail still waiting is reported to OnFailure with the
// context's error, and Close returns that error.
func (m *Mailer) Close(ctx context.Context) error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.queue)
	}
	m.mu.Unlock()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		m.stop()
		<-m.done
		return ctx.Err()
	}
}

func (m *Mailer) run() {
	for j := range m.queue {
		m.deliver(j)
	}
}

// deliver tries one mail until it is sent, refused for good, out of
// attempts, or the mailer is stopped.
func (m *Mailer) deliver(j job) {
	res := Result{Kind: j.msg.Kind, To: j.msg.To.Address, OrgID: j.orgID, RealmID: j.realmID, UserID: j.userID, MessageID: j.msg.ID}
	backoff := m.cfg.InitialBackoff
	for {
		if err := m.ctx.Err(); err != nil {
			res.Err = fmt.Errorf("%w: gave up at shutdown: %w", ErrClosed, err)
			m.fail(res)
			return
		}
		res.Attempts++
		actx, cancel := context.WithTimeout(m.ctx, m.cfg.AttemptTimeout)
		err := m.cfg.Sender.Send(actx, j.msg)
		cancel()
		if err == nil {
			if res.Attempts > 1 {
				m.log.Info("mail delivered after retry", m.attrs(res)...)
			}
			if m.cfg.OnDelivered != nil {
				m.cfg.OnDelivered(res)
			}
			return
		}
		res.Err = err
		if IsPermanent(err) || res.Attempts >= m.cfg.MaxAttempts {
			m.fail(res)
			return
		}
		m.log.Warn("mail delivery failed, will retry",
			append(m.attrs(res), slog.Duration("retry_in", backoff), slog.String("error", err.Error()))...)
		if err := m.cfg.Sleep(m.ctx, backoff); err != nil {
			res.Err = fmt.Errorf("%w: gave up at shutdown after: %w", ErrClosed, res.Err)
			m.fail(res)
			return
		}
		backoff *= 2
		if backoff > m.cfg.MaxBackoff {
			backoff = m.cfg.MaxBackoff
		}
	}
}

func (m *Mailer) fail(res Result) {
	m.log.Error("mail delivery failed",
		append(m.attrs(res), slog.Bool("permanent", IsPermanent(res.Err)), slog.String("error", res.Err.Error()))...)
	if m.cfg.OnFailure != nil {
		m.cfg.OnFailure(res)
	}
}

// attrs identify a mail in logs by kind, realm, user and Message-ID; never
// by link or content.
func (m *Mailer) attrs(res Result) []any {
	return []any{
		slog.String("kind", string(res.Kind)),
		slog.String("realm_id", res.RealmID),
		slog.String("user_id", res.UserID),
		slog.String("message_id", res.MessageID),
		slog.Int("attempts", res.Attempts),
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
