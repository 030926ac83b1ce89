package login_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestLoginNetwork: the realm's IP allow list refuses the login page
// before any form; a group's list refuses after the password, with the page
// that says so, counts the attempt for the account's lockout, and stops a
// browser session from skipping it; IPv6 works; every refusal is an audit
// event naming the address (CONTRACT §7). Addresses come through a trusted
// proxy on 127.0.0.1. Both databases.
func TestLoginNetwork(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testLoginNetwork(t, open) })
	}
}

func testLoginNetwork(t *testing.T, open func(testing.TB) realm.Store) {
	f := oauthtest.NewLoginFixture(t, open, noIPLimit, func(c oauthtest.Configs) {
		c.Login.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	env := f.Env
	via := &oauthtest.Forwarded{}
	b := oauthtest.Browser(t)
	b.Transport = via
	authURL := func() string {
		return f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}
	const refusedText = "Sign-in is not allowed from this network."
	refusedPage := func(what string, p *oauthtest.Page) {
		t.Helper()
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, refusedText) || strings.Contains(p.Body, `name="password"`) {
			t.Fatalf("%s: %d, want 403 saying %q without a password field:\n%s", what, p.Status, refusedText, p.Body)
		}
	}
	setRealm := func(cidrs ...string) {
		t.Helper()
		if err := env.Store.SetRealmIPAllowList(env.Ctx, f.Realm.ID, cidrs, env.Now()); err != nil {
			t.Fatal(err)
		}
	}
	setGroup := func(cidrs ...string) {
		t.Helper()
		f.Group.IPAllowList = cidrs
		if err := env.Store.UpdateGroup(env.Ctx, f.Group); err != nil {
			t.Fatal(err)
		}
	}

	// The realm's list, before any form.
	setRealm("203.0.113.0/24", "2001:db8::/32")
	via.Set("192.0.2.1")
	refusedPage("outside the realm's list", oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil))
	via.Set("2001:db9::1")
	refusedPage("outside, IPv6", oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil))
	via.Set("2001:db8::1")
	if p := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil); p.Status != http.StatusOK || !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("inside, IPv6: %d, want the form", p.Status)
	}

	// A group's list narrows the realm's: the right password from outside
	// it is refused and counted as a failed attempt.
	setGroup("203.0.113.128/25")
	via.Set("203.0.113.9")
	login := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil)
	if login.Status != http.StatusOK {
		t.Fatalf("inside the realm's list: %d, want the form", login.Status)
	}
	refusedPage("the right password outside the group's list", f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password))
	state, err := env.Store.GetLoginFailure(env.Ctx, f.Realm.ID, accountKey(f.User.Email))
	if err != nil || state.Failures != 1 {
		t.Fatalf("login failures after the refusal: %+v, %v; want 1", state, err)
	}
	via.Set("203.0.113.200")
	tok := f.SignIn(t, b, "openid")
	if tok.AccessToken == "" {
		t.Fatal("no token from inside the group's list")
	}
	// The browser session does not skip the group's list.
	via.Set("203.0.113.9")
	refusedPage("a session from outside the group's list", oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil))

	// Removed: anywhere.
	setGroup()
	setRealm()
	via.Set("192.0.2.1")
	if p := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil); p.Status != http.StatusSeeOther {
		t.Fatalf("lists removed, with a session: %d, want 303 with a code", p.Status)
	}

	// The refusals are audit events.
	events, err := env.Service.ListEvents(env.System(), "shop", realm.EventFilter{Type: realm.EventNetworkRefused, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events.Items {
		got = append(got, e.TargetType+" "+e.Details["address"].(string)+" "+e.Details["at"].(string))
	}
	want := map[string]bool{"realm 192.0.2.1 login": true, "realm 2001:db9::1 login": true, "user 203.0.113.9 login": true}
	if len(got) != 4 {
		t.Fatalf("network.refused events %q, want 4 (two for the realm's list, two for the group's)", got)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected network.refused event %q", g)
		}
	}
	failed, err := env.Service.ListEvents(env.System(), "shop", realm.EventFilter{Type: realm.EventUserLoginFailed})
	if err != nil || len(failed.Items) != 1 || failed.Items[0].Details["reason"] != "network" {
		t.Fatalf("user.login_failed events %+v, %v; want one with reason network", failed.Items, err)
	}
}

