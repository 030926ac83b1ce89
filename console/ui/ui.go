package ui

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

const (
	sessionCookie = "ward_console"
	signInCookie  = "ward_console_signin"
	// signInTTL is how long a started sign-in may take (the login form,
	// perhaps a password reset in another tab).
	signInTTL = 15 * time.Minute
	// refreshTimeout bounds a token refresh made while serving a page.
	refreshTimeout = 10 * time.Second
	// sessionTTL is the absolute lifetime of a console session; the realm
	// session and refresh token may end it earlier.
	sessionTTL = 12 * time.Hour
)

// Authenticator turns a console access token into the principal the admin
// API would act as (console.AdminAuth).
type Authenticator interface {
	AuthenticateAdmin(ctx context.Context, bearer string) (realm.Principal, error)
}

// Config holds what the console UI needs.
type Config struct {
	Service   *realm.Service
	Auth      Authenticator
	PublicURL string // Ward's external base URL, without a trailing slash
	// Sessions stores console sessions (the database: any node serves any
	// member). Required.
	Sessions realm.ConsoleSessionStore
	// Key (32 bytes) seals sessions and sign-ins in progress; every node
	// must use the same (cmd/ward derives it from the master key). nil
	// means a random key: nothing sealed outlives the process.
	Key    []byte
	Client *http.Client // for the token endpoint; default http.DefaultClient
	Logger *slog.Logger // default slog.Default()
	Now    func() time.Time

	// MintTestKey mints a test key of a realm's security template for the
	// principal on ctx (oauth.Server.MintTestKey: it checks the principal
	// may change the realm, caps the key at ten minutes and records the
	// event). nil hides the "mint a test key" button.
	MintTestKey func(ctx context.Context, realmName, template string) (*oauth.MintedKey, error)
	// IdPs manages the realms' identity providers (CONTRACT §9).
	IdPs *realm.IdentityProviders
}

// UI is the console web interface. Its sessions live in the database
// (Config.Sessions), so it holds no per-member state of its own.
type UI struct {
	svc    *realm.Service
	auth   Authenticator
	public string
	secure bool
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	oauth  *oauth2.Config
	logout string
	pages  *pageSet
	seal   *sealer
	sess   *sessions
	mint   func(ctx context.Context, realmName, template string) (*oauth.MintedKey, error)
	idps   *realm.IdentityProviders // nil: the identity provider pages say they are not available
}

