package oauth_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestNetworkAtTheTokenEndpoint: client_credentials, the API-key exchange
// and temporary-key minting are refused from outside the realm's IP allow
// list (403 access_denied, problem 403 for minting); a client's group list
// narrows the realm's; IPv6 works; a spoofed X-Forwarded-For from an
// untrusted peer is ignored (CONTRACT §7). Addresses come through a trusted
// proxy on 127.0.0.1, as the issue asks of tests. Both databases.
func TestNetworkAtTheTokenEndpoint(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			env := oauthtest.NewOn(t, open, func(c oauthtest.Configs) {
				c.OAuth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			})
			testNetworkAtTheTokenEndpoint(t, env)
		})
	}
}

func testNetworkAtTheTokenEndpoint(t *testing.T, env *oauthtest.Env) {
	f := newMintFixture(t, env, "net")
	ops := env.NewGroup(f.realm.ID, "ops", nil)
	opsClient, opsSecret := env.NewClient(f.realm.ID, "ops-job", func(c *realm.Client) { c.Groups = []string{ops.ID} })
	post := func(path string, form url.Values, id, secret, from string) *oauthtest.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, env.Base+"/realms/net"+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		req.SetBasicAuth(id, secret)
		return env.Do(req)
	}
	grant := func(id, secret, from string) *oauthtest.Response {
		t.Helper()
		return post(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, id, secret, from)
	}
	refused := func(what string, r *oauthtest.Response) {
		t.Helper()
		oauthtest.WantOAuthError(t, r, http.StatusForbidden, "access_denied")
		if r.Body["error_description"] != "Requests from this network are not allowed." {
			t.Errorf("%s: %s", what, r.RawBody)
		}
	}
	ok := func(what string, r *oauthtest.Response) {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", what, r.Status, r.RawBody)
		}
	}
	mintFrom := func(from string) *oauthtest.Response {
		t.Helper()
		return f.mint(f.key.Key, `{"template":"uploader"}`, "X-Forwarded-For", from)
	}
	setRealm := func(cidrs ...string) {
		t.Helper()
		if err := env.Store.SetRealmIPAllowList(env.Ctx, f.realm.ID, cidrs, env.Now()); err != nil {
			t.Fatal(err)
		}
	}
	setGroup := func(cidrs ...string) {
		t.Helper()
		ops.IPAllowList = cidrs
		if err := env.Store.UpdateGroup(env.Ctx, ops); err != nil {
			t.Fatal(err)
		}
	}

	// No lists: anywhere.
	ok("no lists", grant(f.svc.ClientID, f.svcSecret, "192.0.2.1"))

	setRealm("203.0.113.0/24", "2001:db8::/32")
	ok("inside the realm's list", grant(f.svc.ClientID, f.svcSecret, "203.0.113.9"))
	ok("inside, IPv6", grant(f.svc.ClientID, f.svcSecret, "2001:db8::9"))
	refused("outside the realm's list", grant(f.svc.ClientID, f.svcSecret, "192.0.2.1"))
	refused("outside, IPv6", grant(f.svc.ClientID, f.svcSecret, "2001:db9::9"))
	ok("exchange inside", post(oauth.PathToken, exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret, "203.0.113.9"))
	refused("exchange outside", post(oauth.PathToken, exchangeForm(f.key.Key), f.svc.ClientID, f.svcSecret, "192.0.2.1"))
	if r := mintFrom("203.0.113.9"); r.Status != http.StatusCreated {
		t.Errorf("minting inside: %d %s", r.Status, r.RawBody)
	}
	wantProblem(t, mintFrom("192.0.2.1"), http.StatusForbidden, "requests from this network are not allowed", "")

	// A group's list narrows the realm's for its members only.
	setGroup("203.0.113.128/25")
	refused("a group member outside its group's list", grant(opsClient.ClientID, opsSecret, "203.0.113.9"))
	ok("a group member inside its group's list", grant(opsClient.ClientID, opsSecret, "203.0.113.200"))
	ok("a client in no listed group", grant(f.svc.ClientID, f.svcSecret, "203.0.113.9"))

	// Lists removed: anywhere again.
	setGroup()
	setRealm()
	ok("lists removed", grant(opsClient.ClientID, opsSecret, "192.0.2.1"))

	// Every refusal is an audit event naming the address and where.
	events, err := env.Service.ListEvents(env.System(), "net", realm.EventFilter{Type: realm.EventNetworkRefused, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events.Items {
		got = append(got, fmt.Sprintf("%s %s %s %v", e.Details["at"], e.TargetType, e.Details["address"], e.TargetID))
	}
	slices.Sort(got)
	want := []string{
		"client_credentials client 192.0.2.1 " + f.svc.ClientID,
		"client_credentials client 2001:db9::9 " + f.svc.ClientID,
		"client_credentials client 203.0.113.9 " + opsClient.ClientID,
		"temporary_key_mint api_key 192.0.2.1 " + f.key.ID,
		"token_exchange client 192.0.2.1 " + f.svc.ClientID,
	}
	if !slices.Equal(got, want) {
		t.Errorf("network.refused events:\n got %q\nwant %q", got, want)
	}
}

// TestNetworkSpoofedForwardedFor: without WARD_TRUSTED_PROXIES an
// X-Forwarded-For is ignored: the socket address (127.0.0.1) decides.
func TestNetworkSpoofedForwardedFor(t *testing.T) {
	env := oauthtest.New(t)
	f := newMintFixture(t, env, "spoof")
	if err := env.Store.SetRealmIPAllowList(env.Ctx, f.realm.ID, []string{"203.0.113.0/24"}, env.Now()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, env.Base+"/realms/spoof"+oauth.PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.SetBasicAuth(f.svc.ClientID, f.svcSecret)
	oauthtest.WantOAuthError(t, env.Do(req), http.StatusForbidden, "access_denied")
	if err := env.Store.SetRealmIPAllowList(env.Ctx, f.realm.ID, []string{"127.0.0.1/32"}, env.Now()); err != nil {
		t.Fatal(err)
	}
	if tok := env.Grant("spoof", f.svc.ClientID, f.svcSecret, nil); tok.Status != http.StatusOK {
		t.Fatalf("from the socket address inside the list: %d %s", tok.Status, tok.RawBody)
	}
}
