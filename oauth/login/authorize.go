package login

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// The authorization endpoint's pages: the login form and the browser
// session. Before fosite sees a request we check the client and the
// redirect URI ourselves, by exact string match against the registered
// ones: fosite would also accept a loopback URI on any port and use the
// only registered URI when none is given, and an unknown client or an
// unregistered URI must get an error page, never a redirect. The request
// itself, the code and the answer at the redirect URI are oauth's
// (oauth.Authorizer).

const (
	sessionCookie   = "ward_session"
	loginCSRFCookie = "ward_login_csrf"
	// loginFailed is the one answer for an unknown email, a wrong password
	// and an account that cannot sign in.
	loginFailed = "Invalid email or password."
	// loginCancelled is the error_description of access_denied when the
	// user presses Cancel on the login form.
	loginCancelled = "The user cancelled the sign-in."
	// formExpired answers a form whose CSRF token does not match.
	formExpired = "The form expired or did not come from this page. Please try again."
)

// dummyHash is verified against when there is no account, so an unknown
// email costs the same argon2id work as a wrong password. It is a constant
// (the hash of a password nobody has, with the parameters HashPassword
// uses): computing it at start-up would cost 19 MiB of resident memory and
// ~40 ms before the server is ready. Keep its parameters in step with
// realm.HashPassword's.
func dummyHash() string {
	return "$argon2id$v=19$m=19456,t=2,p=1$7H7qtJTWY+YClxSVfq/pkg$/JOoU9iCNbzgsOjML9u3u32mxca0XBBm/+0hh5g90/A"
}

