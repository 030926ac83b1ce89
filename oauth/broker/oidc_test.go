package broker_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// oidcFixture is realm shop (oauthtest's login fixture) with provider hq:
// another Ward realm of the same server, as an OpenID Connect provider.
type oidcFixture struct {
	*oauthtest.LoginFixture
	hq       *oauthtest.Realm
	finance  *realm.Group
	provider *realm.IdentityProviderView
	// lastAsked is the last authorization request sent to hq.
	lastAsked url.Values
	// lastAnswer is hq's last answer (the redirect to the broker endpoint
	// with code and state) and lastBrowser the browser that carried it,
	// for replaying them.
	lastAnswer  *url.URL
	lastBrowser *http.Client
}

func newOIDCFixture(t *testing.T, open func(testing.TB) realm.Store, mutate func(*realm.IdentityProviderInput)) *oidcFixture {
	t.Helper()
	f := &oidcFixture{LoginFixture: oauthtest.NewLoginFixture(t, open)}
	env := f.Env
	f.hq = env.NewRealm(f.Realm.OrgID, "hq", true)
	f.finance = env.NewGroup(f.Realm.ID, "finance", nil)
	f.finance.IDPPrimaryPriority = 5
	if err := env.Store.UpdateGroup(env.Ctx, f.finance); err != nil {
		t.Fatal(err)
	}
	redirect := env.Base + "/realms/shop/broker/hq/endpoint"
	_, secret := env.NewClient(f.hq.ID, "shop-broker", func(c *realm.Client) {
		c.Kind, c.RedirectURIs = realm.KindApplication, []string{redirect}
	})
	in := realm.IdentityProviderInput{Alias: "hq", Kind: "oidc", DisplayName: "HQ",
		OIDC:          &realm.OIDCInput{Issuer: f.hq.Issuer, ClientID: "shop-broker", ClientSecret: &secret},
		GroupClaim:    "groups",
		GroupMappings: []realm.GroupMapping{{External: "Finance", Group: f.finance.ID}}}
	if mutate != nil {
		mutate(&in)
	}
	var err error
	if f.provider, err = env.IdPs.CreateIdentityProvider(env.System(), "shop", in); err != nil {
		t.Fatal(err)
	}
	if !f.provider.Enabled || f.provider.RedirectURI != redirect {
		t.Fatalf("provider: enabled %v (%s), redirect URI %s", f.provider.Enabled, f.provider.DisabledReason, f.provider.RedirectURI)
	}
	return f
}

