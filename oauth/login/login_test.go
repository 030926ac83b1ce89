package login_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

func TestAuthorizationCodeFlow(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	ctx := context.Background()
	b := oauthtest.Browser(t)
	verifier, state, nonce := oauth2.GenerateVerifier(), oauthtest.RandomString(t), oauthtest.RandomString(t)
	authURL := f.Conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	login := oauthtest.Fetch(t, b, http.MethodGet, authURL, nil)
	if login.Status != http.StatusOK || !strings.Contains(login.Body, "Ada&#39;s Shop") {
		t.Fatalf("login page: %d, want 200 naming the application: %s", login.Status, login.Body)
	}
	csp := login.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || login.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: CSP %q, Cache-Control %q", csp, login.Header.Get("Cache-Control"))
	}
	done := f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password)
	if done.Status != http.StatusSeeOther || done.Location == nil {
		t.Fatalf("login: %d %s", done.Status, done.Body)
	}
	var sessionCookieSeen bool
	for _, line := range done.Header.Values("Set-Cookie") {
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
	loc := done.Location
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != f.Redirect {
		t.Fatalf("redirected to %s, want %s", got, f.Redirect)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("iss") != f.Realm.Issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want state, iss %s and a code", q, f.Realm.Issuer)
	}
	if q.Has("scope") {
		t.Errorf("authorization response carries scope %q (RFC 6749 §4.1.2 has none; keycloak-js would leave it in the URL)", q.Get("scope"))
	}

	tok, err := f.Conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
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
	raw, _ := tok.Extra("id_token").(string)
	idt := f.VerifyIDToken(t, tok)
	if idt.Nonce != nonce || idt.Subject != f.User.ID {
		t.Errorf("ID token nonce %q sub %q, want %q %q", idt.Nonce, idt.Subject, nonce, f.User.ID)
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
	at := oauthtest.JWTPayload(t, tok.AccessToken)
	if at["sub"] != f.User.ID || at["kind"] != "user" || at["email"] != "ada@example.com" || at["client_id"] != "web" ||
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
	again := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier2)), nil)
	if again.Status != http.StatusSeeOther || again.Location == nil || again.Location.Query().Get("code") == "" {
		t.Fatalf("signed-in browser: %d %s, want a redirect with a code", again.Status, again.Body)
	}
	tok2, err := f.Conf.Exchange(ctx, again.Location.Query().Get("code"), oauth2.VerifierOption(verifier2))
	if err != nil {
		t.Fatal(err)
	}
	idt2 := f.VerifyIDToken(t, tok2)
	var idc2 map[string]any
	_ = idt2.Claims(&idc2)
	if idc2["sid"] != idc["sid"] || idc2["auth_time"] != idc["auth_time"] {
		t.Errorf("second sign-in in the session: sid %v auth_time %v, want %v %v", idc2["sid"], idc2["auth_time"], idc["sid"], idc["auth_time"])
	}

	// Reusing the first code fails and revokes what it issued.
	_, err = f.Conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "reused code", err, "invalid_grant")
	_, introSecret := f.Env.NewClient(f.Realm.ID, "rs", nil)
	r := f.Env.Introspect("shop", tok.AccessToken, "rs", introSecret)
	if r.Status != http.StatusOK || r.Body["active"] != false {
		t.Errorf("introspection of the reused code's token: %d %s, want inactive", r.Status, r.RawBody)
	}
	r = f.Env.Introspect("shop", tok2.AccessToken, "rs", introSecret)
	if r.Status != http.StatusOK || r.Body["active"] != true {
		t.Errorf("introspection of another code's token: %d %s, want active", r.Status, r.RawBody)
	}
	// The first redemption's refresh token is revoked too (RFC 9700 §4.5:
	// everything the code issued); the other code's refresh token is not.
	refresh := func(rt string) (*oauth2.Token, error) {
		return f.Conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token() // expired: x/oauth2 refreshes
	}
	_, err = refresh(tok.RefreshToken)
	oauthtest.WantRetrieveError(t, "the reused code's refresh token", err, "invalid_grant")
	if _, err := refresh(tok2.RefreshToken); err != nil {
		t.Errorf("another code's refresh token after the reuse: %v", err)
	}
}