func (h *Handler) handleAuthorize(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	// auth_time comes from h.clock, so the request time it is compared
	// with (prompt, max_age) does too.
	requestedAt := h.clock().UTC()
	az, err := h.authorizer(c)
	if az == nil {
		return err
	}
	page := loginPage{Title: "Sign in", RealmName: realmDisplay(az.Realm()), Accent: az.Realm().Settings.AccentColor, Logo: az.Realm().LogoPath()}
	refuse := func(status int, msg string) error {
		return h.errorPage(c, page, status, "Sign-in failed", msg)
	}

	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	if err := req.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return refuse(http.StatusRequestEntityTooLarge, "The request is too large.")
		}
		return refuse(http.StatusBadRequest, "The request could not be read.")
	}
	if err := realm.CheckValues(req.Form); err != nil {
		return h.badText(c, page, err)
	}
	// A login form submission carries csrf_token; its fields are taken out
	// of the form before fosite sees it, so no password can end up in a
	// stored request.
	// Its Cancel button (cancel=1) ends the request with access_denied
	// instead of signing in.
	login := req.Method == http.MethodPost && req.PostForm.Has("csrf_token")
	var email, password, csrf string
	var cancel bool
	if login {
		email, password, csrf = strings.TrimSpace(req.PostForm.Get("email")), req.PostForm.Get("password"), req.PostForm.Get("csrf_token")
		cancel = req.PostForm.Get("cancel") == "1"
		for _, k := range []string{"email", "password", "csrf_token", "cancel"} {
			req.PostForm.Del(k)
			req.Form.Del(k)
		}
	}

	client, err := az.Client(ctx, req.Form.Get("client_id"))
	if errors.Is(err, realm.ErrNotFound) {
		return refuse(http.StatusBadRequest, "The application is unknown.")
	}
	if err != nil {
		return h.failPage(c, page, "client lookup", err)
	}
	if client.Kind != realm.KindApplication {
		return refuse(http.StatusBadRequest, "The application is unknown.")
	}
	page.AppName = appName(client)
	if !client.RedirectURIRegistered(req.Form.Get("redirect_uri")) {
		return refuse(http.StatusBadRequest, "The application sent an invalid redirect URI.")
	}

	// web_message (webmessage.go): the redirect URI is registered, so from
	// here on every answer, errors included, is posted to the opener; an
	// origin that is not a web origin of the client gets a page saying so
	// before anyone signs in.
	webMessage := usesWebMessage(client, req.Form.Get("response_mode"))
	if webMessage {
		if origin, ok := webMessageOrigin(client, req.Form.Get("redirect_uri")); !ok {
			renderWebMessage(c.Response(), http.StatusBadRequest, webMessagePage{AppName: page.AppName, Problem: originProblemText(origin)})
			return nil
		}
	}
	ar, err := az.NewAuthorizeRequest(ctx, req, client, webMessage)
	if ar == nil {
		return refuse(http.StatusBadRequest, "The request could not be read.")
	}
	answer := func(err error) error {
		az.WriteError(ctx, c.Response(), ar, err)
		return nil
	}
	if err != nil {
		return answer(err)
	}
	// fosite checks PKCE only when it issues the code; asking before the
	// password spares the user a sign-in that cannot succeed.
	challenge, method := ar.GetRequestForm().Get("code_challenge"), ar.GetRequestForm().Get("code_challenge_method")
	if client.Public && challenge == "" {
		return answer(fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow."))
	}
	if challenge != "" && method != "S256" {
		return answer(fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256."))
	}

	// The realm's allow list comes before any form: nobody outside it is
	// asked for a password.
	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	refuseNetwork := refusal{charge: true}
	if webMessage || slices.Contains(prompt, "none") {
		refuseNetwork.answer = answer
	}
	addr := h.clientAddr(req)
	fresh, allowed, err := h.realmAllows(ctx, az.Realm(), addr)
	if err != nil {
		return h.failPage(c, page, "network check", err)
	}
	if !allowed {
		return h.networkRefused(c, page, az.Realm(), "realm", az.Realm().ID, addr, refuseNetwork)
	}

	user, bs, err := h.currentSession(c, az.Realm())
	if err != nil {
		return h.failPage(c, page, "session lookup", err)
	}
	if slices.Contains(prompt, "login") && !login {
		user, bs = nil, nil
	}
	// A session older than max_age (OIDC Core §3.1.2.1) asks for the
	// password again; fosite would otherwise refuse the ID token.
	if maxAge, err := strconv.ParseInt(ar.GetRequestForm().Get("max_age"), 10, 64); err == nil && bs != nil &&
		bs.AuthTime.Add(time.Duration(maxAge)*time.Second).Before(h.clock()) {
		user, bs = nil, nil
	}
	// The form posts back the authorization request's own parameters in
	// the query (whether they came in a query or a POST body), and the
	// credentials in the body.
	page.Action = req.URL.Path + "?" + req.Form.Encode()
	page.ResetURL = "/realms/" + az.Realm().Name + pathResetPassword
	page.PasswordLogin = !fresh.PasswordLoginDisabled
	// The realm's identity providers (CONTRACT §9): a button each, or
	// kc_idp_hint going straight to one. Read only when a form may show.
	var providers []realm.IdentityProviderChoice
	if user == nil || login {
		if providers, err = h.loginProviders(ctx, fresh, req.Form, &page); err != nil {
			return h.failPage(c, page, "identity providers", err)
		}
	}
	// The login form's double-submit CSRF check, for signing in and for
	// cancelling alike: another site must not end a sign-in either.
	csrfOK := func() bool {
		ck, cerr := req.Cookie(loginCSRFCookie)
		return cerr == nil && ck.Value != "" && csrf != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(csrf)) == 1
	}
	switch {
	case cancel:
		// The user cancels: no password is looked at and nothing is
		// counted against the account or the address; the application
		// gets access_denied the way it gets any error (redirect or
		// posted message), with its state and iss.
		if !csrfOK() {
			page.Error, page.Email = formExpired, email
			return h.renderLoginForm(c, http.StatusForbidden, page)
		}
		cancelled := *fosite.ErrAccessDenied.WithDescription(loginCancelled)
		cancelled.HintField = "" // fosite's generic hint would only blur it
		return answer(&cancelled)
	case login && !page.PasswordLogin:
		page.Error, page.Email = passwordLoginOff, email
		return h.renderLoginForm(c, http.StatusForbidden, page)
	case login:
		if limited, err := h.loginRateLimited(c, page); limited {
			return err
		}
		if !csrfOK() {
			page.Error, page.Email = formExpired, email
			return h.renderLoginForm(c, http.StatusForbidden, page)
		}
		var outside *realm.User // the right password, from outside the user's lists
		u, err := h.lockout.attempt(ctx, az.Realm(), email, password, func(u *realm.User) (bool, error) {
			ok, err := h.userAllows(ctx, az.Realm(), u, addr)
			if err == nil && !ok {
				outside = u
			}
			return ok, err
		})
		if errors.Is(err, errNetworkRefused) {
			// Charged already, as a password attempt.
			return h.networkRefused(c, page, az.Realm(), "user", outside.ID, addr, refusal{answer: refuseNetwork.answer})
		}
		if err == nil && u == nil {
			page.Error, page.Email = loginFailed, email
			return h.renderLoginForm(c, http.StatusUnauthorized, page)
		}
		if err == nil {
			bs, err = h.startSession(c, az.Realm(), u)
		}
		if err == nil {
			appendUserEvent(ctx, h.store, h.log, h.clock, az.Realm(), u.ID, realm.EventUserSignedIn, map[string]any{
				"client_id": ar.GetClient().GetID(), "address": addrText(addr), "session_id": bs.ID})
		}
		if err != nil {
			h.log.ErrorContext(ctx, "login: sign-in", "realm", az.Realm().Name, "err", err)
			page.Error = unavailableText
			return h.renderLoginForm(c, failureStatus(err), page)
		}
		user = u
	case user == nil && slices.Contains(prompt, "none"):
		return answer(fosite.ErrLoginRequired)
	case user == nil:
		if to := hintedProvider(providers, ar.GetRequestForm().Get("kc_idp_hint")); to != nil {
			return c.Redirect(http.StatusSeeOther, brokerStartURL(fresh, to.Alias, req.Form))
		}
		return h.renderLoginForm(c, http.StatusOK, page)
	default:
		// A browser session skips the password, not the user's groups'
		// allow lists.
		ok, err := h.userAllows(ctx, az.Realm(), user, addr)
		if err != nil {
			return h.failPage(c, page, "network check", err)
		}
		if !ok {
			return h.networkRefused(c, page, az.Realm(), "user", user.ID, addr, refuseNetwork)
		}
	}
	az.Authorize(ctx, c.Response(), ar, oauth.SignIn{User: user, SessionID: bs.ID, AuthTime: bs.AuthTime, RequestedAt: requestedAt})
	return nil
}

func hashSessionToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// currentSession returns the signed-in user of the browser's session
// cookie, when the session is live and the user still active.
func (h *Handler) currentSession(c echo.Context, r *realm.Realm) (*realm.User, *realm.BrowserSession, error) {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil, nil
	}
	ctx := c.Request().Context()
	bs, err := h.store.GetBrowserSessionByToken(ctx, r.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if bs.Revoked || !h.clock().Before(bs.ExpiresAt) {
		return nil, nil, nil
	}
	u, err := h.store.GetUser(ctx, r.ID, bs.UserID)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.Active {
		return nil, nil, nil
	}
	return u, bs, nil
}

// startSession records a new browser session for u and sets its cookie.
func (h *Handler) startSession(c echo.Context, r *realm.Realm, u *realm.User) (*realm.BrowserSession, error) {
	now := h.clock().UTC()
	token := randomToken()
	bs := &realm.BrowserSession{
		ID: realm.NewID(now, nil), RealmID: r.ID, UserID: u.ID, TokenHash: hashSessionToken(token),
		AuthTime: now, ExpiresAt: now.Add(r.Settings.SessionLife(h.sessionLifespan)), CreatedAt: now,
		IPAddress: addrText(h.clientAddr(c.Request())),
	}
	ctx := c.Request().Context()
	// A sign-in over a live session (prompt=login, or another user) ends
	// the old one: the cookie is replaced, and the session must not live on
	// in the database where its refresh tokens would still count it live.
	if ck, err := c.Request().Cookie(sessionCookie); err == nil && ck.Value != "" {
		old, err := h.store.GetBrowserSessionByToken(ctx, r.ID, hashSessionToken(ck.Value))
		if err == nil && !old.Revoked {
			if err := h.store.RevokeBrowserSession(ctx, r.ID, old.ID); err != nil {
				return nil, err
			}
		} else if err != nil && !errors.Is(err, realm.ErrNotFound) {
			return nil, err
		}
	}
	if err := h.store.CreateBrowserSession(ctx, bs); err != nil {
		return nil, err
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/realms/" + r.Name + "/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	return bs, nil
}

// renderLoginForm renders the login form with a fresh CSRF cookie (double
// submit) whose value is also in the form.
func (h *Handler) renderLoginForm(c echo.Context, status int, page loginPage) error {
	page.CSRF = randomToken()
	http.SetCookie(c.Response(), &http.Cookie{
		Name: loginCSRFCookie, Value: page.CSRF, Path: "/realms/" + c.Param("realm") + "/protocol/openid-connect/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	})
	return h.renderLogin(c, status, page)
}