// hqUser makes a person at hq with a password, in hq's groups named.
func (f *oidcFixture) hqUser(t *testing.T, email string, groups ...string) *realm.User {
	t.Helper()
	env := f.Env
	var ids []string
	for _, name := range groups {
		ids = append(ids, env.NewGroup(f.hq.ID, name, nil).ID)
	}
	slices.Sort(ids)
	now := env.Now().UTC()
	u := &realm.User{ID: env.ID(), RealmID: f.hq.ID, Email: email, FirstName: "Carol", LastName: "Danvers",
		Active: true, Groups: ids, CreatedAt: now, UpdatedAt: now}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	if err := env.Store.CreateUser(env.Ctx, u); err != nil {
		t.Fatal(err)
	}
	hash, err := realm.HashPassword(oauthtest.Password, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = hash
	if err := env.Store.UpdateUser(env.Ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn runs a sign-in at shop through hq as email, in a new browser, and
// returns Ward's last answer before the application (the redirect to it
// on success) and the PKCE verifier.
func (f *oidcFixture) signIn(t *testing.T, email string, opts ...oauth2.AuthCodeOption) (*oauthtest.Page, string) {
	t.Helper()
	b := oauthtest.Browser(t)
	toHQ, verifier := f.start(t, b, opts...)
	login := follow(t, b, "", toHQ)
	p := f.SubmitLogin(t, b, login, email, oauthtest.Password)
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location.String(), f.provider.RedirectURI) {
		t.Fatalf("hq sign-in: %d %v %s, want 303 to the broker endpoint", p.Status, p.Location, p.Body)
	}
	f.lastAnswer, f.lastBrowser = p.Location, b
	p = follow(t, b, "", p.Location) // the broker endpoint
	if p.Status != http.StatusSeeOther {
		return p, verifier
	}
	return follow(t, b, f.Env.Base, p.Location), verifier // the authorization endpoint again
}

// start begins a sign-in at shop through hq in browser b and returns
// where Ward sends the browser (hq's authorization endpoint) and the PKCE
// verifier of the application's request.
func (f *oidcFixture) start(t *testing.T, b *http.Client, opts ...oauth2.AuthCodeOption) (*url.URL, string) {
	t.Helper()
	au, verifier := authURL(t, f.LoginFixture, append(opts, oauth2.SetAuthURLParam("kc_idp_hint", "hq"))...)
	p := oauthtest.Fetch(t, b, http.MethodGet, au, nil)
	p = follow(t, b, f.Env.Base, p.Location) // the broker's start
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location.String(), f.hq.Issuer+"/protocol/openid-connect/auth") {
		t.Fatalf("broker start: %d %v %s, want 303 to hq's authorization endpoint", p.Status, p.Location, p.Body)
	}
	q := p.Location.Query()
	f.lastAsked = q
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("client_id") != "shop-broker" {
		t.Fatalf("authorization request to hq %v: want PKCE S256, nonce, state and the client", q)
	}
	return p.Location, verifier
}

// TestOIDCSignIn: a sign-in through another Ward realm as OpenID Connect
// provider creates the user, maps the groups hq's userinfo names and makes
// the mapped group primary; link_by_email links a verified email to the
// existing user instead; without it that email is refused; without JIT an
// unknown person is refused. Both databases.
func TestOIDCSignIn(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) { testOIDCSignIn(t, open) })
	}
}

func testOIDCSignIn(t *testing.T, open func(testing.TB) realm.Store) {
	f := newOIDCFixture(t, open, nil)
	f.hqUser(t, "carol@hq.example", "Finance", "Other")
	p, verifier := f.signIn(t, "carol@hq.example")
	tok := redeem(t, f.LoginFixture, p.Location, verifier)
	if g := oauthtest.AnyStrings(oauthtest.JWTPayload(t, tok.AccessToken)["groups"]); !slices.Equal(g, []string{"finance"}) {
		t.Errorf("access token groups %v, want [finance]", g)
	}
	u, err := f.Env.Store.GetUserByEmail(f.Env.Ctx, f.Realm.ID, "carol@hq.example")
	if err != nil || u.FirstName != "Carol" || u.LastName != "Danvers" || u.PrimaryGroup != f.finance.ID || u.PasswordHash != "" {
		t.Fatalf("created user %+v, %v: want Carol Danvers, primary finance, no password", u, err)
	}

	// Ada exists at shop (with a password); hq says the same verified
	// email. Without link_by_email: refused, nothing linked.
	f.hqUser(t, "ada@example.com")
	p, _ = f.signIn(t, "ada@example.com")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "already exists") {
		t.Fatalf("an existing email without link_by_email: %d %s", p.Status, p.Body)
	}
	link := true
	if _, err := f.Env.IdPs.UpdateIdentityProvider(f.Env.System(), "shop", "hq", realm.IdentityProviderPatch{LinkByEmail: &link}); err != nil {
		t.Fatal(err)
	}
	p, verifier = f.signIn(t, "ada@example.com")
	tok = redeem(t, f.LoginFixture, p.Location, verifier)
	if sub := oauthtest.JWTPayload(t, tok.AccessToken)["sub"]; sub != f.User.ID {
		t.Errorf("linked sign-in sub %v, want Ada's %s", sub, f.User.ID)
	}
	if links := events(t, f.Env, realm.EventUserIdentityLinked); len(links) != 2 || links[1].TargetID != f.User.ID {
		t.Errorf("user.identity_linked events %+v, want carol's then Ada's", links)
	}

	// Without JIT: an unknown person is refused.
	jit := false
	if _, err := f.Env.IdPs.UpdateIdentityProvider(f.Env.System(), "shop", "hq", realm.IdentityProviderPatch{JIT: &jit}); err != nil {
		t.Fatal(err)
	}
	f.hqUser(t, "dave@hq.example")
	p, _ = f.signIn(t, "dave@hq.example")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "no account for you") {
		t.Fatalf("an unknown person without JIT: %d %s", p.Status, p.Body)
	}
	if _, err := f.Env.Store.GetUserByEmail(f.Env.Ctx, f.Realm.ID, "dave@hq.example"); err == nil {
		t.Error("a user was created without JIT")
	}
	reasons := map[string]int{}
	for _, e := range events(t, f.Env, realm.EventIdentityProviderSignInRefused) {
		reasons[e.Details["reason"].(string)]++
	}
	if reasons["email_taken"] != 1 || reasons["no_account"] != 1 || len(reasons) != 2 {
		t.Errorf("refusal reasons %v, want one email_taken and one no_account", reasons)
	}
}

