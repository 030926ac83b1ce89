package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/templates"
)

// Every console page is console/layout.html (header, org switcher, realm
// navigation, flash message, error summary) around one page template that
// defines "content". Each page is parsed into its own set so that every
// page can define the same block names.

// pageSet holds the console's pages, each parsed on first use: every
// page carries its own copy of the layout and partials (about 350 KB of
// parse trees each, 11 MB for all), which a node that only issues tokens
// never needs. TestEveryPageParses parses them all, so a broken template
// fails the build's tests, not an admin's click.
type pageSet struct {
	files  map[string][]string // page name → the files it is parsed from
	mu     sync.Mutex
	parsed map[string]*template.Template
}

// loadPages lists every console/*.html page, each to be parsed together
// with the layout and every partials*.html (blocks shared by several pages,
// such as partials_attributes.html), except the standalone message page.
func loadPages() (*pageSet, error) {
	names, err := fs.Glob(templates.FS, "console/*.html")
	if err != nil {
		return nil, err
	}
	shared := []string{"console/layout.html"}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "partials") {
			shared = append(shared, name)
		}
	}
	set := &pageSet{files: map[string][]string{}, parsed: map[string]*template.Template{}}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" || strings.HasPrefix(base, "partials") {
			continue
		}
		files := []string{name}
		if base != "message.html" {
			files = append(append([]string{}, shared...), name)
		}
		set.files[base] = files
	}
	return set, nil
}

// page returns the named page, parsing it on first use.
func (s *pageSet) page(name string) (*template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.parsed[name]; ok {
		return t, nil
	}
	files, ok := s.files[name]
	if !ok {
		return nil, fmt.Errorf("console: no page %q", name)
	}
	t, err := template.New(name).Funcs(funcs).ParseFS(templates.FS, files...)
	if err != nil {
		return nil, fmt.Errorf("console page %s: %w", name, err)
	}
	s.parsed[name] = t
	return t, nil
}

// funcs are the helpers console templates share.
var funcs = template.FuncMap{
	// formid is a new idempotency key for one form (see req.form): each
	// form on a page gets its own, so that sending one never marks another
	// as sent.
	"formid": randomString,
	// ferr is the error message for a field, "" when it is fine.
	"ferr": func(e fieldErrors, field string) string { return e[field] },
	// fval is what the user typed into a field (kept after a refused form).
	"fval": func(f url.Values, field string) string { return f.Get(field) },
	// checked reports whether a checkbox or option value was chosen.
	"checked": func(f url.Values, field, value string) bool {
		for _, v := range f[field] {
			if v == value {
				return true
			}
		}
		return false
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":    strings.Join,
	// dict builds a map for passing several values to a partial.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: keys must be strings")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"realmPath": realmPath,
}

// realmPath is the console path of a realm's page: realmPath("shop",
// "users", id) is /console/realms/shop/users/ID, each part escaped.
func realmPath(realmName string, parts ...string) string {
	p := "/console/realms/" + url.PathEscape(realmName)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// fieldErrors maps a form field's name to what is wrong with it. The key
// "" holds an error that belongs to no one field.
type fieldErrors map[string]string

// asWhole moves every error to the form as a whole: for an action whose
// page has no input for the field the service named (deleting, removing).
func (fe fieldErrors) asWhole() fieldErrors {
	msgs := make([]string, 0, len(fe))
	for _, m := range fe {
		msgs = append(msgs, m)
	}
	sort.Strings(msgs)
	return fieldErrors{"": strings.Join(msgs, " ")}
}

// base is what every page built on the layout carries. Pages embed it.
type base struct {
	Nonce   string
	CSRF    string
	Title   string
	Section string // highlighted navigation entry
	// Org is the organization the session acts for, Orgs every org the
	// member belongs to (the switcher).
	Org      realm.Org
	Orgs     []realm.OrgMembership
	Role     realm.Role
	CanWrite bool // owner or admin: may change things inside realms
	IsOwner  bool // may manage members and delete realms
	Realm    string
	Flash    string
	// SupportUntil is the end of the org's support access while it is on
	// (the banner on every page), nil while it is off.
	SupportUntil *time.Time
	// Form is what the user submitted, Errors what was wrong with it; both
	// are empty on a fresh page.
	Form   url.Values
	Errors fieldErrors
}

func (b *base) setNonce(n string) { b.Nonce = n }

// refill puts a refused form back on the page: its errors (which may come
// without a form, for an action whose page has no input for them) and
// what was typed. It reports whether there was a form; if not, the page
// fills its inputs from the stored object.
func (b *base) refill(f url.Values, fe fieldErrors) bool {
	if fe != nil {
		b.Errors = fe
	}
	if f == nil {
		return false
	}
	b.Form = f
	return true
}

// summaryItem is one line of the error summary: the field's name as a
// person reads it, and what is wrong.
type summaryItem struct {
	Field   string // the form field's name ("" for the form as a whole)
	Label   string
	Message string
}

// ErrorList is the error summary, in a stable order, the field-less error
// first.
func (b *base) ErrorList() []summaryItem {
	keys := make([]string, 0, len(b.Errors))
	for k := range b.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]summaryItem, 0, len(keys))
	for _, k := range keys {
		out = append(out, summaryItem{Field: k, Label: fieldLabel(k), Message: b.Errors[k]})
	}
	return out
}

