package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Prefix is where the admin API is mounted.
const Prefix = "/admin/v1"

// Authenticator turns an admin API bearer token into the acting principal.
// AdminAuth implements it over console-realm access tokens.
type Authenticator interface {
	AuthenticateAdmin(ctx context.Context, bearer string) (realm.Principal, error)
}

// Config holds what the admin API needs.
type Config struct {
	Service *realm.Service
	// IdPs manages the realms' identity providers (CONTRACT §9).
	IdPs   *realm.IdentityProviders
	Auth   Authenticator
	Logger *slog.Logger // default slog.Default()
}

// API is the admin REST API.
type API struct {
	svc  *realm.Service
	idps *realm.IdentityProviders
	auth Authenticator
	log  *slog.Logger
}

// New builds the admin API.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil {
		return nil, errors.New("console: Config.Service is required")
	}
	if cfg.IdPs == nil {
		return nil, errors.New("console: Config.IdPs is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("console: Config.Auth is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &API{svc: cfg.Service, idps: cfg.IdPs, auth: cfg.Auth, log: log}, nil
}

// Register mounts the admin API under /admin/v1 on e. Every route
// authenticates first; errors reach e.HTTPErrorHandler, which must hand
// /admin/ paths to HandleError.
func (a *API) Register(e *echo.Echo) {
	// Authentication is attached to each route rather than with Group.Use:
	// group middleware makes echo register a catch-all route for the prefix,
	// which turns every wrong method into a 404 instead of a 405 with Allow.
	// Unknown paths therefore answer 404 without authentication; the route
	// list is public anyway (docs/openapi.yaml).
	a.registerSetup(e)
	g := &routes{g: e.Group(Prefix), auth: a.authenticate}

	g.GET("/members", a.listMembers)
	g.POST("/members", a.createMember)
	g.GET("/members/:id", a.getMember)
	g.PATCH("/members/:id", a.updateMember)
	g.DELETE("/members/:id", a.deleteMember)
	g.POST("/members/:id/invitation", a.resendInvitation)

	g.GET("/clients", a.listOrgClients)
	g.POST("/clients", a.createOrgClient)
	g.GET("/clients/:client_id", a.getOrgClient)
	g.PATCH("/clients/:client_id", a.updateOrgClient)
	g.POST("/clients/:client_id/secret", a.rotateOrgClientSecret)

	g.GET("/events", a.listOrgEvents)

	g.GET("/support-access", a.getSupportAccess)
	g.PUT("/support-access", a.putSupportAccess)

	g.GET("/realms", a.listRealms)
	g.POST("/realms", a.createRealm)
	g.GET("/realms/:realm", a.getRealm)
	g.PATCH("/realms/:realm", a.updateRealm)
	g.GET("/realms/:realm/settings", a.getRealmSettings)
	g.PATCH("/realms/:realm/settings", a.updateRealmSettings)
	g.PUT("/realms/:realm/settings/logo", a.setRealmLogo)
	g.DELETE("/realms/:realm/settings/logo", a.deleteRealmLogo)
	g.DELETE("/realms/:realm", a.deleteRealm)

	r := "/realms/:realm"
	g.GET(r+"/attributes", a.listAttributes)
	g.POST(r+"/attributes", a.createAttribute)
	g.GET(r+"/attributes/:name", a.getAttribute)
	g.PATCH(r+"/attributes/:name", a.updateAttribute)
	g.DELETE(r+"/attributes/:name", a.deleteAttribute)

	g.GET(r+"/groups", a.listGroups)
	g.POST(r+"/groups", a.createGroup)
	g.GET(r+"/groups/:id", a.getGroup)
	g.PATCH(r+"/groups/:id", a.updateGroup)
	g.DELETE(r+"/groups/:id", a.deleteGroup)
	g.GET(r+"/groups/:id/members", a.listGroupMembers)

	g.GET(r+"/users", a.listUsers)
	g.POST(r+"/users", a.createUser)
	g.GET(r+"/users/:id", a.getUser)
	g.PATCH(r+"/users/:id", a.updateUser)
	// Registered so that the answer is a problem explaining what to do
	// instead, rather than the router's bare 405.
	g.DELETE(r+"/users/:id", a.deleteUser)
	g.POST(r+"/users/:id/set-password-email", a.sendSetPasswordEmail)
	g.PUT(r+"/users/:id/groups/:group_id", a.addUserToGroup)
	g.DELETE(r+"/users/:id/groups/:group_id", a.removeUserFromGroup)
	g.GET(r+"/users/:id/sessions", a.listUserSessions)
	g.DELETE(r+"/users/:id/sessions/:session_id", a.revokeUserSession)
	g.POST(r+"/users/:id/logout", a.logoutUser)
	g.POST(r+"/users/:id/unlock", a.unlockUser)

	g.GET(r+"/clients", a.listClients)
	g.POST(r+"/clients", a.createClient)
	g.GET(r+"/clients/:client_id", a.getClient)
	g.PATCH(r+"/clients/:client_id", a.updateClient)
	g.POST(r+"/clients/:client_id/secret", a.rotateClientSecret)
	g.PUT(r+"/clients/:client_id/groups/:group_id", a.addClientToGroup)
	g.DELETE(r+"/clients/:client_id/groups/:group_id", a.removeClientFromGroup)

	g.GET(r+"/policies", a.listPolicies)
	g.POST(r+"/policies", a.createPolicy)
	g.GET(r+"/policies/:id", a.getPolicy)
	g.PATCH(r+"/policies/:id", a.updatePolicy)
	g.DELETE(r+"/policies/:id", a.deletePolicy)
	// A literal colon: echo reads an unescaped ":" as the start of a
	// parameter.
	g.POST(r+"/policies\\:test", a.testPolicies)

	g.GET(r+"/permissions", a.listPermissions)
	g.POST(r+"/permissions", a.createPermission)
	g.GET(r+"/permissions/:name", a.getPermission)
	g.PATCH(r+"/permissions/:name", a.updatePermission)
	g.DELETE(r+"/permissions/:name", a.deletePermission)

	g.GET(r+"/api-keys", a.listAPIKeys)
	g.POST(r+"/api-keys", a.createAPIKey)
	g.GET(r+"/api-keys/:id", a.getAPIKey)
	g.PATCH(r+"/api-keys/:id", a.updateAPIKey)
	g.DELETE(r+"/api-keys/:id", a.deleteAPIKey)
	g.POST(r+"/api-keys\\:bulk", a.bulkAPIKeys)

	g.GET(r+"/security-templates", a.listSecurityTemplates)
	g.POST(r+"/security-templates", a.createSecurityTemplate)
	g.GET(r+"/security-templates/:name", a.getSecurityTemplate)
	g.PATCH(r+"/security-templates/:name", a.updateSecurityTemplate)
	g.DELETE(r+"/security-templates/:name", a.deleteSecurityTemplate)

	g.GET(r+"/identity-providers", a.listIdentityProviders)
	g.POST(r+"/identity-providers", a.createIdentityProvider)
	g.GET(r+"/identity-providers/:alias", a.getIdentityProvider)
	g.PATCH(r+"/identity-providers/:alias", a.updateIdentityProvider)
	g.DELETE(r+"/identity-providers/:alias", a.deleteIdentityProvider)

	g.GET(r+"/ip-allow-list", a.getIPAllowList)
	g.PUT(r+"/ip-allow-list", a.putIPAllowList)

	g.GET(r+"/events", a.listRealmEvents)
}

// routes registers handlers on the admin group, each behind authentication
// and then the check of its query and path parameters.
type routes struct {
	g    *echo.Group
	auth echo.MiddlewareFunc
}

func (r *routes) GET(path string, h echo.HandlerFunc)    { r.g.GET(path, h, r.auth, checkParams) }
func (r *routes) POST(path string, h echo.HandlerFunc)   { r.g.POST(path, h, r.auth, checkParams) }
func (r *routes) PUT(path string, h echo.HandlerFunc)    { r.g.PUT(path, h, r.auth, checkParams) }
func (r *routes) PATCH(path string, h echo.HandlerFunc)  { r.g.PATCH(path, h, r.auth, checkParams) }
func (r *routes) DELETE(path string, h echo.HandlerFunc) { r.g.DELETE(path, h, r.auth, checkParams) }

// checkParams refuses a query or path parameter that is not acceptable
// text (realm.CheckValues: UTF-8, no control characters) with a 400 naming
// it, before a handler passes it on (PostgreSQL answers a NUL with an
// error, SQLite would store it).
func checkParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := realm.CheckPath(c.ParamNames(), c.ParamValues()); err != nil {
			return err
		}
		if err := realm.CheckValues(c.QueryParams()); err != nil {
			return err
		}
		return next(c)
	}
}

