package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/wardiam/ward/realm"
)

// Brute-force protection of the sign-in form and the token endpoint.
//
// Per account: loginLockThreshold consecutive failed sign-ins for one email
// lock sign-in with it for loginLockBase, doubling with each further
// lockout up to loginLockMax; a successful sign-in forgets the count. The
// state is in the database (realm.LoginFailureStore), keyed by a hash of
// the lower-cased email, so all nodes agree, unknown addresses are counted
// (and locked) exactly like known ones, and no address is stored. A locked
// account, an unknown address and a wrong password get the same page, and
// each still verifies a password hash, so neither words nor timing tell
// them apart.
//
// Per IP: a token bucket per client address, in memory on each node. The
// login form's POST spends a token per request (each costs an argon2id
// verification). The token endpoint spends one per refused request (any
// answer of 400 or more): a backend with good credentials may ask for as
// many tokens as the server can sign (the benchmark does ~5,000/s from one
// address), while an address that keeps sending bad credentials or grants
// is stopped. Over the limit is 429 with Retry-After.

const (
	loginLockThreshold = 10
	loginLockBase      = time.Minute
	loginLockMax       = 15 * time.Minute
	// loginFailureTTL is how long the state of an address that is no
	// longer tried is kept (the lockout count included).
	loginFailureTTL = 24 * time.Hour
)

// RateLimit is a per-IP token bucket: Rate requests a second, bursts of
// Burst.
type RateLimit struct {
	Rate  float64
	Burst int
}

var (
	// defaultLoginRate lets a person (or a school behind one NAT) sign in
	// freely while bounding the argon2id work one address can cause.
	defaultLoginRate = RateLimit{Rate: 1, Burst: 20}
	// defaultTokenRate bounds refused token requests: far above what a
	// misconfigured but honest client sends, and it still stops guessing.
	defaultTokenRate = RateLimit{Rate: 20, Burst: 200}
)

// lockDuration is the lock after the n-th lockout (n from 0).
func lockDuration(n int) time.Duration {
	if n > 4 {
		return loginLockMax
	}
	return min(loginLockBase<<n, loginLockMax)
}

func accountKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// attemptLogin is checkPassword with the per-account lock around it. The
// attempt is counted before the password is looked at, so each of many
// concurrent guesses takes its own number: no more than
// loginLockThreshold of them are ever verified before the lock lands.
// Attempts beyond that, and any while locked, get the locked answer
// without a verification of the real hash (a dummy one keeps the timing).
func (s *Server) attemptLogin(ctx context.Context, p *provider, email, password string) (*realm.User, error) {
	now := s.clock()
	key := accountKey(email)
	state, err := s.store.AddLoginFailure(ctx, p.realm.ID, key, now)
	if err != nil {
		return nil, err
	}
	locked := state.LockedUntil != nil && now.Before(*state.LockedUntil)
	if locked || state.Failures > loginLockThreshold {
		s.service.Passwords().Verify(dummyHash(), password)
		s.loginEvent(ctx, p, email, realm.EventUserLoginFailed, map[string]any{"reason": "locked"})
		if !locked {
			s.lockLogin(ctx, p, email, key, state, now)
		}
		return nil, nil
	}
	u, err := s.checkPassword(ctx, p.realm.ID, email, password)
	if err != nil {
		return nil, err
	}
	if u != nil {
		if err := s.store.ClearLoginFailures(ctx, p.realm.ID, key); err != nil {
			s.log.WarnContext(ctx, "oauth: clearing login failures", "realm", p.realm.Name, "err", err)
		}
		return u, nil
	}
	s.loginEvent(ctx, p, email, realm.EventUserLoginFailed, map[string]any{"reason": "credentials", "consecutive_failures": state.Failures})
	if state.Failures >= loginLockThreshold {
		s.lockLogin(ctx, p, email, key, state, now)
	}
	s.sweepLoginFailures(ctx)
	return nil, nil
}

// lockLogin locks key after its threshold-th failure; of concurrent
// callers one locks and writes the lockout event.
func (s *Server) lockLogin(ctx context.Context, p *provider, email, key string, state *realm.LoginFailure, now time.Time) {
	d := lockDuration(state.Lockouts)
	locked, err := s.store.LockLogin(ctx, p.realm.ID, key, loginLockThreshold, now.Add(d), now)
	if err != nil {
		// The failures stay counted, so the next attempt locks.
		s.log.WarnContext(ctx, "oauth: locking sign-in", "realm", p.realm.Name, "err", err)
		return
	}
	if locked {
		s.loginEvent(ctx, p, email, realm.EventUserLockedOut, map[string]any{"lockout": state.Lockouts + 1, "seconds": int(d / time.Second)})
	}
}