// fieldLabel turns a service field name into words: "grace_seconds" →
// "Grace seconds", "attributes.departments" → "departments",
// "redirect_uris[1]" → "Redirect uris, line 2".
func fieldLabel(field string) string {
	if field == "" {
		return ""
	}
	if m := mappingField.FindStringSubmatch(field); m != nil {
		n, _ := strconv.Atoi(m[1])
		what := "provider's group"
		if m[2] == "group" {
			what = "realm group"
		}
		return fmt.Sprintf("Group mapping, row %d: %s", n+1, what)
	}
	name, line := field, ""
	if i := strings.LastIndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
		if n, err := strconv.Atoi(name[i+1 : len(name)-1]); err == nil {
			line = ", line " + strconv.Itoa(n+1)
		}
		name = name[:i]
	}
	if prefix, attr, ok := strings.Cut(name, "."); ok {
		if prefix == "attributes" {
			return attr + line // an attribute's own name, as the form shows it
		}
		name = attr
	}
	if l, ok := fieldLabels[name]; ok {
		return l + line
	}
	name = strings.ReplaceAll(name, "_", " ")
	return strings.ToUpper(name[:1]) + name[1:] + line
}

// fieldLabels are the labels of fields whose service names do not read
// as words (the security template form's).
var fieldLabels = map[string]string{
	"ttl_seconds":                    "Lifetime (seconds)",
	"limit_per_minute":               "Requests a minute",
	"limit_per_source_ip_per_minute": "Requests a minute per address",
	"dir_scope":                      "Paths",
	"ip_ranges":                      "IP ranges",
	"cidrs":                          "IP allow list",
	"ip_allow_list":                  "IP allow list",
	"idp_primary_priority":           "Primary group priority for identity providers",
	"redirect_uris":                  "Redirect URIs",
	"web_origins":                    "Web origins",
	"client_id":                      "Client ID",
	// The identity provider form's.
	"metadata_url":    "Metadata URL",
	"metadata_xml":    "Metadata XML",
	"oidc_client_id":  "Client ID",
	"attr_email":      "Email attribute",
	"attr_first_name": "First name attribute",
	"attr_last_name":  "Last name attribute",
}

// req is one signed-in console request: the session, the principal the
// admin API would act as, and a context carrying it for realm.Service.
type req struct {
	u *UI
	c echo.Context
	s *liveSession
	// claimed is the key of the form this request claimed (claimForm); a
	// claim the handler did not complete (a refused form) is released.
	claimed string
	p       realm.Principal
	ctx     context.Context
	realm   string // the :realm path parameter, when the route has one
}

// handler is a console page handler that runs with a signed-in member.
type handler func(r *req) error

