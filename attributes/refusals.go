package attributes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Reporting network refusals (CONTRACT §7: a refusal is an audit event).
// The guard refuses callers outside the IP allow lists in the resource
// server's process, where Ward cannot see it; so it queues each refusal
// and a background loop sends them to {Issuer}/network-refusals, as the
// resource server's client, at most once a second in reports of at most
// 100 (less often while Ward fails). The queue is bounded: a flood of
// refused requests (the thing the lists keep out) costs the guard a fixed
// amount of memory and Ward at most 100 events a second from it; what did
// not fit is counted and the count sent with the next report. Refusing
// never waits for Ward. A report whose answer is lost after Ward recorded
// it is sent again, so a refusal may be recorded twice, never silently
// lost while the guard runs.

// The bounds of a report, which Ward checks and the guard keeps to.
const (
	// MaxRefusalsPerReport is the most one report carries.
	MaxRefusalsPerReport = 100
	// MaxReportedPath, MaxReportedMethod and MaxReportedSubject bound a
	// refusal's fields, in bytes.
	MaxReportedPath    = 1024
	MaxReportedMethod  = 16
	MaxReportedSubject = 255
	// MaxUnreported bounds a report's count of dropped refusals.
	MaxUnreported = 1_000_000_000
)

const (
	// refusalQueueSize bounds the refusals waiting to be sent.
	refusalQueueSize = 1000
	// refusalBackoffMax bounds the wait between attempts while Ward
	// keeps failing.
	refusalBackoffMax = 5 * time.Minute
	// refusalCloseTime bounds Close's last attempts.
	refusalCloseTime = 2 * time.Second
)

// refusalReportInterval is the least time between two reports (a
// variable so that tests need not wait seconds).
var refusalReportInterval = time.Second

// NetworkRefusal is one request a guard refused by the IP allow lists, as
// it reports it to Ward.
type NetworkRefusal struct {
	// Address is the client address the guard read ("" when it could not
	// read one; such a caller is in no list).
	Address string `json:"address"`
	// Country is the address's ISO 3166-1 code from the guard's GeoIP
	// database, "" where it places none; absent without a database.
	Country *string `json:"country,omitempty"`
	// Subject is the refused caller's sub (for a temporary key, its
	// minting API key's id), and Kind what it is: "user",
	// "service_account", "api_key" or "temporary_key".
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	// Method and Path are the refused request's (the path escaped, without
	// the query).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Time is when the guard refused it.
	Time time.Time `json:"time"`
}

// NetworkRefusalReport is the body of a report to
// POST {Issuer}/network-refusals.
type NetworkRefusalReport struct {
	Refusals []NetworkRefusal `json:"refusals"`
	// Unreported counts refusals the guard dropped since its last report
	// because its queue was full (or Ward refused their report).
	Unreported int `json:"unreported"`
}

// refusalReporter holds the refusals not yet sent and the loop that sends
// them through post, telling report what goes wrong.
type refusalReporter struct {
	mu         sync.Mutex
	pending    []NetworkRefusal
	unreported int // dropped since the last report, the queue being full
	wake       chan struct{}
	done       chan struct{} // closed when run has returned

	// post sends one report; retry says whether a failure may pass (the
	// network, Ward unavailable or busy) rather than be the report's own
	// fault.
	post   func(ctx context.Context, batch []NetworkRefusal, unreported int) (retry bool, err error)
	report func(error)
}

func newRefusalReporter(post func(context.Context, []NetworkRefusal, int) (bool, error), report func(error)) *refusalReporter {
	return &refusalReporter{wake: make(chan struct{}, 1), done: make(chan struct{}), post: post, report: report}
}

func (q *refusalReporter) add(r NetworkRefusal) {
	q.mu.Lock()
	if len(q.pending) < refusalQueueSize {
		q.pending = append(q.pending, r)
	} else {
		q.unreported = min(q.unreported+1, MaxUnreported)
	}
	q.mu.Unlock()
	q.wakeUp()
}

// take removes the next report's refusals and the dropped count.
func (q *refusalReporter) take() ([]NetworkRefusal, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.pending), MaxRefusalsPerReport)
	batch := append([]NetworkRefusal(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	unreported := q.unreported
	q.unreported = 0
	return batch, unreported
}

// putBack returns a report that could not be sent to the front of the
// queue, as far as it fits, so that the next report tries it again.
func (q *refusalReporter) putBack(batch []NetworkRefusal, unreported int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	room := refusalQueueSize - len(q.pending)
	if room < len(batch) {
		unreported += len(batch) - room
		batch = batch[:room]
	}
	q.pending = append(batch, q.pending...)
	q.unreported = min(q.unreported+unreported, MaxUnreported)
}

// wakeUp asks the sending loop to come round (at most one wake waits).
func (q *refusalReporter) wakeUp() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// size is how many refusals are queued and how many were dropped.
func (q *refusalReporter) size() (queued, unreported int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending), q.unreported
}

func (q *refusalReporter) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) == 0 && q.unreported == 0
}

