package oauth

import (
	"context"
	"net/http"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// The web_message response mode (CONTRACT §4, `post_message` clients): the
// login popup ends on a page that hands the authorization response to the
// application window that opened it, and closes. This file is the fosite
// side: a ResponseModeHandler, registered per realm (provider.go), that
// turns fosite's response or error into the message. The page that posts it
// (and refuses an origin that is not one of the client's web_origins) is
// oauth/login's WriteWebMessage, handed in as Config.WebMessage.
//
// fosite only lets a client use a response mode that its GetResponseModes
// lists and that a ResponseModeHandler claims. Whether a request uses
// web_message is decided by the login page (response_mode=web_message, or
// always for a client whose communication is post_message), which asks
// Authorizer.NewAuthorizeRequest to set the mode on the request, so the
// client list of fosite is not consulted for it.

// ResponseModeWebMessage is the response mode's name.
const ResponseModeWebMessage = fosite.ResponseModeType("web_message")

// WebMessageWriter writes the web_message page of an authorization
// response: response (its parameters, iss included) goes to the window
// that opened the popup, if the origin of redirectURI is one of client's
// web origins. client is nil when fosite failed before it found the
// client.
type WebMessageWriter func(rw http.ResponseWriter, client *realm.Client, redirectURI string, response map[string]any)

// webMessageHandler is fosite's ResponseModeHandler for web_message.
type webMessageHandler struct {
	issuer string
	page   WebMessageWriter
}

var _ fosite.ResponseModeHandler = (*webMessageHandler)(nil)

func (h *webMessageHandler) ResponseModes() fosite.ResponseModeTypes {
	return fosite.ResponseModeTypes{ResponseModeWebMessage}
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
	h.write(rw, ar, params)
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
	h.write(rw, ar, params)
}

func (h *webMessageHandler) write(rw http.ResponseWriter, ar fosite.AuthorizeRequester, params map[string]any) {
	var c *realm.Client
	if fc, ok := ar.GetClient().(*fositeClient); ok {
		c = fc.c
	}
	h.page(rw, c, ar.GetRequestForm().Get("redirect_uri"), params)
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
	if a.Client != nil && a.Client.GetID() == full.GetID() && full.c.Active {
		a.Client = full
	}
	if webMessage {
		a.ResponseMode = ResponseModeWebMessage
	}
	return a, err
}