// TestBrokerRateLimit: what writes without a checked answer is charged to
// the address: sign-ins started (a row each) past the budget answer 429
// with Retry-After; refused answers past it are refused without an audit
// event, so garbage posted to the endpoint cannot fill the log.
func TestBrokerRateLimit(t *testing.T) {
	f := &oidcFixture{LoginFixture: oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, func(c oauthtest.Configs) {
		c.Broker.RateLimit = oauth.RateLimit{Rate: 0.001, Burst: 3}
	})}
	hq := f.Env.NewRealm(f.Realm.OrgID, "hq", true)
	if _, err := f.Env.IdPs.CreateIdentityProvider(f.Env.System(), "shop", realm.IdentityProviderInput{Alias: "hq", Kind: "oidc",
		OIDC: &realm.OIDCInput{Issuer: hq.Issuer, ClientID: "x"}}); err != nil {
		t.Fatal(err)
	}
	b := oauthtest.Browser(t)
	endpoint := f.Env.Base + "/realms/shop/broker/hq/endpoint"
	for i := range 3 {
		if p := oauthtest.Fetch(t, b, http.MethodGet, endpoint+"?state=forged&code=x", nil); p.Status != http.StatusBadRequest {
			t.Fatalf("forged answer #%d: %d, want 400", i+1, p.Status)
		}
	}
	if p := oauthtest.Fetch(t, b, http.MethodGet, endpoint+"?state=forged&code=x", nil); p.Status != http.StatusBadRequest {
		t.Fatalf("forged answer past the budget: %d, want 400 still", p.Status)
	}
	if n := len(events(t, f.Env, realm.EventIdentityProviderSignInRefused)); n != 3 {
		t.Errorf("%d refusal events, want 3 (none past the budget)", n)
	}
	au, _ := authURL(t, f.LoginFixture)
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Env.Base+"/realms/shop/broker/hq/login?"+strings.SplitN(au, "?", 2)[1], nil)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Fatalf("a start past the budget: %d, want 429 with Retry-After", p.Status)
	}
	// Refused by the realm's IP allow list past the budget: refused, and
	// not recorded either.
	if err := f.Env.Store.SetRealmIPAllowList(f.Env.Ctx, f.Realm.ID, []string{"203.0.113.0/24"}, f.Env.Now()); err != nil {
		t.Fatal(err)
	}
	if p := oauthtest.Fetch(t, b, http.MethodGet, endpoint+"?state=forged&code=x", nil); p.Status != http.StatusForbidden {
		t.Fatalf("an answer from outside the realm's list: %d, want 403", p.Status)
	}
	if n := len(events(t, f.Env, realm.EventNetworkRefused)); n != 0 {
		t.Errorf("%d network.refused events past the budget, want 0", n)
	}
}

