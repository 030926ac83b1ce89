package login_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

const testPassword = "correct horse battery"

// loginFixture is a realm with a user who has a password, and a public
// application client registered for a loopback redirect URI.
type loginFixture struct {
	env      *testEnv
	realm    *realmFixture
	user     *realm.User
	group    *realm.Group
	client   *realm.Client
	redirect string
	conf     *oauth2.Config
}

func newLoginFixture(t testing.TB, open func(testing.TB) realm.Store) *loginFixture {
	t.Helper()
	env := newEnvOn(t, open)
	f := &loginFixture{env: env, redirect: "http://127.0.0.1:43117/cb"}
	f.realm = env.newRealm(env.newOrg("acme").ID, "shop", true)
	env.newAttribute(f.realm.ID, "region", attributes.String, false)
	f.group = env.newGroup(f.realm.ID, "staff", map[string]any{"region": "eu"})
	hash, err := realm.HashPassword(testPassword, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := env.now().UTC()
	f.user = &realm.User{ID: env.id(), RealmID: f.realm.ID, Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
		Active: true, Groups: []string{f.group.ID}, PrimaryGroup: f.group.ID, CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreateUser(env.ctx, f.user); err != nil {
		t.Fatal(err)
	}
	f.user.PasswordHash = hash
	if err := env.store.UpdateUser(env.ctx, f.user); err != nil {
		t.Fatal(err)
	}
	f.client, _ = env.newClient(f.realm.ID, "web", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.DisplayName = "Ada's Shop"
		c.RedirectURIs = []string{f.redirect}
	})
	f.conf = &oauth2.Config{
		ClientID:    "web",
		RedirectURL: f.redirect,
		Scopes:      []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   f.realm.issuer + pathAuth,
			TokenURL:  f.realm.issuer + pathToken,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	return f
}

// browser is a cookie-keeping HTTP client that does not follow redirects:
// the test reads Location instead of calling the application.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status   int
	body     string
	header   http.Header
	location *url.URL
}

func fetch(t testing.TB, b *http.Client, method, target string, form url.Values) *page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, body: string(raw), header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.location, err = url.Parse(loc); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// submitLogin posts credentials to the login form on p.
func (f *loginFixture) submitLogin(t testing.TB, b *http.Client, p *page, email, password string) *page {
	t.Helper()
	cm, am := csrfField.FindStringSubmatch(p.body), formAction.FindStringSubmatch(p.body)
	if cm == nil || am == nil {
		t.Fatalf("no login form in page (%d): %s", p.status, p.body)
	}
	return fetch(t, b, http.MethodPost, f.env.base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {cm[1]}, "email": {email}, "password": {password}})
}

// authorize runs the browser part: the login page, then the redirect back.
func (f *loginFixture) authorize(t testing.TB, b *http.Client, authURL string) *url.URL {
	t.Helper()
	login := fetch(t, b, http.MethodGet, authURL, nil)
	if login.status != http.StatusOK {
		t.Fatalf("authorization endpoint: %d %s", login.status, login.body)
	}
	done := f.submitLogin(t, b, login, f.user.Email, testPassword)
	if done.status != http.StatusSeeOther || done.location == nil {
		t.Fatalf("login: %d %v %s", done.status, done.header, done.body)
	}
	return done.location
}

