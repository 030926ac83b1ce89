package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// The authorization endpoint: the login page, the browser session, and the
// code response. Before fosite sees a request we check the client and the
// redirect URI ourselves, by exact string match against the registered
// ones: fosite would also accept a loopback URI on any port and use the
// only registered URI when none is given, and an unknown client or an
// unregistered URI must get an error page, never a redirect.

const (
	sessionCookie   = "ward_session"
	loginCSRFCookie = "ward_login_csrf"
	// loginFailed is the one answer for an unknown email, a wrong password
	// and an account that cannot sign in.
	loginFailed = "Invalid email or password."
	// loginCancelled is the error_description of access_denied when the
	// user presses Cancel on the login form.
	loginCancelled = "The user cancelled the sign-in."
)

var loginTemplate = template.Must(template.ParseFS(templates.FS, "login.html"))

// loginPage is the data of templates/login.html. Without Action it is an
// error page with no form.
type loginPage struct {
	Title     string
	RealmName string
	AppName   string
	Nonce     string
	Action    string
	CSRF      string
	Email     string
	Error     string
	ResetURL  string
	// Logout makes the page the sign-out confirmation (logout.go); Hidden
	// are the request's parameters its form posts back.
	Logout bool
	Hidden []hiddenField
}

type hiddenField struct{ Name, Value string }

// dummyHash is verified against when there is no account, so an unknown
// email costs the same argon2id work as a wrong password. It is a constant
// (the hash of a password nobody has, with the parameters HashPassword
// uses): computing it at start-up would cost 19 MiB of resident memory and
// ~40 ms before the server is ready. Keep its parameters in step with
// realm.HashPassword's.
func dummyHash() string {
	return "$argon2id$v=19$m=19456,t=2,p=1$7H7qtJTWY+YClxSVfq/pkg$/JOoU9iCNbzgsOjML9u3u32mxca0XBBm/+0hh5g90/A"
}

