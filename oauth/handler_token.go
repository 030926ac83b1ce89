package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/wardiam/ward/realm"
)

// maxFormBytes bounds token, introspection and revocation bodies; real ones
// are well under 4 KiB.
const maxFormBytes = 64 << 10

// parseBody reads the form (urlencoded or multipart) of a token,
// introspection or revocation request, at most maxFormBytes of it, before
// fosite sees the request: fosite would call an over-long body "empty" or
// "malformed", and the caller deserves to know it was too large (413).
// fosite's own parsing then finds the form already parsed. When ok is false
// the answer has been written and err is what the handler returns.
func parseBody(c echo.Context) (ok bool, err error) {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	// The usual small urlencoded body is read by readPlainForm (form.go),
	// anything else by net/http. ParseMultipartForm alone would hide a
	// urlencoded body's read error behind ErrNotMultipart.
	if err = readPlainForm(req); errors.Is(err, errNotPlainForm) {
		if err = req.ParseForm(); err == nil {
			err = req.ParseMultipartForm(maxFormBytes)
		}
	}
	if err == nil || errors.Is(err, http.ErrNotMultipart) {
		// Form holds the query and every body field, multipart ones
		// included.
		if err := realm.CheckValues(req.Form); err != nil {
			return false, badText(c, err)
		}
		if err := checkBasicAuth(req); err != nil {
			return false, badText(c, err)
		}
		return true, nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return false, writeError(c, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
	}
	return false, writeError(c, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
}

// checkBasicAuth checks the client credentials of client_secret_basic as
// realm.CheckValues checks a form: both as sent and, since RFC 6749 §2.3.1
// form-encodes them before base64, as fosite decodes them ("%00" is a NUL
// too). For acceptable credentials it costs what req.BasicAuth does (two
// small allocations for the decoded header, as fosite's own parse), and
// nothing more.
func checkBasicAuth(req *http.Request) error {
	id, secret, ok := req.BasicAuth()
	if !ok {
		return nil
	}
	var v *realm.ValidationError
	for _, cred := range [...]struct{ name, value string }{{"client_id", id}, {"client_secret", secret}} {
		p := realm.TextProblem(cred.value, false)
		if p == "" && strings.Contains(cred.value, "%") {
			if dec, err := url.QueryUnescape(cred.value); err == nil {
				p = realm.TextProblem(dec, false)
			}
		}
		if p != "" {
			if v == nil {
				v = &realm.ValidationError{}
			}
			v.Add(cred.name, p)
		}
	}
	if v == nil {
		return nil
	}
	return v
}

// accessTokenType is RFC 9068's JWT "typ" for access tokens; resource
// servers and our introspection refuse other JWTs (ID or refresh tokens)
// presented as access tokens.
const accessTokenType = "at+jwt"

// handleToken is the token endpoint: fosite authenticates the client and
// runs the grant handler; we only decide what the token says.
func (s *Server) handleToken(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	p, err := s.providers.get(ctx, c.Param("realm"))
	if err != nil {
		return s.realmError(c, err)
	}
	if ok, err := parseBody(c); !ok {
		return err
	}
	ctx = withClientAddr(ctx, s.proxies.ClientIP(req))
	rw := c.Response()

	// fosite would call an unknown grant type invalid_request; RFC 6749
	// §5.2 has a precise code for it.
	if gt := req.PostFormValue("grant_type"); gt != "" && !slices.Contains(supportedGrantTypes, gt) {
		p.fosite.WriteAccessError(ctx, rw, nil, fosite.ErrUnsupportedGrantType)
		return nil
	}
	// A user's grant (authorization code) restores the session stored
	// with the code; a client's starts empty.
	newSession := func() fosite.Session { return &oauth2.JWTSession{} }
	switch req.PostFormValue("grant_type") {
	case "authorization_code", "refresh_token":
		newSession = func() fosite.Session { return &userSession{} }
		// One client read per grant (storage.go): the code's three stored
		// sessions (code, PKCE, OIDC) and a refresh token's request each
		// name the client this request just authenticated.
		ctx = withGrantClient(ctx)
		if req.PostFormValue("grant_type") == "refresh_token" {
			// The client and the token in one round trip (refresh_read.go).
			ctx = p.withRefreshRead(ctx, req)
		}
	case GrantTypeTokenExchange:
		newSession = func() fosite.Session { return &apiKeySession{} }
		var lookup *exchangeLookup
		ctx, lookup = withExchangeLookup(ctx, req.PostFormValue("subject_token"))
		defer func() {
			if lookup.skipAddressLimit {
				c.Set(skipTokenLimit, true)
			}
		}()
	}
	ar, err := p.fosite.NewAccessRequest(ctx, req, newSession())
	if errors.Is(err, fosite.ErrNotFound) {
		// No such client in the cached realm. The client query is by the
		// cached realm's ID, so a deleted realm's clients never get a
		// token; but the name may belong to a new realm by now, whose
		// clients deserve an answer from it. Only this failing path pays
		// the extra lookup; the form is parsed already, so the request can
		// run again.
		fresh, rerr := s.providers.revalidate(ctx, p.realm.Name, p)
		if rerr != nil {
			return s.realmError(c, rerr)
		}
		if fresh != p {
			p = fresh
			ar, err = p.fosite.NewAccessRequest(ctx, req, newSession())
		}
	}
	if err != nil {
		return s.writeTokenError(c, p, ar, "token request", err)
	}
	fc, ok := ar.GetClient().(*fositeClient)
	if !ok {
		p.fosite.WriteAccessError(ctx, rw, ar, fosite.ErrInvalidClient)
		return nil
	}
	switch session := ar.GetSession().(type) {
	case *userSession:
		err = p.userTokenSession(ctx, ar, fc, session) // flow_authorize_code.go
	case *oauth2.JWTSession:
		err = p.clientSession(ctx, ar, fc, session) // flow_client_credentials.go
	case *apiKeySession:
		// Its claims were set by the exchange handler (flow_token_exchange.go).
	default:
		err = fosite.ErrServerError.WithDebug("unexpected session type")
	}
	if err != nil {
		return s.writeTokenError(c, p, ar, "token claims", err)
	}
	resp, err := p.fosite.NewAccessResponse(ctx, ar)
	if err != nil {
		return s.writeTokenError(c, p, ar, "token response", err)
	}
	// fosite says "bearer"; RFC 6750 and CONTRACT §4 spell it "Bearer".
	resp.SetTokenType("Bearer")
	writeAccessResponse(rw, resp)
	return nil
}

// writeAccessResponse answers a granted token request as fosite's
// WriteAccessResponse does (the same headers, the same bytes json.Marshal
// gives for the response's map) through appendJSON, which spares the
// reflection on every grant.
func writeAccessResponse(rw http.ResponseWriter, resp fosite.AccessResponder) {
	body, err := appendJSON(make([]byte, 0, 1536), resp.ToMap())
	if err != nil {
		// As fosite answers it; the map holds strings and numbers only.
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json;charset=UTF-8")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(body)
}

// writeTokenError answers a failed token request: the client's mistakes as
// fosite words them, our own failures (storage down) as 503 so clients and
// load balancers retry, with the cause logged and never shown.
func (s *Server) writeTokenError(c echo.Context, p *provider, ar fosite.AccessRequester, what string, err error) error {
	ctx := c.Request().Context()
	if (causedBy(err, errCodeReused) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode)) && ar != nil {
		// Another redemption of the same code got there first: it won the
		// conditional update, or had already marked the code used when
		// fosite read it a second time (which fosite calls a server
		// error). Treated as reuse, so the tokens issued to it are revoked
		// too.
		st := newFositeStore(p)
		if rerr := st.RevokeAccessToken(ctx, ar.GetID()); rerr != nil {
			s.logServerError(ctx, p, "revoke tokens of a reused code", fosite.ErrServerError.WithWrap(rerr))
		}
		if rerr := st.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
			s.logServerError(ctx, p, "revoke refresh tokens of a reused code", fosite.ErrServerError.WithWrap(rerr))
		}
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	}
	if causedBy(err, errRefreshReused) {
		// Lost the rotation to a concurrent use of the same refresh
		// token: its family was revoked (RotateRefreshToken).
		err = fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
	}
	if errors.Is(err, fosite.ErrInvalidGrant) || errors.Is(err, fosite.ErrInactiveToken) {
		s.userTokenRefused(ctx, p, ar, err)
	}
	if errors.Is(err, fosite.ErrServerError) {
		s.logServerError(ctx, p, what, err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be issued right now.")
	}
	var wait retryAfterError
	if errors.As(err, &wait) {
		c.Response().Header().Set("Retry-After", RetryAfter(time.Duration(wait)))
	}
	if errors.Is(err, fosite.ErrInvalidClient) {
		// RFC 6749 §5.2: a 401 for failed client authentication carries a
		// challenge (introspection and revocation do the same).
		c.Response().Header().Set("WWW-Authenticate", basicChallenge(p))
	}
	p.fosite.WriteAccessError(ctx, c.Response(), ar, err)
	return nil
}

// userTokenRefused records a refused refresh token of a known user
// (revoked, reused, expired, its session ended) as an audit event naming
// the client and the caller's address. Only a token Ward issued and read
// back names a user, so guessing cannot fill the audit log. A failed
// write is logged, never a reason to answer differently.
func (s *Server) userTokenRefused(ctx context.Context, p *provider, ar fosite.AccessRequester, err error) {
	if ar == nil || !ar.GetGrantTypes().ExactOne("refresh_token") || p.realm.OrgID == "" {
		return // the console realm's sign-ins are the org members' own
	}
	us, ok := ar.GetSession().(*userSession)
	if !ok || us.UserID == "" {
		return
	}
	details := map[string]any{"grant_type": "refresh_token", "address": clientAddrText(ctx)}
	if ar.GetClient() != nil {
		details["client_id"] = ar.GetClient().GetID()
	}
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) && rfc.HintField != "" {
		details["reason"] = rfc.HintField
	}
	now := s.clock()
	e := &realm.Event{ID: realm.NewID(now, nil), OrgID: p.realm.OrgID, RealmID: p.realm.ID, Type: realm.EventUserTokenRefused,
		ActorType: "system", TargetType: "user", TargetID: us.UserID, Details: details, Time: now.UTC()}
	if err := s.store.AppendEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "oauth: audit event not written", "realm", p.realm.Name, "event", e.Type, "err", err)
	}
}

// basicChallenge is the WWW-Authenticate value of a failed client
// authentication at realm p.
func basicChallenge(p *provider) string {
	return `Basic realm="` + p.realm.Name + `"`
}

// logServerError logs failures that are ours (storage, keys), not the
// client's; client mistakes are answered, not logged.
func (s *Server) logServerError(ctx context.Context, p *provider, what string, err error) {
	// fosite wraps storage failures in client errors (invalid_client
	// wrapping server_error), so look through the chain.
	var rfc *fosite.RFC6749Error
	if !errors.Is(err, fosite.ErrServerError) && errors.As(err, &rfc) && rfc.CodeField < 500 {
		return
	}
	// fosite's errors print their code only; the cause (a database
	// error, say) is what an operator needs.
	cause := err
	for cause != nil && errors.As(cause, &rfc) {
		cause = rfc.Unwrap() // past each fosite error to what it wraps
	}
	s.log.ErrorContext(ctx, "oauth: "+what+" failed", "realm", p.realm.Name, "err", err, "cause", cause)
}
