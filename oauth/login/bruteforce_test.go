package login_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

func TestLoginLockout(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit)
	b := oauthtest.Browser(t)
	wrong := func(n int) {
		t.Helper()
		for i := range n {
			status, msg := tryLogin(t, f, b, f.User.Email, "wrong password "+oauthtest.RandomString(t))
			if status != http.StatusUnauthorized || msg != "Invalid email or password." {
				t.Fatalf("wrong password #%d: %d %q", i+1, status, msg)
			}
		}
	}
	refused := func(what string) {
		t.Helper()
		if status, msg := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusUnauthorized || msg != loginFailed {
			t.Fatalf("%s: right password answered %d %q, want the locked (same) answer", what, status, msg)
		}
	}
	works := func(what string) {
		t.Helper()
		if status, msg := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusSeeOther {
			t.Fatalf("%s: right password answered %d %q, want a sign-in", what, status, msg)
		}
		// Sign out again so the next login page asks for the password.
		logout(t, f, b, http.MethodGet, nil)
	}

	// Nine failures do not lock; a success resets the count.
	wrong(9)
	works("after 9 failures")
	wrong(9)
	works("after 9 more failures (count was reset)")

	// The tenth consecutive failure locks for a minute, the address in
	// any case.
	wrong(10)
	refused("locked")
	if status, msg := tryLogin(t, f, b, "ADA@example.com", oauthtest.Password); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("locked, other case: %d %q", status, msg)
	}
	// The same words as an unknown address and a wrong password.
	if status, msg := tryLogin(t, f, b, "nobody@example.com", oauthtest.Password); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("unknown address: %d %q", status, msg)
	}
	f.Env.Advance(59 * time.Second)
	refused("locked after 59 s")
	f.Env.Advance(2 * time.Second)
	works("after the 1-minute lock")

	// After a success the next lock is a minute again; without one each
	// further lock doubles: 1, 2, 4, 8, then 15 minutes at most.
	for i, d := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		wrong(10)
		f.Env.Advance(d - 2*time.Second)
		refused("lockout " + string(rune('1'+i)) + " before its end")
		f.Env.Advance(3 * time.Second)
	}
	works("after the last lock")

	// Audit: failures and lockouts, never the password.
	evs, err := f.Env.Store.ListEvents(f.Env.Ctx, f.Realm.OrgID, f.Realm.ID, realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range evs.Items {
		counts[string(e.Type)]++
		if e.Type == "user.login_failed" || e.Type == "user.locked_out" {
			if e.TargetID != f.User.ID {
				t.Errorf("%s event targets %q, want the user", e.Type, e.TargetID)
			}
			for k, v := range e.Details {
				if s, ok := v.(string); ok && (strings.Contains(s, "wrong password") || strings.Contains(s, oauthtest.Password)) {
					t.Errorf("%s event detail %s carries a password", e.Type, k)
				}
			}
		}
	}
	if counts["user.locked_out"] != 7 {
		t.Errorf("%d user.locked_out events, want 7", counts["user.locked_out"])
	}
	if counts["user.login_failed"] < 50 {
		t.Errorf("%d user.login_failed events, want every failure", counts["user.login_failed"])
	}
	if strings.Contains(f.Env.Logs.String(), oauthtest.Password) {
		t.Error("a password was logged")
	}
}

func TestLoginLockoutUnknownAddress(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit)
	b := oauthtest.Browser(t)
	// Unknown addresses lock too, so locking does not reveal accounts.
	for range 10 {
		tryLogin(t, f, b, "ghost@example.com", "x")
	}
	lf, err := f.Env.Store.GetLoginFailure(f.Env.Ctx, f.Realm.ID, accountKey("ghost@example.com"))
	if err != nil || lf.LockedUntil == nil || lf.Lockouts != 1 {
		t.Fatalf("unknown address state %+v %v, want locked", lf, err)
	}
	// The account's own sign-in is unaffected.
	if status, _ := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusSeeOther {
		t.Errorf("another address's lock stopped the user: %d", status)
	}
}

