package attributes

import (
	"fmt"
	"testing"
)

// TestRefusalQueueBounded: the queue of refusals to report holds at most
// refusalQueueSize and counts the rest; a report takes at most
// refusalReportSize with the count, and one put back after a failed send
// goes first again, counting what no longer fits.
func TestRefusalQueueBounded(t *testing.T) {
	q := newRefusalQueue()
	for i := range refusalQueueSize + 5 {
		q.add(reportedRefusal{Subject: fmt.Sprint(i)})
	}
	if len(q.pending) != refusalQueueSize || q.unreported != 5 {
		t.Fatalf("after %d refusals: %d queued, %d unreported; want %d and 5", refusalQueueSize+5, len(q.pending), q.unreported, refusalQueueSize)
	}
	batch, unreported := q.take()
	if len(batch) != refusalReportSize || unreported != 5 || batch[0].Subject != "0" || batch[refusalReportSize-1].Subject != fmt.Sprint(refusalReportSize-1) {
		t.Fatalf("first report: %d refusals from %s, %d unreported", len(batch), batch[0].Subject, unreported)
	}
	if len(q.pending) != refusalQueueSize-refusalReportSize || q.unreported != 0 || q.pending[0].Subject != fmt.Sprint(refusalReportSize) {
		t.Fatalf("after the report: %d queued from %s, %d unreported", len(q.pending), q.pending[0].Subject, q.unreported)
	}
	// The send failed; meanwhile 50 more arrived, so half the report fits.
	for range 50 {
		q.add(reportedRefusal{Subject: "late"})
	}
	q.putBack(batch, unreported)
	if len(q.pending) != refusalQueueSize || q.pending[0].Subject != "0" || q.pending[49].Subject != "49" ||
		q.pending[50].Subject != fmt.Sprint(refusalReportSize) || q.unreported != 5+50 {
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