// page wraps h: without a live session the browser is sent to sign in (and
// comes back to the page it asked for, for GETs). The requests of one
// session are serialised on this node, so that a double submission sees
// the first one's outcome; the session is written back after the handler
// when it changed (a flash shown, a secret taken, a token refreshed).
func (u *UI) page(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkParams(c); err != nil {
			return u.badInput(c, err)
		}
		var cookie string
		if ck, err := c.Cookie(u.cookieName(sessionCookie)); err == nil {
			cookie = ck.Value
			unlock, ok := u.sess.lock(c.Request().Context(), cookie)
			if !ok {
				return u.message(c, http.StatusServiceUnavailable, "Busy",
					"Your previous console request is still running. Try again in a moment.")
			}
			defer unlock()
		}
		s, p, err := u.current(c, cookie)
		if err != nil {
			return u.unavailable(c, err)
		}
		if s == nil {
			back := ""
			if c.Request().Method == http.MethodGet {
				back = c.Request().URL.RequestURI()
			}
			return u.startSignIn(c, back, "")
		}
		r := &req{u: u, c: c, s: s, p: p,
			ctx: realm.WithPrincipal(c.Request().Context(), p), realm: c.Param("realm")}
		herr := h(r)
		if r.claimed != "" {
			if to, seen := r.s.submitted(r.claimed); seen && to == "" {
				key := r.claimed
				r.s.change(func(st *sessionState) {
					if st.Forms[key] == "" {
						delete(st.Forms, key)
					}
				})
			}
		}
		if err := u.sess.save(c.Request().Context(), r.s, u.now()); err != nil {
			u.log.Error("console: saving the session", "err", err)
		}
		return herr
	}
}

// base builds the layout data for a page titled title in nav section.
func (r *req) base(title, section string) (base, error) {
	orgs, err := r.u.svc.MemberOrgs(r.ctx)
	if err != nil {
		return base{}, err
	}
	b := base{
		CSRF: r.s.csrfToken(), Title: title, Section: section,
		Orgs: orgs, Role: r.p.Role, CanWrite: r.p.Role.CanWrite(), IsOwner: r.p.Role == realm.RoleOwner,
		Realm: r.realm, Flash: r.s.takeFlash(), Form: url.Values{}, Errors: fieldErrors{},
	}
	for _, m := range orgs {
		if m.Org.ID == r.p.OrgID {
			b.Org = m.Org
		}
	}
	// The support access banner: one read per page; a failure costs the
	// banner, never the page.
	if until, err := r.u.svc.SupportAccessUntil(r.ctx); err == nil {
		b.SupportUntil = until
	} else if r.ctx.Err() == nil {
		r.u.log.Warn("console: reading support access for the banner", "err", err)
	}
	return b, nil
}

// render writes a layout page. status is 200 for a page, 4xx for a form
// shown again with its errors. The session is saved first: the page may
// have taken its flash or a waiting secret, which must not show again.
func (r *req) render(status int, name string, data nonced) error {
	if err := r.u.sess.save(r.c.Request().Context(), r.s, r.u.now()); err != nil {
		return r.u.unavailable(r.c, err)
	}
	return r.u.render(r.c, status, name, data)
}

// fail answers a service error on a page, with the status realm.HTTPStatus
// gives it: another org's or realm's object is "not found" (never
// "forbidden"), a refused role "not allowed", a lost session a new sign-in.
func (r *req) fail(err error) error {
	switch status := realm.HTTPStatus(err); status {
	case http.StatusNotFound:
		return r.u.message(r.c, status, "Not found",
			"There is no such page in this organization. It may have been deleted, or belong to another organization.")
	case http.StatusForbidden:
		return r.u.message(r.c, status, "Not allowed", "Your role in this organization does not allow this.")
	case http.StatusUnauthorized:
		return r.u.startSignIn(r.c, "", "")
	case http.StatusBadRequest:
		var ve *realm.ValidationError
		errors.As(err, &ve)
		for _, f := range ve.Fields {
			if f.Field == "cursor" {
				// A list's ?cursor= that Ward did not make: a link cut
				// short or edited.
				return r.u.render(r.c, status, "message.html", &messagePage{Title: "Broken page link",
					Detail: "This page link is broken (its position in the list is not one Ward made).",
					Back:   r.c.Request().URL.Path, BackLabel: "Go to the first page"})
			}
		}
		return r.u.message(r.c, status, "Bad request", ve.Error())
	case http.StatusMethodNotAllowed:
		return r.u.message(r.c, status, "Not allowed", "This cannot be done here.")
	case http.StatusConflict:
		fe, _, _ := refused(err)
		detail := "It clashes with the current state."
		for _, reason := range fe {
			detail = "It clashes with the current state: " + reason + "."
		}
		return r.u.message(r.c, status, "Not done", detail)
	}
	return r.u.unavailable(r.c, err)
}

