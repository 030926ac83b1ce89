// Package testbrowser drives Debian's Chromium, headless, through chromedp
// for Ward's browser tests (cmd/ward's, over the real binary, and
// console/ui's, over the console UI): one browser per test, tabs with
// their own cookies, waiting for and evaluating JavaScript, and files of
// npm packages (keycloak-js, axe-core) the tests run in the page. Tests
// only.
//
// A missing Chromium or npm fails the test saying how to install it; the
// tests are skipped only when WARD_SKIP_BROWSER=1 asks for it (never in
// CI).
package testbrowser

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// skipEnv, set to 1, skips the browser tests where Chromium or npm is
// missing instead of failing them.
const skipEnv = "WARD_SKIP_BROWSER"

// missing skips the test when skipEnv asks for it and fails it otherwise,
// with msg saying what is missing and how to install it.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(skipEnv) == "1" {
		t.Skip(skipEnv + "=1: browser tests skipped (never in CI)")
	}
	t.Fatal(msg)
}

// chromiumPath finds Chromium, or fails (skips only with WARD_SKIP_BROWSER=1).
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "Chromium is not installed: the browser tests need it. Install it with `apt-get install -y chromium` "+
		"(make test and .ci/run do), or set WARD_SKIP_BROWSER=1 to skip these tests locally.")
	return ""
}

// Start starts one headless Chromium for the test and its subtests.
// Its popup blocker is on (chromedp turns it off by default), as in a
// user's browser: a page must open a popup within the user activation of
// a click (ward.js does), and a popup opened without one fails the test.
func Start(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("disable-popup-blocking", false),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1000, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as the
	// context it ran in: ctx itself, not a shorter one; a timer bounds it.
	timer := time.AfterFunc(60*time.Second, cancel)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !timer.Stop() || err != nil {
		t.Fatalf("starting Chromium (within 60 s): %v", err)
	}
	// The blocker is really on: a window opened by script without a user
	// activation is refused.
	blockerCtx, cancelBlocker := context.WithTimeout(ctx, 20*time.Second)
	defer cancelBlocker()
	if opened, err := chromedp.Run(blockerCtx, chromedp.Evaluate[bool](`window.open("about:blank", "_blank", "popup") !== null`)); err != nil || opened {
		t.Fatalf("Chromium's popup blocker is off (a window.open without a user activation opened: %v, %v)", opened, err)
	}
	return ctx
}

// NewSession opens a tab in a fresh browser context (no cookies) of
// browser (from Start) that lives as long as the test; subtests using it
// bound their own work with Step.
func NewSession(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action creates the tab, which lives as long as the
	// context it ran in: ctx, bounded by a timer instead of a deadline.
	timer := time.AfterFunc(30*time.Second, cancel)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !timer.Stop() || err != nil {
		t.Fatalf("opening a tab (within 30 s): %v", err)
	}
	return ctx
}

// Step bounds what one subtest does in a tab shared with others.
func Step(t testing.TB, tab context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(cancel)
	return ctx
}

// NewTab opens a tab in a fresh browser context (no cookies), with a
// deadline for everything the subtest does in it.
func NewTab(t testing.TB, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	return Step(t, NewSession(t, browser), timeout)
}

// WaitJS evaluates expr every 100 ms until it is neither null, undefined
// nor false, and returns its JSON value. Unlike chromedp.Poll it does not
// run as a user gesture, so waiting never lends the page the user
// activation a popup needs: only a click does. It runs in ctx itself, not
// in a shorter context (the first action on a tab attaches it for the
// life of the context it runs in); ctx's deadline bounds each evaluation.
func WaitJS(ctx context.Context, expr string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
		if err == nil && len(v) > 0 && string(v) != "null" && string(v) != "false" {
			return v, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			if err == nil {
				err = errors.New("timed out")
			}
			return nil, fmt.Errorf("waiting for %s: %w", expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Eval runs script in the tab and returns its JSON value, or fails the
// test.
func Eval[T any](t testing.TB, ctx context.Context, script string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// NPMFile returns the path of one file of an npm package (member, below
// the package's root), fetched once with `npm pack` into the user's cache
// directory. Without npm the test fails saying how to install it (skipped
// only with WARD_SKIP_BROWSER=1, like the other browser tests); why says
// what the test needs the package for.
func NPMFile(t testing.TB, pkg, version, member, why string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "ward-test", pkg+"-"+version)
	file := filepath.Join(dir, filepath.Base(member))
	if _, err := os.Stat(file); err == nil {
		return file
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(t, "npm is not installed: "+why+". "+
			"Install it with `apt-get install -y npm` (make test and .ci/run do), "+
			"or set WARD_SKIP_BROWSER=1 to skip the browser tests locally.")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", pkg+"@"+version, "--pack-destination", dir, "--silent")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm pack %s@%s: %v\n%s", pkg, version, err, out)
	}
	tgz := filepath.Join(dir, pkg+"-"+version+".tgz")
	if err := extractFile(tgz, "package/"+member, file); err != nil {
		t.Fatalf("unpack %s: %v", tgz, err)
	}
	return file
}

// extractFile copies one member of a .tgz to dst, through a temporary
// file, so a half-written copy is never taken for the real one.
func extractFile(tgz, member, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s not in the archive", member)
		}
		if err != nil {
			return err
		}
		if h.Name != member {
			continue
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
		if err != nil {
			return err
		}
		if _, err := io.Copy(tmp, tr); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
		if err := tmp.Close(); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		return os.Rename(tmp.Name(), dst)
	}
}
