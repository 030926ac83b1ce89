package broker_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

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
