package oauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// Helpers of the oauth tests that oauthtest does not offer: the server
// itself, the login fixture and the plain HTTP helpers are oauthtest's.

// signInRefresh runs a sign-in of f with conf in a new browser and redeems
// the code.
func signInRefresh(t testing.TB, f *oauthtest.LoginFixture, conf *oauth2.Config) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier), oidc.Nonce(oauthtest.RandomString(t))))
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok
}

// refresh uses refresh token rt once through x/oauth2's TokenSource.
func refresh(conf *oauth2.Config, rt string) (*oauth2.Token, error) {
	return conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
}

// idClaims verifies tok's ID token with go-oidc against f's realm and
// returns its claims.
func idClaims(t *testing.T, f *oauthtest.LoginFixture, tok *oauth2.Token) map[string]any {
	t.Helper()
	idt := f.VerifyIDToken(t, tok)
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jtiOf is an access token's jti, read without verifying it.
func jtiOf(t *testing.T, token string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		JTI string `json:"jti"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&cl); err != nil {
		t.Fatal(err)
	}
	return cl.JTI
}

// mustClient reads f's realm's client clientID from the store.
func mustClient(t *testing.T, f *oauthtest.LoginFixture, clientID string) *realm.Client {
	t.Helper()
	c, err := f.Env.Store.GetClient(f.Env.Ctx, f.Realm.ID, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// policiesCall GETs the realm's policies with token as a Bearer header and
// the If-None-Match header when etag is set.
func policiesCall(env *oauthtest.Env, realmName, token, etag string) *oauthtest.Response {
	env.T.Helper()
	req, err := http.NewRequest(http.MethodGet, env.Base+"/realms/"+realmName+oauth.PathPolicies, nil)
	if err != nil {
		env.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	return env.Do(req)
}

// newPolicy stores a policy on assets' read, made straight through the
// store.
func newPolicy(env *oauthtest.Env, realmID, name, condition string) *realm.Policy {
	env.T.Helper()
	now := env.Now().UTC()
	p := &realm.Policy{ID: env.ID(), RealmID: realmID, Name: name, ResourceType: "asset", Actions: []string{"read"},
		Condition: condition, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.CreatePolicy(env.Ctx, p); err != nil {
		env.T.Fatal(err)
	}
	return p
}

// userinfoCall calls f's realm's userinfo endpoint with method and the
// token as a Bearer header.
func userinfoCall(t *testing.T, f *oauthtest.LoginFixture, method, token string) *oauthtest.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.Realm.Issuer+oauth.PathUserinfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.Env.Do(req)
}
