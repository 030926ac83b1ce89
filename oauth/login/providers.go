package login

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Signing in through the realm's identity providers (CONTRACT §9). The
// login page offers a button per enabled provider, linking to the broker's
// start (oauth/broker) with the authorization request's parameters;
// kc_idp_hint=alias goes there at once. The broker checks the provider's
// answer and comes back through SignedIn, which makes the person signed in
// as a password would and continues the same authorization request.

// passwordLoginOff answers a password sent to a realm that signs in
// through its providers only.
const passwordLoginOff = "Sign-in with a password is not available here. Use your organization's sign-in above."

// providerButton is a provider as the login page offers it.
type providerButton struct {
	Name string
	URL  string
}

// loginProviders reads the realm's enabled providers (two columns each)
// and puts their buttons on page.
func (h *Handler) loginProviders(ctx context.Context, r *realm.Realm, authorize url.Values, page *loginPage) ([]realm.IdentityProviderChoice, error) {
	enabled, err := h.store.ListIdentityProviderChoices(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range enabled {
		name := p.DisplayName
		if name == "" {
			name = p.Alias
		}
		page.Providers = append(page.Providers, providerButton{Name: name, URL: brokerStartURL(r, p.Alias, authorize)})
	}
	return enabled, nil
}

// hintedProvider is the enabled provider kc_idp_hint names, if any: an
// unknown or disabled hint shows the page, as Keycloak does.
func hintedProvider(enabled []realm.IdentityProviderChoice, hint string) *realm.IdentityProviderChoice {
	if hint == "" {
		return nil
	}
	for i := range enabled {
		if enabled[i].Alias == hint {
			return &enabled[i]
		}
	}
	return nil
}

// brokerStartURL is the broker's start for the realm's provider alias,
// carrying the authorization request (oauth/broker.StartURL; login does
// not import the broker, which is wired beside it).
func brokerStartURL(r *realm.Realm, alias string, authorize url.Values) string {
	return "/realms/" + url.PathEscape(r.Name) + "/broker/" + url.PathEscape(alias) + "/login?" + authorize.Encode()
}

// SignedIn ends a sign-in through a provider (oauth/broker.Pages): the
// user's groups' IP allow lists are checked as after a password, the
// browser session started, and the authorization request continued at
// the authorization endpoint, which finds the session and answers the
// application as after a password sign-in.
func (h *Handler) SignedIn(c echo.Context, r *realm.Realm, u *realm.User, alias, continueQuery string) error {
	ctx := c.Request().Context()
	page := loginPage{Title: "Sign in", RealmName: realmDisplay(r), Accent: r.Settings.AccentColor, Logo: r.LogoPath()}
	addr := h.clientAddr(c.Request())
	ok, err := h.userAllows(ctx, r, u, addr)
	if err != nil {
		return h.failPage(c, page, "network check", err)
	}
	if !ok {
		return h.networkRefused(c, page, r, "user", u.ID, addr, refusal{charge: true})
	}
	bs, err := h.startSession(c, r, u)
	if err != nil {
		return h.failPage(c, page, "session start", err)
	}
	// As a password sign-in is (Keycloak's LOGIN event), with the
	// provider: identity_provider.sign_in says what the provider's answer
	// did to the user, this that the person is now signed in here.
	// The continued request's client_id is only text until the
	// authorization endpoint checks it: the event names it only when it is
	// one of the realm's clients.
	continued, _ := url.ParseQuery(continueQuery)
	clientID := continued.Get("client_id")
	if _, err := h.store.GetClient(ctx, r.ID, clientID); err != nil {
		clientID = ""
	}
	appendUserEvent(ctx, h.store, h.log, h.clock, r, u.ID, realm.EventUserSignedIn, map[string]any{
		"client_id": clientID, "address": addrText(addr), "session_id": bs.ID, "identity_provider": alias})
	return c.Redirect(http.StatusSeeOther, "/realms/"+url.PathEscape(r.Name)+"/protocol/openid-connect/auth?"+continueQuery)
}

// Refused answers the sign-in page saying text (oauth/broker.Pages).
func (h *Handler) Refused(c echo.Context, r *realm.Realm, status int, text string) error {
	return h.errorPage(c, loginPage{RealmName: realmDisplay(r)}, status, "Sign-in failed", text)
}