// New builds the console UI.
func New(cfg Config) (*UI, error) {
	if cfg.Service == nil || cfg.Auth == nil || cfg.Sessions == nil {
		return nil, errors.New("ui: Config.Service, Config.Auth and Config.Sessions are required")
	}
	if cfg.Key != nil && len(cfg.Key) != 32 {
		return nil, errors.New("ui: Config.Key must be 32 bytes")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, errors.New("ui: Config.PublicURL must be an absolute http(s) URL")
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	seal, err := newSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	u := &UI{
		svc: cfg.Service, auth: cfg.Auth, public: strings.TrimRight(cfg.PublicURL, "/"),
		secure: pub.Scheme == "https", client: cfg.Client, log: cfg.Logger, now: cfg.Now, pages: pages, seal: seal,
		sess: &sessions{store: cfg.Sessions, seal: seal}, mint: cfg.MintTestKey, idps: cfg.IdPs,
	}
	if u.client == nil {
		u.client = http.DefaultClient
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.now == nil {
		u.now = time.Now
	}
	issuer := u.public + "/realms/" + realm.ConsoleRealm
	u.oauth = &oauth2.Config{
		ClientID:    realm.ConsoleClientID,
		RedirectURL: u.public + "/console/callback",
		Scopes:      []string{"openid"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   issuer + "/protocol/openid-connect/auth",
			TokenURL:  issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams, // a public client: no secret
		},
	}
	u.logout = issuer + "/protocol/openid-connect/logout"
	return u, nil
}

// Register mounts the console pages on e.
func (u *UI) Register(e *echo.Echo) {
	e.GET("/console/static/:file", u.static)
	e.GET("/console/callback", u.callback)
	e.POST("/console/logout", u.signOut)
	e.GET("/console", u.page(u.realmsPage))
	e.POST("/console", u.page(u.createRealm))
	e.POST("/console/org", u.page(u.switchOrg))
	e.GET("/console/realms/:realm", u.page(u.realmPage))
	e.POST("/console/realms/:realm", u.page(u.updateRealm))
	e.POST("/console/realms/:realm/delete", u.page(u.deleteRealm))
	e.POST("/console/realms/:realm/ip-allow-list", u.page(u.setRealmIPAllowList))
	e.POST("/console/realms/:realm/sign-in", u.page(u.setRealmSignIn))
	// A reload of the refused form's address goes to the realm's page.
	e.GET("/console/realms/:realm/ip-allow-list", u.page(func(r *req) error {
		return r.c.Redirect(http.StatusSeeOther, realmPath(r.realm)+"#network")
	}))
	e.GET("/console/realms/:realm/sign-in", u.page(func(r *req) error {
		return r.c.Redirect(http.StatusSeeOther, realmPath(r.realm)+"#sign-in")
	}))
	u.registerAttributes(e)
	u.registerGroups(e)
	u.registerUsers(e)
	u.registerClients(e)
	u.registerPolicies(e)
	u.registerPermissions(e)
	u.registerAPIKeys(e)
	u.registerSecurityTemplates(e)
	u.registerIdentityProviders(e)
	u.registerEvents(e)
	u.registerSettings(e)
	u.registerOrgClients(e)
	u.registerMembers(e)
	u.registerSupport(e)
}

// startSignIn sends the browser to the console realm's authorization
// endpoint, with state and PKCE verifier sealed in a short-lived cookie
// (signin.go). back is the console page to return to (a local /console
// path, else the realms list); org asks for that org's token (scope
// org:SLUG) instead of the first org the member joined.
func (u *UI) startSignIn(c echo.Context, back, org string) error {
	now := u.now()
	if len(back) > maxBack || !strings.HasPrefix(back, "/console") || strings.HasPrefix(back, "/console/callback") || strings.HasPrefix(back, "/console//") {
		back = "/console"
	}
	u.dropOldSignIns(c, now)
	p := pending{State: randomString(), Verifier: oauth2.GenerateVerifier(), Expires: now.Add(signInTTL), Back: back}
	u.setCookie(c, signInCookieName(p.State), u.seal.seal(p), "/console", signInTTL)
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier)}
	if org != "" {
		opts = append(opts, oauth2.SetAuthURLParam("scope", "openid org:"+org))
	}
	return c.Redirect(http.StatusFound, u.oauth.AuthCodeURL(p.State, opts...))
}

// maxBack bounds the page a sign-in returns to (it rides in a cookie), and
// maxSignIns how many sign-ins a browser keeps in progress: a page that
// sends someone to /console again and again must not grow their cookies
// past what servers and proxies accept.
const (
	maxBack    = 512
	maxSignIns = 3
)

// Sign-in cookies have the path /console (not only the callback), so that
// starting a sign-in sees the ones already in progress.

// dropOldSignIns clears the browser's sign-ins in progress beyond the
// newest maxSignIns-1 (a new one is about to start), and any it cannot
// open (expired, or from another key).
func (u *UI) dropOldSignIns(c echo.Context, now time.Time) {
	type live struct {
		name    string
		expires time.Time
	}
	var open []live
	prefix := u.cookieName(signInCookie + "_")
	for _, ck := range c.Cookies() {
		name, ok := strings.CutPrefix(ck.Name, prefix)
		if !ok {
			continue
		}
		base := signInCookie + "_" + name
		if p, ok := u.seal.openSignIn(base, ck.Value, now); ok {
			open = append(open, live{base, p.Expires})
		} else {
			u.setCookie(c, base, "", "/console", -1)
		}
	}
	slices.SortFunc(open, func(a, b live) int { return b.expires.Compare(a.expires) })
	for i, l := range open {
		if i >= maxSignIns-1 {
			u.setCookie(c, l.name, "", "/console", -1)
		}
	}
}

