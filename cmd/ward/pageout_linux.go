package main

import (
	"bufio"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim the range's pages now.
// Clean file pages mapped by this process alone are dropped; pages other
// processes map too are left alone.
const madvPageout = 21

// releaseStartupPages gives back the pages of Ward's own executable that
// start-up touched. Package initialisation runs code and reads tables all
// over the binary (303 packages), and the kernel maps a 64 KiB window of
// an already cached file around each page fault: ~29 MiB of the
// executable stay resident after start though most of it never runs
// again. Dropped once, start-up over, the pages a node keeps using come
// back on their first use (the request paths: a few MiB), the rest stays
// out. Only the read-only mappings (code and read-only data), whose pages
// are exact copies of the file; written data stays. Best effort: on an
// older kernel, or anything unexpected, nothing happens.
func releaseStartupPages(log *slog.Logger) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	var released uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.ContainsRune(fields[1], 'w') {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout); errno != 0 {
			log.Debug("releasing start-up pages", "err", errno)
			return
		}
		released += uintptr(end - start)
	}
	log.Debug("released start-up pages", "bytes", released)
}
