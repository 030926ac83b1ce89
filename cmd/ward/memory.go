package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Ward's garbage collector settings, unless the operator sets GOGC or
// GOMEMLIMIT (then the Go runtime's rules apply unchanged).
//
// The token path makes short-lived garbage over a live heap of a few MiB.
// Collecting at 400% growth instead of 100% saves ~10-25% CPU per grant,
// but alone it lets the heap reach five times the live heap under load (76
// MiB RSS at c=32, docs/benchmarks.md). A soft memory limit caps that: the
// heap grows freely up to memoryFloor, then is collected as often as
// needed to stay there, which cost ~7% CPU per grant in the same
// measurement and kept RSS under 64 MiB. A fixed limit would make a node
// with a large live heap (many realms' caches) collect continuously, so
// the limit follows the live heap: never below three times it (an
// effective GOGC of 200), re-read every limitInterval.
const (
	memoryFloor   = 28 << 20
	limitInterval = 2 * time.Second
)

// tuneGC applies the defaults above and keeps the limit following the live
// heap until ctx ends. It reports whether it did (false: the operator's
// GOGC or GOMEMLIMIT is in force).
func tuneGC(ctx context.Context) bool {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		return false
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(memoryFloor)
	go func() {
		samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}}
		t := time.NewTicker(limitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(samples)
			debug.SetMemoryLimit(memoryLimitFor(sampleBytes(samples[0]), sampleBytes(samples[1])))
		}
	}()
	return true
}

// memoryLimitFor is the soft memory limit for a live heap and the
// goroutine stacks: memoryFloor, or room for the heap to grow to three
// times its live size when that is more.
func memoryLimitFor(liveHeap, stacks uint64) int64 {
	return max(int64(memoryFloor), int64(3*liveHeap+stacks))
}

func sampleBytes(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}