func TestAuthorizationCodeBadPKCE(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
	code := loc.Query().Get("code")
	_, err := f.Conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	oauthtest.WantRetrieveError(t, "wrong verifier", err, "invalid_grant")
	// The code stays bound to its challenge after a wrong verifier, so a
	// missing one is a verifier mismatch too (RFC 7636 §4.6: invalid_grant).
	_, err = f.Conf.Exchange(ctx, code)
	oauthtest.WantRetrieveError(t, "missing verifier", err, "invalid_grant")

	// A public client must send a challenge, and only S256.
	b := oauthtest.Browser(t)
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t)), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("error") != "invalid_request" ||
		p.Location.Query().Get("iss") != f.Realm.Issuer {
		t.Errorf("no code_challenge: %d %v, want a redirect with invalid_request and iss", p.Status, p.Location)
	}
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
		oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("error") != "invalid_request" {
		t.Errorf("plain challenge: %d %v, want a redirect with invalid_request", p.Status, p.Location)
	}
}

func TestAuthorizeRedirectURIAndClient(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	cases := map[string]string{
		"unregistered":     "https://evil.example/cb",
		"prefix":           f.Redirect + "/more",
		"query added":      f.Redirect + "?x=1",
		"other path":       "http://127.0.0.1:43118/cb2",
		"localhost":        "http://localhost:43117/cb",
		"missing":          "",
		"case of the host": "http://LOCALHOST:43117/cb",
		"trailing slash":   f.Redirect + "/",
	}
	for name, uri := range cases {
		authURL := f.Conf.AuthCodeURL(oauthtest.RandomString(t), challenge, oauth2.SetAuthURLParam("redirect_uri", uri))
		p := oauthtest.Fetch(t, b, http.MethodGet, authURL, nil)
		if p.Status != http.StatusBadRequest || p.Location != nil || !strings.Contains(p.Body, "invalid redirect URI") {
			t.Errorf("%s redirect URI %q: %d Location %v, want a 400 error page", name, uri, p.Status, p.Location)
		}
	}
	for name, id := range map[string]string{"unknown": "nope", "service account": "sa", "missing": ""} {
		if name == "service account" {
			f.Env.NewClient(f.Realm.ID, "sa", func(c *realm.Client) { c.RedirectURIs = []string{f.Redirect} })
		}
		conf := *f.Conf
		conf.ClientID = id
		p := oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(oauthtest.RandomString(t), challenge), nil)
		if p.Status != http.StatusBadRequest || p.Location != nil || !strings.Contains(p.Body, "application is unknown") {
			t.Errorf("%s client: %d Location %v, want a 400 error page", name, p.Status, p.Location)
		}
	}
	// state is required: the error goes back to the (verified) redirect URI.
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL("", challenge), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("error") != "invalid_state" ||
		p.Location.Query().Get("iss") != f.Realm.Issuer {
		t.Errorf("missing state: %d %v, want a redirect with invalid_state and iss", p.Status, p.Location)
	}
}

