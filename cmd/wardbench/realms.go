package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Many realms: the figures that must not grow with the number of realms
// (start-to-ready, idle memory, grant latency wherever the realm sits in
// the store), measured on a database of n realms and on a one-realm
// database in the same run, and printed side by side so that a regression
// shows as a difference between the two columns rather than against a
// number from another day on a machine that drifts.

// bootstrapped is a fresh database with Ward bootstrapped on it.
type bootstrapped struct {
	w                    *ward
	clientID, secret     string // the console's org admin client
	cleanup              func()
	sqlitePath, database string
}

// newWard makes a fresh database on backend (a temporary directory's SQLite
// file, or a new database on WARD_TEST_POSTGRES) and bootstraps Ward on it.
func newWard(bin, backend string) (*bootstrapped, error) {
	dir, err := os.MkdirTemp("", "wardbench-")
	if err != nil {
		return nil, err
	}
	b := &bootstrapped{cleanup: func() { os.RemoveAll(dir) }}
	b.sqlitePath = filepath.Join(dir, "ward.db")
	db := "sqlite:" + b.sqlitePath
	if backend == "postgres" {
		dsn, drop, err := freshPostgres(context.Background())
		if err != nil {
			b.cleanup()
			return nil, err
		}
		b.cleanup = func() { drop(); os.RemoveAll(dir) }
		db, b.sqlitePath = dsn, ""
	}
	b.w = &ward{bin: bin, dir: dir, env: append(os.Environ(),
		"WARD_DATA_DIR="+dir, "WARD_DB="+db, "WARD_LOG_FORMAT=json",
		"WARD_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		// The login load sets X-Forwarded-For per login so that the per-IP
		// login limit (1/s, burst 20) does not cap it; loopback is the proxy.
		"WARD_TRUSTED_PROXIES=127.0.0.1")}
	out, err := b.w.run("bootstrap", "--org", "bench", "--owner-email", "bench@example.test", "--json")
	if err != nil {
		b.cleanup()
		return nil, err
	}
	var boot struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &boot); err != nil {
		b.cleanup()
		return nil, err
	}
	b.clientID, b.secret = boot.ClientID, boot.ClientSecret
	return b, nil
}

// serviceAccount sets realm up as the load realm is (a multi-valued string
// attribute, a group carrying it, a service account in the group with an
// audience) and returns the service account's credentials.
func serviceAccount(base, tok, realm string) (id, secret string, err error) {
	path := "/admin/v1/realms/" + realm
	if _, err := adminPost(base, tok, path+"/attributes", map[string]any{"name": "departments", "type": "string", "multi": true}); err != nil {
		return "", "", err
	}
	g, err := adminPost(base, tok, path+"/groups", map[string]any{"name": "Ops", "attributes": map[string]any{"departments": []string{"ops", "news"}}})
	if err != nil {
		return "", "", err
	}
	sa, err := adminPost(base, tok, path+"/clients", map[string]any{"name": "load", "kind": "service_account", "groups": []any{g["id"]}, "audience": []string{"assets"}})
	if err != nil {
		return "", "", err
	}
	id, _ = sa["client_id"].(string)
	secret, _ = sa["client_secret"].(string)
	return id, secret, nil
}

func realmName(i int) string { return fmt.Sprintf("r%06d", i) }

// latency is one realm's sequential client_credentials latencies.
type latency struct {
	realm    string
	p50, p99 time.Duration
}

// realmsRun is one database's figures.
type realmsRun struct {
	realms       int // created through the API, besides console
	created      time.Duration
	ready        time.Duration
	idleRSS      float64
	lat          []latency // first, middle, last realm
	touchedRSS   float64
	touchedIn    time.Duration
	storeMiB     float64 // the SQLite file and its WAL; 0 on PostgreSQL
	createErrors int
}

// realmsSamples is the number of timed sequential grants per realm.
const realmsSamples = 300

// realmsTouched is how many realms get one request each before the
// second memory reading.
const realmsTouched = 1000

// measureRealms creates n realms through the admin API (creators
// concurrent calls), sets up a service account in the first, middle and
// last, restarts Ward and measures.
func measureRealms(bin, backend string, n, creators int) (*realmsRun, error) {
	b, err := newWard(bin, backend)
	if err != nil {
		return nil, err
	}
	defer b.cleanup()
	p, err := b.w.serve()
	if err != nil {
		return nil, err
	}
	tok, err := token(http.DefaultClient, p.url, "console", b.clientID, b.secret)
	if err != nil {
		p.stop()
		return nil, err
	}
	r := &realmsRun{realms: n}
	start := time.Now()
	if err := createRealms(p.url, tok, n, creators); err != nil {
		p.stop()
		return nil, err
	}
	r.created = time.Since(start)
	picks := []int{1, (n + 1) / 2, n}
	type creds struct{ id, secret string }
	sas := map[int]creds{}
	for _, i := range picks {
		if _, ok := sas[i]; ok {
			continue
		}
		id, secret, err := serviceAccount(p.url, tok, realmName(i))
		if err != nil {
			p.stop()
			return nil, err
		}
		sas[i] = creds{id, secret}
	}
	p.stop()

	// The measured start: the database as it is, nothing cached.
	p, err = b.w.serve()
	if err != nil {
		return nil, err
	}
	defer p.stop()
	r.ready = p.ready
	time.Sleep(2 * time.Second)
	r.idleRSS = p.rssMiB()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, i := range picks {
		c := sas[i]
		l, err := grantLatency(client, p.url, realmName(i), c.id, c.secret, realmsSamples)
		if err != nil {
			return nil, err
		}
		r.lat = append(r.lat, l)
	}
	// One JWKS each from realms spread evenly over the database (bare
	// realms have no client to ask a grant of); a one-realm database
	// answers all of them from its one realm.
	start = time.Now()
	for k := range realmsTouched {
		i := 1 + k*n/realmsTouched
		if _, err := fetch(client, p.url+"/realms/"+realmName(i)+"/protocol/openid-connect/certs"); err != nil {
			return nil, err
		}
	}
	r.touchedIn = time.Since(start)
	runtime.GC() // wardbench's own garbage is not Ward's, but keep this process small
	time.Sleep(time.Second)
	r.touchedRSS = p.rssMiB()
	if b.sqlitePath != "" {
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(b.sqlitePath + suffix); err == nil {
				r.storeMiB += float64(fi.Size()) / (1 << 20)
			}
		}
	}
	return r, nil
}

