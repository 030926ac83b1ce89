package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if path := os.Getenv(staticEnv); path != "" {
		serveStatic(path) // the static server's child process
		return
	}
	wardBin := flag.String("ward", "bin/ward", "path to the ward binary")
	duration := flag.Duration("duration", 10*time.Second, "length of each load run")
	concurrency := flag.Int("c", 32, "concurrent client connections")
	realms := flag.Int("realms", 100000, "realms in the database of the many-realms run")
	creators := flag.Int("realms-c", 16, "concurrent admin API calls creating the realms")
	sigTime := flag.Duration("sig-time", 2*time.Second, "length of the in-process ES256 signing loop")
	signIn := flag.Bool("signin", true, "also measure password logins and refresh-token grants")
	loginC := flag.Int("login-c", 8, "concurrent clients for password logins")
	refreshC := flag.Int("refresh-c", 32, "concurrent clients (token families) for refresh grants")
	flag.StringVar(&perfDir, "perf", "", "record the server with perf(1) into this directory during the client_credentials, refresh and endpoint runs")
	only := flag.String("only", "", `run one part alone: "endpoints" (static net/http ceiling, JWKS, discovery, introspection), `+
		`"grants" (client_credentials and its CPU in ES256 signatures), "refresh" (refresh-token grants and their CPU in ES256 signatures) `+
		`or "realms" (the many-realms run)`)
	flag.Parse()
	switch *only {
	case "", "endpoints", "grants", "refresh", "realms":
	default:
		fmt.Fprintf(os.Stderr, "wardbench: -only %q: the parts that run alone are \"endpoints\", \"grants\", \"refresh\" and \"realms\"\n", *only)
		os.Exit(2)
	}
	signDuration = *sigTime

	backends := []string{"sqlite"}
	if os.Getenv("WARD_TEST_POSTGRES") != "" {
		backends = append(backends, "postgres")
	} else {
		fmt.Fprintln(os.Stderr, "wardbench: WARD_TEST_POSTGRES unset: PostgreSQL skipped")
	}
	fmt.Printf("machine: %d CPUs, %s/%s, %s; date %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel(), time.Now().UTC().Format(time.DateOnly))
	var raw [2]float64
	if *signIn && *only == "" {
		perCore, total := rawArgon2(6 * time.Second)
		raw = [2]float64{perCore, total}
		fmt.Printf("raw argon2id (realm.VerifyPassword, in-process): %.1f/s on one core, %.1f/s on %d cores (%.1f/s per core x cores)\n",
			perCore, total, runtime.NumCPU(), perCore*float64(runtime.NumCPU()))
	}
	for _, b := range backends {
		var err error
		if *only == "realms" {
			err = benchRealms(*wardBin, b, *realms, *creators)
		} else {
			err = benchBackend(*wardBin, b, *only, *duration, *concurrency, *realms, *creators, *signIn, *loginC, *refreshC, raw)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "wardbench %s: %v\n", b, err)
			os.Exit(1)
		}
	}
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

// freshPostgres creates an empty database on the WARD_TEST_POSTGRES server.
func freshPostgres(ctx context.Context) (string, func(), error) {
	base := os.Getenv("WARD_TEST_POSTGRES")
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("ward_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}
	return u.String(), drop, nil
}

type ward struct {
	bin, dir string
	env      []string
}

func (w *ward) run(args ...string) (string, error) {
	cmd := exec.Command(w.bin, args...)
	cmd.Env = w.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ward %s: %v: %s", args[0], err, errb.String())
	}
	return out.String(), nil
}

type proc struct {
	cmd   *exec.Cmd
	url   string
	ready time.Duration

	// links are the set-password links the outbox logged, by recipient.
	mu    sync.Mutex
	links map[string]string
}

