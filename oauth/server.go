package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Config holds what the Server needs.
type Config struct {
	Store realm.Store
	// Service makes a realm's first keys (EnsureSigningKey) and serves the
	// realm's policies to resource servers (DistributedPolicies).
	Service *realm.Service
	Keys    *Keys
	// PublicURL is the external base URL; realm R's issuer is
	// PublicURL + "/realms/" + R.
	PublicURL string
	// WebMessage writes the page of the web_message response mode
	// (oauth/login's WriteWebMessage). Required.
	WebMessage WebMessageWriter
	Clock      func() time.Time // default time.Now
	Logger     *slog.Logger     // default slog.Default()
	// AccessTokenLifespan defaults to 5 minutes (CONTRACT §4).
	AccessTokenLifespan time.Duration
	// ProviderTTL is how long a realm's cached provider (realm row, keys,
	// fosite provider) lives; default 30 s. It bounds how long another node
	// takes to see a new key. It does not let a deleted realm be served:
	// revocation (and the other endpoints that use providers.current)
	// check the cached realm's ID by name on every request; the token and
	// introspection endpoints read clients by that ID and re-check only
	// when none is found; discovery and JWKS re-check at most every 500 ms
	// per node (providers.recent), within CONTRACT §8's 1 s.
	ProviderTTL time.Duration
	// ClaimsTTL, when positive, caches a subject's groups and effective
	// attributes per (realm, groups, primary group) for that long. The
	// groups come with the subject in the grant's one query and the
	// definitions stay in memory until the realm's schema version moves, so
	// the cache only spares the merge. Membership changes still apply at
	// once (the subject's row, read on every grant, names the groups); only
	// edits of group names and attribute values take up to ClaimsTTL to show
	// in new tokens. Default 0: exact.
	ClaimsTTL time.Duration
	// RetiredKeyTTL is how long a retired key stays in the JWKS and verifies
	// tokens; default 24 h, far beyond any access token's life.
	RetiredKeyTTL time.Duration
	// TokenRateLimit is the per-address limit of refused token requests;
	// zero takes the default (20/s, bursts of 200).
	TokenRateLimit RateLimit
	// KeyExchangeRateLimit is the per-client limit of API-key exchanges
	// refused for an unknown key; zero takes the default (100/s, bursts of
	// 1,000: a resource server relays its callers' keys, typos included).
	KeyExchangeRateLimit RateLimit
	// MintRateLimit is the per-API-key limit of temporary keys minted;
	// zero takes the default (500/s, bursts of 5,000).
	MintRateLimit RateLimit
	// RefusalReportRateLimit is the per-client limit of network refusal
	// reports from Guards; zero takes the default (2/s, bursts of 10).
	RefusalReportRateLimit RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the per-address limit; without them the socket address is the
	// client's.
	TrustedProxies []netip.Prefix
	// Countries names the country of a refused caller in its audit event
	// (WARD_GEOIP_DB); nil records no country.
	Countries CountryLookup
}

// CountryLookup answers the ISO 3166-1 alpha-2 country of an address, ""
// when it does not know (attributes.CountryDatabase is one).
type CountryLookup interface {
	Country(netip.Addr) (string, error)
}

// Server is the per-realm OAuth2 / OIDC provider. Its HTTP handlers are in
// the handler_*.go files, the grants' own parts in flow_*.go.
type Server struct {
	store               realm.Store
	service             *realm.Service
	keys                *Keys
	webMessage          WebMessageWriter
	publicURL           string
	clock               func() time.Time
	log                 *slog.Logger
	accessTokenLifespan time.Duration
	ttl                 time.Duration
	retiredKeyTTL       time.Duration
	claimsTTL           time.Duration
	tokenIPs            *IPLimiter
	exchangeClients     *IPLimiter // refused API-key exchanges per realm and client
	mintKeys            *IPLimiter // temporary keys minted per realm and API key
	refusalReports      *IPLimiter // network refusal reports per realm and client
	proxies             TrustedProxies
	countries           CountryLookup
	providers           *providers
	origins             *origins
	codesIssued         atomic.Uint64
	// epochs tells whether kept reads still hold; nil when the store
	// cannot say (kept.go).
	epochs *tokenEpochs
	// keptIntrospectionsUsed and keptClientsUsed count the requests
	// answered from a kept read of each kind.
	keptIntrospectionsUsed, keptClientsUsed atomic.Uint64
}

// KeptReadStats counts, since the server started, the requests answered
// from a kept read (kept.go) and the polls of the realms' token state that
// failed (each stops the use of kept reads until one succeeds).
type KeptReadStats struct {
	Introspections, Clients, PollFailures uint64
}