func randomString(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func jwtPayload(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAuthorizationCodeFlow(t *testing.T) {
	f := newLoginFixture(t, openStore)
	ctx := context.Background()
	b := browser(t)
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(t), randomString(t)
	authURL := f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	login := fetch(t, b, http.MethodGet, authURL, nil)
	if login.status != http.StatusOK || !strings.Contains(login.body, "Ada&#39;s Shop") {
		t.Fatalf("login page: %d, want 200 naming the application: %s", login.status, login.body)
	}
	csp := login.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || login.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: CSP %q, Cache-Control %q", csp, login.header.Get("Cache-Control"))
	}
	done := f.submitLogin(t, b, login, f.user.Email, testPassword)
	if done.status != http.StatusSeeOther || done.location == nil {
		t.Fatalf("login: %d %s", done.status, done.body)
	}
	var sessionCookieSeen bool
	for _, line := range done.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, sessionCookie+"=") {
			sessionCookieSeen = true
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/realms/shop/"} {
				if !strings.Contains(line, attr) {
					t.Errorf("session cookie %q lacks %s", line, attr)
				}
			}
		}
	}
	if !sessionCookieSeen {
		t.Error("no session cookie set at sign-in")
	}
	loc := done.location
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != f.redirect {
		t.Fatalf("redirected to %s, want %s", got, f.redirect)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("iss") != f.realm.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want state, iss %s and a code", q, f.realm.issuer)
	}
	if q.Has("scope") {
		t.Errorf("authorization response carries scope %q (RFC 6749 §4.1.2 has none; keycloak-js would leave it in the URL)", q.Get("scope"))
	}

	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type %q", tok.TokenType)
	}
	if tok.RefreshToken == "" {
		t.Error("the code grant returned no refresh token")
	}

	// The ID token, verified by a certified RP library against discovery.
	provider, err := oidc.NewProvider(ctx, f.realm.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != f.user.ID {
		t.Errorf("ID token nonce %q sub %q, want %q %q", idt.Nonce, idt.Subject, nonce, f.user.ID)
	}
	var idc map[string]any
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"azp": "web", "email": "ada@example.com", "name": "Ada Lovelace",
		"given_name": "Ada", "family_name": "Lovelace"} {
		if idc[k] != want {
			t.Errorf("ID token %s = %v, want %v", k, idc[k], want)
		}
	}
	if sid, _ := idc["sid"].(string); sid == "" {
		t.Error("ID token has no sid")
	}
	if at, _ := idc["auth_time"].(float64); at == 0 {
		t.Error("ID token has no auth_time")
	}
	hdr := strings.Split(raw, ".")[0]
	hb, _ := base64.RawURLEncoding.DecodeString(hdr)
	if !strings.Contains(string(hb), `"alg":"RS256"`) {
		t.Errorf("ID token header %s, want RS256", hb)
	}

	// The access token is the user's.
	at := jwtPayload(t, tok.AccessToken)
	if at["sub"] != f.user.ID || at["kind"] != "user" || at["email"] != "ada@example.com" || at["client_id"] != "web" ||
		at["given_name"] != "Ada" || at["family_name"] != "Lovelace" {
		t.Errorf("access token claims %v", at)
	}
	if g, _ := at["groups"].([]any); len(g) != 1 || g[0] != "staff" {
		t.Errorf("access token groups %v", at["groups"])
	}
	if a, _ := at["attributes"].(map[string]any); a["region"] != "eu" {
		t.Errorf("access token attributes %v", at["attributes"])
	}

	// A second authorization in the same browser skips the password.
	verifier2 := oauth2.GenerateVerifier()
	again := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier2)), nil)
	if again.status != http.StatusSeeOther || again.location == nil || again.location.Query().Get("code") == "" {
		t.Fatalf("signed-in browser: %d %s, want a redirect with a code", again.status, again.body)
	}
	tok2, err := f.conf.Exchange(ctx, again.location.Query().Get("code"), oauth2.VerifierOption(verifier2))
	if err != nil {
		t.Fatal(err)
	}
	idt2, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, tok2.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var idc2 map[string]any
	_ = idt2.Claims(&idc2)
	if idc2["sid"] != idc["sid"] || idc2["auth_time"] != idc["auth_time"] {
		t.Errorf("second sign-in in the session: sid %v auth_time %v, want %v %v", idc2["sid"], idc2["auth_time"], idc["sid"], idc["auth_time"])
	}

	// Reusing the first code fails and revokes what it issued.
	_, err = f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, "reused code", err, "invalid_grant")
	_, introSecret := f.env.newClient(f.realm.ID, "rs", nil)
	r := f.env.introspect("shop", tok.AccessToken, "rs", introSecret)
	if r.Status != http.StatusOK || r.Body["active"] != false {
		t.Errorf("introspection of the reused code's token: %d %s, want inactive", r.Status, r.RawBody)
	}
	r = f.env.introspect("shop", tok2.AccessToken, "rs", introSecret)
	if r.Status != http.StatusOK || r.Body["active"] != true {
		t.Errorf("introspection of another code's token: %d %s, want active", r.Status, r.RawBody)
	}
}

func wantRetrieveError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("%s: error %v, want %s", what, err, code)
	}
}

