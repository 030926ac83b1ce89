package main

import (
	"regexp"
	"testing"
)

func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live, stacks uint64
		want         int64
	}{
		{0, 0, memoryFloor},
		{4 << 20, 1 << 20, memoryFloor},
		{9 << 20, 1 << 20, 28 << 20},
		{100 << 20, 2 << 20, 302 << 20},
	} {
		if got := memoryLimitFor(c.live, c.stacks); got != c.want {
			t.Errorf("memoryLimitFor(%d MiB live, %d MiB stacks) = %d MiB, want %d MiB", c.live>>20, c.stacks>>20, got>>20, c.want>>20)
		}
	}
}

// TestGCSettings: ward serve collects at 400% growth under a soft memory
// limit of memoryFloor by default, and leaves the Go runtime's rules alone
// when the operator sets GOGC or GOMEMLIMIT (read from /metrics, which
// exports both).
func TestGCSettings(t *testing.T) {
	gc := func(t *testing.T, env ...string) (gogc, limit string) {
		t.Helper()
		w := newWardEnv(t, "")
		w.env = append(w.env, env...)
		s := w.serve(t)
		body := readBody(t, s.get(t, "/metrics"))
		value := func(name string) string {
			m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("/metrics has no %s", name)
			}
			return m[1]
		}
		return value("go_gc_gogc_percent"), value("go_gc_gomemlimit_bytes")
	}
	for _, c := range []struct {
		name        string
		env         []string
		gogc, limit string
	}{
		{"default", nil, "400", "2.9360128e+07"},
		{"GOMEMLIMIT", []string{"GOMEMLIMIT=100MiB"}, "100", "1.048576e+08"},
		{"GOGC", []string{"GOGC=50"}, "50", "9.223372036854776e+18"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if gogc, limit := gc(t, c.env...); gogc != c.gogc || limit != c.limit {
				t.Errorf("GOGC %s, memory limit %s; want %s, %s", gogc, limit, c.gogc, c.limit)
			}
		})
	}
}