// TestNativeAppRedirects (issue 19, RFC 8252): a public client signs in
// through a private-use scheme redirect URI (§7.1) and through a loopback
// IP redirect URI on whatever port it listens (§7.3), each redeemed with a
// real client; a confidential client's loopback redirect URI stays exact.
func TestNativeAppRedirects(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	f.Env.NewClient(f.Realm.ID, "native", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.RedirectURIs = []string{"com.example.app:/callback", "http://127.0.0.1/callback"}
	})
	for _, redirect := range []string{"com.example.app:/callback", "http://127.0.0.1:51234/callback", "http://127.0.0.1/callback"} {
		conf := *f.Conf
		conf.ClientID, conf.RedirectURL = "native", redirect
		verifier := oauth2.GenerateVerifier()
		loc := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
		if !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("code") == "" {
			t.Errorf("redirect %s: sent to %s, want the redirect URI with a code", redirect, loc)
		}
		tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.AccessToken == "" {
			t.Errorf("redirect %s: exchange: %v", redirect, err)
		}
	}
	_, secret := f.Env.NewClient(f.Realm.ID, "backend", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{"http://127.0.0.1/callback"}
	})
	conf := *f.Conf
	conf.ClientID, conf.ClientSecret, conf.RedirectURL = "backend", secret, "http://127.0.0.1:51234/callback"
	p := oauthtest.Fetch(t, oauthtest.Browser(t), http.MethodGet, conf.AuthCodeURL(oauthtest.RandomString(t),
		oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p.Status != http.StatusBadRequest || p.Location != nil || !strings.Contains(p.Body, "invalid redirect URI") {
		t.Errorf("confidential client, loopback on another port: %d %v, want a 400 error page", p.Status, p.Location)
	}
}

func TestLoginRefusals(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	authURL := f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	login := oauthtest.Fetch(t, b, http.MethodGet, authURL, nil)

	other := &realm.User{ID: f.Env.ID(), RealmID: f.Realm.ID, Email: "gone@example.com", Active: true,
		CreatedAt: f.Env.Now().UTC(), UpdatedAt: f.Env.Now().UTC()}
	if err := f.Env.Store.CreateUser(f.Env.Ctx, other); err != nil {
		t.Fatal(err)
	}
	other.PasswordHash, _ = realm.HashPassword(oauthtest.Password, rand.Reader)
	other.Active = false
	if err := f.Env.Store.UpdateUser(f.Env.Ctx, other); err != nil {
		t.Fatal(err)
	}
	invited := &realm.User{ID: f.Env.ID(), RealmID: f.Realm.ID, Email: "invited@example.com", Active: true,
		CreatedAt: f.Env.Now().UTC(), UpdatedAt: f.Env.Now().UTC()} // no password set yet
	if err := f.Env.Store.CreateUser(f.Env.Ctx, invited); err != nil {
		t.Fatal(err)
	}
	// CONTRACT §4: the same answer and the same work for an unknown email
	// and a wrong password. The work is one argon2id verification on every
	// path (counted, not timed: timing flakes on a loaded machine); the
	// dummy hash's parameters are TestDummyHashMatchesPasswordParameters'.
	passwords := f.Env.Service.Passwords()
	for name, cred := range map[string][2]string{
		"wrong password":   {f.User.Email, "not the password"},
		"unknown email":    {"nobody@example.com", oauthtest.Password},
		"deactivated user": {other.Email, oauthtest.Password},
		"no password yet":  {invited.Email, oauthtest.Password},
		"empty":            {"", ""},
	} {
		before := passwords.Verifications()
		p := f.SubmitLogin(t, b, login, cred[0], cred[1])
		if p.Status != http.StatusUnauthorized || p.Location != nil || !strings.Contains(p.Body, loginFailed) {
			t.Errorf("%s: %d %v, want the login page again with %q", name, p.Status, p.Location, loginFailed)
		}
		if n := passwords.Verifications() - before; n != 1 {
			t.Errorf("%s: %d password verifications, want exactly 1 (as for a wrong password)", name, n)
		}
		login = p
	}
	// A forged CSRF token is refused before the password is looked at.
	am := oauthtest.FormAction.FindStringSubmatch(login.Body)
	p := oauthtest.Fetch(t, b, http.MethodPost, f.Env.Base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {"forged"}, "email": {f.User.Email}, "password": {oauthtest.Password}})
	if p.Status != http.StatusForbidden || p.Location != nil {
		t.Errorf("forged CSRF token: %d %v, want 403", p.Status, p.Location)
	}
	if n := passwords.Verifications(); n != 5 {
		t.Errorf("%d verifications after five refusals and a forged form, want 5 (the forged one costs none)", n)
	}
	// The password never reaches a stored request or a log.
	if strings.Contains(f.Env.Logs.String(), oauthtest.Password) {
		t.Error("the password appears in the logs")
	}
}

func TestAuthorizationCodeDeactivatedBeforeRedemption(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
	f.User.Active = false
	if err := f.Env.Store.UpdateUser(f.Env.Ctx, f.User); err != nil {
		t.Fatal(err)
	}
	_, err := f.Conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "code of a user deactivated since", err, "invalid_grant")
}

func TestConfidentialApplicationCode(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	_, secret := f.Env.NewClient(f.Realm.ID, "backend", func(c *realm.Client) {
		c.Kind = realm.KindApplication
		c.RedirectURIs = []string{f.Redirect}
	})
	conf := *f.Conf
	conf.ClientID, conf.ClientSecret = "backend", secret
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
	bad := conf
	bad.ClientSecret = "wrong"
	_, err := bad.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "wrong secret", err, "invalid_client")
	if _, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("confidential exchange: %v", err)
	}

	// No PKCE downgrade: a wrong verifier must not erase the code's S256
	// binding, so that the same code without any verifier fails too.
	verifier = oauth2.GenerateVerifier()
	code := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
	_, err = conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	oauthtest.WantRetrieveError(t, "wrong verifier", err, "invalid_grant")
	_, err = conf.Exchange(context.Background(), code)
	oauthtest.WantRetrieveError(t, "no verifier after a wrong one (PKCE downgrade)", err, "invalid_grant")
	if _, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("the right verifier after refused attempts: %v", err)
	}
}

func TestConcurrentCodeRedemption(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite":   oauthtest.OpenSQLite,
		"Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			verifier := oauth2.GenerateVerifier()
			code := f.Authorize(t, oauthtest.Browser(t), f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
			const n = 50
			var (
				wg          sync.WaitGroup
				mu          sync.Mutex
				ok, invalid int
				others      []string
				start       = make(chan struct{})
			)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"web"},
				"redirect_uri": {f.Redirect}, "code_verifier": {verifier}}
			for range n {
				wg.Go(func() {
					<-start
					resp, err := http.PostForm(f.Realm.Issuer+oauth.PathToken, form)
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
				t.Errorf("%d concurrent redemptions: %d succeeded, %d invalid_grant, others %v; want exactly one success\nlogs:\n%s", n, ok, invalid, others, f.Env.Logs)
			}
		})
	}
}

