package attributes

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// problem is an RFC 9457 problem document, shaped like Ward's own.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`

	wwwAuthenticate string
	retryAfter      int // seconds, for 429
	// refused names the caller of a refusal by the IP allow lists found
	// while authenticating, for the report to Ward.
	refused *refusedCaller
}

func (p *problem) write(w http.ResponseWriter) {
	if p.wwwAuthenticate != "" {
		w.Header().Set("WWW-Authenticate", p.wwwAuthenticate)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// authorize runs the whole check for one request: token, then resource
// (only for an authenticated caller, so that nobody learns which ids exist
// without a token), then decision. It returns the request context carrying
// subject, decision and client IP, or the problem to answer.
func (g *Guard) authorize(r *http.Request, resourceType, action string, decide bool,
	load func(context.Context) (map[string]any, error)) (context.Context, *problem) {
	ctx := context.WithValue(r.Context(), ipKey{}, g.clientIP(r))
	subject, p := g.authenticate(ctx, r)
	if p != nil {
		if p.refused != nil {
			g.queueRefusal(ctx, r, p.refused)
		}
		return nil, p
	}
	// The IP allow lists (a temporary key's were applied before its
	// limits were spent).
	if !IsTemporaryKey(subject) && !g.networkAllows(ctx, subject) {
		g.queueRefusal(ctx, r, callerOf(subject))
		return nil, networkRefused()
	}
	ctx = context.WithValue(ctx, subjectKey{}, subject)
	if !decide {
		return ctx, nil
	}
	var resource map[string]any
	if load != nil {
		var err error
		resource, err = load(ctx)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, &problem{Type: "urn:ward:problem:not-found", Title: "Not Found", Status: http.StatusNotFound,
				Detail: "no such " + resourceType}
		case err != nil:
			// The loader's error may hold anything (SQL, paths): not for
			// the caller.
			return nil, &problem{Type: "urn:ward:problem:internal", Title: "Internal Server Error", Status: http.StatusInternalServerError}
		}
	}
	d, err := g.Decide(ctx, subject, resourceType, action, resource)
	if err != nil {
		return nil, &problem{Type: "urn:ward:problem:unavailable", Title: "Service Unavailable", Status: http.StatusServiceUnavailable}
	}
	if !d.Allowed {
		detail := "no policy allows " + action + " on this " + resourceType
		switch {
		case IsAPIKey(subject):
			detail = "the API key lacks the permission " + resourceType + ":" + action
		case IsTemporaryKey(subject) && !KeyAllows(subject, resourceType, action):
			detail = "the temporary key lacks the permission " + resourceType + ":" + action
		case IsTemporaryKey(subject):
			detail = "the " + resourceType + "'s path is outside the temporary key's dir_scope"
		}
		return nil, &problem{Type: "urn:ward:problem:forbidden", Title: "Forbidden", Status: http.StatusForbidden, Detail: detail}
	}
	return context.WithValue(ctx, decisionKey{}, d), nil
}

// apiKeyHeader is X-API-Key in canonical form, so that reading it does not
// canonicalize (allocate) on every request.
const apiKeyHeader = "X-Api-Key"

// authenticate finds the caller's one credential and checks it according
// to its shape: an access token offline, an API key through the key cache,
// a temporary key offline with its rules on where the caller is and how
// often it calls (so those run once per request, before the loader).
func (g *Guard) authenticate(ctx context.Context, r *http.Request) (map[string]any, *problem) {
	cred, viaAPIKeyHeader, p := g.credential(r)
	if p != nil {
		return nil, p
	}
	switch classify(cred, viaAPIKeyHeader) {
	case credAPIKey:
		return g.authenticateKey(ctx, cred)
	case credTemporaryKey:
		return g.authenticateTempKey(ctx, cred)
	case credAccessToken:
		claims, err := g.Verify(ctx, cred)
		if errors.Is(err, ErrIntrospection) {
			return nil, unavailable("the token issuer could not be asked about the token")
		}
		if err != nil {
			return nil, g.invalidCredential("the access token is missing, malformed, expired or not for this server")
		}
		return claims, nil
	default:
		// Not worth a round trip to the issuer.
		return nil, g.invalidCredential("the API key is not a Ward API key")
	}
}

// credential is the caller's credential: X-API-Key, or the token of an
// Authorization: Bearer header. Exactly one must be sent (RFC 6750 §2: one
// method per request), so that what is checked is what a handler sees.
func (g *Guard) credential(r *http.Request) (cred string, viaAPIKeyHeader bool, p *problem) {
	keys := r.Header[apiKeyHeader]
	auth := r.Header.Get("Authorization")
	switch {
	case len(keys) == 0 && auth == "":
		// RFC 6750 §3.1: no credentials, no error code.
		return "", false, &problem{Type: "urn:ward:problem:unauthenticated", Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail:          "an access token (Authorization: Bearer) or an API key (X-API-Key) is required",
			wwwAuthenticate: "Bearer realm=" + strconv.Quote(g.cfg.Audience)}
	case len(keys) > 1 || len(keys) == 1 && auth != "":
		return "", false, g.invalidCredential("send one credential: X-API-Key or Authorization, not both")
	case len(keys) == 1:
		return strings.TrimSpace(keys[0]), true, nil
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false, g.invalidCredential("the access token is missing, malformed, expired or not for this server")
	}
	return strings.TrimSpace(token), false, nil
}

// authenticateKey maps VerifyAPIKey's outcome: a refusal is the caller's
// (401, saying why, as Ward said it); no verdict is the issuer's (503,
// fail closed).
func (g *Guard) authenticateKey(ctx context.Context, key string) (map[string]any, *problem) {
	claims, err := g.VerifyAPIKey(ctx, key)
	var refused *KeyRefusedError
	switch {
	case err == nil:
		return claims, nil
	case errors.As(err, &refused):
		return nil, g.invalidCredential("the API key was refused: " + refused.Reason)
	case errors.Is(err, ErrKeyExchange):
		return nil, unavailable("the API key could not be checked with the issuer")
	default:
		return nil, g.invalidCredential("the API key is not a Ward API key")
	}
}

// invalidCredential is a 401 for a credential that was sent but is no good.
func (g *Guard) invalidCredential(detail string) *problem {
	return &problem{Type: "urn:ward:problem:unauthenticated", Title: "Unauthorized", Status: http.StatusUnauthorized,
		Detail:          detail,
		wwwAuthenticate: "Bearer realm=" + strconv.Quote(g.cfg.Audience) + `, error="invalid_token"`}
}

func unavailable(detail string) *problem {
	return &problem{Type: "urn:ward:problem:unavailable", Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
		Detail: detail}
}

// clientIP is request.ip: the peer address, or, when the peer is one of
// Config.TrustedProxies, the nearest address in X-Forwarded-For that is
// not a trusted proxy (the rightmost ones were added by our proxies; the
// leftmost ones are whatever the client claimed).
func (g *Guard) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !g.trusted(peer) {
		return host
	}
	forwarded := r.Header.Values("X-Forwarded-For")
	if len(forwarded) == 0 {
		return peer.Unmap().String() // the proxy's own request
	}
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Our proxy forwarded a client it could not name. An unknown
			// client is inside no range or country; the proxy's own
			// address would be wrong here, and a range may well cover it.
			// (A request with no X-Forwarded-For at all is the proxy's
			// own, and it is the client then.)
			return ""
		}
		a = a.Unmap()
		if !g.trusted(a) {
			return a.String()
		}
	}
	return peer.Unmap().String()
}

