package oauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// Env is a real Ward OAuth server (oauth.Server and oauth/login's pages)
// on 127.0.0.1 over a migrated store, with a clock the test can move.
type Env struct {
	T       testing.TB
	Ctx     context.Context
	Store   realm.Store
	Keys    *oauth.Keys
	Service *realm.Service
	OAuth   *oauth.Server
	Login   *login.Handler
	// IdPs and Broker sign in through identity providers (CONTRACT §9).
	IdPs   *realm.IdentityProviders
	Broker *broker.Handler
	// Base is the server's URL, also its public URL.
	Base string
	// Logs is everything the server logged, at debug level and up.
	Logs   *SyncBuffer
	offset atomic.Int64 // added to the wall clock
	frozen atomic.Int64 // while non-zero, the wall clock's stand-in (Unix ns)
}

// Configs are what New builds the parts from; an Option changes them.
type Configs struct {
	OAuth *oauth.Config
	Login *login.Config
	// Broker is built with the other two; Store, IdPs, Pages and OAuth
	// are filled in after the options run.
	Broker *broker.Config
}

// Option changes the configurations before the parts are built.
type Option func(Configs)

// SyncBuffer collects log output from concurrent handlers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// New is an Env over a temporary SQLite store.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return NewOn(t, OpenSQLite, opts...)
}

// OpenSQLite is the migrated temporary SQLite store of storage/sqltest.
func OpenSQLite(t testing.TB) realm.Store { return sqltest.Open(t) }

// OpenPostgres is a migrated fresh PostgreSQL database (storage/sqltest:
// it needs WARD_TEST_POSTGRES).
func OpenPostgres(t testing.TB) realm.Store { return sqltest.OpenPostgres(t) }