func TestAuthorizationCodeBadPKCE(t *testing.T) {
	f := newLoginFixture(t, openStore)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	loc := f.authorize(t, browser(t), f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier)))
	code := loc.Query().Get("code")
	_, err := f.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantRetrieveError(t, "wrong verifier", err, "invalid_grant")
	// The code stays bound to its challenge after a wrong verifier, so a
	// missing one is a verifier mismatch too (RFC 7636 §4.6: invalid_grant).
	_, err = f.conf.Exchange(ctx, code)
	wantRetrieveError(t, "missing verifier", err, "invalid_grant")

	// A public client must send a challenge, and only S256.
	b := browser(t)
	p := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t)), nil)
	if p.status != http.StatusSeeOther || p.location == nil || p.location.Query().Get("error") != "invalid_request" ||
		p.location.Query().Get("iss") != f.realm.issuer {
		t.Errorf("no code_challenge: %d %v, want a redirect with invalid_request and iss", p.status, p.location)
	}
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t),
		oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")), nil)
	if p.status != http.StatusSeeOther || p.location == nil || p.location.Query().Get("error") != "invalid_request" {
		t.Errorf("plain challenge: %d %v, want a redirect with invalid_request", p.status, p.location)
	}
}

func TestAuthorizeRedirectURIAndClient(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	cases := map[string]string{
		"unregistered":     "https://evil.example/cb",
		"prefix":           f.redirect + "/more",
		"query added":      f.redirect + "?x=1",
		"other port":       "http://127.0.0.1:43118/cb",
		"no port":          "http://127.0.0.1/cb",
		"missing":          "",
		"case of the host": "http://LOCALHOST:43117/cb",
		"trailing slash":   f.redirect + "/",
	}
	for name, uri := range cases {
		authURL := f.conf.AuthCodeURL(randomString(t), challenge, oauth2.SetAuthURLParam("redirect_uri", uri))
		p := fetch(t, b, http.MethodGet, authURL, nil)
		if p.status != http.StatusBadRequest || p.location != nil || !strings.Contains(p.body, "invalid redirect URI") {
			t.Errorf("%s redirect URI %q: %d Location %v, want a 400 error page", name, uri, p.status, p.location)
		}
	}
	for name, id := range map[string]string{"unknown": "nope", "service account": "sa", "missing": ""} {
		if name == "service account" {
			f.env.newClient(f.realm.ID, "sa", func(c *realm.Client) { c.RedirectURIs = []string{f.redirect} })
		}
		conf := *f.conf
		conf.ClientID = id
		p := fetch(t, b, http.MethodGet, conf.AuthCodeURL(randomString(t), challenge), nil)
		if p.status != http.StatusBadRequest || p.location != nil || !strings.Contains(p.body, "application is unknown") {
			t.Errorf("%s client: %d Location %v, want a 400 error page", name, p.status, p.location)
		}
	}
	// state is required: the error goes back to the (verified) redirect URI.
	p := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL("", challenge), nil)
	if p.status != http.StatusSeeOther || p.location == nil || p.location.Query().Get("error") != "invalid_state" ||
		p.location.Query().Get("iss") != f.realm.issuer {
		t.Errorf("missing state: %d %v, want a redirect with invalid_state and iss", p.status, p.location)
	}
}

func TestLoginRefusals(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	authURL := f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	login := fetch(t, b, http.MethodGet, authURL, nil)

	other := &realm.User{ID: f.env.id(), RealmID: f.realm.ID, Email: "gone@example.com", Active: true,
		CreatedAt: f.env.now().UTC(), UpdatedAt: f.env.now().UTC()}
	if err := f.env.store.CreateUser(f.env.ctx, other); err != nil {
		t.Fatal(err)
	}
	other.PasswordHash, _ = realm.HashPassword(testPassword, rand.Reader)
	other.Active = false
	if err := f.env.store.UpdateUser(f.env.ctx, other); err != nil {
		t.Fatal(err)
	}
	for name, cred := range map[string][2]string{
		"wrong password":   {f.user.Email, "not the password"},
		"unknown email":    {"nobody@example.com", testPassword},
		"deactivated user": {other.Email, testPassword},
		"empty":            {"", ""},
	} {
		p := f.submitLogin(t, b, login, cred[0], cred[1])
		if p.status != http.StatusUnauthorized || p.location != nil || !strings.Contains(p.body, loginFailed) {
			t.Errorf("%s: %d %v, want the login page again with %q", name, p.status, p.location, loginFailed)
		}
		login = p
	}
	// A forged CSRF token is refused before the password is looked at.
	am := formAction.FindStringSubmatch(login.body)
	p := fetch(t, b, http.MethodPost, f.env.base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {"forged"}, "email": {f.user.Email}, "password": {testPassword}})
	if p.status != http.StatusForbidden || p.location != nil {
		t.Errorf("forged CSRF token: %d %v, want 403", p.status, p.location)
	}
	// The password never reaches a stored request or a log.
	if strings.Contains(f.env.logs.String(), testPassword) {
		t.Error("the password appears in the logs")
	}
}