func (g *Guard) trusted(a netip.Addr) bool {
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// HTTP protects next: the request needs a valid access token
// (Authorization: Bearer), API key (X-API-Key, or Authorization: Bearer
// ward_…) or temporary key (X-API-Key), and a realm policy must allow
// action on the resourceType that load returns (load may be nil for
// actions on no particular resource, e.g. create); for an API key, its
// permissions must contain "resourceType:action" instead, and for a
// temporary key the resource's "path" must also lie within its dir_scope.
// Missing or invalid token, malformed or refused key, expired temporary
// key or one whose minting API key is deactivated: 401 with
// WWW-Authenticate (the detail says why, e.g. "API key is deactivated");
// the issuer unable to judge a key: 503; a temporary key used from outside
// its ip_ranges or countries: 403; over one of its per-minute limits: 429
// with Retry-After; load returning ErrNotFound: 404; any other load error:
// 500; denied: 403; all as problem JSON. next finds the claims and
// decision with SubjectFrom and DecisionFrom.
func (g *Guard) HTTP(resourceType, action string, load func(*http.Request) (map[string]any, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var loader func(context.Context) (map[string]any, error)
		if load != nil {
			loader = func(ctx context.Context) (map[string]any, error) { return load(r.WithContext(ctx)) }
		}
		ctx, p := g.authorize(r, resourceType, action, true, loader)
		if p != nil {
			p.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Authenticate protects next with a valid access token, API key or
// temporary key only (a temporary key's ip_ranges, countries and limits
// included; its dir_scope is Decide's or ScopeAllows'),
// for handlers that decide themselves with Decide or KeyAllows (a list
// filtered per item, a check combined with the resource's own ACL).
func (g *Guard) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, p := g.authorize(r, "", "", false, nil)
		if p != nil {
			p.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Echo is HTTP for echo: a middleware for one route, with a loader that
// reads the echo context (path parameters). The claims and decision are in
// c.Request().Context().
func (g *Guard) Echo(resourceType, action string, load func(echo.Context) (map[string]any, error)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var loader func(context.Context) (map[string]any, error)
			if load != nil {
				loader = func(ctx context.Context) (map[string]any, error) {
					// The loader sees the authenticated subject too.
					c.SetRequest(c.Request().WithContext(ctx))
					return load(c)
				}
			}
			ctx, p := g.authorize(c.Request(), resourceType, action, true, loader)
			if p != nil {
				p.write(c.Response())
				return nil
			}
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// EchoAuthenticate is Authenticate for echo.
func (g *Guard) EchoAuthenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, p := g.authorize(c.Request(), "", "", false, nil)
			if p != nil {
				p.write(c.Response())
				return nil
			}
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}