// queueRefusal records that r was refused by the allow lists; who says
// which caller (its kind and sub, as Ward names it). Every field is made
// to fit Ward's bounds here: a report Ward refuses is lost whole, so no
// caller may be able to spoil one (with an odd method, say).
func (g *Guard) queueRefusal(ctx context.Context, r *http.Request, who *refusedCaller) {
	ip, _ := ctx.Value(ipKey{}).(string)
	addr, _ := netip.ParseAddr(ip)
	addr = addr.Unmap().WithZone("")
	rep := NetworkRefusal{Subject: reportText(who.subject, MaxReportedSubject), Kind: who.kind,
		Method: reportedMethod(r.Method), Path: reportedPath(r), Time: g.now()}
	if addr.IsValid() {
		rep.Address = addr.String()
	}
	if g.geo != nil {
		// A failed lookup, or a code that is not ISO 3166-1's shape, is
		// reported as no country, as Ward records a failed lookup.
		country, _ := g.geo.country(addr)
		if !isCountryCode(country) {
			country = ""
		}
		rep.Country = &country
	}
	g.refusals.add(rep)
}

// reportedMethod is the request's method within Ward's bound. net/http
// accepts only token characters in a method, but of any length.
func reportedMethod(m string) string {
	if m == "" {
		return http.MethodGet // net/http's meaning of an empty method
	}
	return m[:min(len(m), MaxReportedMethod)]
}

// reportedPath is the request's path as escaped (so no control character
// reaches the audit log), without the query, cut to Ward's bound before
// any %XX it would split.
func reportedPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if len(p) > MaxReportedPath {
		p = p[:MaxReportedPath]
		if i := strings.LastIndexByte(p, '%'); i >= len(p)-2 {
			p = p[:i]
		}
	}
	return p
}

// reportText is s as Ward takes text: valid UTF-8, no control
// characters, at most limit bytes (cut on a character boundary).
func reportText(s string, limit int) string {
	s = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, strings.ToValidUTF8(s, "\uFFFD"))
	for len(s) > limit {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// refusedCaller names a caller refused by the allow lists.
type refusedCaller struct {
	kind, subject string
}

// callerOf names subject for a refusal report: its kind as Ward's token
// says (an API key's or a person's or service account's), and its sub.
func callerOf(subject map[string]any) *refusedCaller {
	sub, _ := subject["sub"].(string)
	kind, _ := subject["kind"].(string)
	switch kind {
	case KindAPIKey, "service_account":
	default:
		kind = "user"
	}
	return &refusedCaller{kind: kind, subject: sub}
}

// run sends queued refusals until ctx is done, then tries for a short
// while to send what is left. While Ward keeps failing it waits longer
// between attempts, up to refusalBackoffMax, and reports once per run of
// failures.
func (q *refusalReporter) run(ctx context.Context) {
	defer close(q.done)
	var backoff time.Duration
	for {
		select {
		case <-ctx.Done():
			q.last()
			return
		case <-q.wake:
		}
		wait := refusalReportInterval
		switch err := q.send(ctx); {
		case err == nil:
			backoff = 0
		case ctx.Err() != nil:
		default:
			if backoff == 0 {
				q.report(fmt.Errorf("attributes: network refusals not reported, kept to try again (less often while this lasts): %w", err))
			}
			backoff = min(max(2*backoff, refusalReportInterval), refusalBackoffMax)
			wait = backoff
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// last sends what is queued at Close, for at most refusalCloseTime; what
// is left then is reported.
func (q *refusalReporter) last() {
	ctx, cancel := context.WithTimeout(context.Background(), refusalCloseTime)
	defer cancel()
	for !q.empty() && ctx.Err() == nil {
		if err := q.send(ctx); err != nil {
			break
		}
	}
	if n, unreported := q.size(); n+unreported > 0 {
		q.report(fmt.Errorf("attributes: %d network refusals not reported before the guard closed", n+unreported))
	}
}

// send sends one report of what is queued. It answers an error only for a
// failure that may pass (the refusals are back in the queue and the loop
// woken to try again); a report Ward refuses as malformed is counted as
// unreported and reported, since sending it again cannot help.
func (q *refusalReporter) send(ctx context.Context) error {
	if q.empty() {
		return nil
	}
	batch, unreported := q.take()
	if len(batch) == 0 {
		// Only a count is left: it goes with the next refusal's report.
		q.putBack(nil, unreported)
		return nil
	}
	retry, err := q.post(ctx, batch, unreported)
	switch {
	case err != nil && retry:
		q.putBack(batch, unreported)
		q.wakeUp()
		return err
	case err != nil:
		q.putBack(nil, unreported+len(batch))
		q.report(fmt.Errorf("attributes: %d network refusals not reported, Ward refused the report: %w", len(batch), err))
	}
	if !q.empty() {
		// More than one report's worth: the loop comes back after its
		// pause.
		q.wakeUp()
	}
	return nil
}

// postRefusals sends one report to Ward as the guard's client (the
// refusalReporter's post). Every failure but Ward's refusal of the report
// itself may pass.
func (g *Guard) postRefusals(ctx context.Context, batch []NetworkRefusal, unreported int) (retry bool, err error) {
	body, err := json.Marshal(NetworkRefusalReport{Refusals: batch, Unreported: unreported})
	if err != nil {
		return false, err
	}
	u := strings.TrimSuffix(g.cfg.Issuer, "/") + "/network-refusals"
	resp, err := g.doAsClient(ctx, "POST "+u, func(tok string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	})
	if err != nil {
		return true, err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized
	return retry, fmt.Errorf("POST %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
}