// TestFreshSignInThroughProvider: an application asking for a fresh sign-in
// (max_age, prompt=login) gets it from the provider (OIDC prompt=login,
// max_age=0) and then completes: the new session's auth_time is now, so
// max_age=0 does not send the person round again.
func TestFreshSignInThroughProvider(t *testing.T) {
	f := newOIDCFixture(t, oauthtest.OpenSQLite, nil)
	f.hqUser(t, "carol@hq.example")
	p, verifier := f.signIn(t, "carol@hq.example", oauth2.SetAuthURLParam("max_age", "0"))
	if f.lastAsked.Get("prompt") != "login" || f.lastAsked.Get("max_age") != "0" {
		t.Errorf("asked hq %v, want prompt=login and max_age=0", f.lastAsked)
	}
	tok := redeem(t, f.LoginFixture, p.Location, verifier)
	if id := f.VerifyIDToken(t, tok); id.Subject == "" {
		t.Error("no subject in the ID token")
	}
	// Without either, the provider is not asked for a fresh sign-in.
	f.hqUser(t, "dora@hq.example")
	f.signIn(t, "dora@hq.example")
	if f.lastAsked.Has("prompt") || f.lastAsked.Has("max_age") {
		t.Errorf("asked hq %v without a fresh sign-in wanted", f.lastAsked)
	}
}

// TestOIDCGroupsReplayDeactivated: through hq as OpenID Connect provider,
// the groups hq names set the mapped memberships on every sign-in and the
// highest-priority mapped group is primary (a lower one is a member, not
// primary); hq's answer presented again is refused, whether the browser
// brings it back, the state cookie is put back with it, or its code comes
// under a new sign-in's state; a second sign-in after hq's groups changed
// adds and removes mapped groups, keeps the default and the manually added
// group, and recomputes the primary group; a user deactivated at shop is
// refused with its memberships untouched. Each step's audit events are
// asserted exactly. Both databases.
func TestOIDCGroupsReplayDeactivated(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) { testOIDCGroupsReplayDeactivated(t, open) })
	}
}