// grantLatency times n sequential client_credentials grants on one
// keep-alive connection, after one untimed warm-up grant (which builds the
// realm's provider and opens the connection).
func grantLatency(client *http.Client, base, realm, id, secret string, n int) (latency, error) {
	if _, err := token(client, base, realm, id, secret); err != nil {
		return latency{}, fmt.Errorf("realm %s: %w", realm, err)
	}
	ds := make([]time.Duration, n)
	for k := range ds {
		start := time.Now()
		if _, err := token(client, base, realm, id, secret); err != nil {
			return latency{}, fmt.Errorf("realm %s: %w", realm, err)
		}
		ds[k] = time.Since(start)
	}
	slices.Sort(ds)
	return latency{realm: realm, p50: ds[n/2], p99: ds[n*99/100]}, nil
}

// benchRealms measures a one-realm database and an n-realm one and prints
// them side by side.
func benchRealms(bin, backend string, n, creators int) error {
	one, err := measureRealms(bin, backend, 1, creators)
	if err != nil {
		return fmt.Errorf("one realm: %w", err)
	}
	many, err := measureRealms(bin, backend, n, creators)
	if err != nil {
		return fmt.Errorf("%d realms: %w", n, err)
	}
	fmt.Printf("%s: created %d realms through the admin API (%d concurrent calls) in %s (%.0f/s)",
		backend, n, creators, many.created.Round(time.Millisecond), float64(n)/many.created.Seconds())
	if many.storeMiB > 0 {
		fmt.Printf(", SQLite file %.0f MiB", many.storeMiB)
	}
	fmt.Println("; a service account in the first, middle and last realm, the others bare")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	row := func(name, a, b string) { fmt.Printf("%s:   %-44s %20s %20s\n", backend, name, a, b) }
	row("many realms", "1 realm", fmt.Sprintf("%d realms", n))
	row("start-to-ready (exec to /readyz 200)", ms(one.ready), ms(many.ready))
	row("idle RSS 2 s after ready", fmt.Sprintf("%.1f MiB", one.idleRSS), fmt.Sprintf("%.1f MiB", many.idleRSS))
	for k, pos := range []string{"first", "middle", "last"} {
		row(fmt.Sprintf("client_credentials p50 / p99, %s realm", pos),
			ms(one.lat[k].p50)+" / "+ms(one.lat[k].p99), ms(many.lat[k].p50)+" / "+ms(many.lat[k].p99))
	}
	// Below 1,000 realms the JWKS go round the realms there are.
	row(fmt.Sprintf("RSS after %d JWKS spread over the realms", realmsTouched), fmt.Sprintf("%.1f MiB", one.touchedRSS), fmt.Sprintf("%.1f MiB", many.touchedRSS))
	row(fmt.Sprintf("time for those %d sequential JWKS", realmsTouched), ms(one.touchedIn), ms(many.touchedIn))
	fmt.Printf("%s:   (latencies: %d sequential grants per realm on one connection after one warm-up; the %d-realm column's realms are %s, %s, %s)\n",
		backend, realmsSamples, n, many.lat[0].realm, many.lat[1].realm, many.lat[2].realm)
	return nil
}

// createRealms creates realms r000001 … through the admin API from
// creators concurrent callers, each on a keep-alive connection of its own
// (http.DefaultClient keeps two idle connections per host, and the rest
// would reconnect on every call).
func createRealms(base, tok string, n, creators int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: creators}}
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := adminSendWith(client, "POST", http.StatusCreated, base, tok, "/admin/v1/realms", map[string]any{"name": realmName(int(i))}); err != nil {
					select {
					case errc <- err:
					default:
					}
					next.Store(int64(n)) // the others stop too
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// es256Cost is the CPU time of one ES256 signature as Ward makes one
// (oauth/strategy_jwt.go: SHA-256 of the signing input, ecdsa.Sign with
// crypto/rand on P-256), from this process signing on one goroutine for d:
// the unit in which client_credentials' server CPU per grant is expressed,
// measured on the same machine in the same run. CPU time (getrusage) rather
// than wall time, as the server's figure is, so that other work on the
// machine does not count; the process's own GC counts, as the server's does.
func es256Cost(d time.Duration) (cpu, wall time.Duration) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	// A signing input of the size of a load-realm access token.
	input := make([]byte, 560)
	for i := range input {
		input[i] = 'A' + byte(i%26)
	}
	cpuBefore := processCPU()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			panic(err)
		}
		var sig [64]byte
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		input[0] = sig[0] | 'A' // depend on the result
		n++
	}
	wall = time.Since(start) / time.Duration(n)
	return (processCPU() - cpuBefore) / time.Duration(n), wall
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
