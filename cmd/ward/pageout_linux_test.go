package main

import (
	"bufio"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestReleaseStartupPages: after releaseStartupPages, the resident pages of
// this process's executable (code and read-only data) are a fraction of
// what they were; the code still running faults its own pages back.
func TestReleaseStartupPages(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(exe, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == tmpfsMagic {
		t.Fatalf("the test binary %s is on tmpfs, whose pages are memory, not file cache, and cannot be released: set GOTMPDIR to a directory on a disk file system", exe)
	}
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

// tmpfsMagic is TMPFS_MAGIC, statfs(2)'s type of a tmpfs.
const tmpfsMagic = 0x01021994

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
