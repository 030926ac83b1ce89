package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// The fault tests of CONTRACT §8: SIGKILL under a mixed write load loses
// no acknowledged write and no mail, a PostgreSQL restart is answered 503
// with Retry-After and recovered from within 2 s, and SIGTERM drains the
// requests in flight within 10 s.

// faultClient bounds every request of these tests: an answer slower than
// this is a hang, which they report as a failure.
var faultClient = &http.Client{Timeout: 5 * time.Second}

// tryJSON calls a JSON endpoint with a bearer token without failing the
// test: ward may be gone (err) or answer anything. A body cut off before
// its end is an error too: such a write was not acknowledged.
func tryJSON(base, token, method, path string, body any) (int, http.Header, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := faultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header, out, nil
}

// grant asks for a client_credentials token within faultClient's bound:
// the status (200, or the error's), its header, and a transport error.
func grant(base, realm, id, secret string) (int, http.Header, string, error) {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), oauth2.HTTPClient, faultClient), faultClient.Timeout)
	defer cancel()
	_, err := clientToken(ctx, base, realm, id, secret, oauth2.AuthStyleInHeader)
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return 200, nil, "", nil
	case asRetrieveError(err, &re):
		return re.Response.StatusCode, re.Response.Header, re.ErrorCode, nil
	}
	return 0, nil, "", err
}

// listAll reads every page of an admin API list.
func listAll(t *testing.T, a *admin, path string) []map[string]any {
	t.Helper()
	var items []map[string]any
	cursor := ""
	for range 1000 {
		out := a.must(200, "GET", path+"?limit=200&cursor="+url.QueryEscape(cursor), nil)
		for _, it := range out["items"].([]any) {
			items = append(items, it.(map[string]any))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			return items
		}
		cursor = next
	}
	t.Fatalf("%s: more than 1000 pages", path)
	return nil
}

// acked is what ward acknowledged (2xx with the object's ID), by kind.
type acked struct {
	mu      sync.Mutex
	users   map[string]string    // email → user ID
	groups  map[string]string    // name → group ID
	clients map[string][2]string // name → client_id, client_secret
	keys    map[string]string    // description → API key ID
	grants  int
}

// TestFaultKill9MixedLoad: ward is killed with SIGKILL at a random moment
// of a mixed write load (users with their set-password mail, groups,
// service accounts, API keys, client_credentials grants), three times in a
// row on the same database, and restarted each time. Afterwards every
// acknowledged object is there (a service account's secret still works),
// nothing is there twice, SQLite's file passes integrity_check after each
// kill, and every user, acknowledged or not, has exactly one set-password
// mail with the outbox empty (CONTRACT §8).
func TestFaultKill9MixedLoad(t *testing.T) {
	// Most of the time goes in waiting out the 30 s lease of the mails
	// the last killed node held, so both wait side by side.
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); kill9MixedLoad(t, "") })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); kill9MixedLoad(t, sqltest.PostgresDSN(t)) })
}

