package login

import (
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// The login-actions pages: set a password from an emailed link, and ask for
// a reset link. They are plain HTML forms (no script), CSRF-protected with a
// double-submit cookie, never framed, never cached, and send no Referer (the
// set-password URL carries its token).

const (
	pathSetPassword   = "/login-actions/set-password"
	pathResetPassword = "/login-actions/reset-password"
	csrfCookie        = "ward_csrf"
)

var passwordTemplate = template.Must(template.ParseFS(templates.FS, "password.html"))

// passwordPage is the data of templates/password.html.
type passwordPage struct {
	Title       string
	RealmName   string
	Nonce       string
	Action      string
	CSRF        string
	Token       string
	AskEmail    bool
	Email       string
	MinLength   int
	Error       string
	FieldErrors map[string]string
	Done        string
	// Next is a link shown after Done (console members go on to the
	// console; an app's users go back to the app they came from).
	Next, NextLabel string
	// Dead: the link cannot be used (or there is none), so there is no
	// form, only Error and a way to a new link (ResetURL).
	Dead     bool
	ResetURL string
}

// pageRealm finds the realm a page belongs to; when there is none it has
// answered with the error page and returns nil.
func (h *Handler) pageRealm(c echo.Context) (*realm.Realm, error) {
	r, err := h.store.GetRealmByName(c.Request().Context(), c.Param("realm"))
	if err != nil {
		return nil, h.failPage(c, loginPage{}, "realm lookup", err)
	}
	return r, nil
}

func (h *Handler) setPasswordForm(c echo.Context) error {
	r, err := h.pageRealm(c)
	if r == nil {
		return err
	}
	page := passwordPage{Title: "Set your password", RealmName: realmDisplay(r), Token: c.QueryParam("token"), MinLength: r.Settings.PasswordMin()}
	page.ResetURL = "/realms/" + r.Name + "/login-actions/reset-password"
	if page.Token == "" {
		page.Error, page.Dead = "This page needs the link from your email.", true
		return h.renderPage(c, http.StatusBadRequest, page)
	}
	usable, err := h.service.ActionLinkUsable(c.Request().Context(), r.Name, page.Token)
	if err != nil {
		h.log.ErrorContext(c.Request().Context(), "login-actions: check link", "realm", r.Name, "err", err)
		page.Error = unavailableText
		return h.renderPage(c, failureStatus(err), page)
	}
	if !usable {
		// Said when the page opens, not after a password is chosen.
		page.Error, page.Dead = linkUnusableText, true
		return h.renderPage(c, http.StatusBadRequest, page)
	}
	page.Action = c.Request().URL.Path
	return h.renderForm(c, http.StatusOK, page)
}

// linkUnusableText is what a used, expired or unknown link's page says.
const linkUnusableText = "This link is invalid, expired or already used. Ask for a new one."

func (h *Handler) setPasswordSubmit(c echo.Context) error {
	r, err := h.pageRealm(c)
	if r == nil {
		return err
	}
	page := passwordPage{Title: "Set your password", RealmName: realmDisplay(r), MinLength: r.Settings.PasswordMin(), Action: c.Request().URL.Path}
	form, status, problem := h.readForm(c)
	page.Token = form.Get("token") // kept on a refused form, so the user need not click the mail again
	if status != 0 {
		page.Error = problem
		return h.renderForm(c, status, page)
	}
	err = h.service.SetPasswordWithLink(c.Request().Context(), r.Name, page.Token, form.Get("password"), form.Get("password_confirm"))
	var verr *realm.ValidationError
	switch {
	case err == nil:
		page.Done = "Your password is set. You can now sign in."
		if r.Name == realm.ConsoleRealm {
			page.Next, page.NextLabel = "/console", "Sign in to the console"
		}
		return h.renderPage(c, http.StatusOK, page)
	case errors.As(err, &verr):
		page.FieldErrors = map[string]string{}
		for _, f := range verr.Fields {
			if f.Field == "token" {
				page.Error = linkUnusableText
				continue
			}
			page.FieldErrors[f.Field] = "This " + strings.ReplaceAll(f.Field, "_", " ") + " " + f.Message + "."
		}
		return h.renderForm(c, realm.HTTPStatus(err), page)
	}
	h.log.ErrorContext(c.Request().Context(), "login-actions: set password", "realm", r.Name, "err", err)
	page.Error = unavailableText
	return h.renderForm(c, failureStatus(err), page)
}

func (h *Handler) resetForm(c echo.Context) error {
	r, err := h.pageRealm(c)
	if r == nil {
		return err
	}
	return h.renderForm(c, http.StatusOK, passwordPage{Title: "Forgot your password?", RealmName: realmDisplay(r), AskEmail: true, Action: c.Request().URL.Path})
}

func (h *Handler) resetSubmit(c echo.Context) error {
	r, err := h.pageRealm(c)
	if r == nil {
		return err
	}
	page := passwordPage{Title: "Forgot your password?", RealmName: realmDisplay(r), AskEmail: true, Action: c.Request().URL.Path}
	// Known addresses cost a few writes that unknown ones do not; answering
	// no sooner than resetAnswerTime keeps the response time from telling
	// which addresses have accounts.
	defer sleepUntil(time.Now().Add(resetAnswerTime))
	form, status, problem := h.readForm(c)
	if status != 0 {
		page.Error = problem
		return h.renderForm(c, status, page)
	}
	// The same answer whether or not the account exists.
	if err := h.service.RequestPasswordReset(c.Request().Context(), r.Name, form.Get("email")); err != nil {
		h.log.ErrorContext(c.Request().Context(), "login-actions: reset request", "realm", r.Name, "err", err)
		page.Error, page.Email = unavailableText, form.Get("email")
		return h.renderForm(c, failureStatus(err), page)
	}
	page.Done = "If an account uses that email, we have sent it a link to set a new password. The link works for 30 minutes."
	return h.renderPage(c, http.StatusOK, page)
}

// readForm parses a bounded urlencoded form, checks that its fields are
// acceptable text and its CSRF token matches its cookie. When the form is
// not acceptable it answers a non-zero status and what the page says.
func (h *Handler) readForm(c echo.Context) (url.Values, int, string) {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxFormBytes)
	if err := req.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, formProblem(http.StatusRequestEntityTooLarge)
		}
		return nil, http.StatusBadRequest, formProblem(http.StatusBadRequest)
	}
	if err := realm.CheckValues(req.Form); err != nil {
		return nil, http.StatusBadRequest, oauth.BadTextDescription(err)
	}
	cookie, err := req.Cookie(h.csrfCookieName())
	sent := req.PostForm.Get("csrf_token")
	if err != nil || cookie.Value == "" || sent == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(sent)) != 1 {
		return req.PostForm, http.StatusForbidden, formProblem(http.StatusForbidden)
	}
	return req.PostForm, 0, ""
}

