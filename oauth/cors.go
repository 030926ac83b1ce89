package oauth

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/wardiam/ward/realm"
)

// CORS for the endpoints browser applications call with credentials
// (token, userinfo, revoke, logout; CONTRACT §4): only an Origin listed in
// web_origins of a client of the realm is answered, echoed back with
// Access-Control-Allow-Credentials; any other origin gets no CORS headers,
// so the browser keeps the answer from the page. A request without an
// Origin header (servers, client_credentials) costs one header lookup.
//
// Origins are compared as browsers serialize them (realm.OriginOf, the
// same comparison as the web_message page): web origins are stored in that
// form, and the ones read here are serialized again so that rows stored
// before that (say "https://App.Example.com:443") still match what the
// browser sends ("https://app.example.com"). The Origin header is compared
// as sent: browsers send it serialized, and anything else matches nothing.
//
// A realm's allowed origins are the union over its clients, read once and
// kept for originsRecheck, so a change to web_origins (or a client
// disabled) applies on every node within a second (CONTRACT §8) while a
// busy browser application costs one read of the realm's clients per
// node every half second, not one per request.

// originsRecheck is how long a node keeps a realm's allowed origins.
const originsRecheck = 500 * time.Millisecond

// origins keeps each realm's allowed origins.
type origins struct {
	s      *Server
	sets   sync.Map // realm ID → *originSet
	builds singleflight.Group
}

// originSet is a realm's allowed origins as of a moment.
type originSet struct {
	set     map[string]struct{}
	expires time.Time
}

// withCORS wraps an endpoint's handler.
func (o *origins) withCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		h := c.Response().Header()
		h.Add("Vary", "Origin")
		if o.allowed(c.Request().Context(), c.Param("realm"), origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		}
		return next(c)
	}
}

// preflight answers the OPTIONS preflight of an endpoint that accepts
// methods.
func (o *origins) preflight(methods string) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		h := c.Response().Header()
		h.Add("Vary", "Origin")
		if origin != "" && o.allowed(c.Request().Context(), c.Param("realm"), origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// allowed says whether origin is in web_origins of a client of the realm.
// Failures (unknown realm, database down) allow nothing.
func (o *origins) allowed(ctx context.Context, realmName, origin string) bool {
	s := o.s
	p, err := s.providers.get(ctx, realmName)
	if err != nil {
		return false
	}
	now := s.clock()
	if v, ok := o.sets.Load(p.realm.ID); ok {
		if set := v.(*originSet); now.Before(set.expires) {
			_, ok := set.set[origin]
			return ok
		}
	}
	v, err, _ := o.builds.Do(p.realm.ID, func() (any, error) {
		set, err := o.load(context.WithoutCancel(ctx), p.realm.ID)
		if err != nil {
			return nil, err
		}
		loaded := &originSet{set: set, expires: s.clock().Add(originsRecheck)}
		o.sets.Store(p.realm.ID, loaded)
		return loaded, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "oauth: CORS origins unavailable", "realm", realmName, "err", err)
		return false
	}
	_, ok := v.(*originSet).set[origin]
	return ok
}

// load reads web_origins of every active client of the realm.
func (o *origins) load(ctx context.Context, realmID string) (map[string]struct{}, error) {
	set := map[string]struct{}{}
	opts := realm.ListOptions{Limit: 200}
	for {
		page, err := o.s.store.ListClients(ctx, realmID, "", opts)
		if err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			if !c.Active {
				continue
			}
			for _, o := range c.WebOrigins {
				if o := realm.OriginOf(o); o != "" {
					set[o] = struct{}{}
				}
			}
		}
		if page.NextCursor == "" {
			return set, nil
		}
		opts.Cursor = page.NextCursor
	}
}
