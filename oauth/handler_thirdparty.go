package oauth

import (
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Keycloak's JavaScript adapter (keycloak-js) starts every init() by
// loading …/protocol/openid-connect/3p-cookies/step1.html in a hidden iframe
// and waiting for it to post "supported" or "unsupported"; with no answer
// within its messageReceiveTimeout (10 s) init() fails. "supported" would
// make it set up Keycloak's session-status iframe, which Ward does not
// offer; "unsupported" makes it skip that iframe (and silent check-sso in
// an iframe) and sign in by redirect, which works. So Ward answers
// "unsupported", at once. The message carries nothing secret, so it may go
// to any parent ("*"), and the page may be framed by any site.

const pathThirdPartyCookies = "/protocol/openid-connect/3p-cookies/step1.html"

var thirdPartyCookiesTemplate = template.Must(template.New("3p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Third-party cookie check</title></head>
<body><script nonce="{{.}}">parent.postMessage("unsupported", "*");</script></body></html>
`))

// handleThirdPartyCookies serves step1.html for any realm name: it says
// the same for every realm and reads nothing.
func handleThirdPartyCookies(c echo.Context) error {
	nonce := randomToken()
	h := c.Response().Header()
	// Framed by the application's page, on purpose; only its own script.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return thirdPartyCookiesTemplate.Execute(c.Response(), nonce)
}
