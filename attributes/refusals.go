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
)

// Reporting network refusals (CONTRACT §7: a refusal is an audit event).
// The guard refuses callers outside the IP allow lists in the resource
// server's process, where Ward cannot see it; so it queues each refusal
// and a background loop sends them to {Issuer}/network-refusals, as the
// resource server's client, at most once a second in reports of at most
// 100. The queue is bounded: a flood of refused requests (the thing the
// lists keep out) costs the guard a fixed amount of memory and Ward at
// most 100 events a second from it; what did not fit is counted and the
// count sent with the next report. Refusing never waits for Ward.

const (
	// refusalQueueSize bounds the refusals waiting to be sent.
	refusalQueueSize = 1000
	// refusalReportSize is the most one report carries (Ward's bound).
	refusalReportSize = 100
	// refusalReportInterval is the least time between two reports.
	refusalReportInterval = time.Second
	// maxReportedPath is Ward's bound on a reported path.
	maxReportedPath = 1024
)

// reportedRefusal is one refusal as Ward's endpoint reads it.
type reportedRefusal struct {
	Address string    `json:"address"`
	Country *string   `json:"country,omitempty"`
	Subject string    `json:"subject"`
	Kind    string    `json:"kind"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Time    time.Time `json:"time"`
}

// refusalQueue holds the refusals not yet sent.
type refusalQueue struct {
	mu         sync.Mutex
	pending    []reportedRefusal
	unreported int // dropped since the last report, the queue being full
	wake       chan struct{}
}

func newRefusalQueue() *refusalQueue {
	return &refusalQueue{wake: make(chan struct{}, 1)}
}

func (q *refusalQueue) add(r reportedRefusal) {
	q.mu.Lock()
	if len(q.pending) < refusalQueueSize {
		q.pending = append(q.pending, r)
	} else {
		q.unreported++
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes the next report's refusals and the dropped count.
func (q *refusalQueue) take() ([]reportedRefusal, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.pending), refusalReportSize)
	batch := append([]reportedRefusal(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	unreported := q.unreported
	q.unreported = 0
	return batch, unreported
}

// putBack returns a report that could not be sent to the front of the
// queue, as far as it fits, so that the next report tries it again.
func (q *refusalQueue) putBack(batch []reportedRefusal, unreported int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	room := refusalQueueSize - len(q.pending)
	if room < len(batch) {
		unreported += len(batch) - room
		batch = batch[:room]
	}
	q.pending = append(batch, q.pending...)
	q.unreported += unreported
}

func (q *refusalQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) == 0 && q.unreported == 0
}

// queueRefusal records that r was refused by the allow lists; who says
// which caller (its kind and sub, as Ward names it).
func (g *Guard) queueRefusal(ctx context.Context, r *http.Request, who *refusedCaller) {
	ip, _ := ctx.Value(ipKey{}).(string)
	addr, _ := netip.ParseAddr(ip)
	addr = addr.Unmap().WithZone("")
	rep := reportedRefusal{Subject: who.subject, Kind: who.kind, Method: r.Method, Path: reportedPath(r), Time: g.now()}
	if addr.IsValid() {
		rep.Address = addr.String()
	}
	if g.geo != nil {
		// A failed lookup is reported as no country, as Ward does.
		country, _ := g.geo.country(addr)
		rep.Country = &country
	}
	g.refusals.add(rep)
}

// reportedPath is the request's path as escaped on the wire (so no
// control character reaches the audit log), cut to Ward's bound.
func reportedPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if len(p) > maxReportedPath {
		p = p[:maxReportedPath]
	}
	return p
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

// reportRefusals sends queued refusals until ctx is done, then makes one
// last attempt with what is left.
func (g *Guard) reportRefusals(ctx context.Context) {
	defer close(g.reportsDone)
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			g.sendRefusals(final)
			cancel()
			return
		case <-g.refusals.wake:
		}
		g.sendRefusals(ctx)
		// At most one report a second, whatever arrives meanwhile.
		select {
		case <-ctx.Done():
		case <-time.After(refusalReportInterval):
		}
	}
}

// sendRefusals sends one report of what is queued; on failure the
// refusals go back to the queue (and the next refusal tries again).
func (g *Guard) sendRefusals(ctx context.Context) {
	if g.refusals.empty() {
		return
	}
	batch, unreported := g.refusals.take()
	if len(batch) == 0 {
		// Only a count is left: it goes with the next refusal's report.
		g.refusals.putBack(nil, unreported)
		return
	}
	retry, err := g.postRefusals(ctx, batch, unreported)
	switch {
	case err != nil && retry:
		g.refusals.putBack(batch, unreported)
		g.report(fmt.Errorf("attributes: network refusals not reported, kept to try again: %w", err))
	case err != nil:
		// Ward refused the report itself: sending it again would not help.
		g.report(fmt.Errorf("attributes: network refusals not reported, dropped: %w", err))
	}
	if !g.refusals.empty() {
		// More than one report's worth, or one to try again: the loop
		// comes back after its pause.
		select {
		case g.refusals.wake <- struct{}{}:
		default:
		}
	}
}

// postRefusals sends one report. retry says whether a failure may pass
// (the network, Ward unavailable) rather than be the report's own fault.
func (g *Guard) postRefusals(ctx context.Context, batch []reportedRefusal, unreported int) (retry bool, err error) {
	body, err := json.Marshal(struct {
		Refusals   []reportedRefusal `json:"refusals"`
		Unreported int               `json:"unreported"`
	}{batch, unreported})
	if err != nil {
		return false, err
	}
	u := strings.TrimSuffix(g.cfg.Issuer, "/") + "/network-refusals"
	for attempt := 0; ; attempt++ {
		tok, err := g.accessToken(ctx)
		if err != nil {
			return true, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := g.client.Do(req)
		if err != nil {
			return true, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNoContent:
			return false, nil
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			// Our token may have been revoked: sign in again, once.
			g.dropToken(tok)
			continue
		}
		retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized
		return retry, fmt.Errorf("POST %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
	}
}
