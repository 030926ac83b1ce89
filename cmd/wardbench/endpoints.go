package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// benchEndpoints measures the read-mostly endpoints resource servers call
// (JWKS, discovery, introspection) against the best this machine and this
// load generator can do with the same exchange: a static net/http server (a
// child wardbench process) answering the same request, made by the same
// load code, with the bytes Ward answers it with (the realm's JWKS, its
// discovery document, the token's introspection answer), recorded once
// before. Each Ward figure is printed with its ratio to that ceiling
// (DESIGN: introspection ≥ 60%, JWKS and discovery ≥ 85%).
//
// The introspecting caller is a second confidential client (a resource
// server), not the token's own client, as in real use.
func benchEndpoints(p *proc, backend, adminTok string, d time.Duration, concurrency int, id, secret string) error {
	rs, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/clients", map[string]any{"name": "resource-server", "kind": "service_account"})
	if err != nil {
		return err
	}
	rsID, rsSecret := rs["client_id"].(string), rs["client_secret"].(string)
	tok, err := token(http.DefaultClient, p.url, "load", id, secret)
	if err != nil {
		return err
	}

	get := func(target string) func(*http.Client, int) error {
		return func(client *http.Client, _ int) error {
			_, err := fetch(client, target)
			return err
		}
	}
	form := url.Values{"token": {tok}}.Encode()
	introspect := func(target string) func(*http.Client, int) error {
		return func(client *http.Client, _ int) error {
			_, err := introspectOnce(client, target, form, rsID, rsSecret)
			return err
		}
	}
	runs := []struct {
		name, path string // path: on Ward, and the static body's name
		do         func(target string) func(*http.Client, int) error
	}{
		{"JWKS", "/realms/load/protocol/openid-connect/certs", get},
		{"discovery", "/realms/load/.well-known/openid-configuration", get},
		{"introspection", "/realms/load/protocol/openid-connect/token/introspect", introspect},
	}
	bodies := map[string][]byte{}
	for _, r := range runs {
		var body []byte
		if r.name == "introspection" {
			body, err = introspectOnce(http.DefaultClient, p.url+r.path, form, rsID, rsSecret)
		} else {
			body, err = fetch(http.DefaultClient, p.url+r.path)
		}
		if err != nil {
			return err
		}
		bodies[r.path] = body
	}
	static, stop, err := staticServer(bodies)
	if err != nil {
		return err
	}
	defer stop()

	// The static server runs before and after each Ward run, and each
	// ratio is to the mean of the two runs around it: the machine drifts
	// (and other work on it comes and goes) from one run to the next.
	var staticErrs int64
	for _, r := range runs {
		staticRun := func() float64 {
			n, _, errs := loadWith(p, d, concurrency, r.do(static+r.path))
			staticErrs += errs
			return float64(n) / d.Seconds()
		}
		before := staticRun()
		stopProfile := p.profile(backend + "-" + r.name)
		db := postgresCPU()
		keptBefore := p.metric(`ward_kept_reads_total{kind="introspection"}`)
		n, cpu, errs := loadWith(p, d, concurrency, r.do(p.url+r.path))
		kept := p.metric(`ward_kept_reads_total{kind="introspection"}`) - keptBefore
		db = postgresCPU() - db
		stopProfile()
		after := staticRun()
		ceiling := (before + after) / 2
		rate := float64(n) / d.Seconds()
		per := time.Duration(0)
		if n > 0 {
			per = cpu / time.Duration(n)
		}
		dbPer := ""
		if backend == "postgres" && n > 0 {
			dbPer = fmt.Sprintf(" (PostgreSQL %.3f ms)", float64((db/time.Duration(n)).Microseconds())/1000)
		}
		keptShare := ""
		if r.name == "introspection" && n > 0 {
			keptShare = fmt.Sprintf(", %.1f%% answered from kept reads", 100*kept/float64(n))
		}
		fmt.Printf("%s: %s %.0f/s = %.0f%% of static (%.0f/s: %.0f before, %.0f after, same request and answer bytes), server CPU %.3f ms/request%s%s, %d errors\n",
			backend, r.name, rate, 100*rate/ceiling, ceiling, before, after, float64(per.Microseconds())/1000, dbPer, keptShare, errs)
	}
	fmt.Printf("%s: static net/http (child process, c=%d, %s): %d errors\n", backend, concurrency, d, staticErrs)
	return nil
}

// introspectOnce POSTs form to target as client id with HTTP Basic and
// wants a 200 answer saying the token is active.
func introspectOnce(client *http.Client, target, form, id, secret string) ([]byte, error) {
	req, _ := http.NewRequest("POST", target, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"active":true`)) {
		return nil, fmt.Errorf("introspect: %d %s", resp.StatusCode, body)
	}
	return body, nil
}

// fetch GETs target and wants a 200.
func fetch(client *http.Client, target string) ([]byte, error) {
	resp, err := client.Get(target)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", target, resp.StatusCode)
	}
	return body, err
}

// staticEnv names the file whose bodies a child wardbench serves as the
// static server (serveStatic).
const staticEnv = "WARDBENCH_STATIC_BODY"

// staticServer starts this program again as a child process that answers
// any request for one of bodies' paths with that body and the headers
// Ward's JWKS answer has, from a plain net/http server on loopback: the
// ceiling of a JSON answer served through this load generator. A process of
// its own, as Ward is, so that both are measured across the same process
// boundary. It returns the server's base URL (no trailing slash).
func staticServer(bodies map[string][]byte) (string, func(), error) {
	f, err := os.CreateTemp("", "wardbench-static-*.json")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(bodies); err != nil {
		f.Close()
		return "", nil, err
	}
	f.Close()
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), staticEnv+"="+f.Name())
	// Dies with wardbench, even when wardbench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("static server: %w", err)
	}
	return "http://" + strings.TrimSpace(addr), stop, nil
}

// serveStatic is the child of staticServer: it reads the bodies from the
// file named by staticEnv, prints its address and serves until killed.
func serveStatic(path string) {
	data, err := os.ReadFile(path)
	var bodies map[string][]byte
	if err == nil {
		err = json.Unmarshal(data, &bodies)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wardbench static:", err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wardbench static:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().String())
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "wardbench static:", err)
	os.Exit(1)
}
