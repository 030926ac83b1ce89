package main

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm"
)

// Sign-in load: the login form's POST of the authorization code flow
// (argon2id bound) and refresh-token grants (rotation: one row read, one
// row marked used and one inserted per grant).

const (
	benchPassword = "bench password 0123456789"
	benchRedirect = "http://127.0.0.1:43999/cb"
)

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfValue  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// app is a public application client and users with a known password.
type app struct {
	base, issuer, clientID string
	emails                 []string
	tr                     *http.Transport
	nextIP                 atomic.Uint32
	scope                  string // of the next sign-ins
}

func (p *proc) waitLink(email string) (string, error) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		l := p.links[email]
		p.mu.Unlock()
		if l != "" {
			return l, nil
		}
	}
	return "", fmt.Errorf("no set-password link for %s in the log within 20s", email)
}

func newBrowser(tr http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// formPage GETs a page and returns its body and CSRF token.
func formPage(c *http.Client, link string, hdr http.Header) (string, string, error) {
	req, _ := http.NewRequest("GET", link, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfValue.FindSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		return "", "", fmt.Errorf("GET %s: %d without a CSRF field", link, resp.StatusCode)
	}
	return string(body), string(m[1]), nil
}

// setupSignIn creates an application client in realm load and n users,
// and sets their passwords through the mailed (logged) links.
func setupSignIn(p *proc, adminTok string, n int) (*app, error) {
	c, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/clients", map[string]any{
		"name": "web", "kind": "application", "public": true, "redirect_uris": []string{benchRedirect}})
	if err != nil {
		return nil, err
	}
	a := &app{base: p.url, issuer: p.url + "/realms/load", clientID: c["client_id"].(string),
		tr: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}, scope: "openid email"}
	if a.clientID == "" {
		return nil, errors.New("application client without client_id")
	}
	for i := range n {
		email := fmt.Sprintf("user%03d@load.test", i)
		if _, err := adminPost(p.url, adminTok, "/admin/v1/realms/load/users", map[string]any{"email": email, "first_name": "U", "last_name": "Ser"}); err != nil {
			return nil, err
		}
		link, err := p.waitLink(email)
		if err != nil {
			return nil, err
		}
		b := newBrowser(a.tr)
		_, csrf, err := formPage(b, link, nil)
		if err != nil {
			return nil, err
		}
		u, _ := url.Parse(link)
		resp, err := b.PostForm(strings.SplitN(link, "?", 2)[0], url.Values{"csrf_token": {csrf}, "token": {u.Query().Get("token")},
			"password": {benchPassword}, "password_confirm": {benchPassword}})
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("set password for %s: %d", email, resp.StatusCode)
		}
		a.emails = append(a.emails, email)
	}
	return a, nil
}

// errLimited is a 429 from the per-IP login limit.
var errLimited = errors.New("429 Too Many Requests")

