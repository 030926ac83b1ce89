package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	var proxies TrustedProxies
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.RemoteAddr = "10.0.0.5:1234"
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	if got := proxies.ClientIP(req); got != "10.0.0.5" {
		t.Errorf("no trusted proxies: %s, want the socket address", got)
	}
	proxies = TrustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	if got := proxies.ClientIP(req); got != "198.51.100.7" {
		t.Errorf("trusted proxy: %s, want the right-most untrusted hop", got)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.1.1.1")
	if got := proxies.ClientIP(req); got != "203.0.113.9" {
		t.Errorf("two trusted hops: %s", got)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.9, ::ffff:198.51.100.7")
	if got := proxies.ClientIP(req); got != "198.51.100.7" {
		t.Errorf("an IPv4-mapped hop: %s, want it as IPv4", got)
	}
	for _, hop := range []string{"198.51.100.7:4711", "unknown", "[2001:db8::1]", "203.0.113.9, "} {
		req.Header.Set("X-Forwarded-For", hop)
		if got := proxies.ClientIP(req); got != "" {
			t.Errorf("a hop that is not an address (%q): %q, want unknown, not the proxy", hop, got)
		}
	}
	req.Header.Del("X-Forwarded-For")
	if got := proxies.ClientIP(req); got != "10.0.0.5" {
		t.Errorf("the proxy's own request: %s", got)
	}
	req.RemoteAddr = "192.0.2.1:99"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := proxies.ClientIP(req); got != "192.0.2.1" {
		t.Errorf("untrusted socket: %s, want it and not the header", got)
	}
	// Unknown clients share one bucket of the per-address limit.
	l := NewIPLimiter(RateLimit{Rate: 0.001, Burst: 1})
	now := time.Now()
	if d := l.Wait("", now); d != 0 {
		t.Fatalf("first unknown: wait %v", d)
	}
	if d := l.Wait("", now); d <= 0 {
		t.Fatal("the unknown address escaped the limit")
	}
}