func (s *Server) handleAuthorize(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	realmName := c.Param("realm")
	// auth_time comes from s.clock, so the request time it is compared
	// with (prompt, max_age) does too.
	requestedAt := s.clock().UTC()
	p, err := s.currentProvider(ctx, realmName)
	if errors.Is(err, errRealmNotFound) {
		return s.renderLogin(c, http.StatusNotFound, loginPage{Title: "Not found", RealmName: realmName, Error: "There is no such realm."})
	}
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: authorize: realm unavailable", "realm", realmName, "err", err)
		return s.renderLogin(c, http.StatusServiceUnavailable, loginPage{Title: "Try again shortly", RealmName: realmName, Error: "The service is unavailable right now."})
	}
	page := loginPage{Title: "Sign in", RealmName: realmDisplay(p.realm)}
	errorPage := func(status int, msg string) error {
		page.Title, page.Error = "Sign-in failed", msg
		return s.renderLogin(c, status, page)
	}

	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	if err := req.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorPage(http.StatusRequestEntityTooLarge, "The request is too large.")
		}
		return errorPage(http.StatusBadRequest, "The request could not be read.")
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

	fc, err := s.fullClient(ctx, p, req.Form.Get("client_id"))
	if errors.Is(err, realm.ErrNotFound) {
		return errorPage(http.StatusBadRequest, "The application is unknown.")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: authorize: client lookup", "realm", realmName, "err", err)
		return errorPage(http.StatusServiceUnavailable, "The service is unavailable right now.")
	}
	if fc.c.Kind != realm.KindApplication {
		return errorPage(http.StatusBadRequest, "The application is unknown.")
	}
	page.AppName = fc.c.DisplayName
	if page.AppName == "" {
		page.AppName = fc.c.Name
	}
	if ru := req.Form.Get("redirect_uri"); ru == "" || !slices.Contains(fc.c.RedirectURIs, ru) {
		return errorPage(http.StatusBadRequest, "The application sent an invalid redirect URI.")
	}

	// web_message (webmessage.go): the redirect URI is registered, so from
	// here on every answer, errors included, is posted to the opener; an
	// origin that is not a web origin of the client gets a page saying so
	// before anyone signs in.
	webMessage := usesWebMessage(fc.c, req.Form.Get("response_mode"))
	if webMessage {
		if origin, ok := webMessageOrigin(fc.c, req.Form.Get("redirect_uri")); !ok {
			renderWebMessage(c.Response(), http.StatusBadRequest, webMessagePage{AppName: page.AppName, Problem: originProblemText(origin)})
			return nil
		}
	}
	ar, err := newAuthorizeRequest(ctx, p.fosite, req, webMessage, fc)
	if ar == nil {
		return errorPage(http.StatusBadRequest, "The request could not be read.")
	}
	if err != nil {
		return s.writeAuthorizeError(c, p, ar, err)
	}
	// fosite checks PKCE only when it issues the code; asking before the
	// password spares the user a sign-in that cannot succeed.
	challenge, method := ar.GetRequestForm().Get("code_challenge"), ar.GetRequestForm().Get("code_challenge_method")
	if fc.c.Public && challenge == "" {
		return s.writeAuthorizeError(c, p, ar, fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow."))
	}
	if challenge != "" && method != "S256" {
		return s.writeAuthorizeError(c, p, ar, fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256."))
	}

	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	user, bs, err := s.currentSession(c, p)
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: authorize: session lookup", "realm", realmName, "err", err)
		return errorPage(http.StatusServiceUnavailable, "The service is unavailable right now.")
	}
	if slices.Contains(prompt, "login") && !login {
		user, bs = nil, nil
	}
	// A session older than max_age (OIDC Core §3.1.2.1) asks for the
	// password again; fosite would otherwise refuse the ID token.
	if maxAge, err := strconv.ParseInt(ar.GetRequestForm().Get("max_age"), 10, 64); err == nil && bs != nil &&
		bs.AuthTime.Add(time.Duration(maxAge)*time.Second).Before(s.clock()) {
		user, bs = nil, nil
	}
	// The form posts back the authorization request's own parameters in
	// the query (whether they came in a query or a POST body), and the
	// credentials in the body.
	page.Action = req.URL.Path + "?" + req.Form.Encode()
	page.ResetURL = "/realms/" + p.realm.Name + pathResetPassword
	// The login form's double-submit CSRF check, for signing in and for
	// cancelling alike: another site must not end a sign-in either.
	csrfOK := func() bool {
		ck, cerr := req.Cookie(loginCSRFCookie)
		return cerr == nil && ck.Value != "" && csrf != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(csrf)) == 1
	}
	const formExpired = "The form expired or did not come from this page. Please try again."
	switch {
	case cancel:
		// The user cancels: no password is looked at and nothing is
		// counted against the account or the address; the application
		// gets access_denied the way it gets any error (redirect or
		// posted message), with its state and iss.
		if !csrfOK() {
			page.Error, page.Email = formExpired, email
			return s.renderLoginForm(c, http.StatusForbidden, page)
		}
		cancelled := *fosite.ErrAccessDenied.WithDescription(loginCancelled)
		cancelled.HintField = "" // fosite's generic hint would only blur it
		return s.writeAuthorizeError(c, p, ar, &cancelled)
	case login:
		if limited, err := s.loginRateLimited(c, page); limited {
			return err
		}
		if !csrfOK() {
			page.Error, page.Email = formExpired, email
			return s.renderLoginForm(c, http.StatusForbidden, page)
		}
		u, err := s.attemptLogin(ctx, p, email, password)
		if err != nil {
			s.log.ErrorContext(ctx, "oauth: authorize: user lookup", "realm", realmName, "err", err)
			page.Error = "The service is unavailable right now. Try again shortly."
			return s.renderLoginForm(c, http.StatusServiceUnavailable, page)
		}
		if u == nil {
			page.Error, page.Email = loginFailed, email
			return s.renderLoginForm(c, http.StatusUnauthorized, page)
		}
		if bs, err = s.startSession(c, p, u); err != nil {
			s.log.ErrorContext(ctx, "oauth: authorize: create session", "realm", realmName, "err", err)
			page.Error = "The service is unavailable right now. Try again shortly."
			return s.renderLoginForm(c, http.StatusServiceUnavailable, page)
		}
		user = u
	case user == nil && slices.Contains(prompt, "none"):
		return s.writeAuthorizeError(c, p, ar, fosite.ErrLoginRequired)
	case user == nil:
		return s.renderLoginForm(c, http.StatusOK, page)
	}
	return s.completeAuthorize(c, p, ar, fc, user, bs, requestedAt)
}

