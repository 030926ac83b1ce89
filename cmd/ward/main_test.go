package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The tests in this package are black-box: they build the real ward binary
// once and run it as a user would, on 127.0.0.1:0, talking HTTP to it.

var wardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ward-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wardBin = filepath.Join(dir, "ward")
	args := []string{"build", "-o", wardBin}
	if raceEnabled {
		// go test -race checks only the test process; the server is a
		// separate binary and is checked only if built with -race too
		// (its reports fail the test: raceReport).
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ward:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wardEnv is the environment of one Ward installation: a data dir and a DB.
type wardEnv struct {
	dataDir string
	db      string
	env     []string
}

func newWardEnv(t testing.TB, db string) *wardEnv {
	t.Helper()
	dir := t.TempDir()
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "ward.db")
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"WARD_DATA_DIR=" + dir,
		"WARD_DB=" + db,
		"WARD_LOG_FORMAT=json",
		// Fixed so that Postgres (which requires one) and SQLite behave alike.
		"WARD_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	return &wardEnv{dataDir: dir, db: db, env: env}
}

// command runs ward to completion and returns stdout, stderr and the exit code.
func (w *wardEnv) command(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wardBin, args...)
	cmd.Env = w.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if r := raceReport(stderr.String()); r != "" {
		t.Errorf("ward %v: the race detector reported:\n%s", args, r)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running ward %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// server is a running `ward serve`.
type server struct {
	URL    string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, once done is closed
}

// serve starts `ward serve --addr 127.0.0.1:0` and waits until it listens.
func (w *wardEnv) serve(t testing.TB, extra ...string) *server {
	t.Helper()
	cmd := exec.Command(wardBin, append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Env = w.env
	s := &server{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = s.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done); pw.Close() }()
	t.Cleanup(func() {
		s.stop(t)
		if r := raceReport(s.stderr.String()); r != "" {
			t.Errorf("ward serve: the race detector reported:\n%s", r)
		}
	})

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-s.done:
		t.Fatalf("ward serve exited early: %v\nstderr:\n%s", s.err, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("ward serve did not start listening in 30s\nstderr:\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("ward serve did not stop within 30s of SIGTERM")
	}
}

// raceReport is the race detector's reports in a ward process's stderr
// (a binary built with -race, raceEnabled), or "" when there are none.
// The process keeps running after a report (GORACE halt_on_error is off),
// so the test fails on the report itself, not on what a killed server
// would make its later requests do.
func raceReport(stderr string) string {
	i := strings.Index(stderr, "WARNING: DATA RACE")
	if i < 0 {
		return ""
	}
	// From the separator line before the first report to the one after
	// the last (the log lines after it are the test's own business).
	const sep = "=================="
	if j := strings.LastIndex(stderr[:i], sep); j >= 0 {
		i = j
	}
	r := stderr[i:]
	if j := strings.LastIndex(r, sep); j > 0 {
		r = r[:j+len(sep)]
	}
	const max = 64 << 10
	if len(r) > max {
		return r[:max] + "\n[...]"
	}
	return r
}

// logs is everything the server wrote so far, stdout and stderr.
func (s *server) logs() string { return s.stdout.String() + s.stderr.String() }

func (s *server) get(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersion(t *testing.T) {
	w := newWardEnv(t, "")
	out, _, code := w.command(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ward ") || !strings.Contains(out, "go1.") {
		t.Fatalf("ward version: code %d, output %q", code, out)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	w := newWardEnv(t, "")
	_, errOut, code := w.command(t, "frobnicate")
	if code == 0 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: code %d, stderr %q", code, errOut)
	}
}

func TestHealthReadyMetricsAndShutdown(t *testing.T) {
	w := newWardEnv(t, "")
	s := w.serve(t)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp := s.get(t, path)
		body := readBody(t, resp)
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d: %s", path, resp.StatusCode, want, body)
		}
		if path == "/metrics" && !strings.Contains(body, "go_goroutines") {
			t.Errorf("/metrics lacks Go runtime metrics")
		}
	}
	// Metrics record handled requests by route pattern.
	if body := readBody(t, s.get(t, "/metrics")); !strings.Contains(body, `ward_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}`) {
		t.Errorf("/metrics does not count /healthz requests")
	}
	// And the reads kept between requests (none yet), and failed polls of
	// the realms' token state.
	body := readBody(t, s.get(t, "/metrics"))
	for _, series := range []string{`ward_kept_reads_total{kind="introspection"} 0`, `ward_kept_reads_total{kind="client"} 0`,
		"ward_token_state_poll_failures_total 0"} {
		if !strings.Contains(body, series+"\n") {
			t.Errorf("/metrics lacks %q", series)
		}
	}
	s.stop(t)
	if s.err != nil {
		t.Fatalf("ward serve exited with %v after SIGTERM; logs:\n%s", s.err, s.logs())
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean-stop log line after SIGTERM:\n%s", s.stderr.String())
	}
}

func TestMigrateCommand(t *testing.T) {
	w := newWardEnv(t, "")
	out, errOut, code := w.command(t, "migrate")
	if code != 0 || !strings.Contains(out, "applied") || strings.Contains(out, "applied 0 ") {
		t.Fatalf("first migrate: code %d, out %q, err %q", code, out, errOut)
	}
	out, _, code = w.command(t, "migrate")
	if code != 0 || !strings.Contains(out, "applied 0 migration") {
		t.Fatalf("second migrate should apply nothing: code %d, out %q", code, out)
	}
}

func TestFirstStartSetupLink(t *testing.T) {
	w := newWardEnv(t, "")
	s := w.serve(t)
	// stdout and stderr are copied by separate goroutines: the link printed
	// before the "listening" log line may land a moment after it.
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = regexp.MustCompile(`(http://\S+/console/setup)\?token=(\S+)`).FindStringSubmatch(s.stdout.String())
	}
	if m == nil {
		t.Fatalf("first start on an empty database printed no setup link; stdout:\n%s", s.stdout.String())
	}
	pageURL, token := m[1], m[2]
	if strings.Contains(s.stderr.String(), token) {
		t.Errorf("the setup token was written to the log")
	}

	resp, err := http.Get(pageURL + "?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("setup page = %d:\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("setup page CSP %q allows framing", csp)
	}

	// Without the token, or with a wrong one, nothing is created.
	for _, bad := range []url.Values{
		{"org": {"evil"}, "email": {"evil@example.test"}, "first_name": {"E"}, "last_name": {"V"}},
		{"token": {""}, "org": {"evil"}, "email": {"evil@example.test"}, "first_name": {"E"}, "last_name": {"V"}},
		{"token": {token + "x"}, "org": {"evil"}, "email": {"evil@example.test"}, "first_name": {"E"}, "last_name": {"V"}},
	} {
		resp, err := http.PostForm(pageURL, bad)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 400 || strings.Contains(body, "client_secret") {
			t.Fatalf("setup without a valid token = %d, want 400 and nothing created:\n%s", resp.StatusCode, body)
		}
	}

	form := url.Values{"token": {token}, "org": {"Bad Slug"}, "email": {"owner@acme.test"}, "first_name": {"Ann"}, "last_name": {"Owner"}}
	resp, err = http.PostForm(pageURL, form)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != 400 || !strings.Contains(body, "Organization must be 2 to 63 characters") || !strings.Contains(body, `value="owner@acme.test"`) {
		t.Fatalf("bad org slug: %d, want 400 naming the field and keeping the input:\n%s", resp.StatusCode, body)
	}

	form.Set("org", "acme")
	resp, err = http.PostForm(pageURL, form)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != 201 || !strings.Contains(body, "/realms/console/login-actions/set-password?token=") {
		t.Fatalf("setup = %d:\n%s", resp.StatusCode, body)
	}
	cm := regexp.MustCompile(`client_id <code>([^<]+)</code><br>client_secret <code>([^<]+)</code>`).FindStringSubmatch(body)
	if cm == nil {
		t.Fatalf("setup result shows no org admin client:\n%s", body)
	}
	tok, err := clientToken(context.Background(), s.URL, "console", cm[1], cm[2], oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatalf("the org admin client from setup gets no token: %v", err)
	}
	a := &admin{t: t, base: s.URL, token: tok.AccessToken}
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "first"})

	// The link works once.
	form.Set("org", "other")
	resp, err = http.PostForm(pageURL, form)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(body, "invalid, expired or already used") {
		t.Fatalf("second use of the setup link = %d, want 400:\n%s", resp.StatusCode, body)
	}

	// Once an organization exists, no link is printed.
	s.stop(t)
	s2 := w.serve(t)
	if strings.Contains(s2.stdout.String(), "/console/setup") {
		t.Fatalf("setup link printed although an organization exists")
	}
}