func TestAuthorizationCodeDeactivatedBeforeRedemption(t *testing.T) {
	f := newLoginFixture(t, openStore)
	verifier := oauth2.GenerateVerifier()
	loc := f.authorize(t, browser(t), f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier)))
	f.user.Active = false
	if err := f.env.store.UpdateUser(f.env.ctx, f.user); err != nil {
		t.Fatal(err)
	}
	_, err := f.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, "code of a user deactivated since", err, "invalid_grant")
}

func TestConfidentialApplicationCode(t *testing.T) {
	f := newLoginFixture(t, openStore)
	_, secret := f.env.newClient(f.realm.ID, "backend", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{f.redirect}
	})
	conf := *f.conf
	conf.ClientID, conf.ClientSecret = "backend", secret
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	verifier := oauth2.GenerateVerifier()
	loc := f.authorize(t, browser(t), conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier)))
	bad := conf
	bad.ClientSecret = "wrong"
	_, err := bad.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, "wrong secret", err, "invalid_client")
	if _, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("confidential exchange: %v", err)
	}

	// No PKCE downgrade: a wrong verifier must not erase the code's S256
	// binding, so that the same code without any verifier fails too.
	verifier = oauth2.GenerateVerifier()
	code := f.authorize(t, browser(t), conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
	_, err = conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantRetrieveError(t, "wrong verifier", err, "invalid_grant")
	if _, err := conf.Exchange(context.Background(), code); err == nil {
		t.Fatal("the code was redeemed without its verifier after a wrong one (PKCE downgrade)")
	}
	if _, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("the right verifier after refused attempts: %v", err)
	}
}

func TestConcurrentCodeRedemption(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite":   openStore,
		"Postgres": func(t testing.TB) realm.Store { return sqltest.OpenPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newLoginFixture(t, open)
			verifier := oauth2.GenerateVerifier()
			code := f.authorize(t, browser(t), f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
			const n = 50
			var (
				wg          sync.WaitGroup
				mu          sync.Mutex
				ok, invalid int
				others      []string
				start       = make(chan struct{})
			)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"web"},
				"redirect_uri": {f.redirect}, "code_verifier": {verifier}}
			for range n {
				wg.Go(func() {
					<-start
					resp, err := http.PostForm(f.realm.issuer+pathToken, form)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					var body map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&body)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case resp.StatusCode == http.StatusOK:
						ok++
					case resp.StatusCode == http.StatusBadRequest && body["error"] == "invalid_grant":
						invalid++
					default:
						others = append(others, resp.Status)
					}
				})
			}
			close(start)
			wg.Wait()
			if ok != 1 || invalid != n-1 {
				t.Errorf("%d concurrent redemptions: %d succeeded, %d invalid_grant, others %v; want exactly one success\nlogs:\n%s", n, ok, invalid, others, f.env.logs)
			}
		})
	}
}

