package broker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// samlIdP is a real SAML identity provider (crewjam/saml's samlidp) on
// 127.0.0.1, with its users and service providers managed through its
// own HTTP interface.
type samlIdP struct {
	t   *testing.T
	srv *httptest.Server
}

func newSAMLIdP(t *testing.T) *samlIdP {
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
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	idp, err := samlidp.New(samlidp.Options{URL: *base, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = idp
	srv.Start()
	t.Cleanup(srv.Close)
	return &samlIdP{t: t, srv: srv}
}

func (s *samlIdP) metadataURL() string { return s.srv.URL + "/metadata" }

// put calls the IdP's administrative interface.
func (s *samlIdP) put(path string, body []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.srv.URL+path, bytes.NewReader(body))
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

// user (re)defines a person at the IdP.
func (s *samlIdP) user(name, email, given, surname string, groups ...string) {
	s.t.Helper()
	pw := "idp-password"
	b, _ := json.Marshal(samlidp.User{Name: name, PlaintextPassword: &pw, Email: email, GivenName: given, Surname: surname, Groups: groups})
	s.put("/users/"+name, b)
}

// trust registers Ward's SP metadata (its descriptor) at the IdP.
func (s *samlIdP) trust(descriptorURL string) {
	s.t.Helper()
	resp, err := http.Get(descriptorURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		s.t.Fatalf("SP descriptor: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s.put("/services/ward", b)
}

var (
	formAction  = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([A-Za-z_]+)" value="([^"]*)"`)
)

// form reads a page's form: its action and hidden fields.
func form(t *testing.T, p *oauthtest.Page) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no form in page (%d): %s", p.Status, p.Body)
	}
	vals := url.Values{}
	for _, h := range hiddenInput.FindAllStringSubmatch(p.Body, -1) {
		vals.Set(h[1], html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), vals
}

// follow fetches loc (relative to base when it has no host) in b.
func follow(t *testing.T, b *http.Client, base string, loc *url.URL) *oauthtest.Page {
	t.Helper()
	u := loc.String()
	if loc.Host == "" {
		u = base + u
	}
	return oauthtest.Fetch(t, b, http.MethodGet, u, nil)
}

// authURL is an authorization request of f's client with PKCE; the
// verifier comes back for the exchange.
func authURL(t *testing.T, f *oauthtest.LoginFixture, opts ...oauth2.AuthCodeOption) (string, string) {
	verifier := oauth2.GenerateVerifier()
	return f.Conf.AuthCodeURL("st-"+oauthtest.RandomString(t), append(opts, oauth2.S256ChallengeOption(verifier))...), verifier
}

// redeem exchanges the code at loc (the application's redirect URI).
func redeem(t *testing.T, f *oauthtest.LoginFixture, loc *url.URL, verifier string) *oauth2.Token {
	t.Helper()
	if loc == nil || !strings.HasPrefix(loc.String(), f.Redirect) || loc.Query().Get("code") == "" {
		t.Fatalf("want a redirect to the application with a code, got %v", loc)
	}
	tok, err := f.Conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// events lists the realm's audit events of a type, oldest first.
func events(t *testing.T, env *oauthtest.Env, typ realm.EventType) []realm.Event {
	t.Helper()
	p, err := env.Service.ListEvents(env.System(), "shop", realm.EventFilter{Type: typ, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	out := p.Items
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
