package oauth

import (
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/labstack/echo/v4"

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

// idTokenHint is what logout reads from an ID token.
type idTokenHint struct {
	Issuer   string       `json:"iss"`
	Subject  string       `json:"sub"`
	Audience jwt.Audience `json:"aud"`
	AZP      string       `json:"azp"`
	// Type is set on our refresh tokens ("Refresh"), never on ID tokens.
	Type string `json:"typ"`
}

// verifyIDTokenHint checks that raw is an ID token signed by one of the
// realm's keys for its issuer. Expiry is not checked (the spec allows an
// expired hint).
func (p *provider) verifyIDTokenHint(raw string) (*idTokenHint, bool) {
	if raw == "" || len(raw) > 16<<10 {
		return nil, false
	}
	tok, err := jwt.ParseSigned(raw, tokenAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	h := tok.Headers[0]
	key, ok := p.verifiers[h.KeyID]
	if !ok || key.alg != h.Algorithm {
		return nil, false
	}
	// An access token (typ at+jwt) is not an ID token.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); isAccessTokenType(typ) {
		return nil, false
	}
	var cl idTokenHint
	if err := tok.Claims(key.pub, &cl); err != nil || cl.Issuer != p.issuer || cl.Subject == "" || len(cl.Audience) == 0 || cl.Type != "" {
		return nil, false
	}
	return &cl, true
}

func (s *Server) handleLogout(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	realmName := c.Param("realm")
	p, err := s.currentProvider(ctx, realmName)
	if errors.Is(err, errRealmNotFound) {
		return s.renderLogin(c, http.StatusNotFound, loginPage{Title: "Not found", RealmName: realmName, Error: "There is no such realm."})
	}
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: logout: realm unavailable", "realm", realmName, "err", err)
		return s.renderLogin(c, http.StatusServiceUnavailable, loginPage{Title: "Try again shortly", RealmName: realmName, Error: "The service is unavailable right now."})
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	if err := req.ParseForm(); err != nil {
		return s.renderLogin(c, http.StatusBadRequest, loginPage{Title: "Sign-out failed", RealmName: realmDisplay(p.realm), Error: "The request could not be read."})
	}

	if req.Method == http.MethodPost && req.PostForm.Get("confirm") == "yes" {
		ck, cerr := req.Cookie(logoutCSRFCookie)
		sent := req.PostForm.Get("csrf_token")
		if cerr != nil || ck.Value == "" || sent == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(sent)) != 1 {
			return s.confirmLogout(c, p, http.StatusForbidden, "The form expired or did not come from this page. Please try again.")
		}
	} else {
		bs, err := s.liveBrowserSession(c, p)
		if err != nil {
			s.log.ErrorContext(ctx, "oauth: logout: read session", "realm", realmName, "err", err)
			return s.renderLogin(c, http.StatusServiceUnavailable, loginPage{Title: "Try again shortly", RealmName: realmDisplay(p.realm), Error: "The service is unavailable right now."})
		}
		if bs != nil {
			hint, ok := p.verifyIDTokenHint(req.Form.Get("id_token_hint"))
			if !ok || hint.Subject != bs.UserID {
				return s.confirmLogout(c, p, http.StatusOK, "")
			}
		}
	}

	// End the session first: whatever else is wrong with the request, the
	// user asked to be signed out.
	if err := s.endSession(c, p); err != nil {
		s.log.ErrorContext(ctx, "oauth: logout: revoke session", "realm", realmName, "err", err)
		return s.renderLogin(c, http.StatusServiceUnavailable, loginPage{Title: "Try again shortly", RealmName: realmDisplay(p.realm), Error: "The service is unavailable right now. You may still be signed in."})
	}

	if target := s.logoutRedirect(c, p); target != "" {
		return c.Redirect(http.StatusSeeOther, target)
	}
	return s.renderPage(c, http.StatusOK, passwordPage{Title: "Signed out", RealmName: realmDisplay(p.realm), Done: "You are signed out."})
}

// logoutCSRFCookie is the confirmation form's double-submit cookie; not the
// login form's, so that opening one never spoils the other in another tab.
const logoutCSRFCookie = "ward_logout_csrf"

// confirmLogout asks "Sign out?" with a form that posts the request's own
// parameters back in hidden fields (not in the URL, where an ID token hint
// would reach access logs) with confirm=yes and a CSRF token.
func (s *Server) confirmLogout(c echo.Context, p *provider, status int, problem string) error {
	page := loginPage{Title: "Sign out?", RealmName: realmDisplay(p.realm), Logout: true,
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
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode,
	})
	return s.renderLogin(c, status, page)
}

// liveBrowserSession returns the browser's live session in the realm, or
// nil when it has none.
func (s *Server) liveBrowserSession(c echo.Context, p *provider) (*realm.BrowserSession, error) {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	bs, err := s.store.GetBrowserSessionByToken(c.Request().Context(), p.realm.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if bs.Revoked || !s.clock().Before(bs.ExpiresAt) {
		return nil, nil
	}
	return bs, nil
}

// endSession revokes the browser's session in the realm (if it has a live
// one) and clears its cookie.
func (s *Server) endSession(c echo.Context, p *provider) error {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/realms/" + p.realm.Name + "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
	ctx := c.Request().Context()
	bs, err := s.store.GetBrowserSessionByToken(ctx, p.realm.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if bs.Revoked {
		return nil
	}
	err = s.store.RevokeBrowserSession(ctx, p.realm.ID, bs.ID)
	if errors.Is(err, realm.ErrNotFound) {
		return nil
	}
	return err
}

// logoutRedirect returns where to send the browser after signing out, or ""
// when the request does not prove that the URI is the application's.
func (s *Server) logoutRedirect(c echo.Context, p *provider) string {
	form := c.Request().Form
	target := form.Get("post_logout_redirect_uri")
	if target == "" {
		return ""
	}
	clientID := form.Get("client_id")
	if raw := form.Get("id_token_hint"); raw != "" {
		hint, ok := p.verifyIDTokenHint(raw)
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
	cl, err := s.store.GetClient(c.Request().Context(), p.realm.ID, clientID)
	if err != nil {
		if !errors.Is(err, realm.ErrNotFound) {
			s.log.ErrorContext(c.Request().Context(), "oauth: logout: client lookup", "realm", p.realm.Name, "err", err)
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