func kill9MixedLoad(t *testing.T, db string) {
	w := newWardEnv(t, db) // no SMTP: mail goes to .eml files in the outbox directory
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	a.must(201, "POST", "/admin/v1/realms/vault/permissions", map[string]any{"name": "asset:read", "description": "Read assets"})
	loader := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "loader", "kind": "service_account"})
	loaderID, loaderSecret := loader["client_id"].(string), loader["client_secret"].(string)
	addr := strings.TrimPrefix(s.URL, "http://")

	ack := &acked{users: map[string]string{}, groups: map[string]string{}, clients: map[string][2]string{}, keys: map[string]string{}}
	for round := range 3 {
		if round > 0 {
			// On the same address: the issuer, and so the admin token
			// and the mailed links, name it.
			s = w.serve(t, "--addr", addr)
		}
		loadUntilKilled(t, s, a.token, round, ack, loaderID, loaderSecret)
		if t.Failed() {
			return
		}
		ack.mu.Lock()
		t.Logf("round %d: %d users, %d groups, %d clients, %d keys, %d grants acknowledged so far",
			round, len(ack.users), len(ack.groups), len(ack.clients), len(ack.keys), ack.grants)
		ack.mu.Unlock()
		if db == "" {
			sqliteIntegrity(t, w.db)
		}
	}

	// The restart opens the database cleanly (serve fails the test if not).
	s = w.serve(t, "--addr", addr)
	ack.mu.Lock()
	defer ack.mu.Unlock()
	for email, id := range ack.users {
		if out := a.must(200, "GET", "/admin/v1/realms/vault/users/"+id, nil); out["email"] != email {
			t.Errorf("user %s: email %v, want %s", id, out["email"], email)
		}
	}
	for name, id := range ack.groups {
		if out := a.must(200, "GET", "/admin/v1/realms/vault/groups/"+id, nil); out["name"] != name {
			t.Errorf("group %s: name %v, want %s", id, out["name"], name)
		}
	}
	for name, c := range ack.clients {
		if out := a.must(200, "GET", "/admin/v1/realms/vault/clients/"+c[0], nil); out["name"] != name {
			t.Errorf("client %s: name %v, want %s", c[0], out["name"], name)
		}
		if status, _, code, err := grant(s.URL, "vault", c[0], c[1]); status != 200 {
			t.Errorf("client %s's acknowledged secret: %d %s %v", name, status, code, err)
		}
	}
	for desc, id := range ack.keys {
		if out := a.must(200, "GET", "/admin/v1/realms/vault/api-keys/"+id, nil); out["description"] != desc {
			t.Errorf("API key %s: description %v, want %s", id, out["description"], desc)
		}
	}
	// Nothing twice: each name was sent once, so each is there at most once.
	users := listAll(t, a, "/admin/v1/realms/vault/users")
	for _, l := range []struct {
		path, field string
		items       []map[string]any
	}{
		{"users", "email", users},
		{"groups", "name", listAll(t, a, "/admin/v1/realms/vault/groups")},
		{"clients", "name", listAll(t, a, "/admin/v1/realms/vault/clients")},
		{"api-keys", "description", listAll(t, a, "/admin/v1/realms/vault/api-keys")},
	} {
		seen := map[string]int{}
		for _, it := range l.items {
			seen[fmt.Sprint(it[l.field])]++
		}
		for v, n := range seen {
			if n != 1 {
				t.Errorf("%s: %d with %s %q", l.path, n, l.field, v)
			}
		}
	}

	// Mail: every user (those whose answer the kill cut off too: the mail
	// is queued in the creating transaction) gets its set-password mail,
	// once the leases of the mails the killed nodes held have run out.
	store, err := sql.Open(context.Background(), sql.Config{DSN: w.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var mails map[string][]receivedMail
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		mails = received(t, w, nil)
		missing := 0
		for _, u := range users {
			if len(mails[u["email"].(string)]) == 0 {
				missing++
			}
		}
		var rows int64
		if err := store.DB().Table("mail_outbox").Count(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if missing == 0 && rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d users without mail, %d outbox rows left 60 s after the last restart", missing, len(users), rows)
		}
	}
	for _, u := range users {
		email := u["email"].(string)
		distinct := map[string]bool{}
		for _, m := range mails[email] {
			distinct[m.messageID] = true
		}
		if len(distinct) != 1 || mails[email][0].link == "" {
			t.Errorf("%s got %d distinct mails, want one with a set-password link: %+v", email, len(distinct), mails[email])
		}
	}
	for email := range ack.users {
		if len(mails[email]) == 0 {
			t.Errorf("acknowledged user %s is not in the list and got no mail", email)
		}
	}
	t.Logf("%d users (%d acknowledged), %d mails", len(users), len(ack.users), len(mails))
}

