package broker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
)

// Pages are the login page's parts a sign-in through a provider ends with
// (oauth/login implements them): the broker checks the provider's answer,
// the login page makes the person signed in.
type Pages interface {
	// SignedIn makes u, who signed in through the provider named alias,
	// signed in in this browser (the user's groups' IP allow lists
	// checked, the browser session started, the sign-in recorded) and
	// continues the authorization request whose parameters continueQuery
	// holds.
	SignedIn(c echo.Context, r *realm.Realm, u *realm.User, alias, continueQuery string) error
	// Refused answers the sign-in page saying text, with status.
	Refused(c echo.Context, r *realm.Realm, status int, text string) error
}

// Config builds a Handler.
type Config struct {
	Store realm.Store
	IdPs  *realm.IdentityProviders
	Pages Pages
	// OAuth records network refusals (with the country, when it has a
	// GeoIP database).
	OAuth *oauth.Server
	// PublicURL is the external base URL: endpoints are under it, and
	// under https the state cookie is Secure.
	PublicURL string
	// Client talks to providers (metadata, discovery, tokens, keys,
	// userinfo); nil: NewClient(false), public addresses only.
	Client         *http.Client
	Clock          func() time.Time
	Logger         *slog.Logger
	TrustedProxies []netip.Prefix
	// RateLimit is the per-address budget of what writes to the database
	// without a checked answer: starting a sign-in (a row) and a refused
	// answer (an audit event). Zero takes the default (5/s, bursts of 100:
	// an office behind one address signing in at nine).
	RateLimit oauth.RateLimit
}

// Handler serves the broker endpoints of every realm.
type Handler struct {
	store     realm.Store
	idps      *realm.IdentityProviders
	pages     Pages
	oauth     *oauth.Server
	publicURL string
	secure    bool
	client    *http.Client
	clock     func() time.Time
	log       *slog.Logger
	proxies   oauth.TrustedProxies
	addresses *oauth.IPLimiter

	// parsed keeps each provider's parsed settings (SAML metadata, OIDC
	// discovery) by provider ID and update time: parsing metadata or
	// fetching a discovery document on every sign-in would be slow, and a
	// change to the provider changes its update time.
	mu     sync.Mutex
	parsed map[string]*parsedProvider
}

// New builds a Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("broker: Config.Store is required")
	case cfg.IdPs == nil:
		return nil, errors.New("broker: Config.IdPs is required")
	case cfg.Pages == nil:
		return nil, errors.New("broker: Config.Pages is required")
	case cfg.OAuth == nil:
		return nil, errors.New("broker: Config.OAuth is required")
	case cfg.PublicURL == "":
		return nil, errors.New("broker: Config.PublicURL is required")
	}
	h := &Handler{store: cfg.Store, idps: cfg.IdPs, pages: cfg.Pages, oauth: cfg.OAuth,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), secure: strings.HasPrefix(cfg.PublicURL, "https://"),
		client: cfg.Client, clock: cfg.Clock, log: cfg.Logger, proxies: cfg.TrustedProxies,
		parsed: map[string]*parsedProvider{}}
	if h.client == nil {
		h.client = NewClient(false)
	}
	if cfg.RateLimit.Rate <= 0 || cfg.RateLimit.Burst <= 0 {
		cfg.RateLimit = oauth.RateLimit{Rate: 5, Burst: 100}
	}
	h.addresses = oauth.NewIPLimiter(cfg.RateLimit)
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// Paths under /realms/{realm}.
const (
	// PathStart begins a sign-in through provider {alias}; its query is
	// the authorization request to continue (the login page's buttons
	// and kc_idp_hint link here).
	PathStart = "/broker/:alias/login"
	// PathEndpoint is Keycloak's broker endpoint: the SAML assertion
	// consumer service and the OIDC redirect URI.
	PathEndpoint = "/broker/:alias/endpoint"
	// PathDescriptor serves the SAML SP metadata.
	PathDescriptor = "/broker/:alias/endpoint/descriptor"
)

// StartURL is the path of PathStart for a realm and alias with the
// authorization request's query.
func StartURL(realmName, alias string, authorizeQuery url.Values) string {
	return "/realms/" + url.PathEscape(realmName) + "/broker/" + url.PathEscape(alias) + "/login?" + authorizeQuery.Encode()
}

// Register mounts the broker's endpoints.
func (h *Handler) Register(e *echo.Echo) {
	g := e.Group("/realms/:realm")
	g.GET(PathStart, h.start)
	g.GET(PathEndpoint, h.endpoint)
	g.POST(PathEndpoint, h.endpoint)
	g.GET(PathDescriptor, h.descriptor)
}

// stateCookie binds a sign-in in flight to the browser that started it:
// an answer from the provider carried by another browser (login CSRF,
// RFC 9700 §4.7) finds no cookie to match.
const stateCookie = "ward_broker"

