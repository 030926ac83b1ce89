package oauthtest

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

	"golang.org/x/oauth2"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// Password is the password of LoginFixture's user.
const Password = "correct horse battery"

// LoginFixture is a realm "shop" with a user who has a password and is in a
// group with an attribute, and a public application client "web"
// registered for a loopback redirect URI, with an oauth2.Config for it.
type LoginFixture struct {
	Env      *Env
	Realm    *Realm
	User     *realm.User
	Group    *realm.Group
	Client   *realm.Client
	Redirect string
	Conf     *oauth2.Config
}

// NewLoginFixture builds the fixture on a new Env over the store open
// makes.
func NewLoginFixture(t testing.TB, open func(testing.TB) realm.Store, opts ...Option) *LoginFixture {
	t.Helper()
	env := NewOn(t, open, opts...)
	f := &LoginFixture{Env: env, Redirect: "http://127.0.0.1:43117/cb"}
	f.Realm = env.NewRealm(env.NewOrg("acme").ID, "shop", true)
	env.NewAttribute(f.Realm.ID, "region", attributes.String, false)
	f.Group = env.NewGroup(f.Realm.ID, "staff", map[string]any{"region": "eu"})
	hash, err := realm.HashPassword(Password, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := env.Now().UTC()
	f.User = &realm.User{ID: env.ID(), RealmID: f.Realm.ID, Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
		Active: true, Groups: []string{f.Group.ID}, PrimaryGroup: f.Group.ID, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreateUser(env.Ctx, f.User); err != nil {
		t.Fatal(err)
	}
	f.User.PasswordHash = hash
	if err := env.Store.UpdateUser(env.Ctx, f.User); err != nil {
		t.Fatal(err)
	}
	f.Client, _ = env.NewClient(f.Realm.ID, "web", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.DisplayName = "Ada's Shop"
		c.RedirectURIs = []string{f.Redirect}
	})
	f.Conf = &oauth2.Config{
		ClientID:    "web",
		RedirectURL: f.Redirect,
		Scopes:      []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   f.Realm.Issuer + oauth.PathAuth,
			TokenURL:  f.Realm.Issuer + oauth.PathToken,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	return f
}

// Browser is a cookie-keeping HTTP client that does not follow redirects:
// the test reads Location instead of calling the application.
func Browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Page is an answer as a browser got it.
type Page struct {
	Status   int
	Body     string
	Header   http.Header
	Location *url.URL
}

// Fetch sends method to target in browser b, with form as the body when
// it is not nil.
func Fetch(t testing.TB, b *http.Client, method, target string, form url.Values) *Page {
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
	p := &Page{Status: resp.StatusCode, Body: string(raw), Header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.Location, err = url.Parse(loc); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

var (
	// CSRFField finds a form's CSRF token.
	CSRFField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	// FormAction finds where a page's form posts.
	FormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// SubmitLogin posts credentials to the login form on p.
func (f *LoginFixture) SubmitLogin(t testing.TB, b *http.Client, p *Page, email, password string) *Page {
	t.Helper()
	cm, am := CSRFField.FindStringSubmatch(p.Body), FormAction.FindStringSubmatch(p.Body)
	if cm == nil || am == nil {
		t.Fatalf("no login form in page (%d): %s", p.Status, p.Body)
	}
	return Fetch(t, b, http.MethodPost, f.Env.Base+html.UnescapeString(am[1]),
		url.Values{"csrf_token": {cm[1]}, "email": {email}, "password": {password}})
}

// Authorize runs the browser part: the login page, then the redirect back.
func (f *LoginFixture) Authorize(t testing.TB, b *http.Client, authURL string) *url.URL {
	t.Helper()
	login := Fetch(t, b, http.MethodGet, authURL, nil)
	if login.Status != http.StatusOK {
		t.Fatalf("authorization endpoint: %d %s", login.Status, login.Body)
	}
	done := f.SubmitLogin(t, b, login, f.User.Email, Password)
	if done.Status != http.StatusSeeOther || done.Location == nil {
		t.Fatalf("login: %d %v %s", done.Status, done.Header, done.Body)
	}
	return done.Location
}

// SignIn runs the code flow in browser b with scopes and returns the token.
func (f *LoginFixture) SignIn(t testing.TB, b *http.Client, scopes ...string) *oauth2.Token {
	t.Helper()
	return f.SignInAs(t, b, f.User.Email, scopes...)
}

// SignInAs is SignIn as the user with the given email (password Password).
func (f *LoginFixture) SignInAs(t testing.TB, b *http.Client, email string, scopes ...string) *oauth2.Token {
	t.Helper()
	conf := *f.Conf
	conf.Scopes = scopes
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(RandomString(t), oauth2.S256ChallengeOption(verifier))
	login := Fetch(t, b, http.MethodGet, authURL, nil)
	var loc *url.URL
	switch {
	case login.Status == http.StatusSeeOther && login.Location != nil:
		loc = login.Location // already signed in
	case login.Status == http.StatusOK:
		done := f.SubmitLogin(t, b, login, email, Password)
		if done.Status != http.StatusSeeOther || done.Location == nil {
			t.Fatalf("login: %d %s", done.Status, done.Body)
		}
		loc = done.Location
	default:
		t.Fatalf("authorization endpoint: %d %s", login.Status, login.Body)
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// RandomString is 128 random bits, base64url: states, nonces.
func RandomString(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// JWTPayload decodes a JWT's claims without verifying it.
func JWTPayload(t testing.TB, tok string) map[string]any {
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

// NewPopupClient registers a public application of f's realm that signs in
// by popup (communication post_message) with one redirect URI and web
// origins.
func (f *LoginFixture) NewPopupClient(clientID, redirect string, origins []string) {
	f.Env.NewClient(f.Realm.ID, clientID, func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.DisplayName = "Popup App"
		c.Communication = realm.CommPostMessage
		c.RedirectURIs = []string{redirect}
		c.WebOrigins = origins
	})
}

// WantRetrieveError fails the test unless err is an OAuth error answer
// (from golang.org/x/oauth2) with code.
func WantRetrieveError(t testing.TB, what string, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("%s: error %v, want %s", what, err, code)
	}
}

// VerifyIDToken verifies tok's ID token with go-oidc, a certified relying
// party library, against the realm's discovery document, for client "web".
func (f *LoginFixture) VerifyIDToken(t testing.TB, tok *oauth2.Token) *oidc.IDToken {
	t.Helper()
	return f.VerifyIDTokenFor(t, "web", tok)
}

// VerifyIDTokenFor is VerifyIDToken for the realm's client clientID.
func (f *LoginFixture) VerifyIDTokenFor(t testing.TB, clientID string, tok *oauth2.Token) *oidc.IDToken {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, f.Realm.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token of %s: %v", clientID, err)
	}
	return idt
}

// Forwarded is a transport that says, as a trusted proxy would, which
// address a request comes from (X-Forwarded-For); tests change the
// address between requests with Set.
type Forwarded struct {
	mu   sync.Mutex
	addr string
}

// Set makes the following requests come from addr.
func (f *Forwarded) Set(addr string) { f.mu.Lock(); f.addr = addr; f.mu.Unlock() }

// RoundTrip sends r with X-Forwarded-For naming the address set.
func (f *Forwarded) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	addr := f.addr
	f.mu.Unlock()
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", addr)
	return http.DefaultTransport.RoundTrip(r)
}
