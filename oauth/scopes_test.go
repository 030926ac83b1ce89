package oauth_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// TestDefaultScopes (CONTRACT §4, issue 13): an application's default
// scopes are granted on every sign-in whether asked for or not, as
// Keycloak's default client scopes are (keycloak-js asks for openid alone
// and expects loadUserInfo() to return email and names); optional scopes
// only when asked; anything else asked for is dropped. The token response's
// scope lists what was granted, and the ID token (checked with go-oidc) and
// userinfo carry the claims of exactly those scopes. Clients are made
// through the Service, as the admin API makes them.
func TestDefaultScopes(t *testing.T) {
	for name, open := range storeBackends(t) {
		t.Run(name, func(t *testing.T) {
			f := oauthtest.NewLoginFixture(t, open)
			ctx := f.Env.System()
			newApp := func(clientID string, defaults *[]string, optional []string) {
				t.Helper()
				v, _, err := f.Env.Service.CreateClient(ctx, "shop", realm.ClientInput{ClientID: clientID, Name: clientID,
					Kind: "application", Public: true, RedirectURIs: []string{f.Redirect}, DefaultScopes: defaults, OptionalScopes: optional})
				if err != nil {
					t.Fatal(err)
				}
				if defaults == nil && !slices.Equal(v.DefaultScopes, []string{"profile", "email"}) {
					t.Errorf("default_scopes of a new application = %v, want [profile email]", v.DefaultScopes)
				}
			}
			newApp("kc-app", nil, nil)
			newApp("lean", &[]string{}, []string{"email"})
			newApp("mail", &[]string{"email"}, []string{"profile"})

			emailClaims := map[string]any{"email": "ada@example.com", "email_verified": true}
			profileClaims := map[string]any{"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"}
			for _, tc := range []struct {
				client, ask, granted string
				email, profile       bool
			}{
				{"kc-app", "openid", "openid profile email", true, true},
				{"kc-app", "openid email", "openid email profile", true, true},
				{"lean", "openid", "openid", false, false},
				{"lean", "openid email profile", "openid email", true, false},
				{"mail", "openid", "openid email", true, false},
				{"mail", "openid profile", "openid profile email", true, true},
			} {
				conf := *f.Conf
				conf.ClientID, conf.Scopes = tc.client, strings.Fields(tc.ask)
				tok := signInRefresh(t, f, &conf)
				what := tc.client + " asking " + tc.ask
				if got, _ := tok.Extra("scope").(string); got != tc.granted {
					t.Errorf("%s: token response scope %q, want %q", what, got, tc.granted)
				}
				if got := oauthtest.JWTPayload(t, tok.AccessToken)["scope"]; got != tc.granted {
					t.Errorf("%s: access token scope %q, want %q", what, got, tc.granted)
				}
				id := verifiedIDClaims(t, f, tc.client, tok)
				r := userinfoCall(t, f, http.MethodGet, tok.AccessToken)
				if r.Status != http.StatusOK || r.Body["sub"] != f.User.ID {
					t.Fatalf("%s: userinfo %d %s", what, r.Status, r.RawBody)
				}
				for _, set := range []struct {
					claims  map[string]any
					granted bool
				}{{emailClaims, tc.email}, {profileClaims, tc.profile}} {
					for k, v := range set.claims {
						for src, got := range map[string]any{"ID token": id[k], "userinfo": r.Body[k]} {
							if set.granted && got != v {
								t.Errorf("%s: %s %s = %v, want %v", what, src, k, got, v)
							}
							if !set.granted && got != nil {
								t.Errorf("%s: %s has %s = %v, for a scope not granted", what, src, k, got)
							}
						}
					}
				}
			}
		})
	}
}

// verifiedIDClaims verifies tok's ID token for clientID with go-oidc
// against f's realm's discovery document and returns its claims.
func verifiedIDClaims(t *testing.T, f *oauthtest.LoginFixture, clientID string, tok *oauth2.Token) map[string]any {
	t.Helper()
	var m map[string]any
	if err := f.VerifyIDTokenFor(t, clientID, tok).Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