// maxContinueLen bounds the authorization request kept with a sign-in in
// flight (an authorization request is a URL; browsers cap those near 8 KiB
// and more would only fill the table).
const maxContinueLen = 8 << 10

// Answers the pages give. None names a secret or the provider's answer.
const (
	textUnknownProvider = "There is no such identity provider, or it is switched off."
	textExpired         = "The sign-in took too long or was already completed. Please start again."
	textInvalidAnswer   = "The identity provider's answer could not be accepted. Please try again, or ask an administrator."
	textProviderError   = "The identity provider did not sign you in."
	textUnavailable     = "Signing in is not available right now. Please try again later."
	textNetwork         = "Sign-in is not allowed from this network."
)

// lookup finds the realm and its enabled provider of the request.
func (h *Handler) lookup(c echo.Context) (*realm.Realm, *realm.IdentityProvider, error) {
	ctx := c.Request().Context()
	r, err := h.store.GetRealmByName(ctx, c.Param("realm"))
	if err != nil {
		return nil, nil, err
	}
	if r.OrgID == "" || r.Name == realm.ConsoleRealm {
		return nil, nil, realm.ErrNotFound // the console realm has no providers
	}
	p, err := h.store.GetIdentityProvider(ctx, r.ID, c.Param("alias"))
	if err != nil {
		return r, nil, err
	}
	return r, p, nil
}

// start sends the browser to the provider.
func (h *Handler) start(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	r, p, err := h.lookup(c)
	if err != nil || !p.Enabled {
		return h.failed(c, r, err, http.StatusNotFound, textUnknownProvider)
	}
	if d := h.addresses.Wait(h.proxies.ClientIP(req), h.clock()); d > 0 {
		c.Response().Header().Set("Retry-After", oauth.RetryAfter(d))
		return h.pages.Refused(c, r, http.StatusTooManyRequests, "Too many sign-in attempts from your network. Try again in "+oauth.RetryAfter(d)+" seconds.")
	}
	if err := realm.CheckValues(req.URL.Query()); err != nil || len(req.URL.RawQuery) > maxContinueLen || req.URL.Query().Get("client_id") == "" {
		return h.pages.Refused(c, r, http.StatusBadRequest, "The request could not be read.")
	}
	if ok, err := h.realmAllows(ctx, r, req); err != nil {
		return h.failed(c, r, err, 0, "")
	} else if !ok {
		return h.pages.Refused(c, r, http.StatusForbidden, textNetwork)
	}
	// The provider's answer continues this authorization request, minus
	// what sent it here: kc_idp_hint would send it back, and prompt=login
	// and max_age would ask for a password right after the provider's
	// sign-in. They are asked of the provider instead (fresh), and the
	// session the sign-in starts is new (auth_time now).
	cont := req.URL.Query()
	fresh := cont.Has("max_age") || slices.Contains(strings.Fields(cont.Get("prompt")), "login")
	cont.Del("kc_idp_hint")
	cont.Del("max_age")
	if prompt := strings.Fields(cont.Get("prompt")); len(prompt) > 0 {
		kept := prompt[:0]
		for _, v := range prompt {
			if v != "login" {
				kept = append(kept, v)
			}
		}
		cont.Set("prompt", strings.Join(kept, " "))
		if len(kept) == 0 {
			cont.Del("prompt")
		}
	}
	pp, err := h.provider(ctx, r, p)
	if err != nil {
		h.log.WarnContext(ctx, "broker: provider settings not usable", "realm", r.Name, "provider", p.Alias, "err", err)
		return h.pages.Refused(c, r, http.StatusBadGateway, textUnavailable)
	}
	var redirect string
	switch p.Kind {
	case realm.IdPSAML:
		redirect, err = h.startSAML(c, r, p, pp, cont.Encode(), fresh)
	case realm.IdPOIDC:
		redirect, err = h.startOIDC(c, r, p, pp, cont.Encode(), fresh)
	}
	if err != nil {
		return h.failed(c, r, err, 0, "")
	}
	if redirect == "" {
		return nil // the SAML POST binding wrote its own form
	}
	return c.Redirect(http.StatusSeeOther, redirect)
}

