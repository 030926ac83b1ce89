package main

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseStartupPages gives back the pages of Ward's own executable that
// start-up touched. Package initialisation runs code and reads tables all
// over the binary (303 packages), and the kernel maps a 64 KiB window of
// an already cached file around each page fault: ~29 MiB of the
// executable stay resident after start though most of it never runs
// again. Unmapped once, start-up over, the pages a node keeps using come
// back on their first use (the request paths: a few MiB) from the page
// cache, where they stayed; the rest stays out.
//
// MADV_DONTNEED on a private file mapping drops this process's mapping of
// its pages; the next access maps the file's page again. That is exact
// only for pages the process never wrote: so only the read-only mappings
// (code and read-only data), and only those holding no private copy at
// all (smaps' Anonymous: 0 kB: a position-independent build's relocated
// read-only data has such copies, and they must stay). Nothing else is
// touched, whatever the user, file system or kernel. (MADV_PAGEOUT would
// also evict the pages from the page cache, making their return a disk
// read, and recent kernels refuse it to a process that could not write
// the file, as a service user usually cannot.)
func releaseStartupPages(log *slog.Logger) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	var resident, released int
	for _, m := range cleanExecutableMappings(exe) {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno != 0 {
			log.Debug("releasing start-up pages", "err", errno)
			return
		}
		resident += m.residentKiB
		released++
	}
	log.Debug("released start-up pages", "mappings", released, "resident_kib", resident)
}

// mapping is a range of this process's address space and its resident
// size when read.
type mapping struct {
	start, end  uintptr
	residentKiB int
}

// cleanExecutableMappings are the mappings of exe, from /proc/self/smaps,
// that are not writable and hold no private (anonymous) page.
func cleanExecutableMappings(exe string) []mapping {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseCleanMappings(f, exe)
}

// parseCleanMappings is cleanExecutableMappings over smaps text. A mapping
// whose Anonymous: line is missing is not clean.
func parseCleanMappings(r io.Reader, exe string) []mapping {
	var (
		out []mapping
		cur *mapping
		// anonymous is cur's Anonymous: size, -1 until read.
		anonymous = -1
	)
	keep := func() {
		if cur != nil && anonymous == 0 {
			out = append(out, *cur)
		}
		cur, anonymous = nil, -1
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && len(fields) >= 5 {
			// A mapping's header: address perms offset dev inode [path].
			keep()
			if len(fields) < 6 || fields[5] != exe || strings.ContainsRune(fields[1], 'w') {
				continue
			}
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || end <= start {
				continue
			}
			cur = &mapping{start: uintptr(start), end: uintptr(end)}
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "Rss:":
			cur.residentKiB, _ = strconv.Atoi(fields[1])
		case "Anonymous:":
			if n, err := strconv.Atoi(fields[1]); err == nil {
				anonymous = n
			}
		}
	}
	if sc.Err() != nil {
		return nil
	}
	keep()
	return out
}
