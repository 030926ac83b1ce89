package attributes

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRefusalQueueBounded: the queue of refusals to report holds at most
// refusalQueueSize and counts the rest; a report takes at most
// MaxRefusalsPerReport with the count, and one put back after a failed send
// goes first again, counting what no longer fits.
func TestRefusalQueueBounded(t *testing.T) {
	q := newRefusalReporter(nil, nil)
	for i := range refusalQueueSize + 5 {
		q.add(NetworkRefusal{Subject: fmt.Sprint(i)})
	}
	if len(q.pending) != refusalQueueSize || q.unreported != 5 {
		t.Fatalf("after %d refusals: %d queued, %d unreported; want %d and 5", refusalQueueSize+5, len(q.pending), q.unreported, refusalQueueSize)
	}
	batch, unreported := q.take()
	if len(batch) != MaxRefusalsPerReport || unreported != 5 || batch[0].Subject != "0" || batch[MaxRefusalsPerReport-1].Subject != fmt.Sprint(MaxRefusalsPerReport-1) {
		t.Fatalf("first report: %d refusals from %s, %d unreported", len(batch), batch[0].Subject, unreported)
	}
	if len(q.pending) != refusalQueueSize-MaxRefusalsPerReport || q.unreported != 0 || q.pending[0].Subject != fmt.Sprint(MaxRefusalsPerReport) {
		t.Fatalf("after the report: %d queued from %s, %d unreported", len(q.pending), q.pending[0].Subject, q.unreported)
	}
	// The send failed; meanwhile 50 more arrived, so half the report fits.
	for range 50 {
		q.add(NetworkRefusal{Subject: "late"})
	}
	q.putBack(batch, unreported)
	if len(q.pending) != refusalQueueSize || q.pending[0].Subject != "0" || q.pending[49].Subject != "49" ||
		q.pending[50].Subject != fmt.Sprint(MaxRefusalsPerReport) || q.unreported != 5+50 {
		t.Fatalf("put back: %d queued from %s, %d unreported; want %d from 0 and 55", len(q.pending), q.pending[0].Subject, q.unreported, refusalQueueSize)
	}
	for !q.empty() {
		if b, _ := q.take(); len(b) == 0 {
			break
		}
	}
	if len(q.pending) != 0 {
		t.Fatalf("%d left after taking everything", len(q.pending))
	}
}

// refusalsEnv is a guard on the test issuer with a realm list of
// 203.0.113.0/24, addresses through a trusted proxy on loopback, reports
// 10 ms apart, and OnError's messages kept.
type refusalsEnv struct {
	*tkEnv
	token  string
	mu     sync.Mutex
	errors []string
}

func newRefusalsEnv(t *testing.T, answers ...int) *refusalsEnv {
	t.Helper()
	old := refusalReportInterval
	refusalReportInterval = 10 * time.Millisecond
	t.Cleanup(func() { refusalReportInterval = old })
	e := &refusalsEnv{}
	e.tkEnv = newTKEnv(t, func(c *Config) {
		c.TrustedProxies = localProxy
		c.OnError = func(err error) { e.mu.Lock(); e.errors = append(e.errors, err.Error()); e.mu.Unlock() }
	})
	e.ti.set(func(ti *testIssuer) {
		ti.ipAllowLists = map[string]any{"realm": []string{"203.0.113.0/24"}}
		ti.version++
		ti.refusalAnswers = answers
	})
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every method and path, authenticated only.
	e.srv = httptest.NewServer(e.g.Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(e.srv.Close)
	now := e.clock.now()
	e.token = e.ti.keySigner.sign(t, "at+jwt", map[string]any{
		"iss": e.ti.issuer, "sub": "u-1", "aud": []any{testAudience}, "client_id": "web",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j-u-1",
		"kind": "user", "groups": []any{}, "attributes": map[string]any{}})
	return e
}

// refuse sends a request from outside the list, wanting 403.
func (e *refusalsEnv) refuse(t *testing.T, method, path string) {
	t.Helper()
	wantStatus(t, method+" "+path, send(t, method, e.srv.URL+path, append([]string{"Authorization", "Bearer " + e.token}, from("192.0.2.7")...)...),
		http.StatusForbidden, "requests from this network are not allowed")
}

// waitReports waits (at most 5 s) until the issuer has had n reports and
// returns them.
func (e *refusalsEnv) waitReports(t *testing.T, n int) []testReport {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		e.ti.mu.Lock()
		reports := slices.Clone(e.ti.reports)
		e.ti.mu.Unlock()
		if len(reports) >= n {
			return reports
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports after 5 s, want %d: %+v", len(reports), n, reports)
		}
	}
}