// TestLoginNetworkLockout: right passwords from outside the user's group
// list are failed attempts; the tenth locks the account, so that the
// right password from inside is refused too until the lock ends, and the
// lock is an audit event like any other.
func TestLoginNetworkLockout(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit, func(c oauthtest.Configs) {
		c.Login.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	via := &oauthtest.Forwarded{}
	b := oauthtest.Browser(t)
	b.Transport = via
	f.Group.IPAllowList = []string{"203.0.113.128/25"}
	if err := f.Env.Store.UpdateGroup(f.Env.Ctx, f.Group); err != nil {
		t.Fatal(err)
	}
	via.Set("203.0.113.9")
	for i := range loginLockThreshold {
		login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
		if p := f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password); p.Status != http.StatusForbidden {
			t.Fatalf("right password #%d outside the group's list: %d, want 403", i+1, p.Status)
		}
	}
	via.Set("203.0.113.200")
	if status, msg := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("inside the list after %d refusals: %d %q, want the locked answer", loginLockThreshold, status, msg)
	}
	locks, err := f.Env.Service.ListEvents(f.Env.System(), "shop", realm.EventFilter{Type: realm.EventUserLockedOut})
	if err != nil || len(locks.Items) != 1 || locks.Items[0].TargetID != f.User.ID {
		t.Fatalf("user.locked_out events %+v, %v; want one for the user", locks, err)
	}
	f.Env.Advance(61 * time.Second)
	if status, msg := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusSeeOther {
		t.Fatalf("inside the list after the lock: %d %q, want a sign-in", status, msg)
	}
}

// TestLoginNetworkMappedForwardedFor: an IPv4-mapped IPv6 hop from the
// trusted proxy (::ffff:203.0.113.9, as a dual-stack proxy may write it)
// is the IPv4 address: inside an IPv4 list it gets the form, outside it is
// refused, and the event names the plain IPv4 address.
func TestLoginNetworkMappedForwardedFor(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit, func(c oauthtest.Configs) {
		c.Login.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	via := &oauthtest.Forwarded{}
	b := oauthtest.Browser(t)
	b.Transport = via
	if err := f.Env.Store.SetRealmIPAllowList(f.Env.Ctx, f.Realm.ID, []string{"203.0.113.0/24"}, f.Env.Now()); err != nil {
		t.Fatal(err)
	}
	page := func() *oauthtest.Page {
		return oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	}
	via.Set("::ffff:203.0.113.9")
	if p := page(); p.Status != http.StatusOK || !strings.Contains(p.Body, `name="password"`) {
		t.Fatalf("mapped address inside the list: %d, want the form", p.Status)
	}
	via.Set("::ffff:192.0.2.1")
	if p := page(); p.Status != http.StatusForbidden {
		t.Fatalf("mapped address outside the list: %d, want 403", p.Status)
	}
	events, err := f.Env.Service.ListEvents(f.Env.System(), "shop", realm.EventFilter{Type: realm.EventNetworkRefused})
	if err != nil || len(events.Items) != 1 || events.Items[0].Details["address"] != "192.0.2.1" {
		t.Fatalf("network.refused events %+v, %v; want one naming 192.0.2.1", events, err)
	}
}

// TestLoginNetworkRefusalsLimited: refusals by the realm's list are charged
// to the address's sign-in budget, so one address cannot fill the audit
// log: past the budget the page answers 429 and records nothing. A request
// with prompt=none shows no page: the application gets access_denied.
func TestLoginNetworkRefusalsLimited(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, func(c oauthtest.Configs) {
		c.Login.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Login.LoginRateLimit = oauth.RateLimit{Rate: 0.001, Burst: 3}
	})
	via := &oauthtest.Forwarded{}
	b := oauthtest.Browser(t)
	b.Transport = via
	if err := f.Env.Store.SetRealmIPAllowList(f.Env.Ctx, f.Realm.ID, []string{"203.0.113.0/24"}, f.Env.Now()); err != nil {
		t.Fatal(err)
	}
	authURL := func(opts ...oauth2.AuthCodeOption) string {
		return f.Conf.AuthCodeURL("st-"+oauthtest.RandomString(t), append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...)
	}
	via.Set("192.0.2.1")
	// prompt=none: access_denied at the redirect URI, not a page.
	p := oauthtest.Fetch(t, b, http.MethodGet, authURL(oauth2.SetAuthURLParam("prompt", "none")), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("error") != "access_denied" ||
		p.Location.Query().Get("error_description") != "Sign-in is not allowed from this network." {
		t.Fatalf("prompt=none from outside: %d %v, want 303 with access_denied", p.Status, p.Location)
	}
	for i := range 2 {
		if p := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil); p.Status != http.StatusForbidden {
			t.Fatalf("refusal #%d within the budget: %d, want 403", i+2, p.Status)
		}
	}
	if p := oauthtest.Fetch(t, b, http.MethodGet, authURL(), nil); p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal past the budget: %d, want 429 with Retry-After", p.Status)
	}
	events, err := f.Env.Service.ListEvents(f.Env.System(), "shop", realm.EventFilter{Type: realm.EventNetworkRefused})
	if err != nil || len(events.Items) != 3 {
		t.Fatalf("network.refused events: %d, %v; want 3 (none past the budget)", len(events.Items), err)
	}
}
