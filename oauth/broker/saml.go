package broker

import (
	"context"
	"encoding/xml"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// parsedProvider is a provider's settings made ready for a sign-in: the
// SAML service provider (metadata parsed, SP key opened) or the OIDC
// provider (discovery read).
type parsedProvider struct {
	updatedAt time.Time
	readAt    time.Time
	sp        *saml.ServiceProvider
	oidc      *oidc.Provider
}

// discoveryTTL is how long an OIDC discovery document is used before it
// is read again (keys are go-oidc's: fetched again on an unknown kid).
const discoveryTTL = time.Hour

// provider returns p's parsed settings, from the cache when p has not
// changed since.
func (h *Handler) provider(ctx context.Context, r *realm.Realm, p *realm.IdentityProvider) (*parsedProvider, error) {
	now := h.clock()
	h.mu.Lock()
	pp := h.parsed[p.ID]
	h.mu.Unlock()
	if pp != nil && pp.updatedAt.Equal(p.UpdatedAt) && (p.Kind != realm.IdPOIDC || now.Sub(pp.readAt) < discoveryTTL) {
		return pp, nil
	}
	pp = &parsedProvider{updatedAt: p.UpdatedAt, readAt: now}
	var err error
	switch p.Kind {
	case realm.IdPSAML:
		pp.sp, err = h.serviceProvider(r, p)
	case realm.IdPOIDC:
		pp.oidc, err = oidc.NewProvider(oidc.ClientContext(ctx, h.client), p.OIDC.Issuer)
	default:
		err = errors.New("broker: unknown provider kind")
	}
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if len(h.parsed) > 10_000 {
		clear(h.parsed) // bounded: providers are few per realm, realms many
	}
	h.parsed[p.ID] = pp
	h.mu.Unlock()
	return pp, nil
}

// serviceProvider builds Ward's SAML service provider for p.
func (h *Handler) serviceProvider(r *realm.Realm, p *realm.IdentityProvider) (*saml.ServiceProvider, error) {
	md, err := parseIDPMetadata([]byte(p.SAML.MetadataXML))
	if err != nil {
		return nil, err
	}
	key, cert, err := h.idps.SPKey(p)
	if err != nil {
		return nil, err
	}
	endpoint := h.endpointURL(r, p)
	acs, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	meta, err := url.Parse(endpoint + "/descriptor")
	if err != nil {
		return nil, err
	}
	return &saml.ServiceProvider{
		EntityID:    realm.SPEntityID(h.publicURL, r.Name),
		Key:         key,
		Certificate: cert,
		AcsURL:      *acs,
		MetadataURL: *meta,
		IDPMetadata: md,
		// Requests are signed (many IdPs require it; the key is in the
		// SP metadata). Unsolicited (IdP-initiated) answers are refused:
		// every answer must be InResponseTo a request this browser made.
		SignatureMethod:                  dsig.RSASHA256SignatureMethod,
		AllowIDPInitiated:                false,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		MetadataValidDuration:            7 * 24 * time.Hour,
		// An encrypted assertion in CBC mode is decrypted only inside a
		// signed Response (padding-oracle attacks need unauthenticated
		// ciphertext).
		RequireSignedResponseForCBC: true,
		// NameIDPolicy without a Format: the IdP sends the NameID it is
		// set up to send (crewjam would otherwise ask for a transient
		// one, a new subject at every sign-in, which Ward could never
		// recognise again).
		AuthnNameIDFormat: saml.UnspecifiedNameIDFormat,
		Clock:             h.samlClock(),
	}, nil
}

func (h *Handler) endpointURL(r *realm.Realm, p *realm.IdentityProvider) string {
	return h.publicURL + "/realms/" + r.Name + "/broker/" + p.Alias + "/endpoint"
}

// startSAML sends a signed AuthnRequest: by an auto-submitted form (the
// HTTP-POST binding, written here; "" is returned) when the IdP takes one,
// else by redirect. POST first: its signature is inside the request, so it
// survives an IdP that carries the request through its own login form,
// where a redirect's query signature is lost.
func (h *Handler) startSAML(c echo.Context, r *realm.Realm, p *realm.IdentityProvider, pp *parsedProvider, cont string, fresh bool) (string, error) {
	sp := pp.sp
	if fresh {
		// ForceAuthn (signed into the request): the IdP asks again
		// rather than reusing its own session.
		copied := *sp
		force := true
		copied.ForceAuthn = &force
		sp = &copied
	}
	binding := saml.HTTPPostBinding
	loc := sp.GetSSOBindingLocation(binding)
	if loc == "" {
		binding = saml.HTTPRedirectBinding
		loc = sp.GetSSOBindingLocation(binding)
	}
	req, err := sp.MakeAuthenticationRequest(loc, binding, saml.HTTPPostBinding)
	if err != nil {
		return "", err
	}
	st, err := h.idps.StartBrokerSignIn(c.Request().Context(), r, p, req.ID, "", cont)
	if err != nil {
		return "", err
	}
	h.setStateCookie(c, r, st.Token)
	if binding == saml.HTTPRedirectBinding {
		u, err := req.Redirect(st.Token, sp)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	nonce := randomNonce()
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action "+formAction(loc))
	c.Response().Header().Set("Cache-Control", "no-store")
	return "", c.HTMLBlob(http.StatusOK, append([]byte("<!DOCTYPE html><html><body>"), append(req.PostWithNonce(st.Token, nonce), "</body></html>"...)...))
}

// formAction is the CSP source allowing a form to post to loc.
func formAction(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

// samlAnswer checks a SAML response at the assertion consumer service.
func (h *Handler) samlAnswer(c echo.Context, r *realm.Realm, p *realm.IdentityProvider) error {
	req := c.Request()
	ctx := req.Context()
	if req.Method != http.MethodPost || req.PostForm.Get("SAMLResponse") == "" {
		return h.pages.Refused(c, r, http.StatusBadRequest, textInvalidAnswer)
	}
	if _, err := req.Cookie(stateCookie); err != nil && req.PostForm.Get(repostField) == "" {
		// The IdP's page posted here from its own site, and browsers keep
		// SameSite=Lax cookies out of cross-site POSTs: post the answer
		// again from this site, where the state cookie comes along.
		return h.repost(c, r, p)
	}
	st, _, ok := h.takeState(c, r, p, req.PostForm.Get("RelayState"))
	if !ok {
		h.recordFailure(c, r, p, "unknown_state")
		return h.pages.Refused(c, r, http.StatusBadRequest, textExpired)
	}
	pp, err := h.provider(ctx, r, p)
	if err != nil {
		h.log.WarnContext(ctx, "broker: provider settings not usable", "realm", r.Name, "provider", p.Alias, "err", err)
		return h.pages.Refused(c, r, http.StatusBadGateway, textUnavailable)
	}
	assertion, err := pp.sp.ParseResponse(req, []string{st.RequestID})
	if err != nil {
		return h.refuseAnswer(c, r, p, samlReason(err), privateErr(err))
	}
	if !assertionSigned(assertion) {
		// Signed assertions are required (issue 17): a signature on the
		// Response alone would let the IdP's other assertions be reused.
		return h.refuseAnswer(c, r, p, "unsigned_assertion", errors.New("the assertion itself is not signed"))
	}
	ext, err := samlIdentity(p, assertion)
	if err != nil {
		return h.refuseAnswer(c, r, p, "no_subject", err)
	}
	return h.signIn(c, r, p, st, ext)
}

// assertionSigned reports whether the assertion carried its own
// signature (crewjam has verified it when present).
func assertionSigned(a *saml.Assertion) bool { return a.Signature != nil }

// privateErr is what crewjam keeps private about a refused response, for
// the log only.
func privateErr(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return ire.PrivateErr
	}
	return err
}

// samlReason names the check a SAML response failed, for the audit event.
func samlReason(err error) string {
	err = privateErr(err)
	for _, c := range []struct {
		err    error
		reason string
	}{
		{saml.ErrInvalidSignature, "invalid_signature"},
		{saml.ErrUntrustedCertificate, "untrusted_certificate"},
		{saml.ErrCertificateNotValidNow, "certificate_not_valid_now"},
		{saml.ErrExpired, "expired"},
		{saml.ErrNotYetValid, "not_yet_valid"},
		{saml.ErrIssuerMismatch, "wrong_issuer"},
		{saml.ErrAudienceMismatch, "wrong_audience"},
		{saml.ErrDestinationMismatch, "wrong_destination"},
		{saml.ErrRequestIDMismatch, "replay_or_unsolicited"},
		{saml.ErrDecryptionFailed, "decryption_failed"},
		{saml.ErrMissingElement, "malformed"},
		{saml.ErrMalformedMessage, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	if strings.Contains(err.Error(), "signature element not present") {
		return "missing_signature"
	}
	if strings.Contains(err.Error(), "Status") || strings.Contains(err.Error(), "status") {
		return "provider_error"
	}
	return "invalid_response"
}

// Where SAML assertions carry a person's details by default (CONTRACT
// §9): the first present of each list, by Name or FriendlyName.
var (
	samlEmailNames = []string{"mail", "email", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}
	samlFirstNames = []string{"givenName", "givenname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"}
	samlLastNames  = []string{"sn", "surname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"}
)

// samlIdentity reads the person from a checked assertion: the NameID is
// the subject; details and groups come from its attributes. SAML has no
// "email verified": an address in an assertion the organization's IdP
// signed is taken as verified by it (documented).
func samlIdentity(p *realm.IdentityProvider, a *saml.Assertion) (realm.ExternalIdentity, error) {
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) == "" {
		return realm.ExternalIdentity{}, errors.New("the assertion has no NameID")
	}
	values := func(names ...string) []string {
		for _, n := range names {
			if n == "" {
				continue
			}
			for _, st := range a.AttributeStatements {
				for _, at := range st.Attributes {
					if at.Name == n || at.FriendlyName == n {
						out := make([]string, 0, len(at.Values))
						for _, v := range at.Values {
							if s := strings.TrimSpace(v.Value); s != "" {
								out = append(out, s)
							}
						}
						if len(out) > 0 {
							return out
						}
					}
				}
			}
		}
		return nil
	}
	first := func(names ...string) string {
		if v := values(names...); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	pick := func(configured string, defaults []string) []string {
		if configured != "" {
			return []string{configured}
		}
		return defaults
	}
	ext := realm.ExternalIdentity{
		Subject:       strings.TrimSpace(a.Subject.NameID.Value),
		Email:         first(pick(p.Attributes.Email, samlEmailNames)...),
		FirstName:     first(pick(p.Attributes.FirstName, samlFirstNames)...),
		LastName:      first(pick(p.Attributes.LastName, samlLastNames)...),
		EmailVerified: true,
	}
	if p.GroupClaim != "" {
		ext.Groups = values(p.GroupClaim)
	}
	return ext, nil
}

// descriptor serves the SP metadata an IdP admin imports.
func (h *Handler) descriptor(c echo.Context) error {
	r, p, err := h.lookup(c)
	if err != nil || p.Kind != realm.IdPSAML {
		if err == nil {
			err = realm.ErrNotFound
		}
		return h.failed(c, r, err, http.StatusNotFound, textUnknownProvider)
	}
	// The SP's own half needs no IdP metadata: it is served even while
	// the provider is disabled for bad metadata, so that the IdP side
	// can be set up first.
	key, cert, err := h.idps.SPKey(p)
	if err != nil {
		return h.failed(c, r, err, 0, "")
	}
	endpoint := h.endpointURL(r, p)
	acs, _ := url.Parse(endpoint)
	meta, _ := url.Parse(endpoint + "/descriptor")
	sp := &saml.ServiceProvider{EntityID: realm.SPEntityID(h.publicURL, r.Name), Key: key, Certificate: cert,
		AcsURL: *acs, MetadataURL: *meta, AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		SignatureMethod: dsig.RSASHA256SignatureMethod, MetadataValidDuration: 7 * 24 * time.Hour,
		Clock: h.samlClock()}
	b, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		return h.failed(c, r, err, 0, "")
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", append([]byte(xml.Header), b...))
}

// samlClock is the broker's clock as crewjam and goxmldsig take one, so
// that time checks of assertions follow Config.Clock.
func (h *Handler) samlClock() *dsig.Clock {
	return dsig.NewFakeClock(injectedClock{Clock: clockwork.NewRealClock(), now: h.clock})
}

// injectedClock is a real clock whose notion of now is injected.
type injectedClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c injectedClock) Now() time.Time                  { return c.now() }
func (c injectedClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c injectedClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }

// repostField marks an answer posted again by repost (once only).
const repostField = "ward_repost"

// repostPage posts the IdP's answer again, from Ward's own origin.
var repostPage = template.Must(template.New("repost").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}" id="repost">
<input type="hidden" name="SAMLResponse" value="{{.Response}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<input type="hidden" name="` + repostField + `" value="1">
<noscript><button type="submit">Continue</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.getElementById("repost").submit();</script>
</body></html>`))

// repost answers the page that posts the IdP's answer to this endpoint
// again, same-site; CSP allows only its own script and a form to this
// site.
func (h *Handler) repost(c echo.Context, r *realm.Realm, p *realm.IdentityProvider) error {
	nonce := randomNonce()
	hd := c.Response().Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(http.StatusOK)
	form := c.Request().PostForm
	return repostPage.Execute(c.Response(), map[string]string{"Action": "/realms/" + r.Name + "/broker/" + p.Alias + "/endpoint",
		"Response": form.Get("SAMLResponse"), "RelayState": form.Get("RelayState"), "Nonce": nonce})
}
