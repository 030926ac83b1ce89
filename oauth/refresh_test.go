package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestRefreshRotationAndReuse: a refresh rotates the refresh token and keeps
// the ID token's sub, auth_time, azp and sid; using a refresh token twice
// revokes its family: the newer refresh token and the access tokens issued
// from the family stop working.
func TestRefreshRotationAndReuse(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			tok := signInRefresh(t, f, f.Conf)

			// The refresh token is a Keycloak-shaped JWT.
			rc := oauthtest.JWTPayload(t, tok.RefreshToken)
			for k, want := range map[string]any{"typ": "Refresh", "sub": f.User.ID, "azp": "web", "iss": f.Realm.Issuer,
				"aud": f.Realm.Issuer, "scope": "openid email profile"} {
				if rc[k] != want {
					t.Errorf("refresh token %s = %v, want %v", k, rc[k], want)
				}
			}
			for _, k := range []string{"jti", "sid", "exp", "iat"} {
				if rc[k] == nil || rc[k] == "" {
					t.Errorf("refresh token has no %s: %v", k, rc)
				}
			}
			// Signed HS256 with the realm's refresh key, as Keycloak signs
			// its own with the realm's HMAC key; no other realm's key fits.
			assertRefreshSignedFor(t, f, tok.RefreshToken)
			first := idClaims(t, f, tok)

			tok2, err := refresh(f.Conf, tok.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
				t.Fatal("the refresh did not rotate the tokens")
			}
			second := idClaims(t, f, tok2)
			for _, k := range []string{"sub", "auth_time", "azp", "sid"} {
				if second[k] == nil || second[k] != first[k] {
					t.Errorf("refreshed ID token %s = %v, want %v", k, second[k], first[k])
				}
			}
			at := oauthtest.JWTPayload(t, tok2.AccessToken)
			if at["sub"] != f.User.ID || at["kind"] != "user" || at["jti"] == oauthtest.JWTPayload(t, tok.AccessToken)["jti"] {
				t.Errorf("refreshed access token claims %v", at)
			}
			_, introSecret := f.Env.NewClient(f.Realm.ID, "rs", nil)
			if r := f.Env.Introspect("shop", tok2.AccessToken, "rs", introSecret); r.Body["active"] != true {
				t.Errorf("refreshed access token: %d %s, want active", r.Status, r.RawBody)
			}
			tok3, err := refresh(f.Conf, tok2.RefreshToken)
			if err != nil {
				t.Fatalf("second refresh: %v", err)
			}

			// The used token again: refused, and the family is revoked.
			_, err = refresh(f.Conf, tok.RefreshToken)
			oauthtest.WantRetrieveError(t, "reused refresh token", err, "invalid_grant")
			_, err = refresh(f.Conf, tok3.RefreshToken)
			oauthtest.WantRetrieveError(t, "newest refresh token after a reuse", err, "invalid_grant")
			for i, at := range []string{tok.AccessToken, tok2.AccessToken, tok3.AccessToken} {
				if r := f.Env.Introspect("shop", at, "rs", introSecret); r.Status != http.StatusOK || r.Body["active"] != false {
					t.Errorf("access token %d of a revoked family: %d %s, want inactive", i, r.Status, r.RawBody)
				}
			}

			// Another sign-in is another family, untouched.
			other := signInRefresh(t, f, f.Conf)
			if _, err := refresh(f.Conf, other.RefreshToken); err != nil {
				t.Errorf("refresh of another family: %v", err)
			}
			// A forged token with a known jti is not the token.
			parts := strings.Split(other.RefreshToken, ".")
			_, err = refresh(f.Conf, parts[0]+"."+parts[1]+".AAAA")
			oauthtest.WantRetrieveError(t, "refresh token with a wrong signature", err, "invalid_grant")
		})
	}
}

