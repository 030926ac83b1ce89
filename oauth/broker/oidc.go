package broker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm"
)

// The OpenID Connect half: Ward is a confidential (or, without a client
// secret, public) client of the provider, using the authorization code
// flow with PKCE (S256), state and nonce, and go-oidc to verify the ID
// token (signature by the provider's published keys, iss, aud, exp).

// oauthConfig is the provider's x/oauth2 client for realm r.
func (h *Handler) oauthConfig(r *realm.Realm, p *realm.IdentityProvider, pp *parsedProvider) (*oauth2.Config, error) {
	secret, err := h.idps.ClientSecret(p)
	if err != nil {
		return nil, err
	}
	style := oauth2.AuthStyleInHeader
	if secret == "" {
		style = oauth2.AuthStyleInParams // a public client names itself
	}
	ep := pp.oidc.Endpoint()
	ep.AuthStyle = style
	return &oauth2.Config{ClientID: p.OIDC.ClientID, ClientSecret: secret, Endpoint: ep,
		RedirectURL: h.endpointURL(r, p), Scopes: p.OIDC.Scopes}, nil
}

func (h *Handler) startOIDC(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, pp *parsedProvider, cont string, fresh bool) (string, error) {
	conf, err := h.oauthConfig(r, p, pp)
	if err != nil {
		return "", err
	}
	verifier := oauth2.GenerateVerifier()
	nonce, err := randomToken()
	if err != nil {
		return "", err
	}
	st, err := h.idps.StartBrokerSignIn(c.Request().Context(), r, p, nonce, verifier, cont)
	if err != nil {
		return "", err
	}
	h.setStateCookie(c, r, st.Token)
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	if fresh {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	return conf.AuthCodeURL(st.Token, opts...), nil
}

// oidcAnswer completes the code flow at the redirect URI.
func (h *Handler) oidcAnswer(c echo.Context, r *realm.Realm, p *realm.IdentityProvider) error {
	req := c.Request()
	ctx := req.Context()
	q := req.Form
	if req.Method != http.MethodGet {
		return h.pages.Refused(c, r, http.StatusMethodNotAllowed, textInvalidAnswer)
	}
	st, verifier, ok := h.takeState(c, r, p, q.Get("state"))
	if !ok {
		h.recordFailure(c, r, p, "unknown_state")
		return h.pages.Refused(c, r, http.StatusBadRequest, textExpired)
	}
	if e := q.Get("error"); e != "" {
		// The provider's own refusal (the person cancelled, or is not
		// allowed this application there): its code only, recorded.
		h.recordFailure(c, r, p, "provider_error")
		h.log.InfoContext(ctx, "broker: provider answered an error", "realm", r.Name, "provider", p.Alias, "error", boundedCode(e))
		return h.pages.Refused(c, r, http.StatusForbidden, textProviderError)
	}
	code := q.Get("code")
	if code == "" {
		return h.refuseAnswer(c, r, p, "malformed", errors.New("no code"))
	}
	pp, err := h.provider(ctx, r, p)
	if err != nil {
		h.log.WarnContext(ctx, "broker: provider settings not usable", "realm", r.Name, "provider", p.Alias, "err", err)
		return h.pages.Refused(c, r, http.StatusBadGateway, textUnavailable)
	}
	conf, err := h.oauthConfig(r, p, pp)
	if err != nil {
		return h.failed(c, r, err, 0, "")
	}
	cctx := oidc.ClientContext(ctx, h.client)
	tok, err := conf.Exchange(cctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return h.refuseAnswer(c, r, p, "code_exchange_failed", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return h.refuseAnswer(c, r, p, "no_id_token", errors.New("the token answer has no id_token"))
	}
	idt, err := pp.oidc.VerifierContext(cctx, &oidc.Config{ClientID: p.OIDC.ClientID, Now: h.clock}).Verify(cctx, raw)
	if err != nil {
		return h.refuseAnswer(c, r, p, oidcReason(err), err)
	}
	if idt.Nonce != st.RequestID {
		return h.refuseAnswer(c, r, p, "wrong_nonce", errors.New("the ID token's nonce is not this sign-in's"))
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return h.refuseAnswer(c, r, p, "malformed", err)
	}
	// The userinfo answer fills in what the ID token leaves out (many
	// providers, Ward among them, put groups only there); the ID token's
	// own claims win, and userinfo must be about the same subject.
	if pp.oidc.UserInfoEndpoint() != "" {
		if ui, err := pp.oidc.UserInfo(cctx, oauth2.StaticTokenSource(tok)); err != nil {
			h.log.InfoContext(ctx, "broker: userinfo not read", "realm", r.Name, "provider", p.Alias, "err", err)
		} else if ui.Subject == idt.Subject {
			extra := map[string]any{}
			if err := ui.Claims(&extra); err == nil {
				mergeUserinfo(claims, extra)
			}
		}
	}
	return h.signIn(c, r, p, st, oidcIdentity(p, idt.Subject, claims))
}

// oidcReason names the ID token check that failed, for the audit event.
func oidcReason(err error) string {
	var expired *oidc.TokenExpiredError
	switch msg := err.Error(); {
	case errors.As(err, &expired):
		return "expired"
	case strings.Contains(msg, "issuer"), strings.Contains(msg, "different provider"):
		return "wrong_issuer"
	case strings.Contains(msg, "audience"):
		return "wrong_audience"
	case strings.Contains(msg, "signature"):
		return "invalid_signature"
	}
	return "invalid_id_token"
}

// oidcIdentity reads the person from verified claims (CONTRACT §9's
// defaults, or the provider's attribute names).
func oidcIdentity(p *realm.IdentityProvider, subject string, claims map[string]any) realm.ExternalIdentity {
	name := func(configured, def string) string {
		if configured != "" {
			return configured
		}
		return def
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	ext := realm.ExternalIdentity{
		Subject:   subject,
		Email:     str(name(p.Attributes.Email, "email")),
		FirstName: str(name(p.Attributes.FirstName, "given_name")),
		LastName:  str(name(p.Attributes.LastName, "family_name")),
	}
	switch v := claims["email_verified"].(type) {
	case bool:
		ext.EmailVerified = v
	case string: // some providers send "true"
		ext.EmailVerified = v == "true"
	}
	if p.GroupClaim != "" {
		switch v := claims[p.GroupClaim].(type) {
		case []any:
			for _, g := range v {
				if s, ok := g.(string); ok && s != "" {
					ext.Groups = append(ext.Groups, s)
				}
			}
		case string:
			ext.Groups = strings.Fields(v)
		}
	}
	return ext
}

// boundedCode is a provider's error code fit for the log.
func boundedCode(s string) string {
	if len(s) > 64 || realm.TextProblem(s, false) != "" {
		return fmt.Sprintf("%.64q", s)
	}
	return s
}

// randomToken is 256 random bits, base64url.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// mergeUserinfo fills in claims the ID token lacks from userinfo. The
// email and whether it is verified go together, from the ID token when it
// has an email, else from userinfo: a verification must never be
// attached to an address it was not said of.
func mergeUserinfo(idToken, userinfo map[string]any) {
	if _, ok := idToken["email"]; ok {
		delete(userinfo, "email_verified")
	} else if _, ok := userinfo["email"]; ok {
		delete(idToken, "email_verified")
		idToken["email"] = userinfo["email"]
		if v, ok := userinfo["email_verified"]; ok {
			idToken["email_verified"] = v
		}
	}
	for k, v := range userinfo {
		if _, ok := idToken[k]; !ok && k != "email_verified" {
			idToken[k] = v
		}
	}
}
