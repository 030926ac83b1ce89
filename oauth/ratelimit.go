package oauth

import (
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
)

// Per-address limits: a token bucket per client address, in memory on each
// node. The token endpoint spends one per refused request (any answer of
// 400 or more): a backend with good credentials may ask for as many tokens
// as the server can sign (the benchmark does ~5,000/s from one address),
// while an address that keeps sending bad credentials or grants is
// stopped. Over the limit is 429 with Retry-After. oauth/login limits its
// sign-in form the same way.

// RateLimit is a per-address token bucket: Rate requests a second, bursts
// of Burst.
type RateLimit struct {
	Rate  float64
	Burst int
}

// defaultTokenRate bounds refused token requests: far above what a
// misconfigured but honest client sends, and it still stops guessing.
var defaultTokenRate = RateLimit{Rate: 20, Burst: 200}

// defaultKeyExchangeRate bounds a client's exchanges of unknown API keys.
var defaultKeyExchangeRate = RateLimit{Rate: 100, Burst: 1000}

// IPLimiter is a token bucket per client address.
type IPLimiter struct {
	limit   rate.Limit
	burst   int
	buckets sync.Map // address → *rate.Limiter
	added   atomic.Uint64
}

// NewIPLimiter makes an IPLimiter with limit l for every address.
func NewIPLimiter(l RateLimit) *IPLimiter {
	return &IPLimiter{limit: rate.Limit(l.Rate), burst: l.Burst}
}

// Wait spends a token of ip's bucket and returns zero when ip may go on
// now; else it spends nothing and returns how long until ip may.
//
// An unknown address ("") is one bucket of its own: clients a trusted
// proxy could not name share it, rather than escaping the limit.
func (l *IPLimiter) Wait(ip string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	r := l.bucket(ip, now).ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// Over is how long ip must wait before it may spend again (zero: it may),
// without spending.
func (l *IPLimiter) Over(ip string, now time.Time) time.Duration {
	v, ok := l.buckets.Load(ip)
	if !ok {
		return 0
	}
	t := v.(*rate.Limiter).TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) / float64(l.limit) * float64(time.Second))
}

// Spend takes a token from ip's bucket, if there is one left.
func (l *IPLimiter) Spend(ip string, now time.Time) {
	l.bucket(ip, now).AllowN(now, 1)
}

// bucket returns ip's bucket, made full on first use.
func (l *IPLimiter) bucket(ip string, now time.Time) *rate.Limiter {
	v, ok := l.buckets.Load(ip)
	if !ok {
		var loaded bool
		v, loaded = l.buckets.LoadOrStore(ip, rate.NewLimiter(l.limit, l.burst))
		if !loaded && l.added.Add(1)%1024 == 0 {
			l.sweep(now)
		}
	}
	return v.(*rate.Limiter)
}

// sweep forgets addresses whose bucket is full again: they are back where
// a new address starts.
func (l *IPLimiter) sweep(now time.Time) {
	l.buckets.Range(func(k, v any) bool {
		if v.(*rate.Limiter).TokensAt(now) >= float64(l.burst) {
			l.buckets.CompareAndDelete(k, v)
		}
		return true
	})
}

// TrustedProxies are the proxies whose X-Forwarded-For is believed.
type TrustedProxies []netip.Prefix

// ClientIP is the socket's address, or, when the socket belongs to a
// trusted proxy, the right-most X-Forwarded-For address that is not one.
// An untrusted peer's X-Forwarded-For is ignored. A hop that is not an
// address makes the client unknown (""): not the proxy's own address,
// which an allow list may well cover; a trusted proxy's request without
// X-Forwarded-For is the proxy's own.
func (t TrustedProxies) ClientIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	if len(t) == 0 {
		return host
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !t.trusted(addr) {
		return host
	}
	forwarded := req.Header.Values("X-Forwarded-For")
	if len(forwarded) == 0 {
		return host
	}
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ""
		}
		if !t.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

func (t TrustedProxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// RetryAfter is d as a Retry-After value: whole seconds, rounded up.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// withTokenLimit is the token endpoint's per-address limit of refused
// requests. A request costs a sync.Map lookup; only refused ones spend.
func (s *Server) withTokenLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip := s.proxies.ClientIP(c.Request())
		if d := s.tokenIPs.Over(ip, s.clock()); d > 0 {
			c.Response().Header().Set("Retry-After", RetryAfter(d))
			return writeError(c, http.StatusTooManyRequests, "too_many_requests", "Too many refused requests from this address; try again later.")
		}
		err := next(c)
		if (c.Response().Status >= 400 || err != nil) && c.Get(skipTokenLimit) != true {
			s.tokenIPs.Spend(ip, s.clock())
		}
		return err
	}
}

// skipTokenLimit marks a refused request that the per-address limit does
// not count: an authenticated client's refused API-key exchange, limited per
// client instead (flow_token_exchange.go).
const skipTokenLimit = "ward.skipTokenLimit"