func testOIDCGroupsReplayDeactivated(t *testing.T, open func(testing.TB) realm.Store) {
	f := newOIDCFixture(t, open, nil)
	env := f.Env
	// finance (priority 5) is the fixture's; traders outranks it, audit
	// sits between them, everyone is a default group (priority 0). Made
	// and mapped as an administrator would.
	group := func(name string, priority int) *realm.Group {
		t.Helper()
		g, err := env.Service.CreateGroup(env.System(), "shop", realm.GroupInput{Name: name, IDPPrimaryPriority: priority})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	traders, audit, everyone := group("traders", 50), group("audit", 20), group("everyone", 0)
	mappings := []realm.GroupMapping{{External: "Finance", Group: f.finance.ID},
		{External: "Traders", Group: traders.ID}, {External: "Audit", Group: audit.ID}}
	defaults := []string{everyone.ID}
	if _, err := env.IdPs.UpdateIdentityProvider(env.System(), "shop", "hq",
		realm.IdentityProviderPatch{GroupMappings: &mappings, DefaultGroups: &defaults}); err != nil {
		t.Fatal(err)
	}
	ops := env.NewGroup(f.Realm.ID, "ops", nil) // not mapped: an administrator's business
	names := map[string]string{f.finance.ID: "finance", traders.ID: "traders", audit.ID: "audit", everyone.ID: "everyone", ops.ID: "ops"}

	// At hq, Carol is in Finance, Traders and a group shop does not map.
	hqGroups := map[string]string{}
	for _, name := range []string{"Finance", "Traders", "Audit", "Unmapped"} {
		hqGroups[name] = env.NewGroup(f.hq.ID, name, nil).ID
	}
	carol := f.hqUser(t, "carol@hq.example")
	setHQGroups := func(names ...string) {
		t.Helper()
		ids := []string{}
		for _, n := range names {
			ids = append(ids, hqGroups[n])
		}
		if _, err := env.Service.UpdateUser(env.System(), "hq", carol.ID, realm.UserPatch{Groups: &ids}); err != nil {
			t.Fatal(err)
		}
	}
	setHQGroups("Finance", "Traders", "Unmapped")

	// What a step wrote to shop's audit log, as "type detail" lines
	// (group names for IDs), sorted: events of one transaction share
	// their time, so their order is not asserted.
	seen := map[string]bool{}
	step := func() []string {
		t.Helper()
		p, err := env.Service.ListEvents(env.System(), "shop", realm.EventFilter{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Items {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			line := string(e.Type) + " by " + e.ActorType + ":" + e.ActorID
			if g, ok := e.Details["group"].(string); ok {
				line += " group=" + names[g]
			}
			if g, ok := e.Details["primary_group"].(string); ok && e.Type == realm.EventUserUpdated {
				line += " primary=" + names[g]
			}
			if r, ok := e.Details["reason"].(string); ok {
				line += " reason=" + r
			}
			if e.Type == realm.EventUserSignedIn {
				line += fmt.Sprintf(" user=%s idp=%v client=%v", e.TargetID, e.Details["identity_provider"], e.Details["client_id"])
			}
			out = append(out, line)
		}
		slices.Sort(out)
		return out
	}
	wantStep := func(what string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if got := step(); !slices.Equal(got, want) {
			t.Errorf("%s: audit events\n  %q\nwant\n  %q", what, got, want)
		}
	}
	step() // the fixture's own

	// First sign-in: finance and traders mapped, everyone by default;
	// traders (50) outranks finance (5) as primary. The sign-in itself is
	// recorded as identity_provider.sign_in (what the answer did) and as
	// user.signed_in (a session here, as after a password).
	p, verifier := f.signIn(t, "carol@hq.example")
	tok := redeem(t, f.LoginFixture, p.Location, verifier)
	if g := oauthtest.AnyStrings(oauthtest.JWTPayload(t, tok.AccessToken)["groups"]); !slices.Equal(g, []string{"everyone", "finance", "traders"}) {
		t.Errorf("access token groups %v, want [everyone finance traders]", g)
	}
	u, err := env.Store.GetUserByEmail(env.Ctx, f.Realm.ID, "carol@hq.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedIDs(f.finance, traders, everyone); !slices.Equal(u.Groups, want) || u.PrimaryGroup != traders.ID {
		t.Errorf("after the first sign-in: groups %v primary %s, want %v primary traders (%s)", u.Groups, u.PrimaryGroup, want, traders.ID)
	}
	uid := u.ID
	wantStep("first sign-in",
		"user.created by identity_provider:hq",
		"user.identity_linked by identity_provider:hq",
		"user.group_added by identity_provider:hq group=everyone",
		"user.group_added by identity_provider:hq group=finance",
		"user.group_added by identity_provider:hq group=traders",
		"user.updated by identity_provider:hq primary=traders",
		"identity_provider.sign_in by user:"+uid,
		"user.signed_in by system: user="+uid+" idp=hq client="+f.Client.ClientID)

	// Replays of hq's answer, none of which may sign anyone in or issue
	// a code. In the browser that used it: its state cookie is gone.
	answer, b := f.lastAnswer, f.lastBrowser
	wantRefused := func(what string, p *oauthtest.Page, status int, text string) {
		t.Helper()
		// No redirect and nothing naming the application's redirect URI
		// (a form_post or web_message page would carry a code there).
		if p.Status != status || p.Location != nil || !strings.Contains(p.Body, text) || strings.Contains(p.Body, f.Redirect) {
			t.Errorf("%s: %d %v, want %d saying %q:\n%s", what, p.Status, p.Location, status, text, p.Body)
		}
	}
	const expiredText, invalidText = "took too long or was already completed", "could not be accepted"
	wantRefused("the answer again in the same browser", follow(t, b, "", answer), http.StatusBadRequest, expiredText)
	// With the state cookie put back (as a thief holding both would): the
	// sign-in in flight was taken once and is gone.
	stateCookieURL, _ := url.Parse(f.Env.Base + "/realms/shop/broker/hq/endpoint")
	thief := oauthtest.Browser(t)
	thief.Jar.SetCookies(stateCookieURL, []*http.Cookie{{Name: "ward_broker", Value: answer.Query().Get("state"), Path: "/realms/shop/broker/"}})
	wantRefused("the answer again with its state cookie", follow(t, thief, "", answer), http.StatusBadRequest, expiredText)
	// The used code under a new sign-in's state (and cookie): hq will not
	// exchange it again (nor for another PKCE verifier).
	toHQ, _ := f.start(t, thief)
	again := *answer
	q := again.Query()
	q.Set("state", toHQ.Query().Get("state"))
	again.RawQuery = q.Encode()
	wantRefused("the used code under a new state", follow(t, thief, "", &again), http.StatusBadRequest, invalidText)
	wantStep("the replays",
		"identity_provider.sign_in_refused by identity_provider:hq reason=unknown_state",
		"identity_provider.sign_in_refused by identity_provider:hq reason=unknown_state",
		"identity_provider.sign_in_refused by identity_provider:hq reason=code_exchange_failed")

	// An administrator adds Carol to ops; at hq she leaves Traders and
	// joins Audit. The second sign-in removes traders, adds audit, keeps
	// finance, everyone and ops, and makes audit (20) primary over
	// finance (5).
	if _, err := env.Service.AddUserToGroup(env.System(), "shop", uid, ops.ID); err != nil {
		t.Fatal(err)
	}
	setHQGroups("Finance", "Audit", "Unmapped")
	step() // the administrator's change
	p, verifier = f.signIn(t, "carol@hq.example")
	tok = redeem(t, f.LoginFixture, p.Location, verifier)
	if g := oauthtest.AnyStrings(oauthtest.JWTPayload(t, tok.AccessToken)["groups"]); !slices.Equal(g, []string{"audit", "everyone", "finance", "ops"}) {
		t.Errorf("access token groups after hq's change %v, want [audit everyone finance ops]", g)
	}
	if u, err = env.Store.GetUser(env.Ctx, f.Realm.ID, uid); err != nil {
		t.Fatal(err)
	}
	if want := sortedIDs(f.finance, audit, everyone, ops); !slices.Equal(u.Groups, want) || u.PrimaryGroup != audit.ID {
		t.Errorf("after the second sign-in: groups %v primary %s, want %v primary audit (%s)", u.Groups, u.PrimaryGroup, want, audit.ID)
	}
	wantStep("second sign-in",
		"user.group_added by identity_provider:hq group=audit",
		"user.group_removed by identity_provider:hq group=traders",
		"user.updated by identity_provider:hq primary=audit",
		"identity_provider.sign_in by user:"+uid,
		"user.signed_in by system: user="+uid+" idp=hq client="+f.Client.ClientID)

	// Deactivated at shop: hq signs Carol in, shop refuses her, and what
	// hq now says of her groups changes nothing.
	inactive := false
	if _, err := env.Service.UpdateUser(env.System(), "shop", uid, realm.UserPatch{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	setHQGroups("Traders")
	step() // the deactivation
	p, _ = f.signIn(t, "carol@hq.example")
	wantRefused("a deactivated user", p, http.StatusForbidden, "This account is deactivated")
	// No session either: the same browser asking again gets the login
	// form, not a code.
	au, _ := authURL(t, f.LoginFixture)
	if p := oauthtest.Fetch(t, f.lastBrowser, http.MethodGet, au, nil); p.Status != http.StatusOK || p.Location != nil {
		t.Errorf("after the refusal, the authorization endpoint answers %d %v, want the login form", p.Status, p.Location)
	}
	if u, err = env.Store.GetUser(env.Ctx, f.Realm.ID, uid); err != nil {
		t.Fatal(err)
	}
	if want := sortedIDs(f.finance, audit, everyone, ops); !slices.Equal(u.Groups, want) || u.PrimaryGroup != audit.ID || u.Active {
		t.Errorf("after the refusal: groups %v primary %s active %v, want unchanged and inactive", u.Groups, u.PrimaryGroup, u.Active)
	}
	wantStep("a deactivated user", "identity_provider.sign_in_refused by identity_provider:hq reason=deactivated")
	refused := events(t, env, realm.EventIdentityProviderSignInRefused)
	if last := refused[len(refused)-1]; last.Details["subject"] != carol.ID || last.Details["identity_provider"] != "hq" {
		t.Errorf("deactivated refusal details %v, want hq and subject %s (Carol at hq)", last.Details, carol.ID)
	}
}

// sortedIDs are groups' IDs, sorted as a user's are.
func sortedIDs(groups ...*realm.Group) []string {
	ids := make([]string, 0, len(groups))
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	return ids
}