func TestRotateKeyCommand(t *testing.T) {
	w := newWardEnv(t, "")
	if _, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test"); code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	s := w.serve(t)
	kids := func() []string {
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(readBody(t, s.get(t, "/realms/console/protocol/openid-connect/certs"))), &jwks); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range jwks.Keys {
			out = append(out, k.Kid)
		}
		return out
	}
	before := kids()
	s.stop(t)
	out, errOut, code := w.command(t, "rotate-key", "--realm", "console")
	if code != 0 || !strings.Contains(out, "new ES256 signing key") {
		t.Fatalf("rotate-key: exit %d, %s %s", code, out, errOut)
	}
	if _, errOut, code := w.command(t, "rotate-key", "--realm", "nope"); code != 1 || !strings.Contains(errOut, `no realm named "nope"`) {
		t.Fatalf("rotate-key on an unknown realm: exit %d, %s", code, errOut)
	}
	s = w.serve(t)
	after := kids()
	if len(after) != len(before)+1 {
		t.Fatalf("JWKS kids before %v, after rotation %v: want the old ones kept and one added", before, after)
	}
	for _, k := range before {
		if !strings.Contains(strings.Join(after, " "), k) {
			t.Errorf("old key %s left the JWKS at rotation", k)
		}
	}
}

func TestTrustedProxiesSetting(t *testing.T) {
	s := settings{TrustedProxy: "10.0.0.0/8, 192.168.1.7 ,fd00::/8"}
	got, err := s.trustedProxies()
	if err != nil || len(got) != 3 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.168.1.7/32" || got[2].String() != "fd00::/8" {
		t.Fatalf("trustedProxies = %v, %v", got, err)
	}
	s.TrustedProxy = "10.0.0.0/8,not-an-ip"
	if _, err := s.trustedProxies(); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("a bad entry: %v, want an error naming it", err)
	}
	// And serve refuses to start with it.
	w := newWardEnv(t, "")
	w.env = append(w.env, "WARD_TRUSTED_PROXIES=bogus")
	_, errOut, code := w.command(t, "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "WARD_TRUSTED_PROXIES") {
		t.Fatalf("serve with a bad WARD_TRUSTED_PROXIES: exit %d, %s", code, errOut)
	}
}

// TestGeoIPSetting: a WARD_GEOIP_DB that does not open stops serve with
// an error naming the setting (a refusal's country is then never silently
// missing); the country itself is recorded in cmd/assets'
// TestAssetsIPAllowLists, against this binary.
func TestGeoIPSetting(t *testing.T) {
	w := newWardEnv(t, "")
	notADB := filepath.Join(t.TempDir(), "country.mmdb")
	if err := os.WriteFile(notADB, []byte("not a MaxMind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(t.TempDir(), "missing.mmdb"), notADB} {
		w.env = append(w.env, "WARD_GEOIP_DB="+path)
		_, errOut, code := w.command(t, "serve", "--addr", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, "WARD_GEOIP_DB") {
			t.Errorf("serve with WARD_GEOIP_DB=%s: exit %d, %s; want 1 naming the setting", path, code, errOut)
		}
	}
}
