package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// setupPage is the data of templates/setup.html.
type setupPage struct {
	Nonce          string
	Token          string
	Org            string
	Email          string
	FirstName      string
	LastName       string
	Error          string
	Dead           bool // the link cannot be used: no form
	Done           bool
	SetPasswordURL string
	ClientID       string
	ClientSecret   string
}

var setupTemplate = template.Must(template.ParseFS(templates.FS, "setup.html"))

// registerSetup mounts the one-time first-run page that `ward serve` links
// to on an empty database. The setup token in the form is the credential:
// it is single use and is used up in the same transaction that creates the
// organization, so a forged or replayed form changes nothing.
func (a *API) registerSetup(e *echo.Echo) {
	e.GET("/console/setup", a.setupForm)
	e.POST("/console/setup", a.setupSubmit)
}

func (a *API) setupForm(c echo.Context) error {
	if err := realm.CheckValues(c.QueryParams()); err != nil {
		return a.renderSetup(c, http.StatusBadRequest, setupPage{Error: setupMessage(err.(*realm.ValidationError))})
	}
	token := c.QueryParam("token")
	if token == "" {
		return a.renderSetup(c, http.StatusBadRequest, setupPage{Error: "This page needs the setup link printed by `ward serve`."})
	}
	usable, err := a.svc.SetupLinkUsable(realm.WithPrincipal(c.Request().Context(), realm.System), token)
	if err != nil {
		a.log.Error("console setup: check link", "err", err)
		return a.renderSetup(c, http.StatusServiceUnavailable, setupPage{Error: "Ward cannot check this link right now; try again shortly."})
	}
	if !usable {
		// Said when the page opens, not after the form is filled in.
		return a.renderSetup(c, http.StatusBadRequest, setupPage{Dead: true, Error: "This setup link is invalid, expired or already used. " +
			"Restart `ward serve` on an empty database for a new one, or run `ward bootstrap`."})
	}
	return a.renderSetup(c, http.StatusOK, setupPage{Token: token})
}

func (a *API) setupSubmit(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, 64<<10)
	if err := req.ParseForm(); err != nil {
		return a.renderSetup(c, http.StatusBadRequest, setupPage{Error: "The form could not be read."})
	}
	if err := realm.CheckValues(req.Form); err != nil {
		return a.renderSetup(c, http.StatusBadRequest, setupPage{Error: setupMessage(err.(*realm.ValidationError))})
	}
	page := setupPage{
		Token:     req.PostForm.Get("token"),
		Org:       strings.TrimSpace(req.PostForm.Get("org")),
		Email:     strings.TrimSpace(req.PostForm.Get("email")),
		FirstName: strings.TrimSpace(req.PostForm.Get("first_name")),
		LastName:  strings.TrimSpace(req.PostForm.Get("last_name")),
	}
	sys := realm.WithPrincipal(req.Context(), realm.System)
	res, err := a.svc.Setup(sys, page.Token, realm.BootstrapInput{
		OrgSlug: page.Org, OwnerEmail: page.Email, FirstName: page.FirstName, LastName: page.LastName,
	})
	if err != nil {
		var verr *realm.ValidationError
		switch {
		case errors.As(err, &verr):
			page.Error = setupMessage(verr)
			return a.renderSetup(c, http.StatusBadRequest, page)
		case errors.Is(err, realm.ErrConflict):
			page.Error = "That organization already exists."
			return a.renderSetup(c, http.StatusConflict, page)
		}
		a.log.Error("console setup failed", "err", err)
		page.Error = "Setup failed; see the server log."
		return a.renderSetup(c, http.StatusInternalServerError, page)
	}
	link, err := a.svc.SetPasswordLink(sys, res.Owner.User.RealmID, res.Owner.UserID)
	if err != nil {
		a.log.Error("console setup: set-password link", "err", err)
		return a.renderSetup(c, http.StatusInternalServerError, setupPage{Error: "The organization was created, but its set-password link failed; run `ward bootstrap` for another organization or see the log."})
	}
	return a.renderSetup(c, http.StatusCreated, setupPage{
		Done: true, Org: res.Org.Slug, SetPasswordURL: link,
		ClientID: res.Client.ClientID, ClientSecret: res.ClientSecret,
	})
}

// setupMessage turns field errors into one sentence for the page.
func setupMessage(v *realm.ValidationError) string {
	names := map[string]string{"org": "Organization", "owner_email": "Owner email", "first_name": "First name", "last_name": "Last name", "token": "Setup link"}
	listed := v.Listed()
	parts := make([]string, 0, len(listed))
	for _, f := range listed {
		if f.Field == "" { // "and N more errors"
			parts = append(parts, f.Message)
			continue
		}
		n := names[f.Field]
		if n == "" {
			n = f.Field
		}
		parts = append(parts, n+" "+f.Message)
	}
	return strings.Join(parts, "; ") + "."
}

// renderSetup writes the page with headers that keep it out of frames and
// caches and allow only its own inline style.
func (a *API) renderSetup(c echo.Context, status int, page setupPage) error {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	page.Nonce = base64.RawStdEncoding.EncodeToString(nonce[:])
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+page.Nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return setupTemplate.Execute(c.Response(), page)
}
