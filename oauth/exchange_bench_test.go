package oauth_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// BenchmarkTokenExchange exchanges one API key over and over on loopback
// HTTP, as the Guards of many resource servers would (issue 14's target:
// at least 3,000/s with SQLite on the 2-core machine).
func BenchmarkTokenExchange(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkTokenExchange(b, oauthtest.OpenSQLite) })
	if os.Getenv(sqltest.EnvPostgres) != "" {
		b.Run("postgres", func(b *testing.B) { benchmarkTokenExchange(b, oauthtest.OpenPostgres) })
	}
}

// benchRealmWithKey is a realm "bench" whose catalog holds perms and an API
// key holding them all.
func benchRealmWithKey(b *testing.B, env *oauthtest.Env, perms ...string) (*oauthtest.Realm, *realm.NewAPIKeyResult) {
	rf := env.NewRealm(env.NewOrg("bench").ID, "bench", true)
	ctx := env.System()
	for _, p := range perms {
		if _, err := env.Service.CreatePermission(ctx, rf.Name, realm.PermissionInput{Name: p, Description: p}); err != nil {
			b.Fatal(err)
		}
	}
	key, err := env.Service.CreateAPIKey(ctx, rf.Name, realm.APIKeyInput{Description: "bench", Permissions: perms})
	if err != nil {
		b.Fatal(err)
	}
	return rf, key
}

func benchmarkTokenExchange(b *testing.B, open func(testing.TB) realm.Store) {
	env := oauthtest.NewOn(b, open)
	rf, key := benchRealmWithKey(b, env, "asset:delete", "asset:read", "asset:write")
	c, secret := env.NewClient(rf.ID, "resource-server", func(c *realm.Client) { c.Audience = []string{"assets"} })
	tokenURL := rf.Issuer + oauth.PathToken
	body := exchangeForm(key.Key, "audience", "assets").Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	exchange := benchPost(client, tokenURL, "", body, basicAuth(c.ClientID, secret), http.StatusOK, "")
	if err := exchange(); err != nil { // warm the realm's provider
		b.Fatal(err)
	}
	runParallelRequests(b, exchange, "exchange")
}

type httpStatusError struct{ status int }

func (e *httpStatusError) Error() string {
	return "unexpected answer: HTTP " + http.StatusText(e.status)
}
