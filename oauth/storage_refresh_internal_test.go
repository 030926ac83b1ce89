package oauth

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sqltest"
)

// TestRefreshGrantWithoutPresentedTokenFailsClosed: a refresh grant whose
// session did not read the token it presents (userSession.grant) gets no
// new refresh token, since nothing would mark the presented one used; a
// code grant's first token of a family is stored.
func TestRefreshGrantWithoutPresentedTokenFailsClosed(t *testing.T) {
	st := sqltest.Open(t)
	ctx, now := context.Background(), time.Now().UTC()
	org := &realm.Org{ID: realm.NewID(now, nil), Slug: "o", Name: "o", CreatedAt: now}
	r := &realm.Realm{ID: realm.NewID(now, nil), OrgID: org.ID, Name: "r1", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRealm(ctx, r); err != nil {
		t.Fatal(err)
	}
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
