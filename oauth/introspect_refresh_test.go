package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestIntrospectRefreshToken (CONTRACT §4, issue 13): any active
// confidential client of the realm may introspect a refresh token; it is
// active while unused, unrevoked, unexpired and its session lives (an
// offline one while its client still allows offline access), and
// token_type tells it from an access token ("Refresh" and "Bearer", as
// Keycloak answers).
func TestIntrospectRefreshToken(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			env := f.Env
			_, rsSecret := env.NewClient(f.Realm.ID, "rs", nil)
			introspect := func(token, hint string) *oauthtest.Response {
				t.Helper()
				form := url.Values{"token": {token}}
				if hint != "" {
					form.Set("token_type_hint", hint)
				}
				r := env.Post("/realms/shop"+oauth.PathIntrospect, form, "rs", rsSecret)
				if r.Status != http.StatusOK {
					t.Fatalf("introspect: %d %s", r.Status, r.RawBody)
				}
				return r
			}
			wantActive := func(what, token string, want bool) {
				t.Helper()
				if r := introspect(token, ""); r.Body["active"] != want {
					t.Errorf("%s: %s, want active %v", what, r.RawBody, want)
				} else if !want && len(r.Body) != 1 {
					t.Errorf("%s: inactive answer says more: %s", what, r.RawBody)
				}
			}

			tok := signInRefresh(t, f, f.Conf)
			rc := oauthtest.JWTPayload(t, tok.RefreshToken)
			for _, hint := range []string{"", "refresh_token", "access_token"} {
				r := introspect(tok.RefreshToken, hint)
				want := map[string]any{"active": true, "token_type": "Refresh", "client_id": "web", "sub": f.User.ID,
					"scope": "openid email profile", "iss": f.Realm.Issuer, "jti": rc["jti"], "exp": rc["exp"], "kind": "user"}
				for k, v := range want {
					if r.Body[k] != v {
						t.Errorf("refresh token (hint %q): %s = %v, want %v", hint, k, r.Body[k], v)
					}
				}
				if iat, _ := r.Body["iat"].(float64); iat == 0 {
					t.Errorf("refresh token introspection has no iat: %s", r.RawBody)
				}
			}
			if r := introspect(tok.AccessToken, "refresh_token"); r.Body["active"] != true || r.Body["token_type"] != "Bearer" {
				t.Errorf("access token: %s, want active with token_type Bearer", r.RawBody)
			}

			// Rotated: the old one is used, the new one live.
			tok2, err := refresh(f.Conf, tok.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			wantActive("rotated refresh token", tok.RefreshToken, false)
			wantActive("its successor", tok2.RefreshToken, true)
			// Reuse revokes the family: the successor too.
			_, err = refresh(f.Conf, tok.RefreshToken)
			oauthtest.WantRetrieveError(t, "reused refresh token", err, "invalid_grant")
			wantActive("successor of a reused token", tok2.RefreshToken, false)

			// The session ends (logout): its session-bound token ends too.
			tok3 := signInRefresh(t, f, f.Conf)
			wantActive("new sign-in's refresh token", tok3.RefreshToken, true)
			sid, _ := oauthtest.JWTPayload(t, tok3.RefreshToken)["sid"].(string)
			if err := env.Store.RevokeBrowserSession(env.Ctx, f.Realm.ID, sid); err != nil {
				t.Fatal(err)
			}
			wantActive("refresh token of an ended session", tok3.RefreshToken, false)

			// Offline: outlives the session, not the client's offline access.
			f.Env.NewClient(f.Realm.ID, "offline-app", func(c *realm.Client) {
				c.Kind, c.Public, c.SecretHash, c.RedirectURIs = realm.KindApplication, true, nil, []string{f.Redirect}
				c.AllowOfflineAccess = true
			})
			conf := *f.Conf
			conf.ClientID, conf.Scopes = "offline-app", []string{"openid", "offline_access"}
			off := signInRefresh(t, f, &conf)
			sid, _ = oauthtest.JWTPayload(t, off.RefreshToken)["sid"].(string)
			if err := env.Store.RevokeBrowserSession(env.Ctx, f.Realm.ID, sid); err != nil {
				t.Fatal(err)
			}
			wantActive("offline refresh token after its session ended", off.RefreshToken, true)
			noOffline := false
			if _, err := env.Service.UpdateClient(env.System(), "shop", "offline-app", realm.ClientPatch{OfflineAccess: &noOffline}); err != nil {
				t.Fatal(err)
			}
			wantActive("offline refresh token of a client no longer allowed offline access", off.RefreshToken, false)

			// Another realm's client sees nothing; garbage is inactive.
			other := env.NewRealm(env.NewOrg("other").ID, "other", true)
			_, otherSecret := env.NewClient(other.ID, "rs", nil)
			live := signInRefresh(t, f, f.Conf)
			if r := env.Post("/realms/other"+oauth.PathIntrospect, url.Values{"token": {live.RefreshToken}}, "rs", otherSecret); r.Status != http.StatusOK || r.Body["active"] != false {
				t.Errorf("refresh token introspected at another realm: %d %s", r.Status, r.RawBody)
			}
			wantActive("garbage", "a.b.c", false)

			// The user deactivated: inactive.
			off2 := false
			if _, err := env.Service.UpdateUser(env.System(), "shop", f.User.ID, realm.UserPatch{Active: &off2}); err != nil {
				t.Fatal(err)
			}
			wantActive("refresh token of a deactivated user", live.RefreshToken, false)
		})
	}
}

// TestIntrospectRefreshTokenExpiry: a session-bound refresh token is
// inactive once its session's lifetime is over.
func TestIntrospectRefreshTokenExpiry(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	_, rsSecret := f.Env.NewClient(f.Realm.ID, "rs", nil)
	tok := signInRefresh(t, f, f.Conf)
	if r := f.Env.Introspect("shop", tok.RefreshToken, "rs", rsSecret); r.Body["active"] != true {
		t.Fatalf("live refresh token: %s", r.RawBody)
	}
	f.Env.Advance(10*time.Hour + time.Minute)
	if r := f.Env.Introspect("shop", tok.RefreshToken, "rs", rsSecret); r.Status != http.StatusOK || r.Body["active"] != false {
		t.Errorf("refresh token past its session's lifetime: %d %s, want inactive", r.Status, r.RawBody)
	}
}
