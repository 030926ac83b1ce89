package login

import (
	"html/template"
	"net/http"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// The page of the web_message response mode (CONTRACT §4, `post_message`
// clients): the login popup ends on a page that hands the authorization
// response to the application window that opened it, with
//
//	window.opener.postMessage({"type":"authorization_response","response":{…}}, ORIGIN)
//
// and closes. ORIGIN is the origin of the request's redirect_uri (already
// matched exactly against the registered ones), and it must also be one of
// the client's web_origins: the browser then delivers the message only to a
// window of that origin, so a page elsewhere that opens the popup with
// someone else's client_id receives nothing. It is never "*". oauth's
// response mode handler builds the message and calls WriteWebMessage.

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

// WriteWebMessage writes the page that posts response to the opener, or,
// when the redirect URI's origin is not a web origin of the client, the
// page that says so. It is the oauth.WebMessageWriter of oauth.Config.
func WriteWebMessage(rw http.ResponseWriter, c *realm.Client, redirectURI string, response map[string]any) {
	page := webMessagePage{Nonce: randomToken()}
	status := http.StatusOK
	origin, ok := webMessageOrigin(c, redirectURI)
	switch {
	case c == nil:
		// fosite failed before it found the client (the login page had
		// found it): nothing says where a message may go. The request is
		// what fosite refused, so 400, as for any unreadable request.
		page.Problem = "The sign-in could not be completed, and its result cannot be sent to the application. Close this window and try again."
		status = http.StatusBadRequest
	case ok:
		// 200 for errors too: this page is what the user sees and what
		// delivers the answer; the application reads the error from it.
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
	return c.Communication == realm.CommPostMessage || responseMode == string(oauth.ResponseModeWebMessage)
}

// appName is what the pages call the application.
func appName(c *realm.Client) string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.Name
}
