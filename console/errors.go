package console

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// problemContentType is RFC 9457's media type for error bodies.
const problemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document as the admin API writes it.
type Problem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail,omitempty"`
	Errors []realm.FieldError `json:"errors,omitempty"`
}

// Problem type URIs. URNs rather than URLs: they identify the kind of
// problem and do not pretend to be dereferenceable documentation.
const (
	typeValidation       = "urn:ward:problem:validation"
	typeMalformed        = "urn:ward:problem:malformed-request"
	typeUnauthenticated  = "urn:ward:problem:unauthenticated"
	typeForbidden        = "urn:ward:problem:forbidden"
	typeNotFound         = "urn:ward:problem:not-found"
	typeMethodNotAllowed = "urn:ward:problem:method-not-allowed"
	typeConflict         = "urn:ward:problem:conflict"
	typeTooLarge         = "urn:ward:problem:body-too-large"
	typeUnsupportedMedia = "urn:ward:problem:unsupported-media-type"
	typeInternal         = "urn:ward:problem:internal"
	typeUnavailable      = "urn:ward:problem:unavailable"
	typeHTTP             = "about:blank"
)

// requestError is a client error found by this package itself (while reading
// the request) rather than by the domain. It carries the finished problem so
// HandleError only has to write it.
type requestError struct {
	p Problem
}

func (e *requestError) Error() string { return e.p.Title + ": " + e.p.Detail }

func badRequest(detail string, fields ...realm.FieldError) error {
	return &requestError{Problem{Type: typeMalformed, Title: "Bad Request", Status: http.StatusBadRequest, Detail: detail, Errors: fields}}
}

func tooLarge() error {
	return &requestError{Problem{Type: typeTooLarge, Title: "Request Entity Too Large", Status: http.StatusRequestEntityTooLarge,
		Detail: "the request body is larger than 1 MiB"}}
}

func unsupportedMedia(detail string) error {
	return &requestError{Problem{Type: typeUnsupportedMedia, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType, Detail: detail}}
}

// authError is a failed authentication. It unwraps to
// realm.ErrUnauthenticated; challenge is the RFC 6750 error code for the
// WWW-Authenticate header ("" when no credentials were given).
type authError struct {
	challenge string
	detail    string
}

func (e *authError) Error() string { return "unauthenticated: " + e.detail }
func (e *authError) Unwrap() error { return realm.ErrUnauthenticated }

// methodNotAllowedError is realm.ErrMethodNotAllowed with the methods the
// resource does allow, for the Allow header.
type methodNotAllowedError struct {
	allow  string
	detail string
}

func (e *methodNotAllowedError) Error() string { return "method not allowed: " + e.detail }
func (e *methodNotAllowedError) Unwrap() error { return realm.ErrMethodNotAllowed }

