package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// The HTTP client Ward talks to identity providers with. Organization
// admins choose the URLs (metadata, issuer), and an admin of one tenant
// must not reach what only Ward's own network can: by default the client
// connects only to public addresses (checked on the address actually
// dialled, so neither DNS nor a redirect can get around it), follows at
// most five redirects and only to http(s), sends no proxy-bound request,
// and reads at most maxProviderBody of any answer.

// maxProviderBody bounds every answer read from a provider: above the
// 1 MiB a metadata document may have, so that limit is what speaks.
const maxProviderBody = 2 << 20

// ErrPrivateAddress is a provider URL whose host is a loopback, private,
// link-local or otherwise non-public address, refused by a client built
// without allowPrivate.
var ErrPrivateAddress = errors.New("the address is not public (identity providers on private networks need WARD_IDP_ALLOW_PRIVATE_NETWORKS=1)")

// NewClient builds the client. allowPrivate lets it reach loopback and
// private addresses too: development, tests, and deployments whose
// identity providers are on the operator's own network.
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !publicAddr(ip) {
				return ErrPrivateAddress
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  10 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: limitedBodies{tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
				return fmt.Errorf("a redirect to %s: is not followed", req.URL.Scheme)
			}
			return nil
		},
	}
}

// publicAddr reports whether ip is an address on the public internet.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic are ranges IsGlobalUnicast accepts that are not the public
// internet: carrier-grade NAT, documentation and benchmarking ranges,
// NAT64 of private space, and IPv6 documentation.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// limitedBodies cuts every answer's body at maxProviderBody.
type limitedBodies struct{ rt http.RoundTripper }

func (l limitedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, maxProviderBody), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
