package oauth

import (
	"context"
	"html/template"
	"net/http"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// The web_message response mode (CONTRACT §4, `post_message` clients): the
// login popup ends on a page that hands the authorization response to the
// application window that opened it, with
//
//	window.opener.postMessage({"type":"authorization_response","response":{…}}, ORIGIN)
//
// and closes. ORIGIN is the origin of the request's redirect_uri (already
// matched exactly against the registered ones), and it must also be one of
// the client's web_origins: the browser then delivers the message only to a
// window of that origin, so a page elsewhere that opens the popup with
// someone else's client_id receives nothing. It is never "*".
//
// fosite only lets a client use a response mode that its GetResponseModes
// lists and that a ResponseModeHandler claims. The handler is registered per
// realm (provider.go); whether a request uses web_message is decided in
// handleAuthorize (response_mode=web_message, or always for a client whose
// communication is post_message), which then sets the mode on the request,
// so the client list of fosite is not consulted for it.

const responseModeWebMessage = fosite.ResponseModeType("web_message")

var webMessageTemplate = template.Must(template.ParseFS(templates.FS, "webmessage.html"))

// webMessagePage is the data of templates/webmessage.html. With Problem
// set the page posts nothing and says why.
type webMessagePage struct {
	Nonce   string
	AppName string
	Origin  string
	Message map[string]any
	Problem string
}

// webMessageHandler is fosite's ResponseModeHandler for web_message.
type webMessageHandler struct {
	issuer string
}

var _ fosite.ResponseModeHandler = (*webMessageHandler)(nil)

func (h *webMessageHandler) ResponseModes() fosite.ResponseModeTypes {
	return fosite.ResponseModeTypes{responseModeWebMessage}
}

func (h *webMessageHandler) WriteAuthorizeResponse(_ context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	params := map[string]any{}
	for k, v := range resp.GetParameters() {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	params["iss"] = h.issuer
	for k := range resp.GetHeader() {
		rw.Header().Set(k, resp.GetHeader().Get(k))
	}
	writeWebMessage(rw, ar, params, http.StatusOK)
}

func (h *webMessageHandler) WriteAuthorizeError(_ context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err).WithExposeDebug(false)
	params := map[string]any{"error": rfc.ErrorField, "iss": h.issuer}
	if d := rfc.GetDescription(); d != "" {
		params["error_description"] = d
	}
	if st := ar.GetState(); st != "" {
		params["state"] = st
	}
	// 200, not the error's status: this page is what the user sees and
	// what delivers the error; the application reads the error from it.
	writeWebMessage(rw, ar, params, http.StatusOK)
}

// writeWebMessage renders the page that posts response to the opener, or,
// when the redirect URI's origin is not a web origin of the client, the
// page that says so.
func writeWebMessage(rw http.ResponseWriter, ar fosite.AuthorizeRequester, response map[string]any, status int) {
	page := webMessagePage{Nonce: randomToken()}
	var c *realm.Client
	if fc, ok := ar.GetClient().(*fositeClient); ok {
		c = fc.c
	}
	origin, ok := webMessageOrigin(c, ar.GetRequestForm().Get("redirect_uri"))
	switch {
	case c == nil:
		// fosite failed before it found the client (handleAuthorize had
		// found it): nothing says where a message may go. The request is
		// what fosite refused, so 400, as for any unreadable request.
		page.Problem = "The sign-in could not be completed, and its result cannot be sent to the application. Close this window and try again."
		status = http.StatusBadRequest
	case ok:
		page.AppName = appName(c)
		page.Origin = origin
		page.Message = map[string]any{"type": "authorization_response", "response": response}
	default:
		page.AppName = appName(c)
		page.Problem = originProblemText(origin)
		status = http.StatusBadRequest
	}
	renderWebMessage(rw, status, page)
}

// renderWebMessage writes the page: its one inline script runs by nonce,
// nothing else may load, and it may not be framed (a framing page could
// pose as the opener's window only if it were its opener, but framing is
// refused anyway, as on every Ward page).
func renderWebMessage(rw http.ResponseWriter, status int, page webMessagePage) {
	if page.Nonce == "" {
		page.Nonce = randomToken()
	}
	setPageHeaders(rw.Header(), page.Nonce, "script-src 'nonce-"+page.Nonce+"'; form-action 'none'; ")
	rw.Header().Set("Pragma", "no-cache")
	rw.WriteHeader(status)
	_ = webMessageTemplate.Execute(rw, page)
}

// originProblemText explains why nothing was posted to origin.
func originProblemText(origin string) string {
	if origin == "" {
		return "The application's redirect URI has no web origin, so the sign-in result cannot be sent to it. " +
			"Ask the application's administrator to use a redirect URI on the application's web address."
	}
	return "The application's address " + origin + " is not registered as a web origin of this application, " +
		"so the sign-in result was not sent. Ask the application's administrator to add it to the application's web origins."
}

// webMessageOrigin returns the origin of redirectURI and whether it is one
// of c's web_origins. Both sides are compared as browsers serialize
// origins (realm.OriginOf, the same comparison as CORS): web origins are
// stored in that form, and rows stored before that are serialized here.
func webMessageOrigin(c *realm.Client, redirectURI string) (string, bool) {
	origin := realm.OriginOf(redirectURI)
	if origin == "" || c == nil {
		return origin, false
	}
	for _, o := range c.WebOrigins {
		if realm.OriginOf(o) == origin {
			return origin, true
		}
	}
	return origin, false
}

// usesWebMessage says whether an authorization request of c is answered by
// web message: the client's communication is post_message, or the request
// asks for response_mode=web_message.
func usesWebMessage(c *realm.Client, responseMode string) bool {
	return c.Communication == realm.CommPostMessage || responseMode == string(responseModeWebMessage)
}

// appName is what the pages call the application.
func appName(c *realm.Client) string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.Name
}

// newAuthorizeRequest is fosite's NewAuthorizeRequest, with web_message
// set as the request's response mode when webMessage: fosite is shown the
// request without response_mode (it would check it against the client's
// response modes, where a post_message client's choice is not a request
// parameter at all), and the mode is set on the parsed request, also when
// parsing failed after the client was found, so errors are posted too. The
// form keeps its response_mode for the login form to carry on. A nil
// request means fosite returned something that is not a
// *fosite.AuthorizeRequest, whose mode could not be set.
//
// fosite reads the client as the token endpoint does, without the fields
// only pages show (its name, its communication); once fosite has found it,
// the request carries full, the client as the login page read it.
func newAuthorizeRequest(ctx context.Context, f *fosite.Fosite, req *http.Request, webMessage bool, full *fositeClient) (fosite.AuthorizeRequester, error) {
	var saved []string
	var had bool
	if webMessage {
		saved, had = req.Form["response_mode"]
		delete(req.Form, "response_mode")
	}
	ar, err := f.NewAuthorizeRequest(ctx, req)
	if had {
		req.Form["response_mode"] = saved
	}
	a, ok := ar.(*fosite.AuthorizeRequest)
	if !ok {
		return nil, err
	}
	if a.Client != nil && a.Client.GetID() == full.GetID() {
		a.Client = full
	}
	if webMessage {
		a.ResponseMode = responseModeWebMessage
	}
	return a, err
}
