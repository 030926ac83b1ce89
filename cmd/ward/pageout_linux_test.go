package main

import (
	"bufio"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReleaseStartupPages: after releaseStartupPages, the resident pages of
// this process's executable (code and read-only data) are a fraction of
// what they were; the code still running maps its own pages back.
func TestReleaseStartupPages(t *testing.T) {
	before := executableRSS(t)
	releaseStartupPages(slog.New(slog.DiscardHandler))
	after := executableRSS(t)
	t.Logf("read-only mappings of the executable: %d KiB resident before, %d KiB after", before, after)
	if before < 4096 {
		t.Fatalf("only %d KiB of the executable resident before: nothing to measure", before)
	}
	if after > before/2 {
		t.Errorf("%d KiB of the executable still resident after releasing, %d KiB before: want at most half", after, before)
	}
}

// TestCleanMappings: only the executable's read-only mappings that hold no
// private page are released; a writable one, another file's, and one with
// private copies (a position-independent build's relocated read-only data)
// are not.
func TestCleanMappings(t *testing.T) {
	const smaps = `00400000-00600000 r-xp 00000000 fd:00 12 /usr/bin/ward
Size:               2048 kB
Rss:                1200 kB
Anonymous:             0 kB
00600000-00700000 r--p 00200000 fd:00 12 /usr/bin/ward
Rss:                 300 kB
Anonymous:             8 kB
00700000-00800000 r--p 00300000 fd:00 12 /usr/bin/ward
Rss:                 500 kB
Anonymous:             0 kB
00800000-00900000 rw-p 00400000 fd:00 12 /usr/bin/ward
Rss:                 100 kB
Anonymous:            20 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:00 99 /usr/lib/libc.so.6
Rss:                 800 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Rss:                  40 kB
Anonymous:            40 kB
00a00000-00b00000 r--p 00000000 fd:00 12 /usr/bin/ward
Rss:                  64 kB
`
	got := parseCleanMappings(strings.NewReader(smaps), "/usr/bin/ward")
	want := []mapping{{0x400000, 0x600000, 1200}, {0x700000, 0x800000, 500}}
	if len(got) != len(want) {
		t.Fatalf("mappings %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// executableRSS is the resident KiB of the executable's read-only
// mappings, from /proc/self/smaps.
func executableRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		total int
		in    bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && len(fields) >= 5 {
			in = len(fields) >= 6 && fields[5] == exe && !strings.ContainsRune(fields[1], 'w')
			continue
		}
		if in && fields[0] == "Rss:" && len(fields) >= 2 {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			total += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