// callback finishes a sign-in: the state must be the one this browser
// started with (its sealed cookie), and the code is exchanged with its
// PKCE verifier.
func (u *UI) callback(c echo.Context) error {
	if err := checkParams(c); err != nil {
		return u.badInput(c, err)
	}
	q := c.QueryParams()
	if !q.Has("code") && !q.Has("error") && !q.Has("state") {
		// The realm's logout sends the browser here (ward-console's only
		// registered redirect URI).
		return u.message(c, http.StatusOK, "You are signed out", "")
	}
	now := u.now()
	var p pending
	var ok bool
	if state := q.Get("state"); formKeyShape(state) {
		name := signInCookieName(state)
		if ck, err := c.Cookie(u.cookieName(name)); err == nil {
			p, ok = u.seal.openSignIn(name, ck.Value, now)
		}
		u.setCookie(c, name, "", "/console", -1)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(p.State), []byte(q.Get("state"))) != 1 {
		return u.message(c, http.StatusBadRequest, "Sign-in could not be verified",
			"This sign-in was not started here or has expired. Start again.")
	}
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return u.message(c, http.StatusForbidden, "Access denied", "This account is not a member of an organization.")
		}
		return u.message(c, http.StatusBadRequest, "Sign-in failed", "The sign-in answered "+e+".")
	}
	ctx := context.WithValue(c.Request().Context(), oauth2.HTTPClient, u.client)
	tok, err := u.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			u.log.Info("console: code exchange refused", "error", re.ErrorCode)
			return u.message(c, http.StatusBadRequest, "Sign-in failed", "The sign-in could not be completed. Start again.")
		}
		u.log.Error("console: code exchange failed", "err", err)
		return u.message(c, http.StatusBadGateway, "Sign-in failed", "The token endpoint could not be reached.")
	}
	// The session belongs to the console account the token acts for: one
	// account has a bounded number of sessions (store.go).
	principal, err := u.auth.AuthenticateAdmin(c.Request().Context(), tok.AccessToken)
	if err != nil {
		if errors.Is(err, realm.ErrUnavailable) {
			return u.unavailable(c, err)
		}
		u.log.Info("console: token from the sign-in does not authenticate", "err", err)
		return u.message(c, http.StatusForbidden, "Access denied", "This account cannot use the console.")
	}
	idToken, _ := tok.Extra("id_token").(string)
	st := sessionState{Access: tok.AccessToken, Refresh: tok.RefreshToken, IDToken: idToken, CSRF: randomString()}
	ctx = c.Request().Context()
	key, err := u.sess.create(ctx, principal.ActorType+":"+principal.ActorID, st, now.Add(sessionTTL), now)
	if err != nil {
		return u.unavailable(c, err)
	}
	// A sign-in for another org replaces the browser's previous session.
	if old, err := c.Cookie(u.cookieName(sessionCookie)); err == nil {
		if err := u.sess.remove(ctx, sessionHash(old.Value)); err != nil {
			u.log.Warn("console: removing the replaced session", "err", err)
		}
	}
	u.setCookie(c, sessionCookie, key, "/console", sessionTTL)
	return c.Redirect(http.StatusSeeOther, p.Back)
}

// current returns the browser's session and the principal its access token
// acts as, refreshing the token when it no longer authenticates (it
// expired, or the member's role changed). A nil session means "sign in
// again". The caller holds the session's lock on this node; across nodes,
// one request at a time refreshes (claimRefresh) and the others wait for
// its tokens.
func (u *UI) current(c echo.Context, cookie string) (*liveSession, realm.Principal, error) {
	ctx := c.Request().Context()
	s, err := u.sess.load(ctx, cookie, u.now())
	if err != nil || s == nil {
		return nil, realm.Principal{}, err
	}
	for range 3 {
		p, err := u.auth.AuthenticateAdmin(ctx, s.st.Access)
		if err == nil {
			return s, p, nil
		}
		if errors.Is(err, realm.ErrUnavailable) || ctx.Err() != nil {
			return nil, realm.Principal{}, err
		}
		if s.st.Refresh == "" {
			// Nothing to renew it with: sign in again.
			if err := u.sess.remove(ctx, s.idHash); err != nil {
				return nil, realm.Principal{}, err
			}
			return nil, realm.Principal{}, nil
		}
		claimed, err := u.sess.claimRefresh(ctx, s, u.now())
		if err != nil {
			return nil, realm.Principal{}, err
		}
		if !claimed {
			// Another request is refreshing, or wrote first: take its
			// tokens once they are there.
			wctx, cancel := context.WithTimeout(ctx, refreshTimeout+5*time.Second)
			s, err = u.sess.awaitChange(wctx, s, u.now)
			cancel()
			if err != nil || s == nil {
				return nil, realm.Principal{}, err
			}
			continue
		}
		return u.refresh(c, s)
	}
	// Other requests kept refreshing or writing the session: busy, not
	// signed out (the session may be fine a moment later).
	return nil, realm.Principal{}, fmt.Errorf("%w: the session's token is being renewed by another request", realm.ErrUnavailable)
}

