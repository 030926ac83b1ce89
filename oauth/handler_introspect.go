package oauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// jwtIntrospector is the realm's fosite TokenIntrospector for its
// self-contained access tokens: it checks signature, issuer, expiry,
// revocation and the client, and fills the access request from the token.
type jwtIntrospector struct {
	p *provider
}

var _ fosite.TokenIntrospector = (*jwtIntrospector)(nil)

func (i *jwtIntrospector) IntrospectToken(ctx context.Context, token string, _ fosite.TokenUse, ar fosite.AccessRequester, _ []string) (fosite.TokenUse, error) {
	// token_type_hint is only a hint (RFC 7662 §2.1): every token is tried
	// as an access token, the only kind that exists so far.
	cl, c, err := i.p.verifyActive(ctx, token)
	if err != nil {
		if isTokenRejection(err) {
			return "", fosite.ErrInactiveToken.WithWrap(err)
		}
		return "", fosite.ErrServerError.WithWrap(err)
	}
	req, ok := ar.(*fosite.AccessRequest)
	if !ok {
		return "", fosite.ErrServerError.WithHint("unexpected access request type")
	}
	req.Client = &fositeClient{c: c}
	req.RequestedAt = cl.IssuedAt.Time()
	for _, sc := range strings.Fields(cl.Scope) {
		req.GrantScope(sc)
	}
	for _, a := range cl.Audience {
		req.GrantAudience(a)
	}
	sess, ok := req.GetSession().(*oauth2.JWTSession)
	if !ok {
		return "", fosite.ErrServerError.WithHint("unexpected session type")
	}
	sess.Subject = cl.Subject
	sess.SetExpiresAt(fosite.AccessToken, cl.Expiry.Time())
	sess.JWTClaims = &fjwt.JWTClaims{
		Subject:   cl.Subject,
		Issuer:    cl.Issuer,
		JTI:       cl.ID,
		Audience:  cl.Audience,
		ExpiresAt: cl.Expiry.Time(),
		Extra:     map[string]any{"kind": cl.Kind, "org_id": cl.OrgID, "permissions": cl.Permissions},
	}
	if cl.IssuedAt != nil {
		sess.JWTClaims.IssuedAt = cl.IssuedAt.Time()
	}
	return fosite.AccessToken, nil
}

