package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/storage/sqltest"
)

// tcpProxy forwards TCP connections to a real server and can cut them, to
// show what Ward does when its database goes away and comes back.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every forwarded connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy cannot listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseOutage: while PostgreSQL is unreachable, the admin API and the
// token endpoint answer 503 and /readyz fails; when it returns, Ward
// recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	dsn, err := url.Parse(sqltest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, dsn.Host)
	dsn.Host = proxy.addr
	w := newWardEnv(t, dsn.String())
	out, errOut, code := w.command(t, "bootstrap", "--org", "acme", "--owner-email", "owner@acme.test", "--json")
	if code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	boot := parseBootstrap(t, out)
	s := w.serve(t)
	ctx := context.Background()
	tok, err := clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	a := &admin{t: t, base: s.URL, token: tok.AccessToken}
	a.must(200, "GET", "/admin/v1/realms", nil)

	proxy.cut()
	if status, _, raw := a.do("GET", "/admin/v1/realms", nil); status != 503 {
		t.Errorf("admin API during the outage = %d, want 503: %s", status, raw)
	}
	if resp := s.get(t, "/readyz"); resp.StatusCode != 503 {
		t.Errorf("/readyz during the outage = %d, want 503", resp.StatusCode)
	}
	_, err = clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.Response.StatusCode != 503 {
		t.Errorf("token endpoint during the outage: %v, want 503", err)
	}

	proxy.restore()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp := s.get(t, "/readyz")
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 15 s after the database came back", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.must(200, "GET", "/admin/v1/realms", nil)
	if _, err := clientToken(ctx, s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader); err != nil {
		t.Errorf("token endpoint after recovery: %v", err)
	}
}
