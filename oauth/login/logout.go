package login

import (
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). A request
// that carries an id_token_hint we issued (expired or not) to the user of
// the browser's live session signs out at once. Any other request, while
// the browser has a live session, first shows "Sign out?" with a
// CSRF-protected button (as Keycloak does): otherwise any web page could
// sign users out with an <img> pointing here. Without a live session there
// is nothing to protect and the request goes on directly.
//
// Signing out ends this browser's session in the realm and clears its
// cookie. Where the browser goes next must be proven too: it is sent to
// post_logout_redirect_uri (with state) only when the URI is, by exact
// match, one of the redirect URIs registered for the application the
// request names (by the id_token_hint, or by client_id — both must agree
// when both are given). Otherwise it sees a plain "You are signed out" page.

func (h *Handler) handleLogout(c echo.Context) error {
	req := c.Request()
	az, err := h.authorizer(c)
	if az == nil {
		return err
	}
	r := az.Realm()
	page := loginPage{RealmName: realmDisplay(r)}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	if err := req.ParseForm(); err != nil {
		return h.errorPage(c, page, http.StatusBadRequest, "Sign-out failed", "The request could not be read.")
	}
	if err := realm.CheckValues(req.Form); err != nil {
		return h.badText(c, page, err)
	}

	if req.Method == http.MethodPost && req.PostForm.Get("confirm") == "yes" {
		ck, cerr := req.Cookie(logoutCSRFCookie)
		sent := req.PostForm.Get("csrf_token")
		if cerr != nil || ck.Value == "" || sent == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(sent)) != 1 {
			return h.confirmLogout(c, r, http.StatusForbidden, formExpired)
		}
	} else {
		bs, err := h.liveBrowserSession(c, r)
		if err != nil {
			return h.failPage(c, page, "logout: read session", err)
		}
		if bs != nil {
			hint, ok := az.VerifyIDTokenHint(req.Form.Get("id_token_hint"))
			if !ok || hint.Subject != bs.UserID {
				return h.confirmLogout(c, r, http.StatusOK, "")
			}
		}
	}

	// End the session first: whatever else is wrong with the request, the
	// user asked to be signed out.
	if err := h.endSession(c, r); err != nil {
		h.log.ErrorContext(req.Context(), "login: logout: revoke session", "realm", r.Name, "err", err)
		return h.errorPage(c, page, failureStatus(err), "Try again shortly", unavailableText+" You may still be signed in.")
	}

	if target := h.logoutRedirect(c, az); target != "" {
		return c.Redirect(http.StatusSeeOther, target)
	}
	return h.renderPage(c, http.StatusOK, passwordPage{Title: "Signed out", RealmName: realmDisplay(r), Done: "You are signed out."})
}

// logoutCSRFCookie is the confirmation form's double-submit cookie; not the
// login form's, so that opening one never spoils the other in another tab.
const logoutCSRFCookie = "ward_logout_csrf"

// confirmLogout asks "Sign out?" with a form that posts the request's own
// parameters back in hidden fields (not in the URL, where an ID token hint
// would reach access logs) with confirm=yes and a CSRF token.
func (h *Handler) confirmLogout(c echo.Context, r *realm.Realm, status int, problem string) error {
	page := loginPage{Title: "Sign out?", RealmName: realmDisplay(r), Accent: r.Settings.AccentColor, Logo: r.LogoPath(), Logout: true,
		Action: c.Request().URL.Path, Error: problem, CSRF: randomToken()}
	form := c.Request().Form
	keys := slices.Sorted(maps.Keys(form))
	for _, k := range keys {
		if k == "csrf_token" || k == "confirm" {
			continue
		}
		for _, v := range form[k] {
			page.Hidden = append(page.Hidden, hiddenField{Name: k, Value: v})
		}
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: logoutCSRFCookie, Value: page.CSRF, Path: "/realms/" + c.Param("realm") + "/protocol/openid-connect/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	})
	return h.renderLogin(c, status, page)
}

// liveBrowserSession returns the browser's live session in the realm, or
// nil when it has none.
func (h *Handler) liveBrowserSession(c echo.Context, r *realm.Realm) (*realm.BrowserSession, error) {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	bs, err := h.store.GetBrowserSessionByToken(c.Request().Context(), r.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if bs.Revoked || !h.clock().Before(bs.ExpiresAt) {
		return nil, nil
	}
	return bs, nil
}

// endSession revokes the browser's session in the realm (if it has a live
// one) and clears its cookie.
func (h *Handler) endSession(c echo.Context, r *realm.Realm) error {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/realms/" + r.Name + "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	ctx := c.Request().Context()
	bs, err := h.store.GetBrowserSessionByToken(ctx, r.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if bs.Revoked {
		return nil
	}
	err = h.store.RevokeBrowserSession(ctx, r.ID, bs.ID)
	if errors.Is(err, realm.ErrNotFound) {
		return nil
	}
	if err == nil {
		appendUserEvent(ctx, h.store, h.log, h.clock, r, bs.UserID, realm.EventUserSignedOut, map[string]any{
			"address": addrText(h.clientAddr(c.Request())), "session_id": bs.ID})
	}
	return err
}

// logoutRedirect returns where to send the browser after signing out, or ""
// when the request does not prove that the URI is the application's.
func (h *Handler) logoutRedirect(c echo.Context, az *oauth.Authorizer) string {
	r := az.Realm()
	form := c.Request().Form
	target := form.Get("post_logout_redirect_uri")
	if target == "" {
		return ""
	}
	clientID := form.Get("client_id")
	if raw := form.Get("id_token_hint"); raw != "" {
		hint, ok := az.VerifyIDTokenHint(raw)
		if !ok {
			return ""
		}
		aud := hint.AZP
		if aud == "" {
			if len(hint.Audience) != 1 {
				return ""
			}
			aud = hint.Audience[0]
		}
		if clientID != "" && clientID != aud {
			return ""
		}
		clientID = aud
	}
	if clientID == "" {
		return ""
	}
	cl, err := h.store.GetClient(c.Request().Context(), r.ID, clientID)
	if err != nil {
		if !errors.Is(err, realm.ErrNotFound) {
			h.log.ErrorContext(c.Request().Context(), "login: logout: client lookup", "realm", r.Name, "err", err)
		}
		return ""
	}
	if !cl.Active || cl.Kind != realm.KindApplication || !slices.Contains(cl.RedirectURIs, target) {
		return ""
	}
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	if state := form.Get("state"); state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
