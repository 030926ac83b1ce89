package conformance

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// runAuth runs the cases of realm.AuthCodeStore and realm.SessionStore.
func runAuth(t *testing.T, newStore func(t *testing.T) realm.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture, s realm.Store)
	}{
		{"AuthRequests", testAuthRequests},
		{"AuthRequestSingleUse", testAuthRequestSingleUse},
		{"BrowserSessions", testBrowserSessions},
	}
	for _, tc := range tests {
		runCase(t, tc.name, newStore, tc.fn)
	}
}

func testAuthRequests(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	in := &realm.AuthRequest{Kind: realm.AuthRequestCode, Signature: "sig-1", RealmID: r.ID, RequestID: "req-1",
		ClientID: "app", UserID: "u1", SessionID: "s1", Data: []byte(`{"x":1}`),
		ExpiresAt: f.clock.Add(time.Minute), CreatedAt: f.tick()}
	must(t, s.CreateAuthRequest(f.ctx, in))
	// The same signature under another kind is another row.
	must(t, s.CreateAuthRequest(f.ctx, &realm.AuthRequest{Kind: realm.AuthRequestPKCE, Signature: "sig-1", RealmID: r.ID,
		RequestID: "req-1", Data: []byte("p"), ExpiresAt: f.clock.Add(time.Minute), CreatedAt: f.clock}))
	if err := s.CreateAuthRequest(f.ctx, in); !errors.Is(err, realm.ErrConflict) {
		t.Errorf("duplicate CreateAuthRequest = %v, want ErrConflict", err)
	}
	got, err := s.GetAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig-1")
	must(t, err)
	if got.RequestID != "req-1" || got.ClientID != "app" || got.UserID != "u1" || got.SessionID != "s1" ||
		!bytes.Equal(got.Data, in.Data) || got.Used || !got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("GetAuthRequest = %+v", got)
	}
	_, err = s.GetAuthRequest(f.ctx, other.ID, realm.AuthRequestCode, "sig-1")
	wantNotFound(t, "request of another realm", err)
	_, err = s.GetAuthRequest(f.ctx, r.ID, realm.AuthRequestOIDC, "sig-1")
	wantNotFound(t, "request of another kind", err)

	wantNotFound(t, "use in another realm", s.UseAuthRequest(f.ctx, other.ID, realm.AuthRequestCode, "sig-1"))
	must(t, s.UseAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig-1"))
	if err := s.UseAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig-1"); !errors.Is(err, realm.ErrAlreadyUsed) {
		t.Errorf("second use = %v, want ErrAlreadyUsed", err)
	}
	got, err = s.GetAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig-1")
	must(t, err)
	if !got.Used {
		t.Error("used request reads as unused")
	}
	wantNotFound(t, "use of unknown", s.UseAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "nope"))

	must(t, s.DeleteAuthRequest(f.ctx, r.ID, realm.AuthRequestPKCE, "sig-1"))
	must(t, s.DeleteAuthRequest(f.ctx, r.ID, realm.AuthRequestPKCE, "sig-1")) // missing: no error
	_, err = s.GetAuthRequest(f.ctx, r.ID, realm.AuthRequestPKCE, "sig-1")
	wantNotFound(t, "deleted request", err)

	n, err := s.DeleteExpiredAuthRequests(f.ctx, f.clock.Add(2*time.Minute))
	must(t, err)
	if n != 1 {
		t.Errorf("DeleteExpiredAuthRequests removed %d, want 1", n)
	}
	_, err = s.GetAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig-1")
	wantNotFound(t, "expired request", err)

	// Deleting the realm removes its requests.
	must(t, s.CreateAuthRequest(f.ctx, &realm.AuthRequest{Kind: realm.AuthRequestCode, Signature: "sig-2", RealmID: other.ID,
		RequestID: "r", Data: []byte("d"), ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}))
	must(t, s.DeleteRealm(f.ctx, other.ID))
	_, err = s.GetAuthRequest(f.ctx, other.ID, realm.AuthRequestCode, "sig-2")
	wantNotFound(t, "request of deleted realm", err)
}

// testAuthRequestSingleUse: of many concurrent uses of one code, exactly one
// succeeds.
func testAuthRequestSingleUse(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	must(t, s.CreateAuthRequest(f.ctx, &realm.AuthRequest{Kind: realm.AuthRequestCode, Signature: "sig", RealmID: r.ID,
		RequestID: "r", Data: []byte("d"), ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.clock}))
	const n = 20
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, used   int
		unexpected []error
		start      = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			err := s.UseAuthRequest(f.ctx, r.ID, realm.AuthRequestCode, "sig")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, realm.ErrAlreadyUsed):
				used++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 1 || used != n-1 || len(unexpected) > 0 {
		t.Errorf("concurrent uses: %d succeeded, %d already used, errors %v; want 1 and %d", ok, used, unexpected, n-1)
	}
}

func testBrowserSessions(t *testing.T, f *fixture, s realm.Store) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "test")
	u, v := f.user(r.ID, "u@example.com"), f.user(r.ID, "v@example.com")
	mk := func(id, userID, token string) *realm.BrowserSession {
		bs := &realm.BrowserSession{ID: id, RealmID: r.ID, UserID: userID, TokenHash: []byte(token),
			AuthTime: f.clock, ExpiresAt: f.clock.Add(time.Hour), CreatedAt: f.tick()}
		must(t, s.CreateBrowserSession(f.ctx, bs))
		return bs
	}
	a := mk("s-a", u.ID, "tok-a")
	mk("s-b", u.ID, "tok-b")
	mk("s-c", v.ID, "tok-c")
	wantNotFound(t, "session of unknown user", s.CreateBrowserSession(f.ctx, &realm.BrowserSession{ID: "s-x", RealmID: r.ID,
		UserID: "nobody", TokenHash: []byte("x"), AuthTime: f.clock, ExpiresAt: f.clock, CreatedAt: f.clock}))

	got, err := s.GetBrowserSessionByToken(f.ctx, r.ID, []byte("tok-a"))
	must(t, err)
	if got.ID != a.ID || got.UserID != u.ID || got.RealmID != r.ID || got.Revoked ||
		!got.AuthTime.Equal(a.AuthTime) || !got.ExpiresAt.Equal(a.ExpiresAt) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("GetBrowserSessionByToken = %+v", got)
	}
	_, err = s.GetBrowserSessionByToken(f.ctx, other.ID, []byte("tok-a"))
	wantNotFound(t, "session looked up in another realm", err)
	_, err = s.GetBrowserSessionByToken(f.ctx, r.ID, []byte("unknown"))
	wantNotFound(t, "unknown token", err)

	must(t, s.RevokeBrowserSession(f.ctx, r.ID, "s-a"))
	wantNotFound(t, "revoke in another realm", s.RevokeBrowserSession(f.ctx, other.ID, "s-b"))
	got, err = s.GetBrowserSessionByToken(f.ctx, r.ID, []byte("tok-a"))
	must(t, err)
	if !got.Revoked {
		t.Error("revoked session reads as live")
	}
	must(t, s.RevokeUserSessions(f.ctx, r.ID, u.ID))
	for tok, want := range map[string]bool{"tok-b": true, "tok-c": false} {
		got, err := s.GetBrowserSessionByToken(f.ctx, r.ID, []byte(tok))
		must(t, err)
		if got.Revoked != want {
			t.Errorf("%s revoked = %v after revoking u's sessions, want %v", tok, got.Revoked, want)
		}
	}
}
