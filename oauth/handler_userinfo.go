package oauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The UserInfo endpoint (OIDC Core §5.3). The access token is checked as
// introspection checks it (signature, issuer, expiry, revocation, client
// still active) and, since the answer is about a person, the user must
// still exist and be active. Claims are read from the user row, not the
// token, so the answer is current; which ones come depends on the scopes
// the token was granted.

// userinfo is the answer; empty optional claims are left out.
type userinfo struct {
	Subject       string `json:"sub"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	// Groups are the user's group names (with the profile scope), as the
	// access token carries them but current: what an identity broker in
	// front of Ward (another Ward realm's, Keycloak's) maps to its own
	// groups.
	Groups []string `json:"groups,omitempty"`
}

// bearerToken takes the access token from the Authorization header or, for
// a form-encoded POST, the access_token field (RFC 6750 §2.1, §2.2).
func bearerToken(w http.ResponseWriter, req *http.Request) string {
	if h := req.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if req.Method == http.MethodPost && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		req.Body = http.MaxBytesReader(w, req.Body, maxFormBytes)
		if err := req.ParseForm(); err == nil {
			return req.PostForm.Get("access_token")
		}
	}
	return ""
}

// bearerCall starts an endpoint called with an access token (userinfo,
// policies): the realm's provider and the token. When either is missing it
// has answered and p is nil: an unknown realm is 404, a request with no
// token gets a bare challenge (RFC 6750 §3.1).
func (s *Server) bearerCall(c echo.Context) (p *provider, token string, err error) {
	p, err = s.providers.current(c.Request().Context(), c.Param("realm"))
	if err != nil {
		return nil, "", s.realmError(c, err)
	}
	token = bearerToken(c.Response(), c.Request())
	// A form body bearerToken parsed (PostForm stays nil otherwise).
	if err := realm.CheckValues(c.Request().PostForm); err != nil {
		return nil, "", badText(c, err)
	}
	if token == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+p.realm.Name+`"`)
		return nil, "", writeError(c, http.StatusUnauthorized, "invalid_token", "An access token is required.")
	}
	return p, token, nil
}

// bearerError answers RFC 6750 §3: the error is in WWW-Authenticate and,
// for the benefit of simple clients, in a JSON body.
func bearerError(c echo.Context, status int, code, description string) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+description+`"`)
	return writeError(c, status, code, description)
}

func (s *Server) handleUserinfo(c echo.Context) error {
	ctx := c.Request().Context()
	p, token, err := s.bearerCall(c)
	if p == nil {
		return err
	}
	invalid := func() error {
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "The access token is invalid or has expired.")
	}
	cl, _, err := p.verifyActive(ctx, token)
	if err != nil && !isTokenRejection(err) {
		s.logServerError(ctx, p, "userinfo", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked right now.")
	}
	if err != nil || cl.Kind != "user" {
		// A service account's token speaks for no person.
		return invalid()
	}
	scopes := strings.Fields(cl.Scope)
	has := func(sc string) bool {
		for _, x := range scopes {
			if x == sc {
				return true
			}
		}
		return false
	}
	if !has("openid") {
		return bearerError(c, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
	}
	uc, err := s.store.GetUserClaims(ctx, p.realm.ID, cl.Subject)
	if errors.Is(err, realm.ErrNotFound) {
		return invalid()
	}
	if err != nil {
		s.logServerError(ctx, p, "userinfo", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked right now.")
	}
	u := uc.User
	if !u.Active || u.RealmID != p.realm.ID {
		return invalid()
	}
	out := userinfo{Subject: u.ID}
	if has(realm.ScopeEmail) {
		// Verified: a user signs in only after proving the mailbox through
		// an emailed link (CONTRACT §4), or through an identity provider
		// that said it is verified.
		verified := true
		out.Email, out.EmailVerified = u.Email, &verified
	}
	if has("profile") {
		out.Name = strings.TrimSpace(u.FirstName + " " + u.LastName)
		out.GivenName, out.FamilyName = u.FirstName, u.LastName
		for _, g := range uc.Groups {
			out.Groups = append(out.Groups, g.Name)
		}
		slices.Sort(out.Groups)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, out)
}
