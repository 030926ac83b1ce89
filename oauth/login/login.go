package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// Config holds what the Handler needs.
type Config struct {
	// OAuth is the provider whose authorization requests the login page
	// completes.
	OAuth *oauth.Server
	// Store keeps users, browser sessions and login failures.
	Store realm.Store
	// Service checks passwords and handles the set-password and reset
	// links.
	Service *realm.Service
	// PublicURL is the external base URL; under https, cookies are Secure.
	PublicURL string
	Clock     func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()
	// SessionLifespan is how long a browser session lets a user skip the
	// password; default 10 h.
	SessionLifespan time.Duration
	// LoginRateLimit is the per-address limit of the login form's POSTs;
	// zero takes the default (1/s, bursts of 20).
	LoginRateLimit oauth.RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the per-address limit.
	TrustedProxies []netip.Prefix
}

// Handler serves the HTML flows of a realm.
type Handler struct {
	oauth           *oauth.Server
	store           realm.Store
	service         *realm.Service
	secure          bool // an https public URL: Secure cookies (and the __Host- CSRF cookie of login-actions)
	clock           func() time.Time
	log             *slog.Logger
	sessionLifespan time.Duration
	loginIPs        *oauth.IPLimiter
	proxies         oauth.TrustedProxies
	lockout         *lockout
}

// defaultLoginRate lets a person (or a school behind one NAT) sign in
// freely while bounding the argon2id work one address can cause.
var defaultLoginRate = oauth.RateLimit{Rate: 1, Burst: 20}

// New builds a Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.OAuth == nil:
		return nil, errors.New("login: Config.OAuth is required")
	case cfg.Store == nil:
		return nil, errors.New("login: Config.Store is required")
	case cfg.Service == nil:
		return nil, errors.New("login: Config.Service is required")
	}
	h := &Handler{oauth: cfg.OAuth, store: cfg.Store, service: cfg.Service,
		secure: strings.HasPrefix(cfg.PublicURL, "https://"), clock: cfg.Clock, log: cfg.Logger,
		sessionLifespan: cfg.SessionLifespan, proxies: cfg.TrustedProxies}
	if cfg.LoginRateLimit.Rate <= 0 || cfg.LoginRateLimit.Burst <= 0 {
		cfg.LoginRateLimit = defaultLoginRate
	}
	h.loginIPs = oauth.NewIPLimiter(cfg.LoginRateLimit)
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.sessionLifespan <= 0 {
		h.sessionLifespan = 10 * time.Hour
	}
	h.lockout = &lockout{store: h.store, passwords: h.service.Passwords(), clock: h.clock, log: h.log}
	return h, nil
}

// Register mounts the authorization and logout endpoints and the
// login-actions pages under /realms/:realm. Logout answers CORS for the
// realm's web_origins, as oauth's other endpoints that applications call.
func (h *Handler) Register(e *echo.Echo) {
	g := e.Group("/realms/:realm")
	// Every page first checks its query and path parameters (checkParams);
	// logout, which answers CORS, checks inside it.
	g.GET(oauth.PathAuth, h.handleAuthorize, h.checkParams)
	g.POST(oauth.PathAuth, h.handleAuthorize, h.checkParams)
	g.GET(oauth.PathLogout, h.oauth.WithCORS(h.checkParams(h.handleLogout)))
	g.POST(oauth.PathLogout, h.oauth.WithCORS(h.checkParams(h.handleLogout)))
	g.OPTIONS(oauth.PathLogout, h.oauth.CORSPreflight("GET, POST, OPTIONS"))
	g.GET(pathSetPassword, h.setPasswordForm, h.checkParams)
	g.POST(pathSetPassword, h.setPasswordSubmit, h.checkParams)
	g.GET(pathResetPassword, h.resetForm, h.checkParams)
	g.GET(pathLogo, h.logo, h.checkParams)
	g.POST(pathResetPassword, h.resetSubmit, h.checkParams)
}

// checkParams answers a request whose query or path parameters are not
// acceptable text (realm.CheckValues: UTF-8 without control characters)
// with the error page, 400, before anything reads them: nothing is looked
// up with them, and nobody is sent to a redirect_uri that was never
// checked. Form bodies are checked where they are parsed.
func (h *Handler) checkParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := realm.CheckPath(c.ParamNames(), c.ParamValues())
		if err == nil {
			err = realm.CheckValues(c.QueryParams())
		}
		if err != nil {
			return h.badText(c, loginPage{}, err)
		}
		return next(c)
	}
}

// badText answers parameters or form fields that are not acceptable text
// with the error page, naming the first.
func (h *Handler) badText(c echo.Context, page loginPage, err error) error {
	return h.errorPage(c, page, http.StatusBadRequest, "Bad request", oauth.BadTextDescription(err))
}

// Sweep deletes what the pages leave behind once it has expired: stale
// login failure counts and used or expired set-password links. Failures
// are logged; the next sweep tries again.
func (h *Handler) Sweep(ctx context.Context) {
	now := h.clock()
	oauth.SweepRows(ctx, h.log, "login_failures", h.store.DeleteStaleLoginFailures, now.Add(-loginFailureTTL))
	oauth.SweepRows(ctx, h.log, "action_tokens", h.store.DeleteExpiredActionTokens, now)
}