// form reads a submitted form. It checks the session's CSRF token and the
// form's idempotency key: a form already handled (a double click, a
// resubmitted page) is answered with the page the first submission went to
// instead of being done twice. done means the answer has been written.
func (r *req) form() (f url.Values, done bool, err error) {
	req := r.c.Request()
	req.Body = http.MaxBytesReader(r.c.Response(), req.Body, 256<<10)
	if err := req.ParseForm(); err != nil {
		return nil, true, r.u.message(r.c, http.StatusBadRequest, "Bad request", "The form could not be read.")
	}
	return r.checkForm(req.PostForm)
}

// checkForm checks a posted form's values, its CSRF token and whether it
// was sent before (then the browser goes where the first one went).
func (r *req) checkForm(f url.Values) (url.Values, bool, error) {
	if err := realm.CheckValues(f, multilineFields...); err != nil {
		return nil, true, r.u.badInput(r.c, err)
	}
	if !r.s.checkCSRF(f.Get("csrf_token")) {
		return nil, true, r.u.message(r.c, http.StatusForbidden, "Form expired",
			"This form was not sent from your current console session. Reload the page and try again.")
	}
	if key := formKey(f); key != "" {
		to, err := r.claimForm(key)
		if err != nil {
			return nil, true, r.fail(err)
		}
		if to != "" {
			return nil, true, r.c.Redirect(http.StatusSeeOther, to)
		}
	}
	return f, false, nil
}

// uploadForm is form for a multipart form carrying one file in field, of
// at most limit bytes: its values and the file's bytes (nil when no file
// was chosen; limit+1 bytes when it is larger, for the caller to refuse).
func (r *req) uploadForm(field string, limit int64) (f url.Values, file []byte, done bool, err error) {
	req := r.c.Request()
	req.Body = http.MaxBytesReader(r.c.Response(), req.Body, limit+64<<10)
	if err := req.ParseMultipartForm(limit + 64<<10); err != nil {
		return nil, nil, true, r.u.message(r.c, http.StatusBadRequest, "Bad request",
			fmt.Sprintf("The form could not be read. Is the file larger than %d KiB?", limit>>10))
	}
	defer req.MultipartForm.RemoveAll() //nolint:errcheck // temporary files only
	if f, done, err = r.checkForm(url.Values(req.MultipartForm.Value)); done || err != nil {
		return nil, nil, done, err
	}
	if fhs := req.MultipartForm.File[field]; len(fhs) > 0 {
		fh, err := fhs[0].Open()
		if err != nil {
			return nil, nil, true, r.fail(err)
		}
		defer fh.Close()
		if file, err = io.ReadAll(io.LimitReader(fh, limit+1)); err != nil {
			return nil, nil, true, r.fail(err)
		}
	}
	return f, file, false, nil
}

// multilineFields are the form fields typed in a textarea (descriptions,
// conditions and the one-per-line lists): tab and line breaks are allowed
// there and nowhere else (realm.TextProblem).
var multilineFields = []string{"description", "condition", "resource", "actions", "audience", "redirect_uris", "web_origins",
	"dir_scope", "ip_ranges", "countries", "cidrs", "ip_allow_list", "metadata_xml"}

// checkParams checks a page's query and path parameters: they must be
// acceptable text (realm.CheckValues) before anything reads them.
func checkParams(c echo.Context) error {
	if err := realm.CheckPath(c.ParamNames(), c.ParamValues()); err != nil {
		return err
	}
	return realm.CheckValues(c.QueryParams())
}

// badInput answers a request whose parameters or form fields are not
// acceptable text: a 400 page naming them.
func (u *UI) badInput(c echo.Context, err error) error {
	return u.message(c, http.StatusBadRequest, "Bad request", err.Error())
}