// KeptReadStats returns the counts so far.
func (s *Server) KeptReadStats() KeptReadStats {
	st := KeptReadStats{Introspections: s.keptIntrospectionsUsed.Load(), Clients: s.keptClientsUsed.Load()}
	if s.epochs != nil {
		st.PollFailures = s.epochs.failures.Load()
	}
	return st
}

// New builds a Server. It does no per-realm work: providers are built on
// each realm's first request.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("oauth: Config.Store is required")
	case cfg.Service == nil:
		return nil, errors.New("oauth: Config.Service is required")
	case cfg.Keys == nil:
		return nil, errors.New("oauth: Config.Keys is required")
	case cfg.PublicURL == "":
		return nil, errors.New("oauth: Config.PublicURL is required")
	case cfg.WebMessage == nil:
		return nil, errors.New("oauth: Config.WebMessage is required")
	}
	s := &Server{
		store:               cfg.Store,
		service:             cfg.Service,
		keys:                cfg.Keys,
		webMessage:          cfg.WebMessage,
		publicURL:           strings.TrimRight(cfg.PublicURL, "/"),
		clock:               cfg.Clock,
		log:                 cfg.Logger,
		accessTokenLifespan: cfg.AccessTokenLifespan,
		ttl:                 cfg.ProviderTTL,
		retiredKeyTTL:       cfg.RetiredKeyTTL,
		claimsTTL:           cfg.ClaimsTTL,
		proxies:             cfg.TrustedProxies,
		countries:           cfg.Countries,
	}
	if cfg.TokenRateLimit.Rate <= 0 || cfg.TokenRateLimit.Burst <= 0 {
		cfg.TokenRateLimit = defaultTokenRate
	}
	s.tokenIPs = NewIPLimiter(cfg.TokenRateLimit)
	// Per client: a resource server passes on whatever keys its callers
	// send, so one that relays a guesser is slowed down.
	if cfg.KeyExchangeRateLimit.Rate <= 0 || cfg.KeyExchangeRateLimit.Burst <= 0 {
		cfg.KeyExchangeRateLimit = defaultKeyExchangeRate
	}
	s.exchangeClients = NewIPLimiter(cfg.KeyExchangeRateLimit)
	if cfg.MintRateLimit.Rate <= 0 || cfg.MintRateLimit.Burst <= 0 {
		cfg.MintRateLimit = defaultMintRate
	}
	s.mintKeys = NewIPLimiter(cfg.MintRateLimit)
	if cfg.RefusalReportRateLimit.Rate <= 0 || cfg.RefusalReportRateLimit.Burst <= 0 {
		cfg.RefusalReportRateLimit = refusalReportRate
	}
	s.refusalReports = NewIPLimiter(cfg.RefusalReportRateLimit)
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if w, ok := cfg.Store.(realm.TokenStateWatcher); ok {
		s.epochs = newTokenEpochs(w, s.log)
	}
	if s.accessTokenLifespan <= 0 {
		s.accessTokenLifespan = 5 * time.Minute
	}
	if s.ttl <= 0 {
		s.ttl = 30 * time.Second
	}
	if s.retiredKeyTTL <= 0 {
		s.retiredKeyTTL = 24 * time.Hour
	}
	s.providers = &providers{s: s}
	s.origins = &origins{s: s}
	return s, nil
}

// Issuer returns realm name's issuer URL.
func (s *Server) Issuer(realmName string) string { return s.publicURL + "/realms/" + realmName }

// Register mounts the OAuth2 / OIDC endpoints under /realms/:realm, all but
// the authorization and logout endpoints, which oauth/login serves. Token,
// revoke and userinfo answer CORS for the realm's web_origins (cors.go).
func (s *Server) Register(e *echo.Echo) {
	g := e.Group("/realms/:realm")
	// Every endpoint first checks its query and path parameters
	// (CheckParams); those that answer CORS check inside it, so that a
	// browser can read the 400.
	g.GET(PathDiscovery, s.handleDiscovery, CheckParams)
	g.OPTIONS(PathDiscovery, handlePublicPreflight)
	g.GET(PathCerts, s.handleCerts, CheckParams)
	g.OPTIONS(PathCerts, handlePublicPreflight)
	g.GET(pathWardJS, s.handleWardJS, CheckParams)
	g.OPTIONS(pathWardJS, handlePublicPreflight)
	g.GET(pathThirdPartyCookies, handleThirdPartyCookies, CheckParams)
	g.POST(PathToken, s.origins.withCORS(s.withTokenLimit(CheckParams(s.handleToken))))
	g.POST(PathIntrospect, s.handleIntrospect, CheckParams)
	g.POST(PathRevoke, s.origins.withCORS(CheckParams(s.handleRevoke)))
	g.GET(PathUserinfo, s.origins.withCORS(CheckParams(s.handleUserinfo)))
	g.POST(PathUserinfo, s.origins.withCORS(CheckParams(s.handleUserinfo)))
	g.GET(pathPolicies, s.handlePolicies, CheckParams)
	g.POST(pathNetworkRefusals, s.handleNetworkRefusals, CheckParams)
	g.POST(pathTemporaryKeys, s.handleMintTemporaryKey, CheckParams)
	g.OPTIONS(PathToken, s.origins.preflight("POST, OPTIONS"))
	g.OPTIONS(PathRevoke, s.origins.preflight("POST, OPTIONS"))
	g.OPTIONS(PathUserinfo, s.origins.preflight("GET, POST, OPTIONS"))
}