// refresh renews s's tokens; it runs with s claimed for refreshing.
func (u *UI) refresh(c echo.Context, s *liveSession) (*liveSession, realm.Principal, error) {
	ctx := c.Request().Context()
	// Bounded: the session's lock is held and others wait meanwhile.
	rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	octx := context.WithValue(rctx, oauth2.HTTPClient, u.client)
	tok, rerr := u.oauth.TokenSource(octx, &oauth2.Token{RefreshToken: s.st.Refresh}).Token()
	if rerr != nil {
		var re *oauth2.RetrieveError
		if !errors.As(rerr, &re) || re.Response == nil || re.Response.StatusCode >= 500 {
			// Ward could not answer (down, overloaded, timed out): the
			// session, its waiting secrets and form keys stay; the member
			// may try again.
			s.change(func(st *sessionState) { st.RefreshingUntil = time.Time{} })
			if err := u.sess.save(ctx, s, u.now()); err != nil {
				return nil, realm.Principal{}, err
			}
			return nil, realm.Principal{}, fmt.Errorf("%w: refresh: %v", realm.ErrUnavailable, rerr)
		}
		// Refused (revoked, member removed): the session is over.
		if err := u.sess.remove(ctx, s.idHash); err != nil {
			return nil, realm.Principal{}, err
		}
		return nil, realm.Principal{}, nil
	}
	// The old refresh token is spent: the new pair is kept whatever
	// happens next.
	idToken, _ := tok.Extra("id_token").(string)
	s.change(func(st *sessionState) {
		st.Access, st.RefreshingUntil = tok.AccessToken, time.Time{}
		if tok.RefreshToken != "" {
			st.Refresh = tok.RefreshToken
		}
		if idToken != "" {
			st.IDToken = idToken
		}
	})
	if err := u.sess.save(ctx, s, u.now()); err != nil {
		return nil, realm.Principal{}, err
	}
	p, err := u.auth.AuthenticateAdmin(ctx, tok.AccessToken)
	if err == nil {
		return s, p, nil
	}
	if errors.Is(err, realm.ErrUnavailable) {
		return nil, realm.Principal{}, err
	}
	if err := u.sess.remove(ctx, s.idHash); err != nil {
		return nil, realm.Principal{}, err
	}
	return nil, realm.Principal{}, nil
}

// Sweep deletes expired console sessions (the janitor calls it).
func (u *UI) Sweep(ctx context.Context) {
	if n, err := u.sess.store.DeleteExpiredConsoleSessions(ctx, u.now()); err != nil {
		u.log.WarnContext(ctx, "console: janitor: deleting expired sessions", "err", err)
	} else if n > 0 {
		u.log.DebugContext(ctx, "console: janitor: deleted expired sessions", "count", n)
	}
}

