package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/wardiam/ward/realm"
)

// Config holds what the Server needs.
type Config struct {
	Store   realm.Store
	Service *realm.Service // SubjectClaims: groups and attributes claims
	Keys    *Keys
	// PublicURL is the external base URL; realm R's issuer is
	// PublicURL + "/realms/" + R.
	PublicURL string
	Clock     func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()
	// AccessTokenLifespan defaults to 5 minutes (CONTRACT §4).
	AccessTokenLifespan time.Duration
	// ProviderTTL is how long a realm's cached provider (realm row, keys,
	// fosite provider) lives; default 30 s. It bounds how long another node
	// takes to see a new key. It never lets a deleted realm be served:
	// discovery, JWKS, introspection and revocation check the cached
	// realm's ID by name on every request, and the token endpoint reads
	// clients by that ID and re-checks only when none is found.
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
	// SessionLifespan is how long a browser session lets a user skip the
	// password; default 10 h.
	SessionLifespan time.Duration
	// LoginRateLimit and TokenRateLimit are the per-IP limits of the login
	// form's POSTs and of refused token requests; zero values take the
	// defaults (1/s burst 20, 20/s burst 200).
	LoginRateLimit RateLimit
	TokenRateLimit RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the per-IP limits; without them the socket address is the client's.
	TrustedProxies []netip.Prefix
}

// Server is the per-realm OAuth2 / OIDC provider.
type Server struct {
	store               realm.Store
	service             *realm.Service
	keys                *Keys
	publicURL           string
	clock               func() time.Time
	log                 *slog.Logger
	accessTokenLifespan time.Duration
	ttl                 time.Duration
	retiredKeyTTL       time.Duration
	claimsTTL           time.Duration
	sessionLifespan     time.Duration
	codesIssued         atomic.Uint64
	loginFailureCount   atomic.Uint64
	loginIPs, tokenIPs  *ipLimiter
	trustedProxies      []netip.Prefix

	cache      sync.Map // realm name → *provider
	origins    sync.Map // realm ID → *originSet (cors.go)
	builds     singleflight.Group
	buildCount atomic.Uint64
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
	}
	s := &Server{
		store:               cfg.Store,
		service:             cfg.Service,
		keys:                cfg.Keys,
		publicURL:           strings.TrimRight(cfg.PublicURL, "/"),
		clock:               cfg.Clock,
		log:                 cfg.Logger,
		accessTokenLifespan: cfg.AccessTokenLifespan,
		ttl:                 cfg.ProviderTTL,
		retiredKeyTTL:       cfg.RetiredKeyTTL,
		claimsTTL:           cfg.ClaimsTTL,
		sessionLifespan:     cfg.SessionLifespan,
	}
	if cfg.LoginRateLimit.Rate <= 0 || cfg.LoginRateLimit.Burst <= 0 {
		cfg.LoginRateLimit = defaultLoginRate
	}
	if cfg.TokenRateLimit.Rate <= 0 || cfg.TokenRateLimit.Burst <= 0 {
		cfg.TokenRateLimit = defaultTokenRate
	}
	s.loginIPs, s.tokenIPs = newIPLimiter(cfg.LoginRateLimit), newIPLimiter(cfg.TokenRateLimit)
	s.trustedProxies = cfg.TrustedProxies
	if s.sessionLifespan <= 0 {
		s.sessionLifespan = 10 * time.Hour
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
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
	return s, nil
}

// Issuer returns realm name's issuer URL.
func (s *Server) Issuer(realmName string) string { return s.publicURL + "/realms/" + realmName }