// WithCORS wraps a handler of another package on a realm path (oauth/login's
// logout endpoint) in the realm's CORS answer.
func (s *Server) WithCORS(next echo.HandlerFunc) echo.HandlerFunc { return s.origins.withCORS(next) }

// CORSPreflight answers the CORS preflight of such a path, which accepts
// methods.
func (s *Server) CORSPreflight(methods string) echo.HandlerFunc { return s.origins.preflight(methods) }

// Forget drops the realm's cached provider (by realm ID), so this node's
// next request for it loads the realm and its keys again: after a key
// rotation, for one.
func (s *Server) Forget(realmID string) { s.providers.forget(realmID) }

// Sweep deletes the expired rows of the token state once: revocations,
// authorization codes and refresh tokens (codes and refresh tokens are also
// swept now and then as codes are issued; this makes sure they are on a
// server whose traffic never issues any). Failures are logged; the next
// sweep tries again.
func (s *Server) Sweep(ctx context.Context) {
	now := s.clock()
	SweepRows(ctx, s.log, "revoked_tokens", s.store.DeleteExpiredRevokedTokens, now)
	SweepRows(ctx, s.log, "auth_requests", s.store.DeleteExpiredAuthRequests, now)
	SweepRows(ctx, s.log, "refresh_tokens", s.store.DeleteExpiredRefreshTokens, now)
}

// SweepRows deletes one kind of expired row (those before before), logging
// the outcome: the janitors of this package and of oauth/login share it.
func SweepRows(ctx context.Context, log *slog.Logger, what string, del func(context.Context, time.Time) (int64, error), before time.Time) {
	n, err := del(ctx, before)
	if err != nil {
		log.WarnContext(ctx, "janitor: deleting expired rows", "rows", what, "err", err)
		return
	}
	if n > 0 {
		log.DebugContext(ctx, "janitor: deleted expired rows", "rows", what, "count", n)
	}
}

// CheckParams answers a request whose query or path parameters are not
// acceptable text (realm.CheckValues: UTF-8 without control characters)
// with 400 invalid_request, before the endpoint reads them. The form
// bodies are checked where they are parsed (parseBody, bearerToken).
func CheckParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := realm.CheckPath(c.ParamNames(), c.ParamValues()); err != nil {
			return badText(c, err)
		}
		// QueryParams would parse (and allocate) even an empty query.
		if c.Request().URL.RawQuery != "" {
			if err := realm.CheckValues(c.QueryParams()); err != nil {
				return badText(c, err)
			}
		}
		return next(c)
	}
}

// badText answers parameters that are not acceptable text, naming the
// first one.
func badText(c echo.Context, err error) error {
	return writeError(c, http.StatusBadRequest, "invalid_request", BadTextDescription(err))
}

// BadTextDescription words a realm.CheckValues error for an OAuth error
// description or an error page: the first bad parameter and what is wrong.
func BadTextDescription(err error) string {
	var v *realm.ValidationError
	if !errors.As(err, &v) || len(v.Fields) == 0 {
		return "The request has a parameter that is not valid text."
	}
	f := v.Fields[0]
	return "The parameter " + f.Field + " " + f.Message + "."
}

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError answers an OAuth-style JSON error. Error responses are never
// cached. A 503 (the database is away: a restart, a failover) asks the
// client to come back shortly, as the admin API's does.
func writeError(c echo.Context, status int, code, description string) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	return c.JSON(status, oauthError{Error: code, Description: description})
}

// realmError maps a failure to get a realm's provider: unknown realm → 404,
// anything else → 503 (the database or a key is unavailable; we fail closed
// and say nothing more).
func (s *Server) realmError(c echo.Context, err error) error {
	if errors.Is(err, ErrRealmNotFound) {
		return writeError(c, http.StatusNotFound, "not_found", "Realm not found.")
	}
	s.log.ErrorContext(c.Request().Context(), "oauth: realm provider unavailable",
		"realm", c.Param("realm"), "err", err)
	return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The server cannot serve this realm right now.")
}