// setStateCookie binds token to this browser for the round trip. Lax: the
// provider brings the browser back by a top-level navigation.
func (h *Handler) setStateCookie(c echo.Context, r *realm.Realm, token string) {
	http.SetCookie(c.Response(), &http.Cookie{
		Name: stateCookie, Value: token, Path: "/realms/" + r.Name + "/broker/",
		MaxAge: int(realm.BrokerStateTTL / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearStateCookie(c echo.Context, r *realm.Realm) {
	http.SetCookie(c.Response(), &http.Cookie{
		Name: stateCookie, Value: "", Path: "/realms/" + r.Name + "/broker/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// takeState takes the sign-in in flight the provider's answer names
// (token), once, and checks that this browser started it with this
// provider.
func (h *Handler) takeState(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, token string) (*realm.BrokerState, string, bool) {
	ck, err := c.Request().Cookie(stateCookie)
	if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(token)) != 1 {
		return nil, "", false
	}
	st, verifier, err := h.idps.TakeBrokerSignIn(c.Request().Context(), r, token)
	if err != nil || st.ProviderID != p.ID {
		return nil, "", false
	}
	h.clearStateCookie(c, r)
	return st, verifier, true
}

// endpoint receives the provider's answer.
func (h *Handler) endpoint(c echo.Context) error {
	req := c.Request()
	r, p, err := h.lookup(c)
	if err != nil || !p.Enabled {
		return h.failed(c, r, err, http.StatusNotFound, textUnknownProvider)
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxAnswerBytes)
	if err := req.ParseForm(); err != nil {
		return h.pages.Refused(c, r, http.StatusBadRequest, "The request could not be read.")
	}
	if ok, err := h.realmAllows(req.Context(), r, req); err != nil {
		return h.failed(c, r, err, 0, "")
	} else if !ok {
		return h.pages.Refused(c, r, http.StatusForbidden, textNetwork)
	}
	switch p.Kind {
	case realm.IdPSAML:
		return h.samlAnswer(c, r, p)
	case realm.IdPOIDC:
		return h.oidcAnswer(c, r, p)
	}
	return h.pages.Refused(c, r, http.StatusNotFound, textUnknownProvider)
}

// maxAnswerBytes bounds a provider's answer: a SAML response with its
// certificates and attributes is some KiB; 1 MiB leaves room for large
// group lists.
const maxAnswerBytes = 1 << 20

// signIn hands the checked identity to the realm and, when it becomes a
// user, to the login page.
func (h *Handler) signIn(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, st *realm.BrokerState, ext realm.ExternalIdentity) error {
	ctx := c.Request().Context()
	if len(ext.Groups) > realm.MaxExternalGroups {
		ext.Groups = ext.Groups[:realm.MaxExternalGroups]
	}
	res, err := h.idps.SignIn(ctx, r, p, ext)
	var refusal *realm.BrokerRefusal
	if errors.As(err, &refusal) {
		return h.pages.Refused(c, r, http.StatusForbidden, refusal.Message)
	}
	if err != nil {
		return h.failed(c, r, err, 0, "")
	}
	return h.pages.SignedIn(c, r, res.User, p.Alias, st.Continue)
}

// refuseAnswer records an answer the broker refused and says so.
func (h *Handler) refuseAnswer(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, reason string, err error) error {
	ctx := c.Request().Context()
	h.log.InfoContext(ctx, "broker: answer refused", "realm", r.Name, "provider", p.Alias, "reason", reason, "err", err)
	h.recordFailure(c, r, p, reason)
	return h.pages.Refused(c, r, http.StatusBadRequest, textInvalidAnswer)
}

// failed answers an error: not found as status/text, anything else as
// Ward's own failure (logged; the page says only that it is unavailable).
func (h *Handler) failed(c echo.Context, r *realm.Realm, err error, status int, text string) error {
	if err == nil || errors.Is(err, realm.ErrNotFound) {
		if status == 0 {
			status, text = http.StatusNotFound, textUnknownProvider
		}
		if r == nil {
			return echo.NewHTTPError(http.StatusNotFound, "There is no such realm.")
		}
		return h.pages.Refused(c, r, status, text)
	}
	h.log.ErrorContext(c.Request().Context(), "broker: sign-in failed", "realm", c.Param("realm"), "provider", c.Param("alias"), "err", err)
	if r == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, textUnavailable)
	}
	return h.pages.Refused(c, r, http.StatusServiceUnavailable, textUnavailable)
}

// realmAllows applies the realm's IP allow list (CONTRACT §7) to the
// caller, read afresh; a refusal is recorded.
func (h *Handler) realmAllows(ctx context.Context, r *realm.Realm, req *http.Request) (bool, error) {
	if len(r.IPAllowList) == 0 {
		return true, nil
	}
	addr, _ := netip.ParseAddr(h.proxies.ClientIP(req))
	addr = addr.Unmap()
	if realm.NetworkAllows(realm.ParsePrefixes(r.IPAllowList), nil, addr) {
		return true, nil
	}
	// Recorded within the address's budget, like a refused answer.
	if h.addresses.Wait(h.proxies.ClientIP(req), h.clock()) <= 0 {
		h.oauth.RecordNetworkRefusal(ctx, r, "realm", r.ID, "broker", addr)
	}
	return false, nil
}

// randomNonce is a fresh CSP nonce.
func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// recordFailure records a refused answer as an audit event, within the
// address's budget: past it the answer is still refused, but nothing is
// written, so garbage posted to the endpoint cannot fill the audit log.
func (h *Handler) recordFailure(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, reason string) {
	if h.addresses.Wait(h.proxies.ClientIP(c.Request()), h.clock()) > 0 {
		return
	}
	h.idps.RecordBrokerFailure(c.Request().Context(), r, p, reason)
}
