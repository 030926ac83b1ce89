package oauth

import (
	"context"
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// The authorization code flow is fosite's (compose.OAuth2AuthorizeExplicitFactory,
// with PKCE and OpenID Connect); this file is what Ward adds to it. At the
// authorization endpoint, oauth/login shows the pages and signs the user in;
// it drives the request through an Authorizer: read the client, parse the
// request, and issue the code for the user who signed in (or answer the
// error at the redirect URI). At the token endpoint, userTokenSession
// decides the user's token claims, as they are at that moment.

// Authorizer is one realm's authorization endpoint, as oauth/login drives
// it. It is good for one request.
type Authorizer struct {
	p *provider
}

// Authorizer returns realm realmName's authorization endpoint; an unknown
// realm is ErrRealmNotFound. The realm is checked against the database, so
// a realm deleted and re-created under its name is not served stale.
func (s *Server) Authorizer(ctx context.Context, realmName string) (*Authorizer, error) {
	p, err := s.providers.current(ctx, realmName)
	if err != nil {
		return nil, err
	}
	return &Authorizer{p: p}, nil
}

// Realm is the realm the endpoint belongs to.
func (a *Authorizer) Realm() *realm.Realm { return a.p.realm }

// Issuer is the realm's issuer URL.
func (a *Authorizer) Issuer() string { return a.p.issuer }

// Client returns the realm's active client clientID with every field; an
// unknown or disabled one is realm.ErrNotFound.
func (a *Authorizer) Client(ctx context.Context, clientID string) (*realm.Client, error) {
	fc, err := a.p.fullClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return fc.c, nil
}

// NewAuthorizeRequest parses req as an authorization request of client (as
// Client returned it) with fosite. With webMessage, the answer goes to the
// popup's opener by web message, errors included. A nil request means
// there is no request an error could be answered at.
func (a *Authorizer) NewAuthorizeRequest(ctx context.Context, req *http.Request, client *realm.Client, webMessage bool) (fosite.AuthorizeRequester, error) {
	if client == nil || client.RealmID != a.p.realm.ID {
		return nil, fosite.ErrInvalidClient
	}
	return newAuthorizeRequest(ctx, a.p.fosite, req, webMessage, &fositeClient{c: client, now: a.p.s.clock()})
}

// SignIn is who signed in for an authorization request, and when.
type SignIn struct {
	User *realm.User
	// SessionID and AuthTime are of the browser session the user signed
	// in with (the ID token's sid and auth_time).
	SessionID string
	AuthTime  time.Time
	// RequestedAt is when the request reached the authorization endpoint.
	RequestedAt time.Time
}

// Authorize issues the code for the signed-in user and sends it to the
// application (redirect, form post or web message) with state and iss
// (RFC 9207); a request that cannot be granted gets its error there.
func (a *Authorizer) Authorize(ctx context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, in SignIn) {
	p, s, u := a.p, a.p.s, in.User
	fc, ok := ar.GetClient().(*fositeClient)
	if !ok {
		a.WriteError(ctx, rw, ar, fosite.ErrServerError.WithDebug("unexpected client type"))
		return
	}
	for _, scope := range grantedScopes(fc.c, ar.GetRequestedScopes()) {
		ar.GrantScope(scope)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	sess := &userSession{UserID: u.ID, SessionID: in.SessionID, AuthTime: in.AuthTime,
		Offline: ar.GetGrantedScopes().Has(scopeOffline)}
	if p.realm.Name == realm.ConsoleRealm {
		orgID, err := p.chooseConsoleOrg(ctx, u.ID, ar.GetGrantedScopes())
		if err != nil {
			a.WriteError(ctx, rw, ar, err)
			return
		}
		sess.OrgID = orgID
	}
	id := sess.IDTokenClaims()
	id.Subject = u.ID
	id.Issuer = p.issuer
	// Not rounded: with prompt=login fosite requires auth_time not to be
	// before the request; the token carries whole seconds anyway.
	id.AuthTime = in.AuthTime.UTC()
	id.RequestedAt = in.RequestedAt
	id.Extra = map[string]any{"azp": fc.c.ClientID, "sid": in.SessionID}
	granted := ar.GetGrantedScopes()
	if granted.Has(realm.ScopeEmail) {
		// A user can only sign in after proving the mailbox through an
		// emailed link (CONTRACT §4), or through an identity provider that
		// said the address is verified (realm.IdentityProviders.SignIn
		// creates and links no one otherwise), and relying parties such
		// as oauth2-proxy refuse an address not said to be verified.
		id.Extra["email"] = u.Email
		id.Extra["email_verified"] = true
	}
	if granted.Has("profile") {
		id.Extra["name"] = strings.TrimSpace(u.FirstName + " " + u.LastName)
		id.Extra["given_name"] = u.FirstName
		id.Extra["family_name"] = u.LastName
	}
	resp, err := p.fosite.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		a.WriteError(ctx, rw, ar, err)
		return
	}
	resp.AddParameter("iss", p.issuer)
	// fosite adds the granted scope; RFC 6749 §4.1.2 has no such parameter
	// in a code response, and Keycloak sends none: keycloak-js, which
	// strips only the parameters it knows from the URL, would leave it in
	// the application's address (and in its post-logout redirect URI).
	// The granted scope is in the token response.
	resp.GetParameters().Del("scope")
	p.fosite.WriteAuthorizeResponse(ctx, rw, ar, resp)
	s.sweepAuthRequests(ctx)
}

// grantedScopes are the scopes a sign-in of application c is granted when
// it asks for requested (fosite has checked they are scopes Ward knows):
// openid and the console's org:SLUG when asked, the client's default scopes
// always, its optional scopes when asked (offline_access among them only
// when the client allows it). Anything else asked for is dropped, not
// refused, as Keycloak ignores a scope a client does not offer: the
// sign-in works without it, and the token response's scope tells.
func grantedScopes(c *realm.Client, requested fosite.Arguments) []string {
	var out []string
	add := func(sc string) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	for _, sc := range requested {
		var offered bool
		switch {
		case sc == scopeOffline:
			// The client's offline access flag decides (the Service keeps
			// it and optional_scopes in step).
			offered = c.AllowOfflineAccess
		case sc == "openid", strings.HasPrefix(sc, orgScopePrefix):
			offered = true
		default:
			offered = slices.Contains(c.OptionalScopes, sc) || slices.Contains(c.DefaultScopes, sc)
		}
		if offered {
			add(sc)
		}
	}
	for _, sc := range c.DefaultScopes {
		add(sc)
	}
	return out
}

// sweepAuthRequests deletes expired code, PKCE and OIDC rows (and refresh
// tokens) now and then
// (every 256th code on this node), in the background: rows of codes
// never redeemed would otherwise stay forever.
func (s *Server) sweepAuthRequests(ctx context.Context) {
	if s.codesIssued.Add(1)%256 != 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		if _, err := s.store.DeleteExpiredAuthRequests(ctx, s.clock()); err != nil {
			s.log.WarnContext(ctx, "oauth: deleting expired authorization codes", "err", err)
		}
		// Refresh tokens too, the same way: a used one stays until it
		// expires, so that its reuse is recognised until then.
		if _, err := s.store.DeleteExpiredRefreshTokens(ctx, s.clock()); err != nil {
			s.log.WarnContext(ctx, "oauth: deleting expired refresh tokens", "err", err)
		}
	}()
}