func TestPerIPLimits(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, func(c oauthtest.Configs) {
		c.Login.LoginRateLimit = oauth.RateLimit{Rate: 1, Burst: 3}
		c.OAuth.TokenRateLimit = oauth.RateLimit{Rate: 1, Burst: 2}
	})
	// The buckets refill with the server's clock: stopped, so that only
	// Advance refills them, however slowly the requests run (-race).
	defer f.Env.Freeze()()
	b := oauthtest.Browser(t)
	for i := range 3 {
		if status, _ := tryLogin(t, f, b, "nobody@example.com", "x"); status != http.StatusUnauthorized {
			t.Fatalf("login POST #%d: %d", i+1, status)
		}
	}
	login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if login.Status != http.StatusOK {
		t.Fatalf("login page (GET is not limited): %d", login.Status)
	}
	p := f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth login POST: %d Retry-After %q, want 429 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}
	f.Env.Advance(2 * time.Second)
	if status, _ := tryLogin(t, f, b, f.User.Email, oauthtest.Password); status != http.StatusSeeOther {
		t.Fatalf("login after the bucket refilled: %d", status)
	}

	// The token endpoint counts refused requests only.
	_, secret := f.Env.NewClient(f.Realm.ID, "svc", nil)
	for i := range 5 {
		if r := f.Env.Grant("shop", "svc", secret, nil); r.Status != http.StatusOK {
			t.Fatalf("good grant #%d: %d %s", i+1, r.Status, r.RawBody)
		}
	}
	for i := range 2 {
		if r := f.Env.Grant("shop", "svc", "wrong", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("bad grant #%d: %d %s", i+1, r.Status, r.RawBody)
		}
	}
	for _, sec := range []string{"wrong", secret} {
		r := f.Env.Grant("shop", "svc", sec, nil)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || r.Body["error"] != "too_many_requests" {
			t.Fatalf("grant after 2 refusals: %d %q %s, want 429 with Retry-After 1", r.Status, r.Header.Get("Retry-After"), r.RawBody)
		}
	}
	f.Env.Advance(time.Second)
	if r := f.Env.Grant("shop", "svc", secret, nil); r.Status != http.StatusOK {
		t.Fatalf("grant after a second: %d", r.Status)
	}
}

// TestLoginLockoutConcurrentGuesses: guesses sent at once each take their
// own place in the count, so however many arrive together, no more than
// ten passwords are verified before the account locks; the rest get the
// locked answer, and so does the right password afterwards.
func TestLoginLockoutConcurrentGuesses(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite, noIPLimit)
	const guesses = 25
	var wg sync.WaitGroup
	for range guesses {
		wg.Go(func() {
			if status, msg := tryLogin(t, f, oauthtest.Browser(t), f.User.Email, "wrong password "+oauthtest.RandomString(t)); status != http.StatusUnauthorized || msg != loginFailed {
				t.Errorf("concurrent guess: %d %q", status, msg)
			}
		})
	}
	wg.Wait()
	if status, msg := tryLogin(t, f, oauthtest.Browser(t), f.User.Email, oauthtest.Password); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("right password after %d concurrent guesses: %d %q, want the locked answer", guesses, status, msg)
	}
	evs, err := f.Env.Store.ListEvents(f.Env.Ctx, f.Realm.OrgID, f.Realm.ID, realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	verified, lockouts := 0, 0
	for _, e := range evs.Items {
		switch {
		case e.Type == "user.login_failed" && e.Details["reason"] == "credentials":
			verified++
		case e.Type == "user.locked_out":
			lockouts++
		}
	}
	if verified == 0 || verified > loginLockThreshold {
		t.Errorf("%d of %d concurrent guesses had their password verified, want 1..%d", verified, guesses, loginLockThreshold)
	}
	if lockouts != 1 {
		t.Errorf("%d lockouts, want 1", lockouts)
	}
}