func (e *refusalsEnv) errorsSeen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.errors)
}

// reportedPaths are the method and path of each refusal of a report.
func reportedPaths(r testReport) []string {
	out := []string{}
	for _, f := range r.Refusals {
		out = append(out, fmt.Sprint(f["method"], " ", f["path"]))
	}
	return out
}

// TestGuardRefusalReportsRetried: a report Ward could not take (503) is
// sent again with the same refusal, and OnError hears of the failure run
// once; the refusal's fields are the request's, made to fit Ward's bounds
// (a lowercase method kept, a long one cut, the path escaped).
func TestGuardRefusalReportsRetried(t *testing.T) {
	e := newRefusalsEnv(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	e.refuse(t, http.MethodGet, "/me")
	reports := e.waitReports(t, 3)
	for i, r := range reports {
		if got := reportedPaths(r); !slices.Equal(got, []string{"GET /me"}) {
			t.Errorf("report %d: %v, want the one refusal", i, got)
		}
	}
	if reports[0].status != 503 || reports[1].status != 503 || reports[2].status != 204 {
		t.Errorf("answers %d %d %d, want 503 503 204", reports[0].status, reports[1].status, reports[2].status)
	}
	f := reports[2].Refusals[0]
	if f["address"] != "192.0.2.7" || f["subject"] != "u-1" || f["kind"] != "user" || f["country"] != nil {
		t.Errorf("refusal %v", f)
	}
	if errs := e.errorsSeen(); len(errs) != 1 || !strings.Contains(errs[0], "503") {
		t.Errorf("OnError heard %q, want the failure run once", errs)
	}

	e.refuse(t, "get", "/me")
	e.refuse(t, "PROPFINDPROPFINDPROPFIND", "/me")
	e.refuse(t, http.MethodGet, "/files/a%20b/%00x?q=1")
	// The three may come in one report or several.
	var got []string
	for deadline := time.Now().Add(5 * time.Second); len(got) < 3 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got = nil
		for _, r := range e.waitReports(t, 4)[3:] {
			got = append(got, reportedPaths(r)...)
		}
	}
	if want := []string{"get /me", "PROPFINDPROPFIND /me", "GET /files/a%20b/%00x"}; !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}

// TestGuardRefusalReportsRefused: a report Ward refuses as malformed (400)
// is not sent again; its refusals are counted as unreported and that
// count arrives with the next report.
func TestGuardRefusalReportsRefused(t *testing.T) {
	e := newRefusalsEnv(t, http.StatusBadRequest)
	e.refuse(t, http.MethodGet, "/me")
	e.waitReports(t, 1)
	e.refuse(t, http.MethodDelete, "/files/f1")
	reports := e.waitReports(t, 2)
	if len(reports) != 2 || reports[1].status != 204 || reports[1].Unreported != 1 ||
		!slices.Equal(reportedPaths(reports[1]), []string{"DELETE /files/f1"}) {
		t.Errorf("reports %+v, want the second with the new refusal and 1 unreported", reports)
	}
	if errs := e.errorsSeen(); len(errs) != 1 || !strings.Contains(errs[0], "1 network refusals not reported, Ward refused the report") {
		t.Errorf("OnError heard %q", errs)
	}
}

// TestGuardRefusalReportsAtClose: refusals still queued when the guard
// closes are sent then.
func TestGuardRefusalReportsAtClose(t *testing.T) {
	e := newRefusalsEnv(t)
	refusalReportInterval = time.Hour // after the first report, the loop waits
	e.refuse(t, http.MethodGet, "/me")
	e.waitReports(t, 1)
	e.refuse(t, http.MethodGet, "/files/f2")
	if err := e.g.Close(); err != nil {
		t.Fatal(err)
	}
	reports := e.waitReports(t, 2)
	if len(reports) != 2 || !slices.Equal(reportedPaths(reports[1]), []string{"GET /files/f2"}) {
		t.Errorf("reports %+v, want the second sent at Close", reports)
	}
	if errs := e.errorsSeen(); len(errs) != 0 {
		t.Errorf("OnError heard %q", errs)
	}
}