// TestRefreshSessionBoundAndOffline: without offline_access a refresh
// token ends with the browser session; offline_access is granted only to a
// client allowed it, and its token outlives the session.
func TestRefreshSessionBoundAndOffline(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	ss := f.Env.Store
	conf := *f.Conf
	conf.Scopes = []string{"openid", "offline_access"}

	// Not allowed: offline_access is dropped; the token is session-bound.
	tok := signInRefresh(t, f, &conf)
	if s, _ := tok.Extra("scope").(string); strings.Contains(s, "offline_access") {
		t.Errorf("scope %q granted offline_access to a client not allowed it", s)
	}
	if _, err := refresh(&conf, tok.RefreshToken); err != nil {
		t.Fatalf("refresh in a live session: %v", err)
	}
	tok2, _ := refresh(&conf, tok.RefreshToken) // reuse: revokes, ignore
	_ = tok2
	tok = signInRefresh(t, f, &conf)
	if err := ss.RevokeUserSessions(f.Env.Ctx, f.Realm.ID, f.User.ID); err != nil {
		t.Fatal(err)
	}
	_, err := refresh(&conf, tok.RefreshToken)
	oauthtest.WantRetrieveError(t, "session-bound refresh after the session ended", err, "invalid_grant")

	// Allowed: granted, and the token outlives the session.
	f.Client.AllowOfflineAccess = true
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	tok = signInRefresh(t, f, &conf)
	if s, _ := tok.Extra("scope").(string); !strings.Contains(s, "offline_access") {
		t.Errorf("scope %q lacks offline_access for a client allowed it", s)
	}
	if exp, _ := oauthtest.JWTPayload(t, tok.RefreshToken)["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) < 29*24*time.Hour {
		t.Errorf("offline refresh token expires at %v, want in 30 days", exp)
	}
	if err := ss.RevokeUserSessions(f.Env.Ctx, f.Realm.ID, f.User.ID); err != nil {
		t.Fatal(err)
	}
	tok3, err := refresh(&conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("offline refresh after the session ended: %v", err)
	}
	// An offline code redeemed after sign-out gets nothing.
	verifier := oauth2.GenerateVerifier()
	code := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier))).Query().Get("code")
	if err := ss.RevokeUserSessions(f.Env.Ctx, f.Realm.ID, f.User.ID); err != nil {
		t.Fatal(err)
	}
	_, err = conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	oauthtest.WantRetrieveError(t, "offline code after the session ended", err, "invalid_grant")

	// Offline access withdrawn from the client: its tokens stop.
	f.Client.AllowOfflineAccess = false
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	_, err = refresh(&conf, tok3.RefreshToken)
	oauthtest.WantRetrieveError(t, "offline refresh of a client no longer allowed it", err, "invalid_grant")
}

// TestRefreshDeactivatedUser: a user deactivated mid-session refreshes no
// more, and introspection calls their access tokens inactive.
func TestRefreshDeactivatedUser(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	tok := signInRefresh(t, f, f.Conf)
	_, introSecret := f.Env.NewClient(f.Realm.ID, "rs", nil)
	if r := f.Env.Introspect("shop", tok.AccessToken, "rs", introSecret); r.Body["active"] != true {
		t.Fatalf("access token before deactivation: %s", r.RawBody)
	}
	f.User.Active = false
	if err := f.Env.Store.UpdateUser(f.Env.Ctx, f.User); err != nil {
		t.Fatal(err)
	}
	_, err := refresh(f.Conf, tok.RefreshToken)
	oauthtest.WantRetrieveError(t, "refresh of a deactivated user", err, "invalid_grant")
	if r := f.Env.Introspect("shop", tok.AccessToken, "rs", introSecret); r.Status != http.StatusOK || r.Body["active"] != false {
		t.Errorf("access token of a deactivated user: %d %s, want inactive", r.Status, r.RawBody)
	}
}

// TestRefreshConcurrentUse: of concurrent refreshes with one token, one
// wins; the others are reuse and revoke the family.
func TestRefreshConcurrentUse(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			tok := signInRefresh(t, f, f.Conf)
			const n = 10
			errs := make(chan error, n)
			toks := make(chan *oauth2.Token, n)
			start := make(chan struct{})
			for range n {
				go func() {
					<-start
					t2, err := refresh(f.Conf, tok.RefreshToken)
					errs <- err
					toks <- t2
				}()
			}
			close(start)
			var ok int
			var winner *oauth2.Token
			for range n {
				err := <-errs
				t2 := <-toks
				var re *oauth2.RetrieveError
				switch {
				case err == nil:
					ok++
					winner = t2
				case errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_request"):
				default:
					t.Errorf("concurrent refresh: %v", err)
				}
			}
			if ok > 1 {
				t.Errorf("%d concurrent refreshes with one token succeeded, want at most 1", ok)
			}
			if winner != nil {
				_, err := refresh(f.Conf, winner.RefreshToken)
				oauthtest.WantRetrieveError(t, "winner's refresh token after concurrent reuse", err, "invalid_grant")
			}
		})
	}
}