// introspection is the RFC 7662 answer for an active token.
type introspection struct {
	Active    bool     `json:"active"`
	ClientID  string   `json:"client_id"`
	Subject   string   `json:"sub"`
	Scope     string   `json:"scope"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Audience  []string `json:"aud"`
	Issuer    string   `json:"iss"`
	JTI       string   `json:"jti"`
	TokenType string   `json:"token_type"`
	Kind      string   `json:"kind,omitempty"`
	// Permissions are an API key's (kind api_key).
	Permissions []string `json:"permissions,omitempty"`
}

// appendTo appends in's JSON exactly as encoding/json writes it (field
// order, omitempty, escapes), without its reflection: introspection is the
// most frequent call a resource server makes.
func (in *introspection) appendTo(buf []byte) ([]byte, error) {
	var err error
	str := func(key, v string) {
		if err == nil {
			buf = append(buf, key...)
			buf, err = appendJSONString(buf, v)
		}
	}
	list := func(key string, v []string) {
		if err == nil {
			buf = append(buf, key...)
			buf, err = appendJSON(buf, v)
		}
	}
	buf = append(buf, `{"active":`...)
	buf = strconv.AppendBool(buf, in.Active)
	str(`,"client_id":`, in.ClientID)
	str(`,"sub":`, in.Subject)
	str(`,"scope":`, in.Scope)
	buf = strconv.AppendInt(append(buf, `,"exp":`...), in.Expiry, 10)
	if in.IssuedAt != 0 {
		buf = strconv.AppendInt(append(buf, `,"iat":`...), in.IssuedAt, 10)
	}
	list(`,"aud":`, in.Audience)
	str(`,"iss":`, in.Issuer)
	str(`,"jti":`, in.JTI)
	str(`,"token_type":`, in.TokenType)
	if in.Kind != "" {
		str(`,"kind":`, in.Kind)
	}
	if len(in.Permissions) > 0 {
		list(`,"permissions":`, in.Permissions)
	}
	return append(buf, '}'), err
}

// writeIntrospection answers with in as c.JSON would (its Content-Type
// unless one is set, encoding/json's bytes and the Encoder's newline).
func writeIntrospection(c echo.Context, in *introspection) error {
	body, err := in.appendTo(make([]byte, 0, 512))
	if err != nil {
		return c.JSON(http.StatusOK, in)
	}
	h := c.Response().Header()
	if h.Get(echo.HeaderContentType) == "" {
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(append(body, '\n'))
	return err
}

// handleIntrospect (RFC 7662). The caller must be an active confidential
// client of the realm, by client_secret_basic or client_secret_post —
// fosite's own introspection endpoint would also accept any bearer token as
// the caller's credential, which CONTRACT §4 does not allow.
func (s *Server) handleIntrospect(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	// The cached provider is used without checking the realm's name in the
	// database first: the caller is read by the cached realm's ID, so a
	// deleted realm has no caller, and only then is the name looked up (as
	// the token endpoint does): 404 for a realm that is gone, the new
	// realm's provider for one re-created under the name.
	p, err := s.providers.get(ctx, c.Param("realm"))
	if err != nil {
		return s.realmError(c, err)
	}
	if ok, err := parseBody(c); !ok {
		return err
	}
	token := req.PostForm.Get("token")
	// One round trip reads the caller and what the token's checks need
	// (introspect_read.go); the caller is then authenticated on that row.
	pre := p.readIntrospection(ctx, req, token)
	var caller *fositeClient
	if pre != nil {
		caller, err = s.authenticateCallerWith(ctx, p, req, pre)
	} else {
		caller, err = s.authenticateCaller(ctx, p, req)
	}
	if errors.Is(err, fosite.ErrNotFound) {
		fresh, rerr := s.providers.revalidate(ctx, p.realm.Name, p)
		if rerr != nil {
			return s.realmError(c, rerr)
		}
		if fresh != p {
			p = fresh
			caller, err = s.authenticateCaller(ctx, p, req)
		}
	}
	if err != nil {
		return s.writeFositeError(c, p, err)
	}
	if token == "" {
		return writeError(c, http.StatusBadRequest, "invalid_request", "The token parameter is missing.")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")

	ctx = context.WithValue(ctx, callerKey{}, caller.c)
	if pre != nil {
		ctx = context.WithValue(ctx, introspectionKey{}, pre)
	}
	use, ar, err := p.fosite.IntrospectToken(ctx, token, fosite.TokenUse(req.PostForm.Get("token_type_hint")), &oauth2.JWTSession{})
	if errors.Is(err, fosite.ErrServerError) {
		s.logServerError(ctx, p, "introspection", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked right now.")
	}
	inactive := func() error {
		return c.JSON(http.StatusOK, struct {
			Active bool `json:"active"`
		}{false})
	}
	if err != nil && causedBy(err, errTokenInvalid) {
		// Not an access token of the realm: perhaps a refresh token.
		return s.introspectRefresh(c, p, caller, token)
	}
	if err != nil || use != fosite.AccessToken {
		return inactive()
	}
	sess := ar.GetSession().(*oauth2.JWTSession)
	claims := sess.JWTClaims
	orgID, _ := claims.Extra["org_id"].(string)
	if !mayAccess(p, caller, ar.GetClient().GetID(), orgID) {
		// Another org's token is, to this caller, no token at all.
		return inactive()
	}
	out := introspection{
		Active:    true,
		ClientID:  ar.GetClient().GetID(),
		Subject:   claims.Subject,
		Scope:     strings.Join(ar.GetGrantedScopes(), " "),
		Expiry:    claims.ExpiresAt.Unix(),
		Audience:  ar.GetGrantedAudience(),
		Issuer:    claims.Issuer,
		JTI:       claims.JTI,
		TokenType: "Bearer",
	}
	if out.Audience == nil {
		out.Audience = []string{}
	}
	if !claims.IssuedAt.IsZero() {
		out.IssuedAt = claims.IssuedAt.Unix()
	}
	out.Kind, _ = claims.Extra["kind"].(string)
	out.Permissions, _ = claims.Extra["permissions"].([]string)
	return writeIntrospection(c, &out)
}

// formCall starts an endpoint that a client calls with a form and its
// credentials (revocation): the realm's provider, checked
// against the database, with the form read. When either fails it has
// answered and p is nil.
func (s *Server) formCall(c echo.Context) (p *provider, err error) {
	if p, err = s.providers.current(c.Request().Context(), c.Param("realm")); err != nil {
		return nil, s.realmError(c, err)
	}
	if ok, err := parseBody(c); !ok {
		return nil, err
	}
	return p, nil
}

// authenticateCaller runs fosite's client authentication (basic or post)
// and refuses public clients: only confidential clients may introspect and
// revoke.
func (s *Server) authenticateCaller(ctx context.Context, p *provider, req *http.Request) (*fositeClient, error) {
	return confidentialCaller(p.fosite.AuthenticateClient(ctx, req, req.PostForm))
}

// confidentialCaller is the result of fosite's client authentication, with
// public clients refused.
func confidentialCaller(client fosite.Client, err error) (*fositeClient, error) {
	if err != nil {
		return nil, err
	}
	fc, ok := client.(*fositeClient)
	if !ok || client.IsPublic() {
		return nil, fosite.ErrInvalidClient.WithHint("Public clients may not call this endpoint.")
	}
	return fc, nil
}

// mayAccess says whether caller may introspect a token issued to
// tokenClientID, whose org_id claim is tokenOrgID.
//
// In an ordinary realm any confidential client of the realm may (CONTRACT
// §4): the realm belongs to one org. The console realm holds every org's
// admin clients, so there the org is the boundary: a caller sees its own
// tokens and those of its own org. A caller without an org sees only its
// own tokens. (Revocation is narrower still: only the token's own client.)
func mayAccess(p *provider, caller *fositeClient, tokenClientID, tokenOrgID string) bool {
	if p.realm.Name != realm.ConsoleRealm {
		return true
	}
	c := caller.c
	if tokenClientID == c.ClientID {
		return true
	}
	return c.OrgID != "" && tokenOrgID == c.OrgID
}

// writeFositeError answers a fosite error in RFC 6749 form.
func (s *Server) writeFositeError(c echo.Context, p *provider, err error) error {
	s.logServerError(c.Request().Context(), p, "client authentication", err)
	if errors.Is(err, fosite.ErrServerError) {
		// A storage failure, not bad credentials: say so, and fail closed.
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The request cannot be served right now.")
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	status := rfc.CodeField
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		c.Response().Header().Set("WWW-Authenticate", basicChallenge(p))
	}
	return writeError(c, status, rfc.ErrorField, rfc.DescriptionField)
}