// WriteError answers a bad authorization request at its verified redirect
// URI (or by web message), with iss added (RFC 9207 §2 asks for it on
// errors too).
func (a *Authorizer) WriteError(ctx context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	p := a.p
	if errors.Is(err, fosite.ErrServerError) {
		p.s.logServerError(ctx, p, "authorize", err)
	}
	p.fosite.WriteAuthorizeError(ctx, &issWriter{ResponseWriter: rw, iss: p.issuer}, ar, err)
}

// formPostTemplate is the form_post response page of a realm. It carries
// iss on every response (RFC 9207), errors included: fosite builds an
// error's parameters itself, so iss is added here when they lack it.
func formPostTemplate(issuer string) *template.Template {
	return template.Must(template.New("form_post").Funcs(template.FuncMap{"issuer": func() string { return issuer }}).Parse(
		`<!doctype html><html><head><meta charset="utf-8"><title>Signing in…</title></head>` +
			`<body onload="document.forms[0].submit()"><form method="post" action="{{.RedirURL}}">` +
			`{{range $name, $values := .Parameters}}{{range $values}}<input type="hidden" name="{{$name}}" value="{{.}}">{{end}}{{end}}` +
			`{{if not (index .Parameters "iss")}}<input type="hidden" name="iss" value="{{issuer}}">{{end}}` +
			`<noscript><button type="submit">Continue</button></noscript></form></body></html>`))
}

