package realm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// testKeys makes real P-256 keys. The oauth package's KeyMaker encrypts the
// private part with the master key; the realm service only stores what it
// is given, so an unencrypted PKCS#8 key is enough to exercise it.
type testKeys struct{}

func (testKeys) NewSigningKey(_ context.Context, realmID, alg string) (*realm.SigningKey, error) {
	if alg != "ES256" {
		return nil, fmt.Errorf("testKeys: unsupported alg %s", alg)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	kid := realm.NewID(time.Now(), nil)
	jwk, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "kid": kid,
		"spki": base64.RawURLEncoding.EncodeToString(pub)})
	return &realm.SigningKey{ID: kid, RealmID: realmID, Algorithm: alg, EncryptedPrivate: der,
		PublicJWK: jwk, Active: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}, nil
}

// env is one org ("acme") on a fresh SQLite store, with a context per role.
type env struct {
	t      *testing.T
	store  *sql.Store
	svc    *realm.Service
	now    time.Time
	sys    context.Context
	orgID  string
	boot   *realm.BootstrapResult
	owner  context.Context
	admin  context.Context
	viewer context.Context
	mails  *mailbox
}

// opener opens a fresh, migrated store.
type opener func(testing.TB) *sql.Store

// eachBackend runs a service test on SQLite and on PostgreSQL: the rules
// must hold the same on both (sqltest.OpenPostgres fails without
// WARD_TEST_POSTGRES, so a missing server is never a silent pass).
func eachBackend(t *testing.T, f func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqltest.Open) })
	t.Run("postgres", func(t *testing.T) { f(t, sqltest.OpenPostgres) })
}