// login runs GET authorize → login form → POST credentials and returns the
// code and its PKCE verifier. With spoof, each login comes "from" its own
// address through X-Forwarded-For (the server trusts 127.0.0.1 as a proxy),
// so the per-IP login limit does not cap the measurement.
func (a *app) login(email string, spoof bool) (code, verifier string, err error) {
	b := newBrowser(a.tr)
	hdr := http.Header{}
	if spoof {
		n := a.nextIP.Add(1)
		hdr.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(n>>16), byte(n>>8), byte(n)))
	}
	verifier = oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {a.clientID}, "redirect_uri": {benchRedirect},
		"scope": {a.scope}, "state": {"bench-state"}, "nonce": {"bench-nonce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	body, csrf, err := formPage(b, a.issuer+"/protocol/openid-connect/auth?"+q.Encode(), hdr)
	if err != nil {
		return "", "", err
	}
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		return "", "", errors.New("login page without a form")
	}
	req, _ := http.NewRequest("POST", a.base+html.UnescapeString(m[1]), strings.NewReader(url.Values{
		"csrf_token": {csrf}, "email": {email}, "password": {benchPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.Do(req)
	if err != nil {
		return "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		return "", "", errLimited
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" {
		return "", "", fmt.Errorf("login POST: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier, nil
}

// tokenGrant posts a token request of the public client and returns the
// new refresh token.
func (a *app) tokenGrant(c *http.Client, form url.Values) (string, error) {
	form.Set("client_id", a.clientID)
	resp, err := c.PostForm(a.issuer+"/protocol/openid-connect/token", form)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var t struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &t) != nil || t.RefreshToken == "" {
		return "", fmt.Errorf("token (%s): %d %s", form.Get("grant_type"), resp.StatusCode, body)
	}
	return t.RefreshToken, nil
}

// rawArgon2 measures realm.VerifyPassword in this process with one
// goroutine per CPU: the ceiling for password logins on this machine.
func rawArgon2(d time.Duration) (perCore, total float64) {
	hash, err := realm.HashPassword(benchPassword, rand.Reader)
	if err != nil {
		panic(err)
	}
	// One core alone first, then all of them at once.
	n := 0
	start := time.Now()
	for time.Since(start) < d/2 {
		if !realm.VerifyPassword(hash, benchPassword) {
			panic("VerifyPassword refused the right password")
		}
		n++
	}
	perCore = float64(n) / time.Since(start).Seconds()
	var done atomic.Int64
	var wg sync.WaitGroup
	start = time.Now()
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d/2 {
				realm.VerifyPassword(hash, benchPassword)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return perCore, float64(done.Load()) / time.Since(start).Seconds()
}

// loginLoad runs password logins from c workers for d. With spoof false
// every login comes from 127.0.0.1 and meets the per-IP limit.
func loginLoad(p *proc, a *app, d time.Duration, c int, spoof bool) (ok, limited, failed int64, cpu time.Duration, firstErr error) {
	var okN, limN, failN atomic.Int64
	var errOnce sync.Once
	cpuBefore := p.cpuTime()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := a.emails[i%len(a.emails)]
			for time.Now().Before(deadline) {
				_, _, err := a.login(email, spoof)
				switch {
				case err == nil:
					okN.Add(1)
				case errors.Is(err, errLimited):
					limN.Add(1)
				default:
					failN.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	return okN.Load(), limN.Load(), failN.Load(), p.cpuTime() - cpuBefore, firstErr
}

// refreshLoad signs c workers in (code flow with PKCE), then each runs
// refresh grants for d, always with the refresh token the last grant
// returned.
func refreshLoad(p *proc, a *app, d time.Duration, c int) (ok, failed int64, cpu time.Duration, firstErr error) {
	client := &http.Client{Transport: a.tr}
	tokens := make([]string, c)
	for i := range c {
		code, verifier, err := a.login(a.emails[i%len(a.emails)], true)
		if err != nil {
			return 0, 0, 0, err
		}
		tokens[i], err = a.tokenGrant(client, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {benchRedirect}, "code_verifier": {verifier}})
		if err != nil {
			return 0, 0, 0, err
		}
	}
	var okN, failN atomic.Int64
	var errOnce sync.Once
	stopProfile := p.profile("refresh-" + strings.ReplaceAll(a.scope, " ", "-"))
	defer stopProfile()
	cpuBefore := p.cpuTime()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt := tokens[i]
			for time.Now().Before(deadline) {
				next, err := a.tokenGrant(client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					// A failed rotation ends this worker's family.
					failN.Add(1)
					errOnce.Do(func() { firstErr = err })
					return
				}
				okN.Add(1)
				rt = next
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load(), p.cpuTime() - cpuBefore, firstErr
}

// benchSignIn runs the login and refresh measurements on a running server.
func benchSignIn(p *proc, backend, adminTok string, d time.Duration, loginC, refreshC int, raws [2]float64) error {
	raw := raws[1]
	a, err := setupSignIn(p, adminTok, 8)
	if err != nil {
		return err
	}
	// From one address, as everything in this harness is: the per-IP limit.
	ok, limited, failed, _, ferr := loginLoad(p, a, 3*time.Second, loginC, false)
	fmt.Printf("%s: password logins from one address (3s, c=%d): %d signed in, %d answered 429, %d failed%s\n",
		backend, loginC, ok, limited, failed, errSuffix(ferr))
	// A short warm-up with fresh addresses; the raw rate again, right
	// before the run (the machine's speed drifts); then the run.
	_, _, _, _, _ = loginLoad(p, a, time.Second, loginC, true)
	perCore, total := rawArgon2(4 * time.Second)
	fmt.Printf("%s: raw argon2id just before: %.1f/s on one core, %.1f/s on %d cores\n", backend, perCore, total, runtime.NumCPU())
	raws = [2]float64{perCore, total}
	raw = total
	ok, limited, failed, cpu, ferr := loginLoad(p, a, d, loginC, true)
	rate := float64(ok) / d.Seconds()
	per := time.Duration(0)
	if ok > 0 {
		per = cpu / time.Duration(ok)
	}
	fmt.Printf("%s: password logins %.1f/s (c=%d, %s, X-Forwarded-For per login), %.0f%% of the raw argon2id rate %.1f/s; server CPU %.1f ms/login against %.1f ms per in-process verification; %d 429, %d failed%s\n",
		backend, rate, loginC, d, 100*rate/raw, raw, float64(per.Microseconds())/1000, 1000/raws[0], limited, failed, errSuffix(ferr))

	return benchRefresh(p, a, backend, adminTok, d, refreshC)
}

// benchRefreshOnly sets up token families and runs the refresh grants
// alone, with one ES256 signature's CPU measured just before as the unit.
func benchRefreshOnly(p *proc, backend, adminTok string, d time.Duration, refreshC int) error {
	a, err := setupSignIn(p, adminTok, 8)
	if err != nil {
		return err
	}
	sigCPU, sigWall := es256Cost(signDuration)
	fmt.Printf("%s: one ES256 signature just before: %.1f µs CPU, %.1f µs wall (in wardbench, one goroutine)\n",
		backend, float64(sigCPU.Nanoseconds())/1000, float64(sigWall.Nanoseconds())/1000)
	return benchRefresh(p, a, backend, adminTok, d, refreshC)
}

// benchRefresh runs refresh-token grants for a's token families.
// With openid every refresh also signs a new ID token: RS256 (the
// default), then ES256 (the client's choice); without it the grant is
// the access and refresh tokens only (both ES256).
func benchRefresh(p *proc, a *app, backend, adminTok string, d time.Duration, refreshC int) error {
	for _, run := range []struct{ scope, idAlg string }{{"openid email", "RS256"}, {"openid email", "ES256"}, {"email", ""}} {
		a.scope = run.scope
		if run.idAlg != "" {
			if _, err := adminSend("PATCH", 200, p.url, adminTok, "/admin/v1/realms/load/clients/"+a.clientID,
				map[string]any{"id_token_signed_response_alg": run.idAlg}); err != nil {
				return err
			}
		}
		grants, gfailed, gcpu, gerr := refreshLoad(p, a, d, refreshC)
		if gerr != nil && grants == 0 {
			return gerr
		}
		per := time.Duration(0)
		if grants > 0 {
			per = gcpu / time.Duration(grants)
		}
		fmt.Printf("%s: refresh_token (scope %q, ID token %s) %.0f grants/s (c=%d, %s), server CPU %.3f ms/grant, %d failed%s\n",
			backend, run.scope, cmp.Or(run.idAlg, "none"), float64(grants)/d.Seconds(), refreshC, d, float64(per.Microseconds())/1000, gfailed, errSuffix(gerr))
	}
	return nil
}

// perfDir, when set (-perf), makes profile record the server with perf(1)
// into that directory during a measurement.
var perfDir string

func (p *proc) profile(name string) func() {
	if perfDir == "" {
		return func() {}
	}
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(p.cmd.Process.Pid),
		"-o", filepath.Join(perfDir, name+".data"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "wardbench: perf: %v\n", err)
		return func() {}
	}
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (first: " + err.Error() + ")"
}