func TestAuthorizeResponseModesAndPrompt(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

	// prompt=none without a session: login_required at the redirect URI.
	p := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), challenge, oauth2.SetAuthURLParam("prompt", "none")), nil)
	if p.status != http.StatusSeeOther || p.location == nil || p.location.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none signed out: %d %v, want login_required", p.status, p.location)
	}

	// An authorization request POSTed as a form gets the login page, whose
	// form carries the request on.
	authURL, _ := url.Parse(f.conf.AuthCodeURL(randomString(t), challenge))
	posted := fetch(t, b, http.MethodPost, f.realm.issuer+pathAuth, authURL.Query())
	if posted.status != http.StatusOK {
		t.Fatalf("POSTed authorization request: %d %s", posted.status, posted.body)
	}
	done := f.submitLogin(t, b, posted, f.user.Email, testPassword)
	if done.status != http.StatusSeeOther || done.location == nil || done.location.Query().Get("code") == "" {
		t.Fatalf("login after a POSTed request: %d %v %s", done.status, done.location, done.body)
	}

	// Signed in now: fragment mode puts code, state and iss in the fragment.
	state := randomString(t)
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, challenge, oauth2.SetAuthURLParam("response_mode", "fragment")), nil)
	if p.status != http.StatusSeeOther || p.location == nil {
		t.Fatalf("fragment mode: %d %s", p.status, p.body)
	}
	frag, _ := url.ParseQuery(p.location.Fragment)
	if frag.Get("code") == "" || frag.Get("state") != state || frag.Get("iss") != f.realm.issuer || p.location.RawQuery != "" {
		t.Errorf("fragment mode: Location %v", p.location)
	}
	// Errors in fragment mode carry iss in the fragment too, encoded once.
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL("", challenge, oauth2.SetAuthURLParam("response_mode", "fragment")), nil)
	frag, _ = url.ParseQuery(p.location.Fragment)
	if frag.Get("error") != "invalid_state" || frag.Get("iss") != f.realm.issuer || strings.Contains(p.location.Fragment, "%25") {
		t.Errorf("fragment error: Location %v", p.location)
	}
	// form_post answers a self-posting form with the same fields.
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, challenge, oauth2.SetAuthURLParam("response_mode", "form_post")), nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, f.redirect) || !strings.Contains(p.body, `name="iss"`) ||
		!strings.Contains(p.body, `name="code"`) || !strings.Contains(p.body, state) {
		t.Errorf("form_post mode: %d %s", p.status, p.body)
	}
	if n := strings.Count(p.body, `name="iss"`); n != 1 {
		t.Errorf("form_post success carries iss %d times, want once", n)
	}
	// Errors in form_post mode carry iss too (RFC 9207).
	p = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL("", challenge, oauth2.SetAuthURLParam("response_mode", "form_post")), nil)
	if !strings.Contains(p.body, `name="error" value="invalid_state"`) ||
		!strings.Contains(p.body, `name="iss" value="`+f.realm.issuer+`"`) {
		t.Errorf("form_post error: %d %s", p.status, p.body)
	}
}

func TestAuthorizePromptLoginAndMaxAge(t *testing.T) {
	f := newLoginFixture(t, openStore)
	ctx := context.Background()
	b := browser(t)
	f.authorize(t, b, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))

	for name, opt := range map[string]oauth2.AuthCodeOption{
		"prompt=login": oauth2.SetAuthURLParam("prompt", "login"),
		"max_age=0":    oauth2.SetAuthURLParam("max_age", "0"),
	} {
		verifier := oauth2.GenerateVerifier()
		loc := f.authorize(t, b, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier), opt))
		tok, err := f.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v", name, err)
		}
		if tok.Extra("id_token") == nil {
			t.Errorf("%s: no ID token", name)
		}
	}
	// prompt=none with the session issues a code without a page.
	p := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	if p.status != http.StatusSeeOther || p.location == nil || p.location.Query().Get("code") == "" {
		t.Errorf("prompt=none signed in: %d %v", p.status, p.location)
	}
}

func TestCodeOfAnotherRealm(t *testing.T) {
	f := newLoginFixture(t, openStore)
	other := f.env.newRealm(f.realm.OrgID, "other", true)
	f.env.newClient(other.ID, "web", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.RedirectURIs = []string{f.redirect}
	})
	verifier := oauth2.GenerateVerifier()
	loc := f.authorize(t, browser(t), f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(verifier)))
	conf := *f.conf
	conf.Endpoint.TokenURL = other.issuer + pathToken
	_, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	wantRetrieveError(t, "code redeemed at another realm", err, "invalid_grant")
	if _, err := f.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the code still works at its own realm: %v", err)
	}
}

func TestAuthorizeHugeForm(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	authURL, _ := url.Parse(f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form := authURL.Query()
	form.Set("padding", strings.Repeat("x", 100<<10))
	p := fetch(t, b, http.MethodPost, f.realm.issuer+pathAuth, form)
	if p.status != http.StatusRequestEntityTooLarge || p.location != nil {
		t.Errorf("huge authorization form: %d %v, want 413 and no redirect", p.status, p.location)
	}
}

// cancelLogin presses Cancel on the login form on p, with whatever the
// user had typed.
func (f *loginFixture) cancelLogin(t testing.TB, b *http.Client, p *page, csrf, email, password string) *page {
	t.Helper()
	cm, am := csrfField.FindStringSubmatch(p.body), formAction.FindStringSubmatch(p.body)
	if cm == nil || am == nil || !strings.Contains(p.body, `name="cancel" value="1"`) {
		t.Fatalf("no login form with a Cancel button in page (%d): %s", p.status, p.body)
	}
	if csrf == "" {
		csrf = cm[1]
	}
	return fetch(t, b, http.MethodPost, f.env.base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}, "cancel": {"1"}})
}