// loadUntilKilled runs the mixed write load from four goroutines and
// kills ward with SIGKILL at a random moment 0.7–2.2 s into it. Until the
// kill every write must be acknowledged; after it nothing is asked of
// ward's answers.
func loadUntilKilled(t *testing.T, s *server, token string, round int, ack *acked, loaderID, loaderSecret string) {
	var killed atomic.Bool
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				tag := fmt.Sprintf("r%d-w%d-%03d", round, worker, i)
				var (
					status int
					out    map[string]any
					err    error
					want   = 201
				)
				kind := (worker + i) % 5
				switch kind {
				case 0:
					status, _, out, err = tryJSON(s.URL, token, "POST", "/admin/v1/realms/vault/users",
						map[string]any{"email": tag + "@vault.test", "first_name": "U", "last_name": "V"})
				case 1:
					status, _, out, err = tryJSON(s.URL, token, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": "g-" + tag})
				case 2:
					status, _, out, err = tryJSON(s.URL, token, "POST", "/admin/v1/realms/vault/clients",
						map[string]any{"name": "c-" + tag, "kind": "service_account"})
				case 3:
					status, _, out, err = tryJSON(s.URL, token, "POST", "/admin/v1/realms/vault/api-keys",
						map[string]any{"description": "k-" + tag, "permissions": []string{"asset:read"}})
				case 4:
					want = 200
					status, _, _, err = grant(s.URL, "vault", loaderID, loaderSecret)
				}
				if killed.Load() {
					return // whatever ward answered after the kill was never sent by it
				}
				if err != nil || status != want {
					t.Errorf("%s (kind %d) before the kill: %d %v %v", tag, kind, status, out, err)
					return
				}
				ack.mu.Lock()
				switch kind {
				case 0:
					ack.users[tag+"@vault.test"] = out["id"].(string)
				case 1:
					ack.groups["g-"+tag] = out["id"].(string)
				case 2:
					ack.clients["c-"+tag] = [2]string{out["client_id"].(string), out["client_secret"].(string)}
				case 3:
					ack.keys["k-"+tag] = out["id"].(string)
				case 4:
					ack.grants++
				}
				ack.mu.Unlock()
			}
		})
	}
	time.Sleep(700*time.Millisecond + rand.N(1500*time.Millisecond))
	// Set first: an answer read after this may be the kill's doing.
	killed.Store(true)
	_ = s.cmd.Process.Kill() // SIGKILL: no shutdown, no drain
	wg.Wait()
	<-s.done
}

// sqliteIntegrity opens the SQLite file of a killed ward with the
// project's driver (which replays the WAL) and runs integrity_check.
func sqliteIntegrity(t *testing.T, dsn string) {
	t.Helper()
	store, err := sql.Open(context.Background(), sql.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("the database of the killed ward does not open: %v", err)
	}
	defer store.Close()
	rows, err := store.DB().Raw("PRAGMA integrity_check").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var res []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		res = append(res, line)
	}
	if len(res) != 1 || res[0] != "ok" {
		t.Errorf("PRAGMA integrity_check after SIGKILL: %q", res)
	}
}

// pgCluster is a private PostgreSQL server that a test may stop and start
// (the shared WARD_TEST_POSTGRES server is not the test's to restart).
type pgCluster struct {
	bin, dir string
	port     int
	asPG     bool // running as root: PostgreSQL refuses it, so commands run as the postgres user
}

// startPGCluster initdbs and starts a throwaway cluster on a private
// socket directory and a free port, as .ci/with-postgres does.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	ctls, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(ctls) == 0 {
		if os.Getenv(sqltest.EnvSkipPostgres) == "1" {
			t.Skip("no PostgreSQL binaries in /usr/lib/postgresql and " + sqltest.EnvSkipPostgres + "=1")
		}
		t.Fatal("this test restarts a PostgreSQL server of its own and needs PostgreSQL's binaries in /usr/lib/postgresql/*/bin: " +
			"apt-get install -y postgresql (or set " + sqltest.EnvSkipPostgres + "=1 to skip it locally)")
	}
	// The newest major version.
	sort.Slice(ctls, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ctls[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ctls[j]))))
		return vi < vj
	})
	c := &pgCluster{bin: filepath.Dir(ctls[len(ctls)-1]), asPG: os.Geteuid() == 0}
	// Not t.TempDir: its parents are closed to the postgres user.
	dir, err := os.MkdirTemp("", "ward-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	if c.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			t.Fatalf("running as root, this test runs PostgreSQL as the postgres user, which is missing (%v): apt-get install -y postgresql", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Cleanup(func() {
		_ = c.run("'" + c.bin + "/pg_ctl' -D '" + c.dir + "/data' -m immediate stop")
		os.RemoveAll(c.dir)
	})
	if err := c.run("'" + c.bin + "/initdb' -D '" + c.dir + "/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	c.start(t)
	return c
}

// run runs a shell command line, as the postgres user when root.
func (c *pgCluster) run(line string) error {
	cmd := exec.Command("/bin/bash", "-c", line)
	if c.asPG {
		cmd = exec.Command("su", "postgres", "-s", "/bin/bash", "-c", line)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", line, err, out)
	}
	return nil
}

