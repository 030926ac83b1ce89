package broker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wardiam/ward/internal/testjws"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// fakeOP is an OpenID Connect provider that answers the token request with
// an ID token made as the test says: the way to show that Ward refuses ID
// tokens no real provider would send.
type fakeOP struct {
	srv   *httptest.Server
	key   *ecdsa.PrivateKey
	other *ecdsa.PrivateKey // a key the provider does not publish
	mu    sync.Mutex
	nonce string
	make  func(claims map[string]any) string // the ID token for the claims a good one would have
	// idToken is the last ID token the provider answered.
	idToken string
}

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	op := &fakeOP{}
	var err error
	if op.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if op.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.srv.URL, "authorization_endpoint": op.srv.URL + "/auth",
			"token_endpoint": op.srv.URL + "/token", "jwks_uri": op.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"ES256"}, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		op.mu.Lock()
		op.nonce = q.Get("nonce")
		op.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=c0de&state="+q.Get("state"), http.StatusSeeOther)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		claims := map[string]any{"iss": op.srv.URL, "sub": "erin", "aud": "ward", "nonce": op.nonce,
			"iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
			"email": "erin@op.example", "email_verified": true, "given_name": "Erin", "family_name": "Op"}
		idToken := op.make(claims)
		op.idToken = idToken
		op.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
	})
	return op
}

func (op *fakeOP) sign(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	return testjws.Sign(t, jose.ES256, key, "k1", "JWT", claims)
}

// TestOIDCBadIDTokens: an ID token with the wrong audience, the wrong
// issuer, expired, with another sign-in's nonce, signed by an unpublished
// key or not signed at all is refused with a page that names nothing of
// it nor the client secret, an audit event naming the check, and no user;
// a good one from the same provider signs in (so the refusals are the
// tokens', not the provider's). Both databases.
func TestOIDCBadIDTokens(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) { testOIDCBadIDTokens(t, open) })
	}
}

func testOIDCBadIDTokens(t *testing.T, open func(testing.TB) realm.Store) {
	op := newFakeOP(t)
	f := &oidcFixture{LoginFixture: oauthtest.NewLoginFixture(t, open)}
	secret := "op-secret"
	var err error
	f.provider, err = f.Env.IdPs.CreateIdentityProvider(f.Env.System(), "shop", realm.IdentityProviderInput{Alias: "op", Kind: "oidc",
		OIDC: &realm.OIDCInput{Issuer: op.srv.URL, ClientID: "ward", ClientSecret: &secret}})
	if err != nil || !f.provider.Enabled {
		t.Fatalf("provider: %+v, %v", f.provider, err)
	}
	signIn := func() *oauthtest.Page {
		t.Helper()
		b := oauthtest.Browser(t)
		au, _ := authURL(t, f.LoginFixture)
		p := oauthtest.Fetch(t, b, http.MethodGet, au, nil)
		if !strings.Contains(p.Body, "Sign in with op") {
			t.Fatalf("login page without the provider's button: %s", p.Body)
		}
		p = oauthtest.Fetch(t, b, http.MethodGet, f.Env.Base+"/realms/shop/broker/op/login?"+strings.SplitN(au, "?", 2)[1], nil)
		p = follow(t, b, "", p.Location) // the OP's /auth answers at once
		return follow(t, b, "", p.Location)
	}
	for i, c := range []struct {
		reason string
		make   func(map[string]any) string
	}{
		{"wrong_audience", func(c map[string]any) string { c["aud"] = "someone-else"; return op.sign(t, op.key, c) }},
		{"wrong_issuer", func(c map[string]any) string { c["iss"] = "https://evil.example"; return op.sign(t, op.key, c) }},
		{"expired", func(c map[string]any) string {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-30*time.Minute).Unix()
			return op.sign(t, op.key, c)
		}},
		{"wrong_nonce", func(c map[string]any) string { c["nonce"] = "another"; return op.sign(t, op.key, c) }},
		{"invalid_signature", func(c map[string]any) string { return op.sign(t, op.other, c) }},
		{"invalid_signature", func(c map[string]any) string {
			payload, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
		}},
	} {
		op.make = c.make
		p := signIn()
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "could not be accepted") || strings.Contains(p.Body, "op-secret") {
			t.Errorf("%s: %d %s, want 400 saying the answer could not be accepted", c.reason, p.Status, p.Body)
		}
		// Nothing of the token (no run of 16 of its characters, as for
		// SAML answers), nor the person it names.
		op.mu.Lock()
		idToken := op.idToken
		op.mu.Unlock()
		body := html.UnescapeString(p.Body)
		if run := sharedRun(body, idToken, 16); run != "" || strings.Contains(body, "erin@op.example") {
			t.Errorf("%s: the refusal page shows the ID token (%q) or its email:\n%s", c.reason, run, p.Body)
		}
		// One event for each refusal, naming the check.
		evs := events(t, f.Env, realm.EventIdentityProviderSignInRefused)
		if len(evs) != i+1 {
			t.Fatalf("%s: %d refusal events after %d refusals", c.reason, len(evs), i+1)
		}
		if got := evs[i].Details["reason"]; got != c.reason {
			t.Errorf("refusal reason %v, want %s", got, c.reason)
		}
	}
	if _, err := f.Env.Store.GetUserByEmail(f.Env.Ctx, f.Realm.ID, "erin@op.example"); err == nil {
		t.Fatal("a refused ID token created a user")
	}
	op.make = func(c map[string]any) string { return op.sign(t, op.key, c) }
	if p := signIn(); p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location.Path, "/protocol/openid-connect/auth") {
		t.Fatalf("a good ID token: %d %v %s", p.Status, p.Location, p.Body)
	}
	if _, err := f.Env.Store.GetUserByEmail(f.Env.Ctx, f.Realm.ID, "erin@op.example"); err != nil {
		t.Fatalf("a good ID token created no user: %v", err)
	}
}