// storeBackends are the stores the refresh tests run on: SQLite and
// Postgres (sqltest fails without WARD_TEST_POSTGRES unless told to skip).
func storeBackends(*testing.T) map[string]func(testing.TB) realm.Store {
	return map[string]func(testing.TB) realm.Store{
		"SQLite":   oauthtest.OpenSQLite,
		"Postgres": oauthtest.OpenPostgres,
	}
}

// TestSignInOverSessionEndsIt: signing in again over a live session
// (prompt=login) ends the old session, so its session-bound refresh tokens
// stop; the new session's work.
func TestSignInOverSessionEndsIt(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	b := oauthtest.Browser(t)
	exchange := func(extra ...oauth2.AuthCodeOption) *oauth2.Token {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, extra...)
		loc := f.Authorize(t, b, f.Conf.AuthCodeURL(oauthtest.RandomString(t), opts...))
		tok, err := f.Conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v", err)
		}
		return tok
	}
	first := exchange()
	second := exchange(oauth2.SetAuthURLParam("prompt", "login"))
	if oauthtest.JWTPayload(t, first.RefreshToken)["sid"] == oauthtest.JWTPayload(t, second.RefreshToken)["sid"] {
		t.Fatal("prompt=login kept the old session")
	}
	_, err := refresh(f.Conf, first.RefreshToken)
	oauthtest.WantRetrieveError(t, "refresh token of the replaced session", err, "invalid_grant")
	if _, err := refresh(f.Conf, second.RefreshToken); err != nil {
		t.Fatalf("refresh in the new session: %v", err)
	}
}

// TestRefreshByAnotherClient: a refresh token is its own client's; another
// client of the realm presenting it is refused with invalid_grant, and the
// token is not consumed (its own client still refreshes with it). The
// refresh grant takes the stored request's client from the request's own
// authentication when the IDs match; this is the case where they do not.
func TestRefreshByAnotherClient(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			tok := signInRefresh(t, f, f.Conf)
			f.Env.NewClient(f.Realm.ID, "other", func(c *realm.Client) {
				c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
				c.RedirectURIs = []string{f.Redirect}
			})
			other := *f.Conf
			other.ClientID = "other"
			_, err := refresh(&other, tok.RefreshToken)
			oauthtest.WantRetrieveError(t, "refresh token presented by another client", err, "invalid_grant")
			if _, err := refresh(f.Conf, tok.RefreshToken); err != nil {
				t.Errorf("refresh by its own client after another's attempt: %v", err)
			}
		})
	}
}

// TestCodeByAnotherClient: a code is its own client's; another client of
// the realm presenting it (with the right PKCE verifier) is refused with
// invalid_grant and the code stays its client's. Its own client's
// redemption reads the client once, though the code's three stored
// sessions (code, PKCE, OIDC) each name it: the grant takes their client
// from the request's own authentication when the IDs match.
func TestCodeByAnotherClient(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f, rc := countedLoginFixture(t, open)
			f.Env.NewClient(f.Realm.ID, "other", func(c *realm.Client) {
				c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
				c.RedirectURIs = []string{f.Redirect}
			})
			own := *f.Conf
			own.Scopes = []string{"openid", "email"}
			verifier := oauth2.GenerateVerifier()
			loc := f.Authorize(t, oauthtest.Browser(t), own.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier)))
			code := loc.Query().Get("code")
			other := own
			other.ClientID = "other"
			_, err := other.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			oauthtest.WantRetrieveError(t, "code presented by another client", err, "invalid_grant")
			rc.reset()
			tok, err := own.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("code redeemed by its own client after another's attempt: %v", err)
			}
			if got := rc.reset()["GetClientClaims"]; got != 1 {
				t.Errorf("the code's redemption read the client %d times, want 1", got)
			}
			if got := oauthtest.JWTPayload(t, tok.AccessToken)["client_id"]; got != own.ClientID {
				t.Errorf("access token's client_id = %v, want %s", got, own.ClientID)
			}
			if tok.Extra("id_token") == nil {
				t.Error("no ID token for scope openid")
			}
		})
	}
}