// signOut ends the console session (the form must carry the session's CSRF
// token) and then the console realm's session, by RP-initiated logout with
// the ID token as proof.
func (u *UI) signOut(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, 16<<10)
	if err := req.ParseForm(); err != nil {
		return u.message(c, http.StatusBadRequest, "Bad request", "The form could not be read.")
	}
	if err := realm.CheckValues(req.Form); err != nil {
		return u.badInput(c, err)
	}
	ck, err := c.Cookie(u.cookieName(sessionCookie))
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/console")
	}
	unlock, ok := u.sess.lock(req.Context(), ck.Value)
	if !ok {
		return u.message(c, http.StatusServiceUnavailable, "Busy", "Your previous console request is still running. Try again in a moment.")
	}
	defer unlock()
	ctx := req.Context()
	s, err := u.sess.load(ctx, ck.Value, u.now())
	if err != nil {
		return u.unavailable(c, err)
	}
	if s == nil {
		u.setCookie(c, sessionCookie, "", "/console", -1)
		return c.Redirect(http.StatusSeeOther, "/console")
	}
	if !s.checkCSRF(req.PostForm.Get("csrf_token")) {
		return u.message(c, http.StatusForbidden, "Sign-out refused", "The form has expired; reload the page and try again.")
	}
	if err := u.sess.remove(ctx, s.idHash); err != nil {
		return u.unavailable(c, err)
	}
	u.setCookie(c, sessionCookie, "", "/console", -1)
	q := url.Values{"post_logout_redirect_uri": {u.oauth.RedirectURL}, "client_id": {realm.ConsoleClientID}}
	if s.st.IDToken != "" {
		q.Set("id_token_hint", s.st.IDToken)
	}
	return c.Redirect(http.StatusSeeOther, u.logout+"?"+q.Encode())
}

// unavailable answers a failure of Ward's own: 503 while the database is
// unavailable (realm.HTTPStatus), 500 for anything else. The cause is
// logged, never shown.
func (u *UI) unavailable(c echo.Context, err error) error {
	if c.Request().Context().Err() != nil {
		return err
	}
	u.log.Error("console: request failed", "path", c.Path(), "err", err)
	if realm.HTTPStatus(err) == http.StatusServiceUnavailable {
		return u.message(c, http.StatusServiceUnavailable, "Temporarily unavailable", "Ward could not complete this request; try again shortly.")
	}
	return u.message(c, http.StatusInternalServerError, "Something went wrong", "Ward could not complete this request; the error has been logged.")
}

// messagePage is the data of console/message.html.
type messagePage struct {
	Nonce  string
	Title  string
	Detail string
	// Back is a console page to go on to, instead of the console's home.
	Back, BackLabel string
}

func (u *UI) message(c echo.Context, status int, title, detail string) error {
	return u.render(c, status, "message.html", &messagePage{Title: title, Detail: detail})
}

// nonced is a page that carries its CSP nonce.
type nonced interface{ setNonce(string) }

func (p *messagePage) setNonce(n string) { p.Nonce = n }

// render writes a page with a strict CSP (the console's own stylesheet and
// script, and the page's nonced style), no framing and no caching: console
// pages show an org's data.
func (u *UI) render(c echo.Context, status int, name string, data nonced) error {
	t, err := u.pages.page(name)
	if err != nil {
		return err
	}
	nonce := randomString()
	data.setNonce(nonce)
	// Render first, so that a template error is a clean 500, not half a page.
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'nonce-"+nonce+"'; script-src 'self'"+
		"; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	_, err = c.Response().Write(buf.Bytes())
	return err
}

// cookieName is the browser's name of a console cookie: over https with
// the __Secure- prefix, which browsers accept only with the Secure flag,
// so that a page on plain http (or a sibling subdomain over http) cannot
// plant a session of its choosing.
func (u *UI) cookieName(name string) string {
	if u.secure {
		return "__Secure-" + name
	}
	return name
}

// setCookie sets (maxAge > 0) or clears (maxAge < 0) an HttpOnly, Lax
// cookie, Secure when Ward is served over https.
func (u *UI) setCookie(c echo.Context, name, value, path string, maxAge time.Duration) {
	ck := &http.Cookie{Name: u.cookieName(name), Value: value, Path: path, HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.SetCookie(ck)
}

// HandleError answers an error under /console as a page, not JSON: an
// unknown console address is "Page not found", anything unexpected a
// generic page (details only in the log).
func (u *UI) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	} else {
		u.log.Error("console: request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	title, detail := "Something went wrong", "Ward could not show this page. Try again; if it keeps failing, the server log says why."
	switch status {
	case http.StatusNotFound:
		title, detail = "Page not found", "There is no console page at this address."
	case http.StatusMethodNotAllowed:
		title, detail = "Not allowed here", "This address does not take that kind of request."
	case http.StatusRequestEntityTooLarge:
		title, detail = "Too large", "The form sent was too large."
	}
	if err := u.message(c, status, title, detail); err != nil {
		u.log.Error("console: error page failed", "err", err)
	}
}
