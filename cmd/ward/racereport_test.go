package main

import (
	"strings"
	"testing"
)

// TestRaceReport: a ward process's stderr with a race detector report
// yields the report from its separator on; log lines alone yield nothing.
func TestRaceReport(t *testing.T) {
	logs := `{"level":"INFO","msg":"listening","addr":"127.0.0.1:1"}` + "\n"
	if r := raceReport(logs); r != "" {
		t.Fatalf("report in plain logs: %q", r)
	}
	report := "==================\nWARNING: DATA RACE\nWrite at 0x00c000012345 by goroutine 7:\n  main.main()\n=================="
	if r := raceReport(logs + report + "\n" + logs + "Found 1 data race(s)\n"); r != report {
		t.Fatalf("raceReport = %q", r)
	}
	if r := raceReport(strings.Repeat("x", 10) + "WARNING: DATA RACE" + strings.Repeat("y", 100<<10)); !strings.HasPrefix(r, "WARNING: DATA RACE") || len(r) > 65<<10 {
		t.Fatalf("a long report is not cut: %d bytes", len(r))
	}
}
