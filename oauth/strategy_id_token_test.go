package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// jwtHeader decodes a JWT's header.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestIDTokenAlgorithmPerClient: ID tokens are RS256 unless the client
// chose ES256; an ES256 client's ID tokens (from the code and from a
// refresh) verify with go-oidc against the realm's JWKS, and serve as
// id_token_hint for a silent sign-in.
func TestIDTokenAlgorithmPerClient(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	ctx := context.Background()
	wantAlg := func(what string, tok *oauth2.Token, alg string) string {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatalf("%s: no id_token", what)
		}
		if h := jwtHeader(t, raw); h["alg"] != alg || h["kid"] == nil {
			t.Errorf("%s: ID token header %v, want alg %s with a kid", what, h, alg)
		}
		idClaims(t, f, tok) // verified by go-oidc
		return raw
	}
	wantAlg("default client", signInRefresh(t, f, f.Conf), "RS256")

	f.Client.IDTokenAlg = realm.IDTokenES256
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	b := oauthtest.Browser(t)
	verifier := oauth2.GenerateVerifier()
	loc := f.Authorize(t, b, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier), oidc.Nonce(oauthtest.RandomString(t))))
	tok, err := f.Conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := wantAlg("ES256 client, code", tok, "ES256")
	refreshed, err := refresh(f.Conf, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	wantAlg("ES256 client, refresh", refreshed, "ES256")

	// prompt=none with the ES256 ID token as hint: the session is live and
	// the hint's subject is its user, so a code comes back at once.
	silent := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint)), nil)
	if silent.Location == nil || silent.Location.Query().Get("code") == "" {
		t.Fatalf("prompt=none with an ES256 hint: %d %v %s", silent.Status, silent.Location, silent.Body)
	}
	// A hint whose signature is broken is refused.
	parts := strings.Split(hint, ".")
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	bad := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", forged)), nil)
	if bad.Location == nil || bad.Location.Query().Get("code") != "" || bad.Location.Query().Get("error") == "" {
		t.Fatalf("prompt=none with a forged hint: %d %v, want an error redirect", bad.Status, bad.Location)
	}
}
