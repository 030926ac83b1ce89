package oauth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// BenchmarkClientCredentials issues client_credentials tokens over real HTTP
// on loopback, in parallel, for a service account in two groups with
// attributes: the hot path of DESIGN's performance targets. It reports
// grants/s and the process CPU per grant (load generator included, since it
// runs in the same process; the server's share is below that figure), with
// subject claims read on every grant ("exact") and with Config.ClaimsTTL.
func BenchmarkClientCredentials(b *testing.B) {
	b.Run("sqlite/exact", func(b *testing.B) { benchmarkClientCredentials(b, oauthtest.OpenSQLite, 0) })
	b.Run("sqlite/claims-cache", func(b *testing.B) { benchmarkClientCredentials(b, oauthtest.OpenSQLite, 5*time.Second) })
	// Postgres when a server is named (as in CI and make bench).
	if os.Getenv(sqltest.EnvPostgres) != "" {
		pg := oauthtest.OpenPostgres
		b.Run("postgres/exact", func(b *testing.B) { benchmarkClientCredentials(b, pg, 0) })
		b.Run("postgres/claims-cache", func(b *testing.B) { benchmarkClientCredentials(b, pg, 5*time.Second) })
	}
}

func benchmarkClientCredentials(b *testing.B, open func(testing.TB) realm.Store, claimsTTL time.Duration) {
	env := oauthtest.NewOn(b, open, func(c oauthtest.Configs) { c.OAuth.ClaimsTTL = claimsTTL })
	rf := env.NewRealm(env.NewOrg("bench").ID, "bench", true)
	env.NewAttribute(rf.ID, "departments", attributes.String, true)
	env.NewAttribute(rf.ID, "admin", attributes.Boolean, false)
	g1 := env.NewGroup(rf.ID, "Editors", map[string]any{"departments": []any{"news"}, "admin": false})
	g2 := env.NewGroup(rf.ID, "Admins", map[string]any{"departments": []any{"finance"}, "admin": true})
	c, secret := env.NewClient(rf.ID, "bench-svc", func(c *realm.Client) {
		c.Groups = []string{g1.ID, g2.ID}
		if c.Groups[0] > c.Groups[1] {
			c.Groups[0], c.Groups[1] = c.Groups[1], c.Groups[0]
		}
		c.PrimaryGroup = g2.ID
		c.Audience = []string{"assets"}
	})
	tokenURL := rf.Issuer + oauth.PathToken
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	grant := benchPost(client, tokenURL, "", body, basicAuth(c.ClientID, secret), http.StatusOK, "")
	if err := grant(); err != nil { // warm the realm's provider
		b.Fatal(err)
	}

	runParallelRequests(b, grant, "grant")
}

// benchPost returns a call that posts body to target (a form unless
// contentType says otherwise), lets set add credentials, and fails unless
// the answer is want and, when contains is set, its body contains it.
func benchPost(client *http.Client, target, contentType, body string, set func(*http.Request), want int, contains string) func() error {
	if contentType == "" {
		contentType = "application/x-www-form-urlencoded"
	}
	return func() error {
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", contentType)
		set(req)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || !strings.Contains(string(got), contains) {
			return &httpStatusError{resp.StatusCode}
		}
		return nil
	}
}

// basicAuth sets a client's credentials on a request.
func basicAuth(id, secret string) func(*http.Request) {
	return func(req *http.Request) { req.SetBasicAuth(id, secret) }
}

// runParallelRequests runs do from 8 goroutines per core for b.N calls and
// reports calls per second and this process's CPU per call (server and
// client: both are in the process).
func runParallelRequests(b *testing.B, do func() error, unit string) {
	cpu0 := cpuTime()
	start := time.Now()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"s/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/"+unit)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRefreshGrant rotates refresh tokens over real HTTP on loopback:
// each parallel worker holds one token family (from a real code flow with
// PKCE) and presents the refresh token its previous grant returned. With
// "openid" every grant also signs a new ID token (RS256 unless the client
// chose ES256); "plain" issues the access and refresh token only.
func BenchmarkRefreshGrant(b *testing.B) {
	backends := map[string]func(testing.TB) realm.Store{"sqlite": oauthtest.OpenSQLite}
	if os.Getenv(sqltest.EnvPostgres) != "" {
		backends["postgres"] = oauthtest.OpenPostgres
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open := backends[name]
		if open == nil {
			continue
		}
		for _, c := range []struct{ name, scope, alg string }{
			{"openid-rs256", "openid email", "RS256"},
			{"openid-es256", "openid email", "ES256"},
			{"plain", "email", ""},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) { benchmarkRefreshGrant(b, open, c.scope, c.alg) })
		}
	}
}

func benchmarkRefreshGrant(b *testing.B, open func(testing.TB) realm.Store, scope, alg string) {
	f := oauthtest.NewLoginFixture(b, open)
	if alg != "" {
		f.Client.IDTokenAlg = alg
		if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
			b.Fatal(err)
		}
	}
	conf := *f.Conf
	conf.Scopes = strings.Fields(scope)
	workers := 4 * runtime.GOMAXPROCS(0)
	families := make(chan string, workers)
	for range workers {
		families <- signInRefresh(b, f, &conf).RefreshToken
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	grant := func(rt string) (string, error) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {conf.ClientID}}
		resp, err := client.PostForm(conf.Endpoint.TokenURL, form)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.RefreshToken == "" {
			return "", fmt.Errorf("refresh grant: status %d, %v", resp.StatusCode, err)
		}
		return out.RefreshToken, nil
	}

	cpu0 := cpuTime()
	start := time.Now()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-families
		defer func() { families <- rt }()
		for pb.Next() {
			next, err := grant(rt)
			if err != nil {
				b.Error(err)
				return
			}
			rt = next
		}
	})
	b.StopTimer()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "grants/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/grant")
}