// checkPassword returns the active user of the realm with that email and
// password, or nil. Every path that finds no usable account still verifies
// a password hash, so timing does not tell them apart.
func (s *Server) checkPassword(ctx context.Context, realmID, email, password string) (*realm.User, error) {
	u, err := s.store.GetUserByEmail(ctx, realmID, email)
	if errors.Is(err, realm.ErrNotFound) || email == "" {
		s.service.Passwords().Verify(dummyHash(), password)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.Active || u.PasswordHash == "" || u.RealmID != realmID {
		s.service.Passwords().Verify(dummyHash(), password)
		return nil, nil
	}
	if !s.service.Passwords().Verify(u.PasswordHash, password) {
		return nil, nil
	}
	return u, nil
}

func hashSessionToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// currentSession returns the signed-in user of the browser's session
// cookie, when the session is live and the user still active.
func (s *Server) currentSession(c echo.Context, p *provider) (*realm.User, *realm.BrowserSession, error) {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil, nil
	}
	ctx := c.Request().Context()
	bs, err := s.store.GetBrowserSessionByToken(ctx, p.realm.ID, hashSessionToken(ck.Value))
	if errors.Is(err, realm.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if bs.Revoked || !s.clock().Before(bs.ExpiresAt) {
		return nil, nil, nil
	}
	u, err := s.store.GetUser(ctx, p.realm.ID, bs.UserID)
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
func (s *Server) startSession(c echo.Context, p *provider, u *realm.User) (*realm.BrowserSession, error) {
	now := s.clock().UTC()
	token := randomToken()
	bs := &realm.BrowserSession{
		ID: realm.NewID(now, nil), RealmID: p.realm.ID, UserID: u.ID, TokenHash: hashSessionToken(token),
		AuthTime: now, ExpiresAt: now.Add(s.sessionLifespan), CreatedAt: now,
	}
	ctx := c.Request().Context()
	// A sign-in over a live session (prompt=login, or another user) ends
	// the old one: the cookie is replaced, and the session must not live on
	// in the database where its refresh tokens would still count it live.
	if ck, err := c.Request().Cookie(sessionCookie); err == nil && ck.Value != "" {
		old, err := s.store.GetBrowserSessionByToken(ctx, p.realm.ID, hashSessionToken(ck.Value))
		if err == nil && !old.Revoked {
			if err := s.store.RevokeBrowserSession(ctx, p.realm.ID, old.ID); err != nil {
				return nil, err
			}
		} else if err != nil && !errors.Is(err, realm.ErrNotFound) {
			return nil, err
		}
	}
	if err := s.store.CreateBrowserSession(ctx, bs); err != nil {
		return nil, err
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/realms/" + p.realm.Name + "/",
		HttpOnly: true, Secure: strings.HasPrefix(s.publicURL, "https://"), SameSite: http.SameSiteLaxMode,
	})
	return bs, nil
}

// completeAuthorize issues the code for the signed-in user and redirects
// back to the application with code, state and iss (RFC 9207).
func (s *Server) completeAuthorize(c echo.Context, p *provider, ar fosite.AuthorizeRequester, fc *fositeClient, u *realm.User, bs *realm.BrowserSession, requestedAt time.Time) error {
	ctx := c.Request().Context()
	for _, scope := range ar.GetRequestedScopes() {
		// offline_access is dropped, not refused, for a client that may
		// not have it: the sign-in works, with a session-bound refresh
		// token (Keycloak ignores a scope the client does not offer).
		if scope == scopeOffline && !fc.c.AllowOfflineAccess {
			continue
		}
		ar.GrantScope(scope)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := &userSession{UserID: u.ID, SessionID: bs.ID, AuthTime: bs.AuthTime,
		Offline: ar.GetGrantedScopes().Has(scopeOffline)}
	if p.realm.Name == realm.ConsoleRealm {
		orgID, err := s.chooseConsoleOrg(ctx, u.ID, ar.GetGrantedScopes())
		if err != nil {
			return s.writeAuthorizeError(c, p, ar, err)
		}
		sess.OrgID = orgID
	}
	id := sess.IDTokenClaims()
	id.Subject = u.ID
	id.Issuer = p.issuer
	// Not rounded: with prompt=login fosite requires auth_time not to be
	// before the request; the token carries whole seconds anyway.
	id.AuthTime = bs.AuthTime.UTC()
	id.RequestedAt = requestedAt
	id.Extra = map[string]any{"azp": fc.c.ClientID, "sid": bs.ID}
	granted := ar.GetGrantedScopes()
	if granted.Has("email") {
		id.Extra["email"] = u.Email
	}
	if granted.Has("profile") {
		id.Extra["name"] = strings.TrimSpace(u.FirstName + " " + u.LastName)
		id.Extra["given_name"] = u.FirstName
		id.Extra["family_name"] = u.LastName
	}
	resp, err := p.fosite.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		return s.writeAuthorizeError(c, p, ar, err)
	}
	resp.AddParameter("iss", p.issuer)
	// fosite adds the granted scope; RFC 6749 §4.1.2 has no such parameter
	// in a code response, and Keycloak sends none: keycloak-js, which
	// strips only the parameters it knows from the URL, would leave it in
	// the application's address (and in its post-logout redirect URI).
	// The granted scope is in the token response.
	resp.GetParameters().Del("scope")
	p.fosite.WriteAuthorizeResponse(ctx, c.Response(), ar, resp)
	s.sweepAuthRequests(ctx)
	return nil
}

// sweepAuthRequests deletes expired code, PKCE and OIDC rows (and refresh
// tokens) now and then
// (every 256th code on this node), in the background: rows of codes
// never redeemed would otherwise stay forever.
func (s *Server) sweepAuthRequests(ctx context.Context) {
	if s.codesIssued.Add(1)%256 != 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		if _, err := s.store.DeleteExpiredAuthRequests(ctx, s.clock()); err != nil {
			s.log.WarnContext(ctx, "oauth: deleting expired authorization codes", "err", err)
		}
		// Refresh tokens too, the same way: a used one stays until it
		// expires, so that its reuse is recognised until then.
		if _, err := s.store.DeleteExpiredRefreshTokens(ctx, s.clock()); err != nil {
			s.log.WarnContext(ctx, "oauth: deleting expired refresh tokens", "err", err)
		}
	}()
}