// start returns once the server accepts connections (pg_ctl -w).
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-k '%s' -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", c.dir, c.port)
	if err := c.run("'" + c.bin + "/pg_ctl' -D '" + c.dir + "/data' -l '" + c.dir + "/server.log' -w -t 30 -o \"" + opts + "\" start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// stop is a fast shutdown: sessions are terminated, the server waits for
// nothing, and pg_ctl returns once it is down.
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if err := c.run("'" + c.bin + "/pg_ctl' -D '" + c.dir + "/data' -m fast -w -t 30 stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v", err)
	}
}

func (c *pgCluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Phases of TestPostgresRestart, in order.
const (
	pgUp int32 = iota
	pgDown
	pgRecovering // started again, ward not yet seen serving
	pgRecovered
)

// answer is one request of TestPostgresRestart's load.
type answer struct {
	what          string // "grant" or "admin"
	from, to      int32  // the phase when it was sent and when answered
	status        int
	retryAfter    string
	code          string // the OAuth error, or the problem's status
	err           error
	sent, arrived time.Time
}

// TestPostgresRestart: PostgreSQL itself is stopped (fast shutdown, which
// ends every session) and started again under a light load of
// client_credentials grants and admin writes. While it is down the token
// endpoint and the admin API answer 503 with Retry-After (and
// temporarily_unavailable, or a problem with status 503), /readyz 503,
// never another status and never slower than faultClient's bound; within
// 2 s of the server accepting connections again grants, admin writes and
// /readyz succeed; every acknowledged write is there.
func TestPostgresRestart(t *testing.T) {
	pg := startPGCluster(t)
	w := newWardEnv(t, pg.dsn())
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	sa := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "loader", "kind": "service_account"})
	saID, saSecret := sa["client_id"].(string), sa["client_secret"].(string)
	// A realm whose token endpoint is first asked while PostgreSQL is
	// down: Ward has nothing of it in memory then.
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "cold"})

	var (
		phase   atomic.Int32
		mu      sync.Mutex
		answers []answer
		groups  = map[string]string{} // acknowledged: name → ID
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	record := func(an answer) {
		an.to, an.arrived = phase.Load(), time.Now()
		mu.Lock()
		answers = append(answers, an)
		mu.Unlock()
	}
	tryGrant := func() answer {
		an := answer{what: "grant", from: phase.Load(), sent: time.Now()}
		var h http.Header
		an.status, h, an.code, an.err = grant(s.URL, "vault", saID, saSecret)
		an.retryAfter = h.Get("Retry-After")
		record(an)
		return an
	}
	var seq atomic.Int64
	tryWrite := func() answer {
		an := answer{what: "admin", from: phase.Load(), sent: time.Now()}
		name := fmt.Sprintf("g-%04d", seq.Add(1))
		var h http.Header
		var out map[string]any
		an.status, h, out, an.err = tryJSON(s.URL, a.token, "POST", "/admin/v1/realms/vault/groups", map[string]any{"name": name})
		an.retryAfter, an.code = h.Get("Retry-After"), fmt.Sprint(out["status"])
		record(an)
		if an.status == 201 {
			mu.Lock()
			groups[name] = out["id"].(string)
			mu.Unlock()
		}
		return an
	}
	readyz := func() (int, error) {
		resp, err := faultClient.Get(s.URL + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, f := range []func() answer{tryGrant, tryWrite} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				f()
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	time.Sleep(500 * time.Millisecond)
	phase.Store(pgDown)
	pg.stop(t)
	// Down for a while, with the load going on; and asked directly, so
	// that each kind of answer is seen while it is down for certain.
	time.Sleep(time.Second)
	tryGrant()
	tryWrite()
	if status, err := readyz(); status != 503 {
		t.Errorf("/readyz while PostgreSQL is down = %d %v, want 503", status, err)
	}
	if status, h, code, err := grant(s.URL, "cold", saID, saSecret); status != 503 || h.Get("Retry-After") == "" || code != "temporarily_unavailable" {
		t.Errorf("token endpoint of a realm not yet loaded while PostgreSQL is down: %d %q %v (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			status, code, err, h.Get("Retry-After"))
	}

	phase.Store(pgRecovering)
	pg.start(t)
	up := time.Now()
	for {
		g, wr := tryGrant(), tryWrite()
		r, _ := readyz()
		if g.status == 200 && wr.status == 201 && r == 200 {
			break
		}
		if time.Since(up) > 2*time.Second {
			t.Errorf("not fully serving 2 s after PostgreSQL accepts connections again: grant %d %s %v, admin write %d %v, /readyz %d\n%s",
				g.status, g.code, g.err, wr.status, wr.err, r, s.logs())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("full service %v after PostgreSQL accepted connections again", time.Since(up).Round(time.Millisecond))
	phase.Store(pgRecovered)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	seen503 := map[string]int{}
	for _, an := range answers {
		ok := 201
		if an.what == "grant" {
			ok = 200
		}
		steady := (an.from == pgUp && an.to == pgUp) || an.from == pgRecovered
		switch {
		case an.err != nil:
			t.Errorf("%s sent in phase %d: %v (after %v)", an.what, an.from, an.err, an.arrived.Sub(an.sent))
		case an.status == ok:
		case steady:
			t.Errorf("%s sent in phase %d, answered in phase %d: %d %s, want %d", an.what, an.from, an.to, an.status, an.code, ok)
		case an.status != 503:
			t.Errorf("%s during the restart: %d %s, want %d or 503", an.what, an.status, an.code, ok)
		case an.retryAfter == "":
			t.Errorf("%s: 503 without Retry-After", an.what)
		case an.what == "grant" && an.code != "temporarily_unavailable":
			t.Errorf("grant: 503 with error %q, want temporarily_unavailable", an.code)
		case an.what == "admin" && an.code != "503":
			t.Errorf("admin write: 503 whose problem says status %s", an.code)
		default:
			seen503[an.what]++
		}
	}
	if seen503["grant"] == 0 || seen503["admin"] == 0 {
		t.Errorf("503s while PostgreSQL was down: %v, want grants and admin writes among them", seen503)
	}
	t.Logf("%d answers, 503s: %v, %d groups acknowledged", len(answers), seen503, len(groups))
	names := map[string]int{}
	for _, g := range listAll(t, a, "/admin/v1/realms/vault/groups") {
		names[g["name"].(string)]++
	}
	for name, id := range groups {
		if out := a.must(200, "GET", "/admin/v1/realms/vault/groups/"+id, nil); out["name"] != name || names[name] != 1 {
			t.Errorf("acknowledged group %s (%s): got %v, listed %d times", name, id, out["name"], names[name])
		}
	}
}

// heldRequest is an HTTP/1.1 request whose body the test holds back
// until ward's handler is waiting for it: ward has it in flight for as
// long as the test likes.
type heldRequest struct {
	conn net.Conn
	r    *bufio.Reader
	body []byte
}

// holdRequest sends req's headers with "Expect: 100-continue" and returns
// once ward answers "100 Continue", which net/http does when the handler
// first reads the body: from then on the request is in flight. (Without
// it, a request whose headers ward had not read when Shutdown began would
// be dropped unanswered, as net/http does.)
func holdRequest(t *testing.T, addr string, req *http.Request) *heldRequest {
	t.Helper()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.Header.Set("Expect", "100-continue")
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	head := buf.Bytes()[:buf.Len()-len(body)]
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(head); err != nil {
		t.Fatal(err)
	}
	h := &heldRequest{conn: conn, r: bufio.NewReader(conn), body: body}
	resp, err := http.ReadResponse(h.r, req)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("%s %s: want 100 Continue once the handler reads the body, got %v %v", req.Method, req.URL.Path, resp, err)
	}
	return h
}

// finish sends the body and reads the answer.
func (h *heldRequest) finish(t *testing.T) (int, map[string]any) {
	t.Helper()
	_ = h.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := h.conn.Write(h.body); err != nil {
		t.Errorf("finishing a request in flight: %v", err)
		return 0, nil
	}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Errorf("reading the answer to a request in flight: %v", err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func jsonRequest(t *testing.T, url, token string, body any) *http.Request {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// TestSIGTERMDrain: requests in flight when SIGTERM arrives (two admin
// writes and a token grant, their bodies not complete yet) all get their
// answers, new connections are refused meanwhile, and ward exits 0 within
// 10 s; what it acknowledged is there after a restart. A request that
// never completes does not hold the exit past 10 s.
func TestSIGTERMDrain(t *testing.T) {
	w := newWardEnv(t, "")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault"})
	sa := a.must(201, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "loader", "kind": "service_account"})
	addr := strings.TrimPrefix(s.URL, "http://")

	user := holdRequest(t, addr, jsonRequest(t, s.URL+"/admin/v1/realms/vault/users", a.token,
		map[string]any{"email": "late@vault.test", "first_name": "L", "last_name": "Ate"}))
	group := holdRequest(t, addr, jsonRequest(t, s.URL+"/admin/v1/realms/vault/groups", a.token, map[string]any{"name": "Late"}))
	form, err := http.NewRequest("POST", tokenEndpoint(s.URL, "vault"), strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form.SetBasicAuth(sa["client_id"].(string), sa["client_secret"].(string))
	token := holdRequest(t, addr, form)

	signalled := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var dialErr error
	for deadline := signalled.Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if dialErr = err; errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			continue
		}
		c.Close()
	}
	if !errors.Is(dialErr, syscall.ECONNREFUSED) {
		t.Errorf("new connections not refused within 2 s of SIGTERM: last dial error %v", dialErr)
	}

	status, u := user.finish(t)
	if status != 201 || u["id"] == nil {
		t.Errorf("user creation in flight at SIGTERM: %d %v, want 201", status, u)
	}
	status, g := group.finish(t)
	if status != 201 || g["id"] == nil {
		t.Errorf("group creation in flight at SIGTERM: %d %v, want 201", status, g)
	}
	if status, tok := token.finish(t); status != 200 || tok["access_token"] == nil {
		t.Errorf("token grant in flight at SIGTERM: %d %v, want 200", status, tok)
	}

	select {
	case <-s.done:
	case <-time.After(time.Until(signalled.Add(10 * time.Second))):
		t.Fatalf("ward still running 10 s after SIGTERM\n%s", s.logs())
	}
	if s.err != nil || !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("exit after the drain: %v, want 0 and a stopped line\n%s", s.err, s.logs())
	}
	t.Logf("drained and exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))

	// On the same address: the issuer, and so the admin token, name it.
	s = w.serve(t, "--addr", addr)
	a.base = s.URL
	if t.Failed() {
		return
	}
	if out := a.must(200, "GET", "/admin/v1/realms/vault/users/"+u["id"].(string), nil); out["email"] != "late@vault.test" {
		t.Errorf("the user acknowledged during the drain: %v", out)
	}
	a.must(200, "GET", "/admin/v1/realms/vault/groups/"+g["id"].(string), nil)
	// Its set-password mail was sent before the exit or stayed queued for
	// the restarted node: either way it arrives, once.
	for deadline := time.Now().Add(10 * time.Second); len(received(t, w, nil)["late@vault.test"]) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the set-password mail of the user created during the drain never came\n%s", s.logs())
		}
	}
	if n := len(received(t, w, nil)["late@vault.test"]); n != 1 {
		t.Errorf("%d mails to the user created during the drain, want 1", n)
	}

	t.Run("request never completed", func(t *testing.T) {
		stuck := holdRequest(t, strings.TrimPrefix(s.URL, "http://"), jsonRequest(t, s.URL+"/admin/v1/realms/vault/groups", a.token, map[string]any{"name": "Never"}))
		signalled := time.Now()
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("a request that never completes held ward past 10 s after SIGTERM\n%s", s.logs())
		}
		t.Logf("exited %v after SIGTERM with a request stuck (%v)", time.Since(signalled).Round(time.Millisecond), s.err)
		if !strings.Contains(s.stderr.String(), "cut off") {
			t.Errorf("no word of the request cut off at exit:\n%s", s.stderr.String())
		}
		// Ward closed its side of the stuck connection.
		_ = stuck.conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := stuck.conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("the stuck connection is still open after exit (read %d bytes)", n)
		}
	})
}

// TestSIGTERMReadyzDraining: once the drain has begun, /readyz answers 503
// though the database answers, so that a load balancer sends no more. (In
// the running binary no new request reaches it then: the listener closes
// at once. The flag covers a health check already on its way.)
func TestSIGTERMReadyzDraining(t *testing.T) {
	var draining atomic.Bool
	e := echo.New()
	e.GET("/readyz", readyz(routerConfig{Log: slog.New(slog.DiscardHandler), Store: sqltest.Open(t), Draining: &draining}))
	for _, want := range []struct {
		draining bool
		status   int
		body     string
	}{{false, 200, `{"status":"ready"}`}, {true, 503, `{"status":"shutting down"}`}} {
		draining.Store(want.draining)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != want.status || strings.TrimSpace(rec.Body.String()) != want.body {
			t.Errorf("/readyz draining=%v: %d %s, want %d %s", want.draining, rec.Code, rec.Body.String(), want.status, want.body)
		}
	}
}