// serve starts ward and waits for /readyz; ready is exec-to-ready time.
func (w *ward) serve() (*proc, error) {
	start := time.Now()
	cmd := exec.Command(w.bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = w.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	p := &proc{cmd: cmd, links: map[string]string{}}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			var l struct{ Msg, Addr, To, Link string }
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch {
			case !sent && l.Msg == "listening":
				addr <- l.Addr
				sent = true
			case l.Msg == "mail written to outbox" && l.Link != "":
				p.mu.Lock()
				p.links[l.To] = l.Link
				p.mu.Unlock()
			}
		}
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
		for {
			resp, err := http.Get(p.url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		p.ready = time.Since(start)
		return p, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("ward did not start in 60s")
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// cpuTime is the process's user+system CPU time from /proc/PID/stat.
func (p *proc) cpuTime() time.Duration {
	cpu, _ := pidCPU(strconv.Itoa(p.cmd.Process.Pid))
	return cpu
}

// pidCPU is a process's user+system CPU time and command name, from
// /proc/PID/stat.
func pidCPU(pid string) (time.Duration, string) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, ""
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 > len(s) {
		return 0, ""
	}
	fields := strings.Fields(s[end+2:])
	if len(fields) < 13 {
		return 0, ""
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, s[open+1 : end]
}

// postgresCPU is the CPU time of every PostgreSQL server process on this
// machine (the database's share of a PostgreSQL run: its backends share
// the cores with Ward and the load generator).
func postgresCPU() time.Duration {
	entries, _ := os.ReadDir("/proc")
	var total time.Duration
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if cpu, comm := pidCPU(e.Name()); comm == "postgres" {
			total += cpu
		}
	}
	return total
}

// metric is the value of one series of the server's /metrics (its full
// name with labels, as exposed), 0 when it is not there.
func (p *proc) metric(series string) float64 {
	body, err := fetch(http.DefaultClient, p.url+"/metrics")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// rssMiB is the process's resident set size.
func (p *proc) rssMiB() float64 { return p.statusMiB("VmRSS:") }

// statusMiB is a size line of the process's /proc status (VmRSS:, VmHWM:
// for the peak RSS) in MiB.
func (p *proc) statusMiB(field string) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func token(client *http.Client, base, realm, id, secret string) (string, error) {
	return grant(client, base, realm, id, secret, "grant_type=client_credentials")
}

// grant posts form to the realm's token endpoint as client id.
func grant(client *http.Client, base, realm, id, secret, form string) (string, error) {
	req, _ := http.NewRequest("POST", base+"/realms/"+realm+"/protocol/openid-connect/token",
		strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("token: %d %s", resp.StatusCode, body)
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	return t.AccessToken, json.Unmarshal(body, &t)
}

func adminPost(base, tok, path string, body any) (map[string]any, error) {
	return adminSend("POST", 201, base, tok, path, body)
}

func adminSend(method string, want int, base, tok, path string, body any) (map[string]any, error) {
	return adminSendWith(http.DefaultClient, method, want, base, tok, path, body)
}

func adminSendWith(client *http.Client, method string, want int, base, tok, path string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// signDuration is the length of each in-process ES256 signing loop (-sig-time).
var signDuration = 2 * time.Second

func benchBackend(bin, backend, only string, duration time.Duration, concurrency, realms, creators int, signIn bool, loginC, refreshC int, raw [2]float64) error {
	bw, err := newWard(bin, backend)
	if err != nil {
		return err
	}
	defer bw.cleanup()
	w := bw.w
	p, err := w.serve()
	if err != nil {
		return err
	}
	adminTok, err := token(http.DefaultClient, p.url, "console", bw.clientID, bw.secret)
	if err != nil {
		p.stop()
		return err
	}
	if _, err := adminPost(p.url, adminTok, "/admin/v1/realms", map[string]any{"name": "load"}); err != nil {
		p.stop()
		return err
	}
	if _, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/attributes", map[string]any{"name": "departments", "type": "string", "multi": true}); err != nil {
		p.stop()
		return err
	}
	g, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/groups", map[string]any{"name": "Ops", "attributes": map[string]any{"departments": []string{"ops", "news"}}})
	if err != nil {
		p.stop()
		return err
	}
	sa, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/clients", map[string]any{"name": "load", "kind": "service_account", "groups": []any{g["id"]}, "audience": []string{"assets"}})
	if err != nil {
		p.stop()
		return err
	}
	id, secret := sa["client_id"].(string), sa["client_secret"].(string)
	if only == "endpoints" {
		err := benchEndpoints(p, backend, adminTok, duration, concurrency, id, secret)
		p.stop()
		return err
	}
	if only == "refresh" {
		err := benchRefreshOnly(p, backend, adminTok, duration, refreshC)
		p.stop()
		return err
	}

	// One ES256 signature's CPU, measured right before the load (the
	// machine drifts), is the unit of the grant's server CPU.
	sigCPU, sigWall := es256Cost(signDuration)
	stopProfile := p.profile(backend + "-client_credentials")
	keptBefore := p.metric(`ward_kept_reads_total{kind="client"}`)
	grants, cpu, errs := load(p, duration, concurrency, id, secret, "grant_type=client_credentials")
	kept := p.metric(`ward_kept_reads_total{kind="client"}`) - keptBefore
	stopProfile()
	rate := float64(grants) / duration.Seconds()
	perGrant := time.Duration(0)
	if grants > 0 {
		perGrant = cpu / time.Duration(grants)
	}
	keptShare := 0.0
	if grants > 0 {
		keptShare = 100 * kept / float64(grants)
	}
	fmt.Printf("%s: client_credentials %.0f grants/s (c=%d, %s), server CPU %.3f ms/grant, %.1f%% of client reads kept, %d errors\n",
		backend, rate, concurrency, duration, float64(perGrant.Microseconds())/1000, keptShare, errs)
	fmt.Printf("%s: client_credentials server CPU per grant = %.2f ES256 signatures (one signature: %.1f µs CPU, %.1f µs wall, in wardbench on one goroutine just before)\n",
		backend, float64(perGrant)/float64(sigCPU), float64(sigCPU.Nanoseconds())/1000, float64(sigWall.Nanoseconds())/1000)
	fmt.Printf("%s: server memory after the client_credentials run: RSS %.1f MiB, peak %.1f MiB (DESIGN: <= 64 MiB after a minute at c=32; -duration 60s)\n",
		backend, p.rssMiB(), p.statusMiB("VmHWM:"))
	if only == "grants" {
		p.stop()
		return nil
	}
	if err := benchExchange(p, backend, adminTok, duration, concurrency, id, secret); err != nil {
		p.stop()
		return err
	}
	if err := benchEndpoints(p, backend, adminTok, duration, concurrency, id, secret); err != nil {
		p.stop()
		return err
	}
	if signIn {
		if err := benchSignIn(p, backend, adminTok, duration, loginC, refreshC, raw); err != nil {
			p.stop()
			return err
		}
	}
	p.stop()

	return benchRealms(bin, backend, realms, creators)
}

// load runs token requests (form, as client id) from concurrency workers
// for d and returns the requests served and the server CPU time they cost.
func load(p *proc, d time.Duration, concurrency int, id, secret, form string) (int64, time.Duration, int64) {
	return loadWith(p, d, concurrency, func(client *http.Client, _ int) error {
		_, err := grant(client, p.url, "load", id, secret, form)
		return err
	})
}

// loadWith runs do from concurrency workers (numbered from 0) for d and
// returns the calls that succeeded, the server CPU time and the failures.
func loadWith(p *proc, d time.Duration, concurrency int, do func(client *http.Client, worker int) error) (int64, time.Duration, int64) {
	tr := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency}
	client := &http.Client{Transport: tr}
	// Warm up: connections, provider cache, keys.
	for i := range concurrency {
		_ = do(client, i)
	}
	var ok, failed atomic.Int64
	cpuBefore := p.cpuTime()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := do(client, i); err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return ok.Load(), p.cpuTime() - cpuBefore, failed.Load()
}

// benchExchange measures API-key exchanges (RFC 8693) by the load service
// account: one key with three permissions, exchanged over and over, as the
// Guards of many resource servers would.
func benchExchange(p *proc, backend, adminTok string, d time.Duration, concurrency int, id, secret string) error {
	perms := []string{"asset:read", "asset:write", "asset:delete"}
	for _, name := range perms {
		if _, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/permissions", map[string]any{"name": name, "description": name}); err != nil {
			return err
		}
	}
	k, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/api-keys", map[string]any{"description": "bench", "permissions": perms})
	if err != nil {
		return err
	}
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {k["key"].(string)},
		"subject_token_type": {"urn:ward:params:oauth:token-type:api-key"},
		"audience":           {"assets"},
	}.Encode()
	n, cpu, errs := load(p, d, concurrency, id, secret, form)
	per := time.Duration(0)
	if n > 0 {
		per = cpu / time.Duration(n)
	}
	fmt.Printf("%s: API-key exchange %.0f/s (c=%d, %s), server CPU %.3f ms/exchange, %d errors\n",
		backend, float64(n)/d.Seconds(), concurrency, d, float64(per.Microseconds())/1000, errs)
	return benchMint(p, backend, adminTok, d, concurrency)
}

// benchMint measures minting temporary keys from a security template, as
// backends handing keys to browser widgets would: one API key per worker
// (Ward limits mints per key), all minting from one template.
func benchMint(p *proc, backend, adminTok string, d time.Duration, concurrency int) error {
	perms := []string{"asset:read", "asset:write"}
	if _, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/security-templates", map[string]any{"name": "uploader",
		"permissions": perms, "limit_per_minute": 60, "dir_scope": []string{"/marketing/*"}, "ip_ranges": []string{"203.0.113.0/24"}}); err != nil {
		return err
	}
	keys := make([]string, concurrency)
	for i := range keys {
		k, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/api-keys", map[string]any{"description": "backend", "permissions": perms})
		if err != nil {
			return err
		}
		keys[i] = k["key"].(string)
	}
	mintURL := p.url + "/realms/load/temporary-keys"
	n, cpu, errs := loadWith(p, d, concurrency, func(client *http.Client, worker int) error {
		req, _ := http.NewRequest("POST", mintURL, strings.NewReader(`{"template":"uploader"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", keys[worker])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("mint: %d", resp.StatusCode)
		}
		return nil
	})
	per := time.Duration(0)
	if n > 0 {
		per = cpu / time.Duration(n)
	}
	fmt.Printf("%s: temporary-key minting %.0f/s (c=%d, %s), server CPU %.3f ms/mint, %d errors\n",
		backend, float64(n)/d.Seconds(), concurrency, d, float64(per.Microseconds())/1000, errs)
	return nil
}
