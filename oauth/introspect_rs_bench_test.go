package oauth_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// BenchmarkIntrospectByResourceServer introspects a service account's
// token by another confidential client (a resource server), as wardbench
// does, over real HTTP on loopback, in parallel: the caller, the token's
// client and the revocation list are all read, where BenchmarkIntrospect's
// client asks about its own token. On SQLite, and on PostgreSQL when
// WARD_TEST_POSTGRES is set.
func BenchmarkIntrospectByResourceServer(b *testing.B) {
	stores := map[string]func(testing.TB) realm.Store{"SQLite": oauthtest.OpenSQLite}
	if os.Getenv("WARD_TEST_POSTGRES") != "" {
		stores["Postgres"] = oauthtest.OpenPostgres
	}
	for name, open := range stores {
		b.Run(name, func(b *testing.B) {
			env := oauthtest.NewOn(b, open)
			rf := env.NewRealm(env.NewOrg("bench").ID, "bench", true)
			svc, svcSecret := env.NewClient(rf.ID, "bench-svc", nil)
			rs, rsSecret := env.NewClient(rf.ID, "bench-rs", nil)
			tok := env.MustToken("bench", svc.ClientID, svcSecret, nil)
			target := rf.Issuer + oauth.PathIntrospect
			body := url.Values{"token": {tok}}.Encode()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			introspect := func() error {
				req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(rs.ClientID, rsSecret)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), `"active":true`) {
					return &url.Error{Op: "introspect", URL: target, Err: io.ErrUnexpectedEOF}
				}
				return nil
			}
			if err := introspect(); err != nil {
				b.Fatal(err)
			}
			runParallelRequests(b, introspect, "introspection")
		})
	}
}
