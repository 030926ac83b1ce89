package oauth

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

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// testEnv is a real Ward OAuth server on 127.0.0.1 over a migrated SQLite
// store, with a clock the test can move.
type testEnv struct {
	t      testing.TB
	ctx    context.Context
	store  realm.Store
	keys   *Keys
	svc    *realm.Service
	srv    *Server
	base   string
	offset atomic.Int64 // added to the wall clock
	logs   *syncBuffer  // everything the server logged
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t testing.TB, opts ...func(*Config)) *testEnv {
	t.Helper()
	return newEnvOn(t, openStore, opts...)
}

// newEnvOn is newEnv over the store open makes.
func newEnvOn(t testing.TB, open func(testing.TB) realm.Store, opts ...func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{t: t, ctx: context.Background()}
	env.store = open(t)
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(i)
	}
	var err error
	if env.keys, err = NewKeys(master, nil, env.now); err != nil {
		t.Fatal(err)
	}
	svc, err := realm.NewService(realm.ServiceConfig{Store: env.store, Keys: env.keys, Clock: env.now})
	if err != nil {
		t.Fatal(err)
	}
	env.svc = svc
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.base = "http://" + ln.Addr().String()
	env.logs = &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{Store: env.store, Service: svc, Keys: env.keys, PublicURL: env.base, Clock: env.now, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	env.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	env.srv.Register(e)
	hs := httptest.NewUnstartedServer(e)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return env
}

func (env *testEnv) now() time.Time {
	return time.Now().Add(time.Duration(env.offset.Load()))
}

func (env *testEnv) advance(d time.Duration) { env.offset.Add(int64(d)) }

func (env *testEnv) id() string { return realm.NewID(env.now(), nil) }

// realmFixture is a realm made straight through the store.
type realmFixture struct {
	*realm.Realm
	issuer string
}

func (env *testEnv) newOrg(slug string) *realm.Org {
	env.t.Helper()
	o := &realm.Org{ID: env.id(), Slug: slug, Name: slug, CreatedAt: env.now().UTC()}
	if err := env.store.CreateOrg(env.ctx, o); err != nil {
		env.t.Fatal(err)
	}
	return o
}

// newRealm creates a realm; withKey also gives it its ES256 key the way
// realm creation does.
func (env *testEnv) newRealm(orgID, name string, withKey bool) *realmFixture {
	env.t.Helper()
	now := env.now().UTC()
	r := &realm.Realm{ID: env.id(), OrgID: orgID, Name: name, DisplayName: name, CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreateRealm(env.ctx, r); err != nil {
		env.t.Fatal(err)
	}
	if withKey {
		k, err := env.keys.NewSigningKey(env.ctx, r.ID, AlgES256)
		if err != nil {
			env.t.Fatal(err)
		}
		if err := env.store.CreateSigningKey(env.ctx, k); err != nil {
			env.t.Fatal(err)
		}
	}
	return &realmFixture{Realm: r, issuer: env.base + "/realms/" + name}
}

func (env *testEnv) newAttribute(realmID, name string, typ attributes.Type, multi bool) {
	env.t.Helper()
	now := env.now().UTC()
	a := &realm.Attribute{ID: env.id(), RealmID: realmID, Name: name, Type: typ, Multi: multi, CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreateAttribute(env.ctx, a); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) newGroup(realmID, name string, attrs map[string]any) *realm.Group {
	env.t.Helper()
	now := env.now().UTC()
	g := &realm.Group{ID: env.id(), RealmID: realmID, Name: name, Attributes: attrs, CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreateGroup(env.ctx, g); err != nil {
		env.t.Fatal(err)
	}
	return g
}

// newClient creates an active confidential service account and returns it
// with its secret; mutate adjusts it before it is stored.
func (env *testEnv) newClient(realmID, clientID string, mutate func(*realm.Client)) (*realm.Client, string) {
	env.t.Helper()
	secret, hash := realm.NewSecret(nil)
	now := env.now().UTC()
	c := &realm.Client{
		ID: env.id(), RealmID: realmID, ClientID: clientID, Name: clientID,
		Kind: realm.KindServiceAccount, Active: true, Audience: []string{},
		Groups: []string{}, RedirectURIs: []string{}, WebOrigins: []string{},
		SecretHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if mutate != nil {
		mutate(c)
	}
	if err := env.store.CreateClient(env.ctx, c); err != nil {
		env.t.Fatal(err)
	}
	return c, secret
}

// tokenResponse is a raw token endpoint answer.
type tokenResponse struct {
	Status  int
	Header  http.Header
	Body    map[string]any
	RawBody string
}

// post sends a form, optionally with HTTP Basic client authentication.
func (env *testEnv) post(path string, form url.Values, id, secret string) *tokenResponse {
	env.t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		env.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return env.do(req)
}

func (env *testEnv) get(path string) *tokenResponse {
	env.t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.base+path, nil)
	if err != nil {
		env.t.Fatal(err)
	}
	return env.do(req)
}

func (env *testEnv) do(req *http.Request) *tokenResponse {
	env.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		env.t.Fatal(err)
	}
	out := &tokenResponse{Status: resp.StatusCode, Header: resp.Header, RawBody: string(body)}
	if len(body) > 0 {
		_ = json.Unmarshal(body, &out.Body)
	}
	return out
}

// grant asks realm for a client_credentials token with basic auth.
func (env *testEnv) grant(realmName, id, secret string, extra url.Values) *tokenResponse {
	env.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	return env.post("/realms/"+realmName+pathToken, form, id, secret)
}

func (env *testEnv) mustToken(realmName, id, secret string, extra url.Values) string {
	env.t.Helper()
	r := env.grant(realmName, id, secret, extra)
	if r.Status != http.StatusOK {
		env.t.Fatalf("grant at %s for %s: %d %s", realmName, id, r.Status, r.RawBody)
	}
	tok, _ := r.Body["access_token"].(string)
	if tok == "" {
		env.t.Fatalf("no access_token in %s", r.RawBody)
	}
	return tok
}

func (env *testEnv) introspect(realmName, token, id, secret string) *tokenResponse {
	env.t.Helper()
	return env.post("/realms/"+realmName+pathIntrospect, url.Values{"token": {token}}, id, secret)
}

// openStore is the migrated temporary SQLite store of storage/sqltest.
func openStore(t testing.TB) realm.Store {
	return sqltest.Open(t)
}