// HandleError is the one place where an error becomes an HTTP answer for the
// admin API; its status comes from realm.HTTPStatus. The server's echo HTTPErrorHandler calls it for /admin/ paths.
// Unknown errors answer 500 with a generic detail and are logged, never
// shown: they may carry SQL or internal state.
func (a *API) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		a.log.Debug("admin api: error after response was written", "path", c.Request().URL.Path, "err", err)
		return
	}
	p := a.problemFor(err, c)
	h := c.Response().Header()
	if p.Status >= 500 || p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden {
		// Never cache an answer that depends on who asked.
		h.Set("Cache-Control", "no-store")
	}
	if c.Request().Method == http.MethodHead {
		if werr := c.NoContent(p.Status); werr != nil {
			a.log.Debug("admin api: writing error", "err", werr)
		}
		return
	}
	body, merr := json.Marshal(p)
	if merr != nil {
		// Cannot happen with Problem's field types; answer something valid.
		body = []byte(`{"type":"` + typeInternal + `","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	if werr := c.Blob(p.Status, problemContentType, body); werr != nil {
		a.log.Debug("admin api: writing error", "err", werr)
	}
}

// problemFor is the problem that answers err. The admin API's own request
// errors (a body it cannot read, a bad Authorization header, echo's routing
// answers) carry their problem or status; a domain error takes its status
// from realm.HTTPStatus, the one table, and this only words it.
func (a *API) problemFor(err error, c echo.Context) Problem {
	var (
		reqErr  *requestError
		maxErr  *http.MaxBytesError
		echoErr *echo.HTTPError
	)
	switch {
	case errors.As(err, &reqErr):
		return reqErr.p
	case errors.As(err, &maxErr):
		return (tooLarge().(*requestError)).p
	case errors.As(err, &echoErr):
		return a.echoProblem(echoErr, c)
	}
	h := c.Response().Header()
	switch status := realm.HTTPStatus(err); status {
	case http.StatusBadRequest:
		var valErr *realm.ValidationError
		errors.As(err, &valErr)
		return Problem{Type: typeValidation, Title: "Bad Request", Status: status,
			Detail: "the request has invalid fields", Errors: valErr.Listed()}
	case http.StatusConflict:
		p := Problem{Type: typeConflict, Title: "Conflict", Status: status, Detail: "the change conflicts with the current state"}
		var confErr *realm.ConflictError
		if errors.As(err, &confErr) {
			p.Detail = confErr.Reason
			if confErr.Field != "" {
				p.Errors = []realm.FieldError{{Field: confErr.Field, Message: confErr.Reason}}
			}
		}
		return p
	case http.StatusUnauthorized:
		challenge, detail := `Bearer realm="ward"`, "a bearer access token is required"
		var authErr *authError
		if errors.As(err, &authErr) {
			detail = authErr.detail
			if authErr.challenge != "" {
				challenge += `, error="` + authErr.challenge + `"`
			}
		}
		h.Set(echo.HeaderWWWAuthenticate, challenge)
		return Problem{Type: typeUnauthenticated, Title: "Unauthorized", Status: status, Detail: detail}
	case http.StatusForbidden:
		return Problem{Type: typeForbidden, Title: "Forbidden", Status: status,
			Detail: "your role does not allow this action"}
	case http.StatusNotFound:
		p := Problem{Type: typeNotFound, Title: "Not Found", Status: status,
			Detail: "no such object, or not visible to you"}
		var nfErr *realm.NotFoundError
		if errors.As(err, &nfErr) {
			p.Detail = nfErr.Reason
			p.Errors = []realm.FieldError{{Field: nfErr.Field, Message: nfErr.Reason}}
		}
		return p
	case http.StatusMethodNotAllowed:
		p := Problem{Type: typeMethodNotAllowed, Title: "Method Not Allowed", Status: status,
			Detail: "this operation is not allowed on this resource"}
		var mnaErr *methodNotAllowedError
		if errors.As(err, &mnaErr) {
			p.Detail = mnaErr.detail
			if mnaErr.allow != "" {
				h.Set(echo.HeaderAllow, mnaErr.allow)
			}
		}
		return p
	case http.StatusServiceUnavailable:
		a.log.Warn("admin api: database unavailable", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		h.Set(echo.HeaderRetryAfter, "1")
		return Problem{Type: typeUnavailable, Title: "Service Unavailable", Status: status,
			Detail: "the database is unavailable; try again shortly"}
	case 499:
		// The client went away; nobody reads the answer, but say something
		// true for the access log.
		return Problem{Type: typeHTTP, Title: "Client Closed Request", Status: status, Detail: "the request was canceled"}
	}
	a.log.Error("admin api: internal error", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	return internalProblem()
}

func internalProblem() Problem {
	return Problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
		Detail: "an internal error occurred; it has been logged"}
}

// echoProblem turns echo's own errors (unknown route, method not allowed,
// middleware limits) into problems. Their messages are echo's generic status
// texts; anything 5xx is logged and answered generically.
func (a *API) echoProblem(e *echo.HTTPError, c echo.Context) Problem {
	switch e.Code {
	case http.StatusNotFound:
		return Problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound,
			Detail: "no such route: " + c.Request().Method + " " + c.Request().URL.Path}
	case http.StatusMethodNotAllowed:
		// echo's router has already set Allow to the route's methods.
		return Problem{Type: typeMethodNotAllowed, Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
			Detail: "method " + c.Request().Method + " is not allowed here; see the Allow header"}
	case http.StatusRequestEntityTooLarge:
		return (tooLarge().(*requestError)).p
	case http.StatusUnsupportedMediaType:
		return (unsupportedMedia("the request body must be application/json").(*requestError)).p
	case http.StatusUnauthorized:
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="ward"`)
		return Problem{Type: typeUnauthenticated, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "a bearer access token is required"}
	}
	if e.Code >= 400 && e.Code < 500 {
		return Problem{Type: typeHTTP, Title: http.StatusText(e.Code), Status: e.Code, Detail: http.StatusText(e.Code)}
	}
	a.log.Error("admin api: internal error", "method", c.Request().Method, "path", c.Request().URL.Path, "err", e)
	return internalProblem()
}
