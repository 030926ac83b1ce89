package main

import (
	"bufio"
	"bytes"
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
// load generator can do: a static net/http server (a child wardbench
// process) serving the realm's JWKS bytes, loaded the same way. Each Ward figure is printed
// with its ratio to that ceiling (DESIGN: introspection ≥ 60%, JWKS and
// discovery ≥ 85%).
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
	certsURL := p.url + "/realms/load/protocol/openid-connect/certs"
	jwks, err := fetch(http.DefaultClient, certsURL)
	if err != nil {
		return err
	}
	static, stop, err := staticServer(jwks)
	if err != nil {
		return err
	}
	defer stop()

	get := func(target string) func(*http.Client, int) error {
		return func(client *http.Client, _ int) error {
			_, err := fetch(client, target)
			return err
		}
	}
	form := url.Values{"token": {tok}}.Encode()
	introspectURL := p.url + "/realms/load/protocol/openid-connect/token/introspect"
	introspect := func(client *http.Client, _ int) error {
		req, _ := http.NewRequest("POST", introspectURL, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rsID, rsSecret)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"active":true`)) {
			return fmt.Errorf("introspect: %d %s", resp.StatusCode, body)
		}
		return nil
	}

	// The static server runs before and after each Ward run, and each
	// ratio is to the mean of the two runs around it: the machine drifts
	// (and other work on it comes and goes) from one run to the next.
	staticRun := func() (int64, int64) {
		n, _, errs := loadWith(p, d, concurrency, get(static))
		return n, errs
	}
	prev, staticErrs := staticRun()
	statics := []float64{float64(prev) / d.Seconds()}
	for _, r := range []struct {
		name string
		do   func(*http.Client, int) error
	}{
		{"JWKS", get(certsURL)},
		{"discovery", get(p.url + "/realms/load/.well-known/openid-configuration")},
		{"introspection", introspect},
	} {
		n, cpu, errs := loadWith(p, d, concurrency, r.do)
		next, serrs := staticRun()
		staticErrs += serrs
		statics = append(statics, float64(next)/d.Seconds())
		ceiling := float64(prev+next) / 2 / d.Seconds()
		prev = next
		rate := float64(n) / d.Seconds()
		per := time.Duration(0)
		if n > 0 {
			per = cpu / time.Duration(n)
		}
		fmt.Printf("%s: %s %.0f/s = %.0f%% of static (%.0f/s, mean of the runs before and after), server CPU %.3f ms/request, %d errors\n",
			backend, r.name, rate, 100*rate/ceiling, ceiling, float64(per.Microseconds())/1000, errs)
	}
	fmt.Printf("%s: static net/http (same JWKS bytes, child process) runs: %.0f/s (c=%d, %s), %d errors\n",
		backend, statics, concurrency, d, staticErrs)
	return nil
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

// staticEnv names the file whose bytes a child wardbench serves as the
// static server (serveStatic).
const staticEnv = "WARDBENCH_STATIC_BODY"

// staticServer starts this program again as a child process that serves
// body with the headers Ward's JWKS answer has, from a plain net/http server
// on loopback: the ceiling of a JSON document served through this load
// generator. A process of its own, as Ward is, so that both are measured
// across the same process boundary.
func staticServer(body []byte) (string, func(), error) {
	f, err := os.CreateTemp("", "wardbench-static-*.json")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(body); err != nil {
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
	return "http://" + strings.TrimSpace(addr) + "/certs", stop, nil
}

// serveStatic is the child of staticServer: it reads the file named by
// staticEnv, prints its address and serves until killed.
func serveStatic(path string) {
	body, err := os.ReadFile(path)
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
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, max-age=60")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "wardbench static:", err)
	os.Exit(1)
}
