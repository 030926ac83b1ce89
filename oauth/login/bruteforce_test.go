package login_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm"
)

var loginError = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// tryLogin opens a fresh login page in b and submits email and password;
// it returns the answer's status and its error message ("" on success).
func (f *loginFixture) tryLogin(t *testing.T, b *http.Client, email, password string) (int, string) {
	t.Helper()
	login := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if login.status != http.StatusOK {
		t.Fatalf("login page: %d %s", login.status, login.body)
	}
	p := f.submitLogin(t, b, login, email, password)
	if p.status == http.StatusSeeOther {
		return p.status, ""
	}
	m := loginError.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("login answer %d without an error: %s", p.status, p.body)
	}
	return p.status, m[1]
}

// noIPLimit lifts the per-IP login limit so account tests are not cut
// short by it.
func noIPLimit(f *loginFixture) {
	f.env.srv.loginIPs = newIPLimiter(RateLimit{Rate: 1000, Burst: 1000})
}

func TestLoginLockout(t *testing.T) {
	f := newLoginFixture(t, openStore)
	noIPLimit(f)
	b := browser(t)
	wrong := func(n int) {
		t.Helper()
		for i := range n {
			status, msg := f.tryLogin(t, b, f.user.Email, "wrong password "+randomString(t))
			if status != http.StatusUnauthorized || msg != "Invalid email or password." {
				t.Fatalf("wrong password #%d: %d %q", i+1, status, msg)
			}
		}
	}
	refused := func(what string) {
		t.Helper()
		if status, msg := f.tryLogin(t, b, f.user.Email, testPassword); status != http.StatusUnauthorized || msg != loginFailed {
			t.Fatalf("%s: right password answered %d %q, want the locked (same) answer", what, status, msg)
		}
	}
	works := func(what string) {
		t.Helper()
		if status, msg := f.tryLogin(t, b, f.user.Email, testPassword); status != http.StatusSeeOther {
			t.Fatalf("%s: right password answered %d %q, want a sign-in", what, status, msg)
		}
		// Sign out again so the next login page asks for the password.
		f.logout(t, b, http.MethodGet, nil)
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
	if status, msg := f.tryLogin(t, b, "ADA@example.com", testPassword); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("locked, other case: %d %q", status, msg)
	}
	// The same words as an unknown address and a wrong password.
	if status, msg := f.tryLogin(t, b, "nobody@example.com", testPassword); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("unknown address: %d %q", status, msg)
	}
	f.env.advance(59 * time.Second)
	refused("locked after 59 s")
	f.env.advance(2 * time.Second)
	works("after the 1-minute lock")

	// After a success the next lock is a minute again; without one each
	// further lock doubles: 1, 2, 4, 8, then 15 minutes at most.
	for i, d := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		wrong(10)
		f.env.advance(d - 2*time.Second)
		refused("lockout " + string(rune('1'+i)) + " before its end")
		f.env.advance(3 * time.Second)
	}
	works("after the last lock")

	// Audit: failures and lockouts, never the password.
	evs, err := f.env.store.ListEvents(f.env.ctx, f.realm.OrgID, f.realm.ID, realm.EventFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range evs.Items {
		counts[string(e.Type)]++
		if e.Type == "user.login_failed" || e.Type == "user.locked_out" {
			if e.TargetID != f.user.ID {
				t.Errorf("%s event targets %q, want the user", e.Type, e.TargetID)
			}
			for k, v := range e.Details {
				if s, ok := v.(string); ok && (strings.Contains(s, "wrong password") || strings.Contains(s, testPassword)) {
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
	if strings.Contains(f.env.logs.String(), testPassword) {
		t.Error("a password was logged")
	}
}

func TestLoginLockoutUnknownAddress(t *testing.T) {
	f := newLoginFixture(t, openStore)
	noIPLimit(f)
	b := browser(t)
	// Unknown addresses lock too, so locking does not reveal accounts.
	for range 10 {
		f.tryLogin(t, b, "ghost@example.com", "x")
	}
	lf, err := f.env.store.GetLoginFailure(f.env.ctx, f.realm.ID, accountKey("ghost@example.com"))
	if err != nil || lf.LockedUntil == nil || lf.Lockouts != 1 {
		t.Fatalf("unknown address state %+v %v, want locked", lf, err)
	}
	// The account's own sign-in is unaffected.
	if status, _ := f.tryLogin(t, b, f.user.Email, testPassword); status != http.StatusSeeOther {
		t.Errorf("another address's lock stopped the user: %d", status)
	}
}

func TestLockDuration(t *testing.T) {
	for n, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if got := lockDuration(n); got != want {
			t.Errorf("lockDuration(%d) = %v, want %v", n, got, want)
		}
	}
	if got := lockDuration(1 << 20); got != loginLockMax {
		t.Errorf("lockDuration(huge) = %v", got)
	}
}

func TestPerIPLimits(t *testing.T) {
	f := newLoginFixture(t, openStore)
	f.env.srv.loginIPs = newIPLimiter(RateLimit{Rate: 1, Burst: 3})
	f.env.srv.tokenIPs = newIPLimiter(RateLimit{Rate: 1, Burst: 2})
	b := browser(t)
	for i := range 3 {
		if status, _ := f.tryLogin(t, b, "nobody@example.com", "x"); status != http.StatusUnauthorized {
			t.Fatalf("login POST #%d: %d", i+1, status)
		}
	}
	login := fetch(t, b, http.MethodGet, f.conf.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if login.status != http.StatusOK {
		t.Fatalf("login page (GET is not limited): %d", login.status)
	}
	p := f.submitLogin(t, b, login, f.user.Email, testPassword)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("fourth login POST: %d Retry-After %q, want 429 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	f.env.advance(2 * time.Second)
	if status, _ := f.tryLogin(t, b, f.user.Email, testPassword); status != http.StatusSeeOther {
		t.Fatalf("login after the bucket refilled: %d", status)
	}

	// The token endpoint counts refused requests only.
	_, secret := f.env.newClient(f.realm.ID, "svc", nil)
	for i := range 5 {
		if r := f.env.grant("shop", "svc", secret, nil); r.Status != http.StatusOK {
			t.Fatalf("good grant #%d: %d %s", i+1, r.Status, r.RawBody)
		}
	}
	for i := range 2 {
		if r := f.env.grant("shop", "svc", "wrong", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("bad grant #%d: %d %s", i+1, r.Status, r.RawBody)
		}
	}
	for _, sec := range []string{"wrong", secret} {
		r := f.env.grant("shop", "svc", sec, nil)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" || r.Body["error"] != "too_many_requests" {
			t.Fatalf("grant after 2 refusals: %d %q %s, want 429 with Retry-After 1", r.Status, r.Header.Get("Retry-After"), r.RawBody)
		}
	}
	f.env.advance(time.Second)
	if r := f.env.grant("shop", "svc", secret, nil); r.Status != http.StatusOK {
		t.Fatalf("grant after a second: %d", r.Status)
	}
}

func TestClientIP(t *testing.T) {
	s := &Server{}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.RemoteAddr = "10.0.0.5:1234"
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	if got := s.clientIP(req); got != "10.0.0.5" {
		t.Errorf("no trusted proxies: %s, want the socket address", got)
	}
	s.trustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if got := s.clientIP(req); got != "198.51.100.7" {
		t.Errorf("trusted proxy: %s, want the right-most untrusted hop", got)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.1.1.1")
	if got := s.clientIP(req); got != "203.0.113.9" {
		t.Errorf("two trusted hops: %s", got)
	}
	req.RemoteAddr = "192.0.2.1:99"
	if got := s.clientIP(req); got != "192.0.2.1" {
		t.Errorf("untrusted socket: %s, want it and not the header", got)
	}
}

// TestLoginLockoutConcurrentGuesses: guesses sent at once each take their
// own place in the count, so however many arrive together, no more than
// ten passwords are verified before the account locks; the rest get the
// locked answer, and so does the right password afterwards.
func TestLoginLockoutConcurrentGuesses(t *testing.T) {
	f := newLoginFixture(t, openStore)
	noIPLimit(f)
	const guesses = 25
	var wg sync.WaitGroup
	for range guesses {
		wg.Go(func() {
			if status, msg := f.tryLogin(t, browser(t), f.user.Email, "wrong password "+randomString(t)); status != http.StatusUnauthorized || msg != loginFailed {
				t.Errorf("concurrent guess: %d %q", status, msg)
			}
		})
	}
	wg.Wait()
	if status, msg := f.tryLogin(t, browser(t), f.user.Email, testPassword); status != http.StatusUnauthorized || msg != loginFailed {
		t.Fatalf("right password after %d concurrent guesses: %d %q, want the locked answer", guesses, status, msg)
	}
	evs, err := f.env.store.ListEvents(f.env.ctx, f.realm.OrgID, f.realm.ID, realm.EventFilter{Limit: 200})
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