// NewOn is New over the store open makes.
func NewOn(t testing.TB, open func(testing.TB) realm.Store, opts ...Option) *Env {
	t.Helper()
	env := &Env{T: t, Ctx: context.Background(), Store: open(t), Logs: &SyncBuffer{}}
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(i)
	}
	var err error
	if env.Keys, err = oauth.NewKeys(master, nil, env.Now); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.Base = "http://" + ln.Addr().String()
	if env.Service, err = realm.NewService(realm.ServiceConfig{Store: env.Store, Keys: env.Keys, Clock: env.Now, PublicURL: env.Base}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(env.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	oc := oauth.Config{Store: env.Store, Service: env.Service, Keys: env.Keys, PublicURL: env.Base,
		WebMessage: login.WriteWebMessage, Clock: env.Now, Logger: logger}
	lc := login.Config{Store: env.Store, Service: env.Service, PublicURL: env.Base, Clock: env.Now, Logger: logger}
	// Identity providers in tests run on 127.0.0.1.
	bc := broker.Config{PublicURL: env.Base, Clock: env.Now, Logger: logger, Client: broker.NewClient(true)}
	for _, o := range opts {
		o(Configs{OAuth: &oc, Login: &lc, Broker: &bc})
	}
	if env.OAuth, err = oauth.New(oc); err != nil {
		t.Fatal(err)
	}
	lc.OAuth = env.OAuth
	if env.Login, err = login.New(lc); err != nil {
		t.Fatal(err)
	}
	idpKey := make([]byte, 32)
	copy(idpKey, master)
	idpKey[0] ^= 0xff // not the signing keys' key
	if env.IdPs, err = realm.NewIdentityProviders(realm.IdentityProvidersConfig{Service: env.Service, SecretKey: idpKey,
		Checker: broker.NewChecker(broker.NewClient(true))}); err != nil {
		t.Fatal(err)
	}
	bc.Store, bc.IdPs, bc.Pages, bc.OAuth = env.Store, env.IdPs, env.Login, env.OAuth
	if bc.TrustedProxies == nil {
		bc.TrustedProxies = lc.TrustedProxies
	}
	if env.Broker, err = broker.New(bc); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	env.OAuth.Register(e)
	env.Login.Register(e)
	env.Broker.Register(e)
	hs := httptest.NewUnstartedServer(e)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return env
}

// Now is the server's clock: the wall clock (or the time Freeze stopped
// it at) moved by Advance.
func (env *Env) Now() time.Time {
	base := time.Now()
	if f := env.frozen.Load(); f != 0 {
		base = time.Unix(0, f)
	}
	return base.Add(time.Duration(env.offset.Load()))
}

// Freeze stops the server's clock (Advance still moves it) until the
// returned function is called, for assertions on exact times computed
// from "now" by both the test and the server.
func (env *Env) Freeze() (thaw func()) {
	env.frozen.Store(time.Now().UnixNano())
	return func() { env.frozen.Store(0) }
}

// Advance moves the server's clock forward by d.
func (env *Env) Advance(d time.Duration) { env.offset.Add(int64(d)) }

// ID is a new row ID.
func (env *Env) ID() string { return realm.NewID(env.Now(), nil) }

// System is a context acting as Ward itself.
func (env *Env) System() context.Context { return realm.WithPrincipal(env.Ctx, realm.System) }

// Realm is a realm made straight through the store, with its issuer.
type Realm struct {
	*realm.Realm
	Issuer string
}

// NewOrg creates an organization.
func (env *Env) NewOrg(slug string) *realm.Org {
	env.T.Helper()
	o := &realm.Org{ID: env.ID(), Slug: slug, Name: slug, CreatedAt: env.Now().UTC()}
	if err := env.Store.CreateOrg(env.Ctx, o); err != nil {
		env.T.Fatal(err)
	}
	return o
}

// NewRealm creates a realm; withKey also gives it its ES256 key the way
// realm creation does.
func (env *Env) NewRealm(orgID, name string, withKey bool) *Realm {
	env.T.Helper()
	now := env.Now().UTC()
	r := &realm.Realm{ID: env.ID(), OrgID: orgID, Name: name, DisplayName: name, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreateRealm(env.Ctx, r); err != nil {
		env.T.Fatal(err)
	}
	if withKey {
		k, err := env.Keys.NewSigningKey(env.Ctx, r.ID, oauth.AlgES256)
		if err != nil {
			env.T.Fatal(err)
		}
		if err := env.Store.CreateSigningKey(env.Ctx, k); err != nil {
			env.T.Fatal(err)
		}
	}
	return &Realm{Realm: r, Issuer: env.Base + "/realms/" + name}
}

// NewAttribute defines an attribute.
func (env *Env) NewAttribute(realmID, name string, typ attributes.Type, multi bool) {
	env.T.Helper()
	now := env.Now().UTC()
	a := &realm.Attribute{ID: env.ID(), RealmID: realmID, Name: name, Type: typ, Multi: multi, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreateAttribute(env.Ctx, a); err != nil {
		env.T.Fatal(err)
	}
}

// NewGroup creates a group with attribute values.
func (env *Env) NewGroup(realmID, name string, attrs map[string]any) *realm.Group {
	env.T.Helper()
	now := env.Now().UTC()
	g := &realm.Group{ID: env.ID(), RealmID: realmID, Name: name, Attributes: attrs, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreateGroup(env.Ctx, g); err != nil {
		env.T.Fatal(err)
	}
	return g
}

// NewClient creates an active confidential service account and returns it
// with its secret; mutate adjusts it before it is stored. An application
// left without DefaultScopes gets the Service's default ones.
func (env *Env) NewClient(realmID, clientID string, mutate func(*realm.Client)) (*realm.Client, string) {
	env.T.Helper()
	secret, hash := realm.NewSecret(nil)
	now := env.Now().UTC()
	c := &realm.Client{
		ID: env.ID(), RealmID: realmID, ClientID: clientID, Name: clientID,
		Kind: realm.KindServiceAccount, Active: true, Audience: []string{},
		Groups: []string{}, RedirectURIs: []string{}, WebOrigins: []string{},
		SecretHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if mutate != nil {
		mutate(c)
	}
	if c.Kind == realm.KindApplication && c.DefaultScopes == nil {
		// What the Service gives an application unless told otherwise
		// (set []string{} for none).
		c.DefaultScopes = realm.DefaultClientScopes()
	}
	if err := env.Store.CreateClient(env.Ctx, c); err != nil {
		env.T.Fatal(err)
	}
	return c, secret
}

// Response is a raw answer, its body also decoded as a JSON object when it
// is one.
type Response struct {
	Status  int
	Header  http.Header
	Body    map[string]any
	RawBody string
}

// Post sends a form, with HTTP Basic client authentication when id is set.
func (env *Env) Post(path string, form url.Values, id, secret string) *Response {
	env.T.Helper()
	req, err := http.NewRequest(http.MethodPost, env.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		env.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return env.Do(req)
}

// Get fetches path.
func (env *Env) Get(path string) *Response {
	env.T.Helper()
	req, err := http.NewRequest(http.MethodGet, env.Base+path, nil)
	if err != nil {
		env.T.Fatal(err)
	}
	return env.Do(req)
}

// Do sends req and reads the whole answer.
func (env *Env) Do(req *http.Request) *Response {
	env.T.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.T.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		env.T.Fatal(err)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, RawBody: string(body)}
	if len(body) > 0 {
		_ = json.Unmarshal(body, &out.Body)
	}
	return out
}

// Grant asks realm for a client_credentials token with Basic
// authentication; extra adds form fields.
func (env *Env) Grant(realmName, id, secret string, extra url.Values) *Response {
	env.T.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	return env.Post("/realms/"+realmName+oauth.PathToken, form, id, secret)
}

// MustToken is Grant's access token; any other answer fails the test.
func (env *Env) MustToken(realmName, id, secret string, extra url.Values) string {
	env.T.Helper()
	r := env.Grant(realmName, id, secret, extra)
	if r.Status != http.StatusOK {
		env.T.Fatalf("grant at %s for %s: %d %s", realmName, id, r.Status, r.RawBody)
	}
	tok, _ := r.Body["access_token"].(string)
	if tok == "" {
		env.T.Fatalf("no access_token in %s", r.RawBody)
	}
	return tok
}

// Introspect asks the realm's introspection endpoint about token, as
// client id.
func (env *Env) Introspect(realmName, token, id, secret string) *Response {
	env.T.Helper()
	return env.Post("/realms/"+realmName+oauth.PathIntrospect, url.Values{"token": {token}}, id, secret)
}

// VerifyWithJWKS checks token against the realm's published JWKS the way a
// resource server would, with go-jose v4, and returns header and claims.
func (env *Env) VerifyWithJWKS(t testing.TB, realmName, token string) (jose.Header, map[string]any) {
	t.Helper()
	set := env.JWKS(t, realmName)
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS (%d keys)", h.KeyID, len(set.Keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify against JWKS: %v", err)
	}
	return h, claims
}

// JWKS is the realm's published key set.
func (env *Env) JWKS(t testing.TB, realmName string) jose.JSONWebKeySet {
	t.Helper()
	r := env.Get("/realms/" + realmName + oauth.PathCerts)
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.RawBody)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.RawBody), &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.RawBody)
	}
	return set
}

// WantOAuthError fails the test unless r is status with OAuth error code.
func WantOAuthError(t testing.TB, r *Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Body["error"] != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.RawBody, status, code)
	}
}

// AnyStrings is a decoded JSON list of strings.
func AnyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
