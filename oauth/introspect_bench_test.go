package oauth_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// BenchmarkIntrospect introspects one service account's token over real
// HTTP on loopback, in parallel, as a resource server checking tokens
// online would; BenchmarkJWKS fetches the realm's JWKS the same way. Both
// report requests/s and the process CPU per request (client included).
func BenchmarkIntrospect(b *testing.B) {
	env := oauthtest.NewOn(b, oauthtest.OpenSQLite)
	rf := env.NewRealm(env.NewOrg("bench").ID, "bench", true)
	c, secret := env.NewClient(rf.ID, "bench-svc", nil)
	tok := env.MustToken("bench", c.ClientID, secret, nil)
	target := rf.Issuer + oauth.PathIntrospect
	body := url.Values{"token": {tok}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	introspect := benchPost(client, target, "", body, basicAuth(c.ClientID, secret), http.StatusOK, `"active":true`)
	if err := introspect(); err != nil {
		b.Fatal(err)
	}
	runParallelRequests(b, introspect, "introspection")
}

func BenchmarkJWKS(b *testing.B) {
	env := oauthtest.NewOn(b, oauthtest.OpenSQLite)
	rf := env.NewRealm(env.NewOrg("bench").ID, "bench", true)
	target := rf.Issuer + oauth.PathCerts
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func() error {
		resp, err := client.Get(target)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &url.Error{Op: "jwks", URL: target, Err: io.ErrUnexpectedEOF}
		}
		return nil
	}
	if err := get(); err != nil {
		b.Fatal(err)
	}
	runParallelRequests(b, get, "fetch")
}