// TestLoginCancel: Cancel on the login form ends the authorization request
// with access_denied through the normal error response (redirect with
// state and iss); it needs the form's CSRF token, signs nobody in even with
// the right password typed, and is not a failed sign-in.
func TestLoginCancel(t *testing.T) {
	f := newLoginFixture(t, openStore)
	b := browser(t)
	state := randomString(t)
	login := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)

	// A forged CSRF token: refused, the request goes on.
	p := f.cancelLogin(t, b, login, "forged", f.user.Email, "")
	if p.status != http.StatusForbidden || p.location != nil || !strings.Contains(p.body, "The form expired") {
		t.Fatalf("cancel with a forged CSRF token: %d %v", p.status, p.location)
	}

	p = f.cancelLogin(t, b, p, "", f.user.Email, testPassword)
	if p.location == nil || (p.status != http.StatusFound && p.status != http.StatusSeeOther) {
		t.Fatalf("cancel: %d %s, want a redirect to the application", p.status, p.body)
	}
	q := p.location.Query()
	if got := p.location.Scheme + "://" + p.location.Host + p.location.Path; got != f.redirect {
		t.Errorf("cancel redirects to %s, want %s", got, f.redirect)
	}
	if q.Get("error") != "access_denied" || q.Get("error_description") != loginCancelled || q.Get("state") != state ||
		q.Get("iss") != f.realm.issuer || q.Has("code") {
		t.Errorf("cancel response %v", q)
	}
	// Nobody signed in: no session cookie, and prompt=none needs a login.
	for _, ck := range b.Jar.Cookies(p.location) {
		if ck.Name == sessionCookie {
			t.Errorf("cancel set a session cookie")
		}
	}
	silent := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	if silent.location == nil || silent.location.Query().Get("error") != "login_required" {
		t.Errorf("after cancel, prompt=none: %d %v", silent.status, silent.location)
	}

	// A cancel with a wrong password typed is not a failed sign-in.
	login = fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p := f.cancelLogin(t, b, login, "", f.user.Email, "not the password"); p.location == nil || p.location.Query().Get("error") != "access_denied" {
		t.Fatalf("cancel: %d %v", p.status, p.location)
	}
	if lf, err := f.env.store.GetLoginFailure(f.env.ctx, f.realm.ID, accountKey(f.user.Email)); !errors.Is(err, realm.ErrNotFound) && (err != nil || lf.Failures != 0) {
		t.Errorf("cancel counted as a failed sign-in: %+v %v", lf, err)
	}
	evs, err := f.env.store.ListEvents(f.env.ctx, f.realm.OrgID, f.realm.ID, realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if strings.HasPrefix(string(ev.Type), "user.login") || ev.Type == "user.locked_out" {
			t.Errorf("cancel wrote event %s", ev.Type)
		}
	}
}

// TestLoginCancelWebMessage: for a web_message request the cancel is
// posted to the opener like any error, with state and iss.
func TestLoginCancelWebMessage(t *testing.T) {
	f := newLoginFixture(t, openStore)
	const redirect = "http://127.0.0.1:43118/popup-cb"
	popupClient(f, "popup", redirect, []string{"http://127.0.0.1:43118"})
	conf := *f.conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := browser(t)
	state := randomString(t)
	login := fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	wm := readWebMessage(t, f.cancelLogin(t, b, login, "", "", ""))
	if wm.origin != "http://127.0.0.1:43118" || wm.typ != "authorization_response" {
		t.Errorf("posted to %q: %s", wm.origin, wm.typ)
	}
	if wm.response["error"] != "access_denied" || wm.response["error_description"] != loginCancelled ||
		wm.response["state"] != state || wm.response["iss"] != f.realm.issuer || wm.response["code"] != "" {
		t.Errorf("cancel message %v", wm.response)
	}
}
