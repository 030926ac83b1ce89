package oauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestReactivationKeepsTokensDead (issue 13, CONTRACT §3): deactivating a
// client or a user ends the tokens issued so far, and reactivating it does
// not bring them back; tokens issued after the reactivation work. Every
// change goes through the Service, as the admin API makes it.
func TestReactivationKeepsTokensDead(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			env, ctx := f.Env, f.Env.System()
			_, rsSecret := env.NewClient(f.Realm.ID, "rs", nil)
			active := func(what, token string) bool {
				t.Helper()
				r := env.Introspect("shop", token, "rs", rsSecret)
				if r.Status != http.StatusOK {
					t.Fatalf("introspect %s: %d %s", what, r.Status, r.RawBody)
				}
				return r.Body["active"] == true
			}
			setClient := func(clientID string, on bool) {
				t.Helper()
				if _, err := env.Service.UpdateClient(ctx, "shop", clientID, realm.ClientPatch{Active: &on}); err != nil {
					t.Fatal(err)
				}
			}

			// Tokens of a service account, an application (access and
			// refresh) and a user, all issued before any deactivation.
			_, secret, err := env.Service.CreateClient(ctx, "shop", realm.ClientInput{Name: "svc", ClientID: "svc", Kind: "service_account"})
			if err != nil {
				t.Fatal(err)
			}
			_, appSecret, err := env.Service.CreateClient(ctx, "shop", realm.ClientInput{Name: "backend", ClientID: "backend",
				Kind: "application", RedirectURIs: []string{f.Redirect}})
			if err != nil {
				t.Fatal(err)
			}
			conf := *f.Conf
			conf.ClientID, conf.ClientSecret = "backend", appSecret
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
			svcTok := env.MustToken("shop", "svc", secret, nil)
			appTok := signInRefresh(t, f, &conf)
			verifier := oauth2.GenerateVerifier()
			pendingCode := f.Authorize(t, oauthtest.Browser(t), conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(verifier))).Query().Get("code")
			userTok := f.SignIn(t, oauthtest.Browser(t), "openid")
			for what, tok := range map[string]string{"service account": svcTok, "application": appTok.AccessToken,
				"application refresh": appTok.RefreshToken, "user": userTok.AccessToken} {
				if !active(what, tok) {
					t.Fatalf("live %s token inactive", what)
				}
			}

			setClient("svc", false)
			if active("token of a disabled client", svcTok) {
				t.Error("token of a disabled client is active")
			}
			setClient("svc", true)
			setClient("backend", false)
			setClient("backend", true)
			// A code issued before is no way around it.
			_, err = conf.Exchange(context.Background(), pendingCode, oauth2.VerifierOption(verifier))
			oauthtest.WantRetrieveError(t, "code issued before the client was disabled", err, "invalid_grant")
			// Checked before the user's deactivation below, which ends
			// the user's refresh tokens on its own.
			if active("application refresh", appTok.RefreshToken) {
				t.Error("reactivation brought the application's old refresh token back")
			}
			_, err = refresh(&conf, appTok.RefreshToken)
			oauthtest.WantRetrieveError(t, "refresh token issued before the client was disabled", err, "invalid_grant")
			setUser := func(on bool) {
				t.Helper()
				if _, err := env.Service.UpdateUser(ctx, "shop", f.User.ID, realm.UserPatch{Active: &on}); err != nil {
					t.Fatal(err)
				}
			}
			setUser(false)
			setUser(true)

			for what, tok := range map[string]string{"service account": svcTok, "application": appTok.AccessToken,
				"user": userTok.AccessToken} {
				if active(what, tok) {
					t.Errorf("reactivation brought the old %s token back", what)
				}
			}
			if r := userinfoCall(t, f, http.MethodGet, userTok.AccessToken); r.Status != http.StatusUnauthorized {
				t.Errorf("userinfo with the user's old token after reactivation: %d %s, want 401", r.Status, r.RawBody)
			}

			// New tokens work. Their iat is whole seconds of the wall clock
			// (fosite's), and a token of the deactivation's own second
			// counts as older (fail closed), so wait for the next second.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			if !active("service account token issued after reactivation", env.MustToken("shop", "svc", secret, nil)) {
				t.Error("service account token issued after the reactivation is inactive")
			}
			fresh := signInRefresh(t, f, &conf)
			if !active("application token issued after reactivation", fresh.AccessToken) || !active("its refresh token", fresh.RefreshToken) {
				t.Error("a new sign-in's tokens are inactive after the reactivation")
			}
			if r := userinfoCall(t, f, http.MethodGet, f.SignIn(t, oauthtest.Browser(t), "openid").AccessToken); r.Status != http.StatusOK {
				t.Errorf("userinfo after signing in again: %d %s", r.Status, r.RawBody)
			}
		})
	}
}