// loginEvent writes an audit event about sign-in with email: for an
// account of the realm it names the user; an unknown address is only
// logged, without the address, so guessing cannot fill the audit log.
// Passwords never appear.
func (s *Server) loginEvent(ctx context.Context, p *provider, email string, typ realm.EventType, details map[string]any) {
	u, err := s.store.GetUserByEmail(ctx, p.realm.ID, email)
	if err != nil || u == nil || u.RealmID != p.realm.ID {
		s.log.InfoContext(ctx, "oauth: sign-in refused for an unknown address", "realm", p.realm.Name, "event", typ)
		return
	}
	e := &realm.Event{ID: realm.NewID(s.clock(), nil), OrgID: p.realm.OrgID, RealmID: p.realm.ID, Type: typ,
		ActorType: "system", TargetType: "user", TargetID: u.ID, Details: details, Time: s.clock().UTC()}
	if err := s.store.AppendEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "oauth: audit event not written", "realm", p.realm.Name, "event", typ, "err", err)
	}
}

// sweepLoginFailures deletes stale rows now and then (every 256th failure
// on this node), in the background.
func (s *Server) sweepLoginFailures(ctx context.Context) {
	if s.loginFailureCount.Add(1)%256 != 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	before := s.clock().Add(-loginFailureTTL)
	go func() {
		if _, err := s.store.DeleteStaleLoginFailures(ctx, before); err != nil {
			s.log.WarnContext(ctx, "oauth: deleting stale login failures", "err", err)
		}
	}()
}

// ipLimiter is a token bucket per client address.
type ipLimiter struct {
	limit   rate.Limit
	burst   int
	buckets sync.Map // address → *rate.Limiter
	added   atomic.Uint64
}

func newIPLimiter(l RateLimit) *ipLimiter {
	return &ipLimiter{limit: rate.Limit(l.Rate), burst: l.Burst}
}

// wait is zero when ip may go on now, else how long until it may.
func (l *ipLimiter) wait(ip string, now time.Time) time.Duration {
	if l == nil || ip == "" {
		return 0
	}
	v, ok := l.buckets.Load(ip)
	if !ok {
		v, ok = l.buckets.LoadOrStore(ip, rate.NewLimiter(l.limit, l.burst))
		if !ok && l.added.Add(1)%1024 == 0 {
			l.sweep(now)
		}
	}
	lim := v.(*rate.Limiter)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// over is how long ip must wait before it may spend again (zero: it may),
// without spending.
func (l *ipLimiter) over(ip string, now time.Time) time.Duration {
	v, ok := l.buckets.Load(ip)
	if !ok {
		return 0
	}
	lim := v.(*rate.Limiter)
	t := lim.TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) / float64(l.limit) * float64(time.Second))
}

// spend takes a token from ip's bucket, if there is one left.
func (l *ipLimiter) spend(ip string, now time.Time) {
	v, ok := l.buckets.Load(ip)
	if !ok {
		var loaded bool
		v, loaded = l.buckets.LoadOrStore(ip, rate.NewLimiter(l.limit, l.burst))
		if !loaded && l.added.Add(1)%1024 == 0 {
			l.sweep(now)
		}
	}
	v.(*rate.Limiter).AllowN(now, 1)
}

// sweep forgets addresses whose bucket is full again: they are back where
// a new address starts.
func (l *ipLimiter) sweep(now time.Time) {
	l.buckets.Range(func(k, v any) bool {
		if v.(*rate.Limiter).TokensAt(now) >= float64(l.burst) {
			l.buckets.CompareAndDelete(k, v)
		}
		return true
	})
}

// clientIP is the socket's address, or, when the socket belongs to a
// trusted proxy, the right-most X-Forwarded-For address that is not one.
func (s *Server) clientIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	if len(s.trustedProxies) == 0 {
		return host
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(req.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// withTokenLimit is the token endpoint's per-IP limit of refused
// requests. A request costs a sync.Map lookup; only refused ones spend.
func (s *Server) withTokenLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip := s.clientIP(c.Request())
		if d := s.tokenIPs.over(ip, s.clock()); d > 0 {
			c.Response().Header().Set("Retry-After", retryAfter(d))
			return writeError(c, http.StatusTooManyRequests, "too_many_requests", "Too many refused requests from this address; try again later.")
		}
		err := next(c)
		if c.Response().Status >= 400 || err != nil {
			s.tokenIPs.spend(ip, s.clock())
		}
		return err
	}
}

// loginRateLimited answers the login form's POST when its address is over
// its limit; it returns false when the POST may go on.
func (s *Server) loginRateLimited(c echo.Context, page loginPage) (bool, error) {
	d := s.loginIPs.wait(s.clientIP(c.Request()), s.clock())
	if d <= 0 {
		return false, nil
	}
	c.Response().Header().Set("Retry-After", retryAfter(d))
	page.Error = "Too many sign-in attempts from your network. Try again in " + retryAfter(d) + " seconds."
	return true, s.renderLoginForm(c, http.StatusTooManyRequests, page)
}