func TestAuthorizeResponseModesAndPrompt(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

	// prompt=none without a session: login_required at the redirect URI.
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), challenge, oauth2.SetAuthURLParam("prompt", "none")), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none signed out: %d %v, want login_required", p.Status, p.Location)
	}

	// An authorization request POSTed as a form gets the login page, whose
	// form carries the request on.
	authURL, _ := url.Parse(f.Conf.AuthCodeURL(oauthtest.RandomString(t), challenge))
	posted := oauthtest.Fetch(t, b, http.MethodPost, f.Realm.Issuer+oauth.PathAuth, authURL.Query())
	if posted.Status != http.StatusOK {
		t.Fatalf("POSTed authorization request: %d %s", posted.Status, posted.Body)
	}
	done := f.SubmitLogin(t, b, posted, f.User.Email, oauthtest.Password)
	if done.Status != http.StatusSeeOther || done.Location == nil || done.Location.Query().Get("code") == "" {
		t.Fatalf("login after a POSTed request: %d %v %s", done.Status, done.Location, done.Body)
	}

	// Signed in now: fragment mode puts code, state and iss in the fragment.
	state := oauthtest.RandomString(t)
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, challenge, oauth2.SetAuthURLParam("response_mode", "fragment")), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil {
		t.Fatalf("fragment mode: %d %s", p.Status, p.Body)
	}
	frag, _ := url.ParseQuery(p.Location.Fragment)
	if frag.Get("code") == "" || frag.Get("state") != state || frag.Get("iss") != f.Realm.Issuer || p.Location.RawQuery != "" {
		t.Errorf("fragment mode: Location %v", p.Location)
	}
	// Errors in fragment mode carry iss in the fragment too, encoded once.
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL("", challenge, oauth2.SetAuthURLParam("response_mode", "fragment")), nil)
	frag, _ = url.ParseQuery(p.Location.Fragment)
	if frag.Get("error") != "invalid_state" || frag.Get("iss") != f.Realm.Issuer || strings.Contains(p.Location.Fragment, "%25") {
		t.Errorf("fragment error: Location %v", p.Location)
	}
	// form_post answers a self-posting form with the same fields.
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, challenge, oauth2.SetAuthURLParam("response_mode", "form_post")), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, f.Redirect) || !strings.Contains(p.Body, `name="iss"`) ||
		!strings.Contains(p.Body, `name="code"`) || !strings.Contains(p.Body, state) {
		t.Errorf("form_post mode: %d %s", p.Status, p.Body)
	}
	if n := strings.Count(p.Body, `name="iss"`); n != 1 {
		t.Errorf("form_post success carries iss %d times, want once", n)
	}
	// Errors in form_post mode carry iss too (RFC 9207).
	p = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL("", challenge, oauth2.SetAuthURLParam("response_mode", "form_post")), nil)
	if !strings.Contains(p.Body, `name="error" value="invalid_state"`) ||
		!strings.Contains(p.Body, `name="iss" value="`+f.Realm.Issuer+`"`) {
		t.Errorf("form_post error: %d %s", p.Status, p.Body)
	}
}

func TestAuthorizePromptLoginAndMaxAge(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	ctx := context.Background()
	b := oauthtest.Browser(t)
	f.Authorize(t, b, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))

	for name, opt := range map[string]oauth2.AuthCodeOption{
		"prompt=login": oauth2.SetAuthURLParam("prompt", "login"),
		"max_age=0":    oauth2.SetAuthURLParam("max_age", "0"),
	} {
		verifier := oauth2.GenerateVerifier()
		loc := f.Authorize(t, b, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier), opt))
		tok, err := f.Conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v", name, err)
		}
		if tok.Extra("id_token") == nil {
			t.Errorf("%s: no ID token", name)
		}
	}
	// prompt=none with the session issues a code without a page.
	p := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	if p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Errorf("prompt=none signed in: %d %v", p.Status, p.Location)
	}
}

func TestCodeOfAnotherRealm(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	other := f.Env.NewRealm(f.Realm.OrgID, "other", true)
	f.Env.NewClient(other.ID, "web", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.RedirectURIs = []string{f.Redirect}
	})
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
	conf := *f.Conf
	conf.Endpoint.TokenURL = other.Issuer + oauth.PathToken
	_, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "code redeemed at another realm", err, "invalid_grant")
	if _, err := f.Conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the code still works at its own realm: %v", err)
	}
}

