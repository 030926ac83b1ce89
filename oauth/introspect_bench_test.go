package oauth_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
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
	introspect := func() error {
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ClientID, secret)
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
