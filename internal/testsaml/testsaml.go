// Package testsaml runs a real SAML identity provider — crewjam/saml's
// samlidp — on 127.0.0.1 for tests of Ward's SAML sign-in, with its users
// and trusted service providers set through the IdP's own HTTP interface.
// Tests only.
package testsaml

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
)

// Password is every test user's password at the IdP.
const Password = "idp-password"

// IdP is a running samlidp. URL is its base: metadata at URL/metadata,
// single sign-on at URL/sso.
type IdP struct {
	URL string
	t   testing.TB

	mu    sync.Mutex
	alter func(*saml.IdpAuthnRequest)
}

// Start runs an IdP on 127.0.0.1 named host in its URLs ("" names it by
// its address; "localhost" puts it on another site than a server at
// 127.0.0.1, so that its answers arrive as cross-site POSTs in a browser).
func Start(t testing.TB, host string) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	if host != "" {
		_, port, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort(host, port)
	}
	base, _ := url.Parse("http://" + addr)
	idp, err := samlidp.New(samlidp.Options{URL: *base, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	s := &IdP{URL: base.String(), t: t}
	// Set before the server starts: the IdP's handlers read it unlocked.
	idp.IDP.ResponseWriter = alteringWriter{s}
	srv.Config.Handler = idp
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// Alter has the IdP pass each assertion it makes through change before
// the IdP signs, encrypts and sends it (nil: as made). An answer the IdP
// itself signed is how to show what Ward refuses in the contents of a
// signed assertion (another audience, another issuer), which a change on
// the way would only show as a broken signature. Setting req.AssertionEl
// sends that element as the assertion, as it is, inside the Response the
// IdP signs.
func (s *IdP) Alter(change func(req *saml.IdpAuthnRequest)) {
	s.mu.Lock()
	s.alter = change
	s.mu.Unlock()
}

// alteringWriter is the IdP's ResponseWriter: Alter's change, then
// crewjam's own writing of the answer.
type alteringWriter struct{ s *IdP }

func (w alteringWriter) WriteResponse(rw http.ResponseWriter, req *saml.IdpAuthnRequest) error {
	w.s.mu.Lock()
	change := w.s.alter
	w.s.mu.Unlock()
	// An error answer has no assertion to change (and is already made).
	if change != nil && req.Assertion != nil && req.ResponseEl == nil {
		change(req)
	}
	return saml.DefaultResponseWriter{}.WriteResponse(rw, req)
}

// MetadataURL is where the IdP serves its metadata.
func (s *IdP) MetadataURL() string { return s.URL + "/metadata" }

// Metadata reads the IdP's metadata, to paste it.
func (s *IdP) Metadata() string {
	s.t.Helper()
	return string(s.get(s.MetadataURL(), "EntityDescriptor"))
}

// Trust registers a service provider's metadata (Ward's descriptor) at
// the IdP.
func (s *IdP) Trust(descriptorURL string) {
	s.t.Helper()
	s.put("/services/sp", s.get(descriptorURL, "SPSSODescriptor"))
}

// User (re)defines a person at the IdP (password Password).
func (s *IdP) User(name, email, given, surname string, groups ...string) {
	s.t.Helper()
	pw := Password
	b, _ := json.Marshal(samlidp.User{Name: name, PlaintextPassword: &pw, Email: email, GivenName: given, Surname: surname, Groups: groups})
	s.put("/users/"+name, b)
}

func (s *IdP) get(u, want string) []byte {
	s.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
		s.t.Fatalf("GET %s: %d %v %.300s", u, resp.StatusCode, err, b)
	}
	return b
}

func (s *IdP) put(path string, body []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, strings.Replace(s.URL, "localhost", "127.0.0.1", 1)+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("PUT %s at the IdP: %d %s", path, resp.StatusCode, b)
	}
}