// csrfCookieName: under https the __Host- prefix makes browsers refuse the
// cookie from a sibling subdomain or a plain-http response, so nobody else
// can plant a value that would pass the double-submit check.
func (h *Handler) csrfCookieName() string {
	if h.secure {
		return "__Host-" + csrfCookie
	}
	return csrfCookie
}

// resetAnswerTime is how long the reset form takes to answer at least.
const resetAnswerTime = 250 * time.Millisecond

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func formProblem(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "The form is too large."
	case http.StatusForbidden:
		return "The form expired or did not come from this page. Please try again."
	}
	return "The form could not be read."
}

// renderForm renders a page with a form: it sets a fresh CSRF cookie and
// puts the same value in the form.
func (h *Handler) renderForm(c echo.Context, status int, page passwordPage) error {
	page.CSRF = randomToken()
	cookie := &http.Cookie{
		Name: h.csrfCookieName(), Value: page.CSRF, Path: "/realms/" + c.Param("realm") + "/login-actions/",
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode,
	}
	if cookie.Secure {
		cookie.Path = "/" // the __Host- prefix requires Path=/
	}
	http.SetCookie(c.Response(), cookie)
	return h.renderPage(c, status, page)
}

// renderPage writes a login-actions page with headers that keep it out of
// frames, caches and Referer headers, and allow only its own inline style.
func (h *Handler) renderPage(c echo.Context, status int, page passwordPage) error {
	page.Nonce = randomToken()
	setPageHeaders(c.Response().Header(), page.Nonce, "form-action 'self'; ")
	c.Response().WriteHeader(status)
	return passwordTemplate.Execute(c.Response(), page)
}