func newService(t *testing.T, open opener) *env {
	t.Helper()
	e := &env{t: t, store: open(t), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.mails = &mailbox{t: t, q: e.mailQueue(testMailKey)}
	svc, err := realm.NewService(realm.ServiceConfig{Store: e.store, Keys: testKeys{}, Clock: func() time.Time { return e.now },
		Mail: e.mails.q, PublicURL: "https://iam.example.test/"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.sys = realm.WithPrincipal(context.Background(), realm.System)
	return e
}

// testMailKey seals the test outbox (cmd/ward derives its key from the
// master key).
var testMailKey = []byte("0123456789abcdef0123456789abcdef")

// mailQueue builds a MailQueue on the test's store and clock with key:
// another node sharing the database, or this one after a restart.
func (e *env) mailQueue(key []byte) *realm.MailQueue {
	e.t.Helper()
	q, err := realm.NewMailQueue(realm.MailQueueConfig{Store: e.store, Key: key, Clock: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// mailbox takes the link mails the service queued out of the real outbox
// as the delivery worker does (claim, then record the delivery), and
// keeps them in the order taken.
type mailbox struct {
	t    *testing.T
	q    *realm.MailQueue
	mu   sync.Mutex
	sent []realm.QueuedMail
}

// take delivers everything due and returns every mail taken so far.
func (m *mailbox) take() []realm.QueuedMail {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	claimed, err := m.q.Claim(m.t.Context(), 100, time.Minute)
	if err != nil {
		m.t.Fatalf("claiming queued mail: %v", err)
	}
	for _, c := range claimed {
		if err := m.q.Delivered(m.t.Context(), c, c.ID+"@test"); err != nil {
			m.t.Fatalf("recording a delivery: %v", err)
		}
	}
	m.sent = append(m.sent, claimed...)
	return slices.Clone(m.sent)
}

// all is what every mail taken so far says.
func (m *mailbox) all() []realm.LinkMail {
	m.t.Helper()
	var out []realm.LinkMail
	for _, q := range m.take() {
		out = append(out, q.Mail)
	}
	return out
}

func newEnv(t *testing.T, open opener) *env {
	t.Helper()
	e := newService(t, open)
	res, err := e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	e.boot = res
	e.orgID = res.Org.ID
	e.owner = e.as(realm.RoleOwner, res.Owner.UserID)
	e.admin = e.as(realm.RoleAdmin, "admin-user")
	e.viewer = e.as(realm.RoleViewer, "viewer-user")
	return e
}

func (e *env) as(role realm.Role, actor string) context.Context {
	return realm.WithPrincipal(context.Background(), realm.Principal{OrgID: e.orgID, Role: role, ActorType: "member", ActorID: actor})
}

func (e *env) realm(name string) *realm.Realm {
	e.t.Helper()
	r, err := e.svc.CreateRealm(e.admin, realm.RealmInput{Name: name})
	if err != nil {
		e.t.Fatalf("create realm %s: %v", name, err)
	}
	return r
}

func (e *env) attr(realmName, name string, typ string, multi bool) {
	e.t.Helper()
	if _, err := e.svc.CreateAttribute(e.admin, realmName, realm.AttributeInput{Name: name, Type: typ, Multi: multi}); err != nil {
		e.t.Fatalf("create attribute %s: %v", name, err)
	}
}

func (e *env) group(realmName, name string, attrs map[string]any) *realm.Group {
	e.t.Helper()
	g, err := e.svc.CreateGroup(e.admin, realmName, realm.GroupInput{Name: name, Attributes: attrs})
	if err != nil {
		e.t.Fatalf("create group %s: %v", name, err)
	}
	return g
}

func (e *env) user(realmName, email string, groups []string, primary string) *realm.UserView {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.admin, realmName, realm.UserInput{Email: email, FirstName: "Ann", LastName: "Lee", Groups: groups, PrimaryGroup: primary})
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// rows counts everything an org has, straight from the store, so a test can
// check that a refused change left nothing behind.
func (e *env) rows() map[string]int {
	e.t.Helper()
	ctx := context.Background()
	all := realm.ListOptions{Limit: 200}
	n := map[string]int{}
	must := func(err error) {
		if err != nil {
			e.t.Fatalf("counting rows: %v", err)
		}
	}
	orgs, err := e.store.CountOrgs(ctx)
	must(err)
	n["orgs"] = int(orgs)
	realms, err := e.store.ListRealms(ctx, e.orgID, all)
	must(err)
	n["realms"] = len(realms.Items)
	ev, err := e.store.ListEvents(ctx, e.orgID, "", realm.EventFilter{Limit: 200})
	must(err)
	n["org_events"] = len(ev.Items)
	members, err := e.store.ListMembers(ctx, e.orgID, all)
	must(err)
	n["members"] = len(members.Items)
	console, err := e.store.GetRealmByName(ctx, realm.ConsoleRealm)
	must(err)
	cu, err := e.store.ListUsers(ctx, console.ID, all)
	must(err)
	n["console_users"] = len(cu.Items)
	cc, err := e.store.ListClients(ctx, console.ID, "", all)
	must(err)
	n["console_clients"] = len(cc.Items)
	for _, r := range realms.Items {
		attrs, err := e.store.ListAttributes(ctx, r.ID)
		must(err)
		groups, err := e.store.ListGroups(ctx, r.ID, all)
		must(err)
		users, err := e.store.ListUsers(ctx, r.ID, all)
		must(err)
		clients, err := e.store.ListClients(ctx, r.ID, "", all)
		must(err)
		events, err := e.store.ListEvents(ctx, e.orgID, r.ID, realm.EventFilter{Limit: 200})
		must(err)
		keys, err := e.store.ListSigningKeys(ctx, r.ID)
		must(err)
		n[r.Name+".attributes"] = len(attrs)
		n[r.Name+".groups"] = len(groups.Items)
		n[r.Name+".users"] = len(users.Items)
		n[r.Name+".clients"] = len(clients.Items)
		n[r.Name+".events"] = len(events.Items)
		n[r.Name+".keys"] = len(keys)
	}
	return n
}

func (e *env) sameRows(before map[string]int) {
	e.t.Helper()
	after := e.rows()
	for k, v := range before {
		if after[k] != v {
			e.t.Errorf("partial write: %s went from %d to %d", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			e.t.Errorf("partial write: new %s (%d)", k, v)
		}
	}
}

// wantInvalid asserts a *ValidationError naming exactly these fields.
func wantInvalid(t *testing.T, err error, fields ...string) {
	t.Helper()
	var ve *realm.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v (%T), want a ValidationError naming %v", err, err, fields)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
		if f.Message == "" {
			t.Errorf("field %s has no message", f.Field)
		}
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ValidationError names %v, want %v (%v)", got, want, err)
	}
}

// wantConflict asserts a *ConflictError naming field.
func wantConflict(t *testing.T, err error, field string) {
	t.Helper()
	var ce *realm.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, realm.ErrConflict) {
		t.Fatalf("got %v (%T), want a ConflictError on %q", err, err, field)
	}
	if ce.Field != field {
		t.Fatalf("conflict names %q, want %q (%v)", ce.Field, field, err)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want %v", err, target)
	}
}

func ptr[T any](v T) *T { return &v }

type contextT = context.Context

// secondOrg bootstraps another org and returns its owner's context.
func (e *env) secondOrg(slug string) context.Context {
	e.t.Helper()
	res, err := e.svc.Bootstrap(e.sys, realm.BootstrapInput{OrgSlug: slug, OwnerEmail: "owner@" + slug + ".test"})
	if err != nil {
		e.t.Fatalf("bootstrap %s: %v", slug, err)
	}
	return realm.WithPrincipal(context.Background(), realm.Principal{OrgID: res.Org.ID, Role: realm.RoleOwner, ActorType: "member", ActorID: res.Owner.UserID})
}