// writeAuthorizeError answers a bad authorization request at a verified
// redirect URI, with iss added (RFC 9207 §2 asks for it on errors too).
func (s *Server) writeAuthorizeError(c echo.Context, p *provider, ar fosite.AuthorizeRequester, err error) error {
	ctx := c.Request().Context()
	if errors.Is(err, fosite.ErrServerError) {
		s.logServerError(ctx, p, "authorize", err)
	}
	p.fosite.WriteAuthorizeError(ctx, &issWriter{ResponseWriter: c.Response(), iss: p.issuer}, ar, err)
	return nil
}

// formPostTemplate is the form_post response page of a realm. It carries
// iss on every response (RFC 9207), errors included: fosite builds an
// error's parameters itself, so iss is added here when they lack it.
func formPostTemplate(issuer string) *template.Template {
	return template.Must(template.New("form_post").Funcs(template.FuncMap{"issuer": func() string { return issuer }}).Parse(
		`<!doctype html><html><head><meta charset="utf-8"><title>Signing in…</title></head>` +
			`<body onload="document.forms[0].submit()"><form method="post" action="{{.RedirURL}}">` +
			`{{range $name, $values := .Parameters}}{{range $values}}<input type="hidden" name="{{$name}}" value="{{.}}">{{end}}{{end}}` +
			`{{if not (index .Parameters "iss")}}<input type="hidden" name="iss" value="{{issuer}}">{{end}}` +
			`<noscript><button type="submit">Continue</button></noscript></form></body></html>`))
}

// issWriter adds iss to the Location of a redirect as its headers go out.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			if u.Fragment != "" {
				// fosite wrote the fragment form-encoded; appending keeps
				// its encoding as it is.
				w.Header().Set("Location", loc+"&iss="+url.QueryEscape(w.iss))
			} else {
				q := u.Query()
				q.Set("iss", w.iss)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// renderLoginForm renders the login form with a fresh CSRF cookie (double
// submit) whose value is also in the form.
func (s *Server) renderLoginForm(c echo.Context, status int, page loginPage) error {
	page.CSRF = randomToken()
	http.SetCookie(c.Response(), &http.Cookie{
		Name: loginCSRFCookie, Value: page.CSRF, Path: "/realms/" + c.Param("realm") + "/protocol/openid-connect/",
		HttpOnly: true, Secure: strings.HasPrefix(s.publicURL, "https://"), SameSite: http.SameSiteStrictMode,
	})
	return s.renderLogin(c, status, page)
}

// renderLogin writes the login or sign-in error page with the same headers
// as the login-actions pages: no framing, no caching, no Referer, only its
// own inline style. Unlike them it has no form-action directive: browsers
// that apply it to the redirect after the form is posted would block the
// redirect back to the application.
func (s *Server) renderLogin(c echo.Context, status int, page loginPage) error {
	page.Nonce = randomToken()
	setPageHeaders(c.Response().Header(), page.Nonce, "")
	c.Response().WriteHeader(status)
	return loginTemplate.Execute(c.Response(), page)
}