// Register mounts the OAuth2 / OIDC endpoints under /realms/:realm. Token,
// revoke, userinfo and logout answer CORS for the realm's web_origins
// (cors.go).
func (s *Server) Register(e *echo.Echo) {
	g := e.Group("/realms/:realm")
	s.registerPages(g)
	g.GET(pathDiscovery, s.handleDiscovery)
	g.OPTIONS(pathDiscovery, handlePublicPreflight)
	g.GET(pathCerts, s.handleCerts)
	g.OPTIONS(pathCerts, handlePublicPreflight)
	g.GET(pathWardJS, s.handleWardJS)
	g.OPTIONS(pathWardJS, handlePublicPreflight)
	g.GET(pathThirdPartyCookies, s.handleThirdPartyCookies)
	g.GET(pathAuth, s.handleAuthorize)
	g.POST(pathAuth, s.handleAuthorize)
	g.POST(pathToken, s.withCORS(s.withTokenLimit(s.handleToken)))
	g.POST(pathIntrospect, s.handleIntrospect)
	g.POST(pathRevoke, s.withCORS(s.handleRevoke))
	g.GET(pathUserinfo, s.withCORS(s.handleUserinfo))
	g.POST(pathUserinfo, s.withCORS(s.handleUserinfo))
	g.GET(pathLogout, s.withCORS(s.handleLogout))
	g.POST(pathLogout, s.withCORS(s.handleLogout))
	g.GET(pathPolicies, s.handlePolicies)
	g.OPTIONS(pathToken, s.corsPreflight("POST, OPTIONS"))
	g.OPTIONS(pathRevoke, s.corsPreflight("POST, OPTIONS"))
	g.OPTIONS(pathUserinfo, s.corsPreflight("GET, POST, OPTIONS"))
	g.OPTIONS(pathLogout, s.corsPreflight("GET, POST, OPTIONS"))
}

// Forget drops the realm's cached provider (by realm ID), so this node's
// next request for it loads the realm and its keys again: after a key
// rotation, for one.
func (s *Server) Forget(realmID string) { s.forget(realmID) }

// ErrUnavailable is what AuthenticateAdmin wraps when the token could not be
// checked because storage failed (not because the token is bad): the admin
// API answers 503, not 401. It is realm.ErrUnavailable itself, so either
// sentinel matches with errors.Is.
var ErrUnavailable = realm.ErrUnavailable

// AuthenticateAdmin turns an admin API bearer token into the principal it
// acts as. The token must be a live access token of the console realm whose
// aud names the console issuer, issued to an org admin client that is still
// active and still holds the org and role the token names, or to a console
// member (through ward-console) who is still active and still holds that
// org and role. A token that is not good wraps
// realm.ErrUnauthenticated; a failure to check it (the database is down)
// wraps ErrUnavailable instead, and never ErrUnauthenticated.
func (s *Server) AuthenticateAdmin(ctx context.Context, bearer string) (realm.Principal, error) {
	fail := func(why error) (realm.Principal, error) {
		return realm.Principal{}, fmt.Errorf("%w: %w", realm.ErrUnauthenticated, why)
	}
	unavailable := func(err error) (realm.Principal, error) {
		return realm.Principal{}, fmt.Errorf("oauth: admin token cannot be checked: %w: %w", ErrUnavailable, err)
	}
	if bearer == "" {
		return fail(errTokenInvalid)
	}
	// The console realm cannot be deleted (realm.Service refuses), so the
	// admin API's hot path skips the re-check currentProvider makes.
	p, err := s.provider(ctx, realm.ConsoleRealm)
	if errors.Is(err, errRealmNotFound) {
		return fail(err)
	}
	if err != nil {
		return unavailable(err)
	}
	cl, c, err := s.verifyActive(ctx, p, bearer)
	if err != nil && !isTokenRejection(err) {
		return unavailable(err)
	}
	if err != nil {
		return fail(err)
	}
	// A console token meant for another audience (one the client asked for
	// or is configured with) is not for the admin API.
	if !cl.Audience.Contains(p.issuer) {
		return fail(errors.New("token's audience is not the admin API"))
	}
	if cl.Kind == "user" {
		// A console member signed in through ward-console: verifyActive
		// found the user active; the membership must still be the one the
		// token names, with the same role.
		if c.ClientID != realm.ConsoleClientID {
			return fail(errors.New("person token not issued to the console"))
		}
		m, err := s.consoleMembership(ctx, cl.Subject, cl.OrgID)
		if err != nil {
			return unavailable(err)
		}
		if m == nil || cl.Role == "" || string(m.Role) != cl.Role || !m.Role.Valid() {
			return fail(errors.New("token does not carry the member's current org and role"))
		}
		return realm.Principal{OrgID: m.OrgID, Role: m.Role, ActorType: "member", ActorID: cl.Subject}, nil
	}
	if cl.OrgID == "" || c.OrgID == "" || cl.OrgID != c.OrgID || cl.Role != string(c.OrgRole) || !c.OrgRole.Valid() {
		return fail(errors.New("token does not carry the client's current org and role"))
	}
	return realm.Principal{
		OrgID:     c.OrgID,
		Role:      c.OrgRole,
		ActorType: "client",
		ActorID:   c.ClientID,
	}, nil
}
