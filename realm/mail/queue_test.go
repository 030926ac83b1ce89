package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"
)

// memQueue is a Queue in memory for this package's tests, which are about
// delivery: composing, SMTP, attempts, backoff, leases and shutdown. The
// outbox in the database (claims, leases and retry times on the injected
// clock, sealing, events) is tested in realm and storage/conformance, and
// the two together in cmd/ward. A retry is due again at once (its wait is
// recorded, not waited), unless holdRetries is set.
type memQueue struct {
	mu      sync.Mutex
	jobs    map[string]*memJob
	order   []string
	waits   []time.Duration // every Retry's wait, in order
	extends int
	out     *outcomes
	// holdRetries, when set, keeps retried mail from being claimed until
	// it is closed.
	holdRetries chan struct{}
	// lose, when set, makes every Extend answer ErrLeaseLost.
	lose bool
}

type memJob struct {
	job     Job
	claimed bool
	retried bool
}

// Result is one final outcome as the tests check it.
type Result struct {
	Kind      Kind
	To        string
	RealmID   string
	UserID    string
	MessageID string
	Attempts  int
	Err       error // nil for a delivery
}

func newMemQueue(o *outcomes) *memQueue { return &memQueue{jobs: map[string]*memJob{}, out: o} }

func (q *memQueue) add(in Mail) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs[id] = &memJob{job: Job{ID: id, Mail: in}}
	q.order = append(q.order, id)
	return id
}

func (q *memQueue) Claim(_ context.Context, max int, _ time.Duration) ([]Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	held := false
	if q.holdRetries != nil {
		select {
		case <-q.holdRetries:
		default:
			held = true
		}
	}
	var out []Job
	for _, id := range q.order {
		j, ok := q.jobs[id]
		if !ok || j.claimed || (j.retried && held) || len(out) == max {
			continue
		}
		j.claimed = true
		j.job.Attempts++
		j.job.Lease = hex.EncodeToString([]byte(id + "-lease"))
		out = append(out, j.job)
	}
	return out, nil
}

// held returns the job if j's claim still holds it.
func (q *memQueue) held(j Job) (*memJob, error) {
	m, ok := q.jobs[j.ID]
	if !ok || !m.claimed || m.job.Attempts != j.Attempts {
		return nil, ErrLeaseLost
	}
	return m, nil
}

func (q *memQueue) Extend(_ context.Context, j Job, _ time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.extends++
	if _, err := q.held(j); err != nil || q.lose {
		return ErrLeaseLost
	}
	return nil
}

func (q *memQueue) Retry(_ context.Context, j Job, after time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.held(j)
	if err != nil {
		return err
	}
	q.waits = append(q.waits, after)
	m.claimed, m.retried = false, true
	return nil
}

func (q *memQueue) Delivered(_ context.Context, j Job, messageID string) error {
	return q.finish(j, messageID, nil)
}

func (q *memQueue) Failed(_ context.Context, j Job, err error) error {
	return q.finish(j, "", err)
}

func (q *memQueue) finish(j Job, messageID string, err error) error {
	q.mu.Lock()
	if _, herr := q.held(j); herr != nil {
		q.mu.Unlock()
		return herr
	}
	delete(q.jobs, j.ID)
	q.mu.Unlock()
	if q.out != nil {
		r := Result{Kind: j.Mail.Kind, To: j.Mail.To, RealmID: j.Mail.RealmID, UserID: j.Mail.UserID,
			MessageID: messageID, Attempts: j.Attempts, Err: err}
		if err == nil {
			q.out.delivered <- r
		} else {
			q.out.failed <- r
		}
	}
	return nil
}

// retryWaits is every backoff the Mailer asked for, in order.
func (q *memQueue) retryWaits() []time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]time.Duration(nil), q.waits...)
}

// pending counts the mails still queued.
func (q *memQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

func (q *memQueue) extendCalls() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.extends
}

// testMailer is a Mailer over a memQueue; Enqueue queues (returning the
// queue ID) and wakes it as the realm service does after its commit.
type testMailer struct {
	*Mailer
	q    *memQueue
	wake chan struct{}
}

func (m *testMailer) Enqueue(in Mail) (id string) {
	id = m.q.add(in)
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return id
}

// newMailer starts a Mailer over a new memQueue reporting to o (may be
// nil), polling every 10 ms unless cfg says otherwise.
func newMailer(t *testing.T, cfg Config, o *outcomes) *testMailer {
	t.Helper()
	q := newMemQueue(o)
	wake := make(chan struct{}, 1)
	cfg.Queue, cfg.Wake = q, wake
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
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
	return &testMailer{Mailer: m, q: q, wake: wake}
}
