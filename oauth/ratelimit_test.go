package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
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
	req.RemoteAddr = "192.0.2.1:99"
	if got := proxies.ClientIP(req); got != "192.0.2.1" {
		t.Errorf("untrusted socket: %s, want it and not the header", got)
	}
}