// authenticate resolves the bearer token to a principal and puts it on the
// request context, where realm.Service looks for it. Without one, nothing
// else runs.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Values(echo.HeaderAuthorization)
		if len(h) == 0 {
			return &authError{detail: "a bearer access token is required"}
		}
		if len(h) > 1 {
			return &authError{challenge: "invalid_request", detail: "more than one Authorization header"}
		}
		scheme, token, ok := strings.Cut(h[0], " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
			return &authError{challenge: "invalid_request", detail: `the Authorization header must be "Bearer <access token>"`}
		}
		ctx := c.Request().Context()
		p, err := a.auth.AuthenticateAdmin(ctx, token)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, realm.ErrUnavailable) {
				// The token could not be checked: that is our outage,
				// not the caller's bad credential.
				return err
			}
			// The reason stays in the log (at debug: it is the caller's
			// mistake), never the token itself.
			a.log.Debug("admin api: bearer token rejected", "err", err)
			if errors.Is(err, realm.ErrSupportAccessOff) {
				return &authError{challenge: "invalid_token", detail: "support access to this organization is off or has ended: the support token no longer works"}
			}
			return &authError{challenge: "invalid_token", detail: "the access token is invalid or expired"}
		}
		ctx = realm.WithPrincipal(ctx, p)
		if p.ActorType == realm.ActorSupport {
			// Every call support makes is on the record, reads too, and
			// before it runs: a call that cannot be recorded is not made.
			if err := a.svc.RecordSupportCall(ctx, c.Request().Method, c.Path(), c.Request().URL.EscapedPath()); err != nil {
				return err
			}
		}
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// ctx is the request context carrying the principal.
func ctx(c echo.Context) context.Context { return c.Request().Context() }

// created answers 201 with the resource and its Location.
func created(c echo.Context, id string, body any) error {
	c.Response().Header().Set(echo.HeaderLocation, strings.TrimSuffix(c.Request().URL.EscapedPath(), "/")+"/"+url.PathEscape(id))
	return c.JSON(http.StatusCreated, body)
}

// withSecret marks an answer that shows a client secret as never cacheable.
func withSecret(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
}