// assertRefreshSignedFor checks that token is an HS256 JWT under f's
// realm's refresh key, and under no other realm's.
func assertRefreshSignedFor(t *testing.T, f *oauthtest.LoginFixture, token string) {
	t.Helper()
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatalf("refresh token is not an HS256 JWT: %v", err)
	}
	if h := parsed.Headers[0]; h.KeyID != "" || h.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("refresh token header kid %q typ %v, want no kid and typ JWT", h.KeyID, h.ExtraHeaders[jose.HeaderType])
	}
	var cl map[string]any
	if err := parsed.Claims(f.Env.Keys.RefreshKey(f.Realm.ID), &cl); err != nil {
		t.Errorf("refresh token does not verify under its realm's refresh key: %v", err)
	}
	if err := parsed.Claims(f.Env.Keys.RefreshKey(f.Realm.ID+"x"), &cl); err == nil {
		t.Error("refresh token verifies under another realm's key")
	}
}

// TestRefreshReadsOnce: a refresh grant reads its client and its token in
// one round trip (realm.RefreshGrantReader), for a public client naming
// itself in the form and a confidential one in HTTP Basic, and that read
// decides exactly as separate reads would: a wrong secret is invalid_client
// and leaves the token usable, another client presenting the token is
// invalid_grant, a disabled client is invalid_client.
func TestRefreshReadsOnce(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f, rc := countedLoginFixture(t, open)
			_, secret := f.Env.NewClient(f.Realm.ID, "backend", func(c *realm.Client) {
				c.Kind = realm.KindApplication
				c.RedirectURIs = []string{f.Redirect}
			})
			f.Env.NewClient(f.Realm.ID, "other", func(c *realm.Client) {
				c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
				c.RedirectURIs = []string{f.Redirect}
			})
			backend := *f.Conf
			backend.ClientID, backend.ClientSecret = "backend", secret
			backend.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
			other := *f.Conf
			other.ClientID = "other"
			wantOneRead := func(what string) {
				t.Helper()
				calls := rc.reset()
				if calls["ReadRefreshGrant"] != 1 || calls["GetClientClaims"] != 0 || calls["GetRefreshGrant"] != 0 {
					t.Errorf("%s read %v, want ReadRefreshGrant once and nothing else of the client or token", what, calls)
				}
			}

			for _, conf := range []*oauth2.Config{f.Conf, &backend} {
				tok := signInRefresh(t, f, conf)
				rc.reset()
				tok2, err := refresh(conf, tok.RefreshToken)
				if err != nil {
					t.Fatalf("%s: refresh: %v", conf.ClientID, err)
				}
				wantOneRead(conf.ClientID + "'s refresh")
				if got := oauthtest.JWTPayload(t, tok2.AccessToken)["client_id"]; got != conf.ClientID {
					t.Errorf("%s: refreshed access token client_id = %v", conf.ClientID, got)
				}
				tok = tok2
				if conf == &backend {
					wrong := backend
					wrong.ClientSecret = "not-the-secret"
					_, err := refresh(&wrong, tok.RefreshToken)
					oauthtest.WantRetrieveError(t, "refresh with a wrong secret", err, "invalid_client")
				} else {
					_, err := refresh(&other, tok.RefreshToken)
					oauthtest.WantRetrieveError(t, "refresh token presented by another client", err, "invalid_grant")
				}
				if _, err := refresh(conf, tok.RefreshToken); err != nil {
					t.Errorf("%s: refresh after a refused attempt: %v", conf.ClientID, err)
				}
			}

			tok := signInRefresh(t, f, f.Conf)
			off := false
			if _, err := f.Env.Service.UpdateClient(f.Env.System(), f.Realm.Name, f.Conf.ClientID, realm.ClientPatch{Active: &off}); err != nil {
				t.Fatal(err)
			}
			_, err := refresh(f.Conf, tok.RefreshToken)
			oauthtest.WantRetrieveError(t, "refresh by a disabled client", err, "invalid_client")
		})
	}
}