// cursorPattern is what the store's next-page cursors look like: an ID,
// or for group members a kind and an ID (as the admin API checks them).
var cursorPattern = regexp.MustCompile(`^((user|client):)?[0-9a-z]{26}$`)

// cursor is the list's ?cursor=; one Ward did not make (a link cut short or
// edited) is an error that r.fail shows as a broken link.
func (r *req) cursor() (string, error) {
	c := r.c.QueryParam("cursor")
	if c != "" && !cursorPattern.MatchString(c) {
		return "", realm.Invalid("cursor", "is not a page link Ward made")
	}
	return c, nil
}

// takeSecret returns the new secret of the realm's clientID waiting to be
// shown on this page, once (sessions.takeSecret).
func (r *req) takeSecret(clientID string) (*shownSecret, error) {
	return r.u.sess.takeSecret(r.c.Request().Context(), r.s, r.realm, clientID, r.u.now())
}

// claimForm marks the form key as being handled by this request, in the
// session's row, so that a copy of the form sent to another node at the
// same moment waits for this one and then follows it ("" and nil: go
// ahead). A key already handled returns where it led.
func (r *req) claimForm(key string) (string, error) {
	ctx := r.c.Request().Context()
	deadline := time.Now().Add(lockWait)
	for {
		if to, seen := r.s.submitted(key); seen {
			if to != "" {
				return to, nil
			}
			// Being handled by another request right now.
			if time.Now().After(deadline) {
				return "", fmt.Errorf("%w: this form is still being handled", realm.ErrUnavailable)
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		} else {
			ok, err := r.u.sess.claimForm(ctx, r.s, key, r.u.now())
			if err != nil || ok {
				if ok {
					r.claimed = key
				}
				return "", err
			}
		}
		fresh, err := r.u.sess.loadHash(ctx, r.s.idHash, r.u.now())
		if err != nil {
			return "", err
		}
		if fresh == nil {
			return "", realm.ErrUnauthenticated
		}
		r.s = fresh
	}
}

// done ends a successful form: the browser is sent to target (POST,
// redirect, GET) with a flash message, and the form's key remembers target
// so that a second submission of the same form lands there too.
func (r *req) done(f url.Values, target, flash string) error {
	r.s.remember(formKey(f), target)
	if flash != "" {
		r.s.setFlash(flash)
	}
	// Written before the answer, so that a second submission, perhaps on
	// another node, finds the form handled.
	if err := r.u.sess.save(r.c.Request().Context(), r.s, r.u.now()); err != nil {
		return r.fail(err)
	}
	return r.c.Redirect(http.StatusSeeOther, target)
}

// formKey is the form's idempotency key if it has the shape the console
// generates (randomString: 43 URL-safe characters), else "" (no
// deduplication): a key made up by hand must not make the session keep
// arbitrary data.
func formKey(f url.Values) string {
	if k := f.Get("form_id"); formKeyShape(k) {
		return k
	}
	return ""
}

// formKeyShape reports whether s looks like a randomString.
func formKeyShape(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// refused turns a service error on a form into field errors and the
// status realm.HTTPStatus gives it (400 for bad input, 409 for a
// conflict), or returns ok=false when the error is not about the input
// (the caller fails the request then). The field names are the service's;
// forms name their inputs the same, so an error lands next to its input.
func refused(err error) (fieldErrors, int, bool) {
	status := realm.HTTPStatus(err)
	switch status {
	case http.StatusBadRequest:
		var ve *realm.ValidationError
		errors.As(err, &ve)
		fe := fieldErrors{}
		for _, f := range ve.Fields {
			if _, dup := fe[f.Field]; !dup {
				fe[f.Field] = f.Message
			}
		}
		return fe, status, true
	case http.StatusConflict:
		var ce *realm.ConflictError
		if errors.As(err, &ce) {
			return fieldErrors{ce.Field: ce.Reason}, status, true
		}
		return fieldErrors{"": "This clashes with something that already exists."}, status, true
	}
	return nil, 0, false
}

// lines splits a textarea into its non-empty, trimmed lines (redirect
// URIs, web origins, audiences, actions: one per line).
func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