// issWriter adds iss to the Location of a redirect as its headers go out.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			if u.Fragment != "" {
				// fosite wrote the fragment form-encoded; appending keeps
				// its encoding as it is.
				w.Header().Set("Location", loc+"&iss="+url.QueryEscape(w.iss))
			} else {
				q := u.Query()
				q.Set("iss", w.iss)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// userTokenSession sets the claims of a user's access token (CONTRACT §4):
// sub is the user ID, kind "user", with the user's email, names, groups
// and effective attributes as they are now. A user deactivated since
// signing in gets no token. The jti of the code's access token is the
// authorization request's ID, so a second redemption of the code can
// revoke it; a refreshed one has its own jti, kept with its refresh token
// so that revoking the family revokes it too. A refresh also needs its
// grounds (refreshBounds): the session, or offline access.
func (p *provider) userTokenSession(ctx context.Context, ar fosite.AccessRequester, fc *fositeClient, us *userSession) error {
	s := p.s
	uc, err := p.userClaims(ctx, us)
	if errors.Is(err, realm.ErrNotFound) || (err == nil && !uc.User.Active) {
		return fosite.ErrInvalidGrant.WithHint("The user cannot sign in.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") && fc.c.Public && !networkAllows(ctx, uc.RealmIPAllowList, uc.Groups) {
		// A public client refreshes from the person's own device: its
		// address is the person's, held to their lists like a sign-in. A
		// confidential client refreshes from its servers, whose address
		// says nothing about where the person is (the Guard checks theirs).
		p.s.networkRefusal(ctx, p, "user", uc.User.ID, "refresh_token")
		return errNetworkRefused()
	}
	if ar.GetGrantTypes().ExactOne("authorization_code") && !us.IDTokenClaims().RequestedAt.After(timeOrZero(fc.c.TokensValidAfter)) {
		// A code asked for before the client was last disabled stays dead
		// after a reactivation, as the client's tokens do.
		return fosite.ErrInvalidGrant.WithHint("The client was disabled after this code was requested.")
	}
	if err := p.refreshBounds(ctx, ar, fc, us); err != nil {
		return err
	}
	jti := ar.GetID()
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		jti = realm.NewID(s.clock(), nil)
		// A refreshed ID token keeps sub, auth_time, azp and sid (from
		// the stored session); the nonce belonged to the sign-in.
		us.IDTokenClaims().Nonce = ""
	}
	u := uc.User
	groups, attrs, err := p.subjectClaims(ctx, userSubject(uc))
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = fc.c.Audience
	}
	if len(aud) == 0 {
		aud = []string{p.issuer}
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}
	us.Access = &fjwt.JWTClaims{
		Subject: u.ID,
		Issuer:  p.issuer,
		JTI:     jti,
		Extra: map[string]any{
			"client_id":   fc.c.ClientID,
			"kind":        "user",
			"email":       u.Email,
			"given_name":  u.FirstName,
			"family_name": u.LastName,
			"groups":      groups,
			"attributes":  attrs,
			"sid":         us.SessionID,
		},
	}
	if p.realm.Name == realm.ConsoleRealm {
		// A console person token acts for one org with the role held
		// there now (flow_console.go).
		org, err := p.consoleOrgClaims(ctx, u.ID, us.OrgID)
		if err != nil {
			return err
		}
		maps.Copy(us.Access.Extra, org)
	}
	us.AccessHdr = &fjwt.Headers{Extra: map[string]any{
		"typ": accessTokenType,
		"kid": p.signers[AlgES256].kid,
	}}
	return nil
}

// timeOrZero is *t, or the zero time for nil.
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// userClaims reads the user of us with what their claims come from: as
// the refresh grant read them with the token (userSession.grant), or in one
// query.
func (p *provider) userClaims(ctx context.Context, us *userSession) (*realm.UserClaims, error) {
	if g := us.grant; g != nil && (g.User == nil || g.User.User.ID == us.UserID) {
		if g.User == nil {
			return nil, realm.ErrNotFound
		}
		return g.User, nil
	}
	return p.s.store.GetUserClaims(ctx, p.realm.ID, us.UserID)
}
