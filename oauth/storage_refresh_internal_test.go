package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// storeWithRealm is a SQLite store holding one org and its realm, made at now.
func storeWithRealm(t *testing.T, now time.Time) (*sql.Store, *realm.Realm) {
	t.Helper()
	st, ctx := sqltest.Open(t), context.Background()
	org := &realm.Org{ID: realm.NewID(now, nil), Slug: "o", Name: "o", CreatedAt: now}
	r := &realm.Realm{ID: realm.NewID(now, nil), OrgID: org.ID, Name: "r1", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRealm(ctx, r); err != nil {
		t.Fatal(err)
	}
	return st, r
}

// TestRefreshGrantWithoutPresentedTokenFailsClosed: a refresh grant whose
// session did not read the token it presents (userSession.grant) gets no
// new refresh token, since nothing would mark the presented one used; a
// code grant's first token of a family is stored.
func TestRefreshGrantWithoutPresentedTokenFailsClosed(t *testing.T) {
	ctx, now := context.Background(), time.Now().UTC()
	st, r := storeWithRealm(t, now)
	fs := &fositeStore{store: st, realmID: r.ID, clock: time.Now, accessLifespan: time.Minute}
	request := func(grantType string) fosite.Requester {
		us := &userSession{UserID: "u1", SessionID: "s1"}
		us.SetExpiresAt(fosite.RefreshToken, now.Add(time.Hour))
		return &fosite.Request{ID: realm.NewID(now, nil), Client: &fositeClient{c: &realm.Client{ClientID: "web"}},
			Form: url.Values{"grant_type": {grantType}}, Session: us}
	}
	err := fs.CreateRefreshTokenSession(ctx, "jti-1.hash", "", request("refresh_token"))
	if !errors.Is(err, fosite.ErrServerError) {
		t.Fatalf("refresh grant without the presented token: %v, want a server error", err)
	}
	if _, err := st.GetRefreshToken(ctx, r.ID, "jti-1"); !errors.Is(err, realm.ErrNotFound) {
		t.Fatalf("a token was stored anyway: %v", err)
	}
	if err := fs.CreateRefreshTokenSession(ctx, "jti-2.hash", "", request("authorization_code")); err != nil {
		t.Fatalf("code grant's first refresh token: %v", err)
	}
	if _, err := st.GetRefreshToken(ctx, r.ID, "jti-2"); err != nil {
		t.Fatalf("first token of a family not stored: %v", err)
	}
}

// TestRefreshRequestOldForm: a refresh_tokens row written before the
// request's form was left out and the session put inline (session and
// form as storedRequest wrote them) still decodes, so tokens issued before
// an upgrade, or by a node not yet upgraded, keep working; and a new row
// decodes to what was encoded, with no form.
func TestRefreshRequestOldForm(t *testing.T) {
	ctx, now := context.Background(), time.Now().UTC().Truncate(time.Second)
	st, r := storeWithRealm(t, now)
	c := &realm.Client{ID: realm.NewID(now, nil), RealmID: r.ID, ClientID: "web", Name: "web", Kind: realm.KindApplication,
		Active: true, Public: true, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	fs := &fositeStore{store: st, realmID: r.ID, clock: time.Now, accessLifespan: time.Minute}

	old := `{"id":"req-1","requested_at":"2026-12-01T10:00:00Z","client_id":"web","scopes":["openid","email"],` +
		`"granted_scopes":["openid","email"],"audience":[],"granted_audience":[],` +
		`"form":{"grant_type":["refresh_token"],"refresh_token":["a.b.c"],"client_id":["web"]},` +
		`"session":{"expires":{"refresh_token":"2026-12-02T10:00:00Z"},"user_id":"u1","session_id":"s1",` +
		`"auth_time":"2026-12-01T09:59:00Z","offline":true},"token_hash":"h1"}`
	req, hash, err := fs.decodeRefreshRequest(ctx, []byte(old), &userSession{})
	if err != nil {
		t.Fatalf("old row: %v", err)
	}
	us := req.GetSession().(*userSession)
	if hash != "h1" || req.GetID() != "req-1" || req.GetClient().GetID() != "web" || us.UserID != "u1" ||
		us.SessionID != "s1" || !us.Offline || len(req.GetGrantedScopes()) != 2 ||
		!us.GetExpiresAt(fosite.RefreshToken).Equal(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("old row decoded to %+v, session %+v, hash %q", req, us, hash)
	}

	us = &userSession{UserID: "u2", SessionID: "s2", AuthTime: now}
	us.SetExpiresAt(fosite.RefreshToken, now.Add(time.Hour))
	orig := &fosite.Request{ID: "req-2", RequestedAt: now, Client: &fositeClient{c: c}, RequestedScope: []string{"email"},
		GrantedScope: []string{"email"}, Form: url.Values{"refresh_token": {"x.y.z"}}, Session: us}
	data, err := encodeRefreshRequest(orig, us, "h2")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "x.y.z") {
		t.Errorf("the stored request keeps the form: %s", data)
	}
	req, hash, err = fs.decodeRefreshRequest(ctx, data, &userSession{})
	if err != nil {
		t.Fatal(err)
	}
	got := req.GetSession().(*userSession)
	if hash != "h2" || req.GetID() != "req-2" || got.UserID != "u2" || got.SessionID != "s2" ||
		!got.AuthTime.Equal(now) || !got.GetExpiresAt(fosite.RefreshToken).Equal(now.Add(time.Hour)) {
		t.Fatalf("new row decoded to %+v, session %+v, hash %q", req, got, hash)
	}
	if _, _, err := fs.decodeRefreshRequest(ctx, []byte(`{"id":"x","client_id":"web","session":null}`), &userSession{}); err == nil {
		t.Error("a row without a session decoded")
	}
}