// maxFormBytes bounds the pages' form bodies; real ones are well under
// 4 KiB.
const maxFormBytes = 64 << 10

// unavailableText is what every page says when Ward itself failed (the
// database is down): the cause is logged, never shown.
const unavailableText = "The service is unavailable right now. Try again shortly."

var loginTemplate = template.Must(template.ParseFS(templates.FS, "login.html"))

// loginPage is the data of templates/login.html. Without Action it is an
// error page with no form.
type loginPage struct {
	Title     string
	RealmName string
	// Accent is the realm's accent colour (#rrggbb, validated when set),
	// "" for Ward's own; Logo the path of its logo, "" when it has none.
	Accent, Logo string
	AppName      string
	Nonce        string
	Action       string
	CSRF         string
	Email        string
	Error        string
	ResetURL     string
	// Logout makes the page the sign-out confirmation (logout.go); Hidden
	// are the request's parameters its form posts back.
	Logout bool
	Hidden []hiddenField
	// PasswordLogin shows the password form; Providers are the realm's
	// identity providers' buttons (providers.go).
	PasswordLogin bool
	Providers     []providerButton
}

type hiddenField struct{ Name, Value string }

// errorPage is the one way these flows answer a request they cannot go on
// with: the sign-in page without a form, titled title, saying text. page
// carries the realm's and the application's names.
func (h *Handler) errorPage(c echo.Context, page loginPage, status int, title, text string) error {
	page.Title, page.Error, page.Action, page.Logout, page.Hidden = title, text, "", false, nil
	return h.renderLogin(c, status, page)
}

// failPage answers a failure to read what a page needs (its realm, a
// client, a session): an unknown realm is "not found"; anything else is
// Ward's own failure (failureStatus), logged as what failed, and the page
// says only that the service is unavailable.
func (h *Handler) failPage(c echo.Context, page loginPage, what string, err error) error {
	if errors.Is(err, oauth.ErrRealmNotFound) || errors.Is(err, realm.ErrNotFound) {
		return h.errorPage(c, page, http.StatusNotFound, "Not found", "There is no such realm.")
	}
	h.log.ErrorContext(c.Request().Context(), "login: "+what, "realm", c.Param("realm"), "err", err)
	return h.errorPage(c, page, failureStatus(err), "Try again shortly", unavailableText)
}

// failureStatus is the status of an error a page does not interpret: 503
// when realm.HTTPStatus says the database is unavailable, else 500. A page
// that says "unavailable" never answers 4xx.
func failureStatus(err error) int {
	if realm.HTTPStatus(err) == http.StatusServiceUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// authorizer returns the realm's authorization endpoint; when there is
// none it has answered with the error page and returns nil.
func (h *Handler) authorizer(c echo.Context) (*oauth.Authorizer, error) {
	az, err := h.oauth.Authorizer(c.Request().Context(), c.Param("realm"))
	if err != nil {
		return nil, h.failPage(c, loginPage{RealmName: c.Param("realm")}, "realm lookup", err)
	}
	return az, nil
}

// renderLogin writes the login or sign-in error page with the same headers
// as the login-actions pages: no framing, no caching, no Referer, only its
// own inline style. Unlike them it has no form-action directive: browsers
// that apply it to the redirect after the form is posted would block the
// redirect back to the application.
func (h *Handler) renderLogin(c echo.Context, status int, page loginPage) error {
	page.Nonce = randomToken()
	extra := ""
	if page.Logo != "" {
		extra = "img-src 'self'; " // the realm's logo, served by Ward
	}
	setPageHeaders(c.Response().Header(), page.Nonce, extra)
	c.Response().WriteHeader(status)
	return loginTemplate.Execute(c.Response(), page)
}

// setPageHeaders gives Ward's HTML pages their common headers: a CSP that
// allows only the page's own nonce-tagged style (extra adds directives),
// no framing, no sniffing, no caching and no Referer.
func setPageHeaders(hd http.Header, nonce, extra string) {
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; "+extra+"frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
}

// realmDisplay is what the pages call the realm.
func realmDisplay(r *realm.Realm) string {
	if r.DisplayName != "" {
		return r.DisplayName
	}
	return r.Name
}

// randomToken is 256 random bits, base64url: session tokens, CSRF tokens,
// nonces.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("login: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pathLogo serves a realm's login page logo (realm settings).
const pathLogo = "/branding/logo"

// logo answers a realm's logo: an image checked when it was uploaded (PNG
// or JPEG by its bytes), served with its own type, never sniffed, never run
// as a document, and cached briefly (its link changes with every upload).
func (h *Handler) logo(c echo.Context) error {
	r, err := h.store.GetRealmByName(c.Request().Context(), c.Param("realm"))
	if err == nil && r.Settings.LogoType == "" {
		err = realm.ErrNotFound
	}
	var (
		typ  string
		data []byte
	)
	if err == nil {
		typ, data, err = h.store.GetRealmLogo(c.Request().Context(), r.ID)
	}
	switch {
	case errors.Is(err, realm.ErrNotFound):
		return c.NoContent(http.StatusNotFound)
	case err != nil:
		h.log.ErrorContext(c.Request().Context(), "login: realm logo", "realm", c.Param("realm"), "err", err)
		return c.NoContent(http.StatusServiceUnavailable)
	}
	hd := c.Response().Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, typ, data)
}