func TestAuthorizeHugeForm(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	authURL, _ := url.Parse(f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form := authURL.Query()
	form.Set("padding", strings.Repeat("x", 100<<10))
	p := oauthtest.Fetch(t, b, http.MethodPost, f.Realm.Issuer+oauth.PathAuth, form)
	if p.Status != http.StatusRequestEntityTooLarge || p.Location != nil {
		t.Errorf("huge authorization form: %d %v, want 413 and no redirect", p.Status, p.Location)
	}
}

// TestLoginCancel: Cancel on the login form ends the authorization request
// with access_denied through the normal error response (redirect with
// state and iss); it needs the form's CSRF token, signs nobody in even with
// the right password typed, and is not a failed sign-in.
func TestLoginCancel(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	state := oauthtest.RandomString(t)
	login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)

	// A forged CSRF token: refused, the request goes on.
	p := cancelLogin(t, f, b, login, "forged", f.User.Email, "")
	if p.Status != http.StatusForbidden || p.Location != nil || !strings.Contains(p.Body, "The form expired") {
		t.Fatalf("cancel with a forged CSRF token: %d %v", p.Status, p.Location)
	}

	p = cancelLogin(t, f, b, p, "", f.User.Email, oauthtest.Password)
	if p.Location == nil || (p.Status != http.StatusFound && p.Status != http.StatusSeeOther) {
		t.Fatalf("cancel: %d %s, want a redirect to the application", p.Status, p.Body)
	}
	q := p.Location.Query()
	if got := p.Location.Scheme + "://" + p.Location.Host + p.Location.Path; got != f.Redirect {
		t.Errorf("cancel redirects to %s, want %s", got, f.Redirect)
	}
	if q.Get("error") != "access_denied" || q.Get("error_description") != loginCancelled || q.Get("state") != state ||
		q.Get("iss") != f.Realm.Issuer || q.Has("code") {
		t.Errorf("cancel response %v", q)
	}
	// Nobody signed in: no session cookie, and prompt=none needs a login.
	for _, ck := range b.Jar.Cookies(p.Location) {
		if ck.Name == sessionCookie {
			t.Errorf("cancel set a session cookie")
		}
	}
	silent := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "none")), nil)
	if silent.Location == nil || silent.Location.Query().Get("error") != "login_required" {
		t.Errorf("after cancel, prompt=none: %d %v", silent.Status, silent.Location)
	}

	// A cancel with a wrong password typed is not a failed sign-in.
	login = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if p := cancelLogin(t, f, b, login, "", f.User.Email, "not the password"); p.Location == nil || p.Location.Query().Get("error") != "access_denied" {
		t.Fatalf("cancel: %d %v", p.Status, p.Location)
	}
	if lf, err := f.Env.Store.GetLoginFailure(f.Env.Ctx, f.Realm.ID, accountKey(f.User.Email)); !errors.Is(err, realm.ErrNotFound) && (err != nil || lf.Failures != 0) {
		t.Errorf("cancel counted as a failed sign-in: %+v %v", lf, err)
	}
	evs, err := f.Env.Store.ListEvents(f.Env.Ctx, f.Realm.OrgID, f.Realm.ID, realm.EventFilter{Limit: 200})
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
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	const redirect = "http://127.0.0.1:43118/popup-cb"
	f.NewPopupClient("popup", redirect, []string{"http://127.0.0.1:43118"})
	conf := *f.Conf
	conf.ClientID, conf.RedirectURL = "popup", redirect
	b := oauthtest.Browser(t)
	state := oauthtest.RandomString(t)
	login := oauthtest.Fetch(t, b, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	wm := readWebMessage(t, cancelLogin(t, f, b, login, "", "", ""))
	if wm.origin != "http://127.0.0.1:43118" || wm.typ != "authorization_response" {
		t.Errorf("posted to %q: %s", wm.origin, wm.typ)
	}
	if wm.response["error"] != "access_denied" || wm.response["error_description"] != loginCancelled ||
		wm.response["state"] != state || wm.response["iss"] != f.Realm.Issuer || wm.response["code"] != "" {
		t.Errorf("cancel message %v", wm.response)
	}
}

// TestAuthorizationCodeExpires: a code lives one minute on the server's
// clock (Keycloak's default); after that it is invalid_grant.
func TestAuthorizationCodeExpires(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
	f.Env.Advance(time.Minute + time.Second)
	_, err := f.Conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "a code past its minute", err, "invalid_grant")
}
