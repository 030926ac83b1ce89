package oauth_test

import (
	"net/http"
	"net/url"
	"os"
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
			introspect := benchPost(client, target, "", body, basicAuth(rs.ClientID, rsSecret), http.StatusOK, `"active":true`)
			if err := introspect(); err != nil {
				b.Fatal(err)
			}
			runParallelRequests(b, introspect, "introspection")
		})
	}
}
