package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The API keys screen (CONTRACT §6): keys of headless callers, each with a
// description, a subset of the realm's permission catalog and an optional
// expiry. A new key exists in clear only in CreateAPIKey's answer: like a
// client secret, the console keeps it in the session's one-shot slot
// (keepSecret) across the POST→redirect, and the key's page takes it
// (takeSecret), so it is shown exactly once, never in a URL, a flash or a
// log line. Keys are never deleted: they are deactivated, one from its
// page or many at once from the list (SetAPIKeysActive, all or nothing).

func (u *UI) registerAPIKeys(e *echo.Echo) {
	e.GET("/console/realms/:realm/api-keys", u.page(u.apiKeysPage))
	e.POST("/console/realms/:realm/api-keys", u.page(u.createAPIKey))
	// The bulk form answers with a redirect; a GET of its address (typed,
	// or a reload of a refused bulk form) goes back to the list.
	e.GET("/console/realms/:realm/api-keys/bulk", u.page(func(r *req) error {
		return r.c.Redirect(http.StatusSeeOther, apiKeysPath(r.realm))
	}))
	e.POST("/console/realms/:realm/api-keys/bulk", u.page(u.bulkAPIKeys))
	e.GET("/console/realms/:realm/api-keys/:id", u.page(u.apiKeyPage))
	e.POST("/console/realms/:realm/api-keys/:id", u.page(u.updateAPIKey))
	e.GET("/console/realms/:realm/api-keys/:id/deactivate", u.page(u.confirmDeactivateAPIKey))
	e.POST("/console/realms/:realm/api-keys/:id/deactivate", u.page(u.setAPIKeyActive(false)))
	e.POST("/console/realms/:realm/api-keys/:id/reactivate", u.page(u.setAPIKeyActive(true)))
}

// apiKeySlot is the session's one-shot slot of a new API key: the
// shownSecret mechanism of client secrets, keyed apart from every client
// (a client ID never holds a colon).
func apiKeySlot(id string) string { return "api-key:" + id }

// The list's state filter (?active=): every key, active ones, deactivated
// ones.
const (
	activeAll         = "all"
	activeOnly        = "active"
	activeDeactivated = "deactivated"
)

// apiKeyRow is one key as the pages show it.
type apiKeyRow struct {
	realm.APIKey
	Expired bool // its expiry has passed (it may still be marked active)
}

// keyRow is k as shown at now: expired once its expiry has passed, whether
// or not it is also deactivated.
func keyRow(k realm.APIKey, now time.Time) apiKeyRow {
	return apiKeyRow{APIKey: k, Expired: k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)}
}

// permissionGroup is the picker's fieldset of one resource type: its
// permissions, named by action.
type permissionGroup struct {
	Type  string
	Perms []permissionItem
}

type permissionItem struct {
	Name, Action, Description string
}

// groupPermissions groups the catalog by resource type, the part before
// the colon, for the picker: types and their actions in byte order (the
// store's order is the database's collation, which may set "a_b:c"
// between "a:a" and "a:z").
func groupPermissions(catalog []realm.Permission) []permissionGroup {
	items := make([]struct{ typ, action string }, len(catalog))
	order := make([]int, len(catalog))
	for i, p := range catalog {
		typ, action, ok := strings.Cut(p.Name, ":")
		if !ok {
			typ, action = p.Name, p.Name
		}
		items[i].typ, items[i].action, order[i] = typ, action, i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := strings.Compare(items[a].typ, items[b].typ); c != 0 {
			return c
		}
		return strings.Compare(items[a].action, items[b].action)
	})
	var out []permissionGroup
	for _, i := range order {
		p, it := catalog[i], items[i]
		if len(out) == 0 || out[len(out)-1].Type != it.typ {
			out = append(out, permissionGroup{Type: it.typ})
		}
		g := &out[len(out)-1]
		g.Perms = append(g.Perms, permissionItem{Name: p.Name, Action: it.action, Description: p.Description})
	}
	return out
}

// apiKeysView is the data of console/apikeys.html.
type apiKeysView struct {
	base
	Keys []apiKeyRow
	// Filter is the list's filters (active, q), FilterErrors what is
	// wrong with one that cannot be applied (the list is then empty).
	Filter       url.Values
	FilterErrors fieldErrors
	Filtered     bool
	Cursor       string // this page's cursor, for the bulk form's way back
	FirstURL     string // the first page with the same filters, on a later page
	NextURL      string
	Picker       []permissionGroup
}

// listState is which part of the list a page shows: its filters and page.
type listState struct {
	Active, Q, Cursor string
}

// listStateOf reads the list's state from the query (a list page) or the
// bulk form's hidden fields (the list the form was sent from).
func listStateOf(v url.Values) listState {
	return listState{Active: strings.TrimSpace(v.Get("active")), Q: strings.TrimSpace(v.Get("q")), Cursor: v.Get("cursor")}
}

// clean drops the parts of s that the list itself would not make (a
// forged or stale form): they are not put back into an address.
func (s listState) clean() listState {
	if _, ok := parseActive(s.Active); !ok || s.Active == activeAll {
		s.Active = ""
	}
	if utf8.RuneCountInString(s.Q) > realm.MaxQueryLen {
		s.Q = ""
	}
	if !cursorPattern.MatchString(s.Cursor) {
		s.Cursor = ""
	}
	return s
}

// url is the list's address in this state (cleaned).
func (s listState) url(realmName string) string {
	s = s.clean()
	v := url.Values{}
	for k, x := range map[string]string{"active": s.Active, "q": s.Q, "cursor": s.Cursor} {
		if x != "" {
			v.Set(k, x)
		}
	}
	p := apiKeysPath(realmName)
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	return p
}

func (u *UI) apiKeysPage(r *req) error {
	return u.showAPIKeys(r, http.StatusOK, listStateOf(r.c.QueryParams()), nil, nil)
}

// parseActive reads the state filter: nil for every key.
func parseActive(s string) (*bool, bool) {
	switch s {
	case "", activeAll:
		return nil, true
	case activeOnly:
		t := true
		return &t, true
	case activeDeactivated:
		f := false
		return &f, true
	}
	return nil, false
}

// showAPIKeys renders the list in state ls with the new-key form (f, fe:
// a refused one, or, without f, a refused bulk change whose errors belong
// to the list).
func (u *UI) showAPIKeys(r *req, status int, ls listState, f url.Values, fe fieldErrors) error {
	b, err := r.base("API keys", "api-keys")
	if err != nil {
		return r.fail(err)
	}
	catalog, err := u.svc.ListPermissions(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	v := &apiKeysView{base: b, FilterErrors: fieldErrors{}, Picker: groupPermissions(catalog),
		Filter: url.Values{"active": {ls.Active}, "q": {ls.Q}}}
	active, ok := parseActive(ls.Active)
	if !ok {
		v.FilterErrors["active"] = "must be all, active or deactivated"
	}
	v.Filtered = active != nil || ls.Q != ""
	if ls.Cursor != "" && !cursorPattern.MatchString(ls.Cursor) {
		return r.fail(realm.Invalid("cursor", "is not a page link Ward made"))
	}
	if len(v.FilterErrors) == 0 {
		page, err := u.svc.ListAPIKeys(r.ctx, r.realm, realm.APIKeyFilter{
			ListOptions: realm.ListOptions{Limit: 50, Cursor: ls.Cursor, Query: ls.Q}, Active: active})
		if err != nil {
			lfe, _, ok := refused(err)
			if !ok || lfe["q"] == "" {
				return r.fail(err)
			}
			v.FilterErrors["q"] = lfe["q"]
		}
		now := u.now()
		for _, k := range page.Items {
			v.Keys = append(v.Keys, keyRow(k, now))
		}
		v.Cursor = ls.Cursor
		if ls.Cursor != "" {
			v.FirstURL = listState{Active: ls.Active, Q: ls.Q}.url(r.realm)
		}
		if page.NextCursor != "" {
			v.NextURL = listState{Active: ls.Active, Q: ls.Q, Cursor: page.NextCursor}.url(r.realm)
		}
	}
	if len(v.FilterErrors) > 0 && status == http.StatusOK {
		// A filter that cannot be applied lists nothing rather than
		// everything: an unfiltered list would look like an answer.
		status = http.StatusBadRequest
	}
	v.refill(f, fe)
	return r.render(status, "apikeys.html", v)
}

// expiryLayouts are what the expiry field takes: a datetime-local input's
// value (minutes or seconds), a date (its midnight) or an RFC 3339
// timestamp. Times without a zone are UTC, as the form says and as the
// console shows every time.
var expiryLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339}

// parseExpiry reads the optional expiry field: nil when empty.
func parseExpiry(s string) (*time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, true
	}
	for _, l := range expiryLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			return &t, true
		}
	}
	return nil, false
}

// keyRefused maps the service's errors on a key form to its fields: an
// error about one permission (permissions[2]) belongs to the picker and
// names the permission, since checkboxes have no order the admin sees.
// The error of the lowest index is the one shown.
func keyRefused(err error, perms []string) (fieldErrors, int, bool) {
	fe, status, ok := refused(err)
	if !ok {
		return nil, 0, false
	}
	out, first := fieldErrors{}, -1
	for k, msg := range fe {
		if field, i := splitIndexed(k); field == "permissions" && i >= 0 {
			if first < 0 || i < first {
				first = i
			}
			continue
		}
		out[k] = msg
	}
	if _, whole := out["permissions"]; !whole && first >= 0 {
		msg := fe[fmt.Sprintf("permissions[%d]", first)]
		if first < len(perms) && !strings.Contains(msg, strconv.Quote(perms[first])) {
			msg = strconv.Quote(perms[first]) + " " + msg
		}
		out["permissions"] = msg
	}
	return out, status, true
}

func (u *UI) createAPIKey(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	exp, ok := parseExpiry(f.Get("expires_at"))
	if !ok {
		return u.showAPIKeys(r, http.StatusBadRequest, listState{}, f, fieldErrors{
			"expires_at": "must be a date and time such as 2027-01-31T18:00 (UTC)"})
	}
	perms := append([]string{}, f["permissions"]...)
	res, err := u.svc.CreateAPIKey(r.ctx, r.realm, realm.APIKeyInput{
		Description: strings.TrimSpace(f.Get("description")), Permissions: perms, ExpiresAt: exp})
	if err != nil {
		if fe, status, ok := keyRefused(err, perms); ok {
			return u.showAPIKeys(r, status, listState{}, f, fe)
		}
		return r.fail(err)
	}
	r.s.keepSecret(&shownSecret{Realm: r.realm, Slot: apiKeySlot(res.ID), Secret: res.Key}, u.now())
	return r.done(f, apiKeyPath(r.realm, res.ID), "API key "+res.Prefix+"… created.")
}

// bulkAPIKeys deactivates or reactivates the keys ticked in the list, all
// or nothing, and goes back to the list as it was (filters and page).
func (u *UI) bulkAPIKeys(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	ls := listStateOf(f)
	// A refused change shows the list the form came from with the reason
	// above it; nothing was changed.
	refusedBulk := func(status int, msg string) error {
		return u.showAPIKeys(r, status, ls.clean(), nil, fieldErrors{"": msg})
	}
	var on bool
	switch f.Get("action") {
	case "deactivate":
	case "reactivate":
		on = true
	default:
		return refusedBulk(http.StatusBadRequest, "Nothing changed: choose “Deactivate selected” or “Reactivate selected”.")
	}
	ids := f["ids"]
	if len(ids) == 0 {
		return refusedBulk(http.StatusBadRequest, "Nothing changed: select at least one key first.")
	}
	n, err := u.svc.SetAPIKeysActive(r.ctx, r.realm, ids, on)
	if err != nil {
		var nf *realm.NotFoundError
		if errors.As(err, &nf) {
			// A key of another realm, or an ID made up by hand.
			return refusedBulk(realm.HTTPStatus(err), "Nothing changed: "+nf.Reason+".")
		}
		if fe, status, ok := refused(err); ok {
			msgs := make([]string, 0, len(fe))
			for k, m := range fe {
				if _, i := splitIndexed(k); i >= 0 && i < len(ids) {
					m = "the key " + strconv.Quote(ids[i]) + " " + m
				}
				msgs = append(msgs, m)
			}
			slices.Sort(msgs)
			return refusedBulk(status, "Nothing changed: "+strings.Join(msgs, "; ")+".")
		}
		return r.fail(err)
	}
	return r.done(f, ls.url(r.realm), bulkFlash(n, len(ids), on))
}

// bulkFlash says what a bulk change did: "2 keys deactivated.", and how
// many of the selected keys were already in that state.
func bulkFlash(changed, selected int, active bool) string {
	verb := "deactivated"
	if active {
		verb = "reactivated"
	}
	msg := fmt.Sprintf("%d %s %s.", changed, plural(changed, "key", "keys"), verb)
	if same := selected - changed; same > 0 {
		msg += fmt.Sprintf(" %d selected %s already %s.", same, plural(same, "key was", "keys were"), verb)
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// apiKeyView is the data of console/apikey.html.
type apiKeyView struct {
	base
	K apiKeyRow
	// Key is the new key on the one page view that shows it.
	Key    *shownSecret
	Picker []permissionGroup
}

func (u *UI) apiKeyPage(r *req) error { return u.showAPIKey(r, http.StatusOK, nil, nil) }

func (u *UI) showAPIKey(r *req, status int, f url.Values, fe fieldErrors) error {
	k, err := u.svc.GetAPIKey(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("API key "+k.Prefix+"…", "api-keys")
	if err != nil {
		return r.fail(err)
	}
	catalog, err := u.svc.ListPermissions(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("description", k.Description)
		b.Form["permissions"] = append([]string(nil), k.Permissions...)
	}
	v := &apiKeyView{base: b, K: keyRow(*k, u.now()),
		Picker: groupPermissions(catalog)}
	if status == http.StatusOK {
		// Taken only by a page that is shown as such, never by a refused
		// form: the key is shown on exactly one page view.
		if v.Key, err = r.takeSecret(apiKeySlot(k.ID)); err != nil {
			return r.fail(err)
		}
	}
	return r.render(status, "apikey.html", v)
}

func (u *UI) updateAPIKey(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	desc := strings.TrimSpace(f.Get("description"))
	perms := append([]string{}, f["permissions"]...)
	k, err := u.svc.UpdateAPIKey(r.ctx, r.realm, r.c.Param("id"), realm.APIKeyPatch{Description: &desc, Permissions: &perms})
	if err != nil {
		if fe, status, ok := keyRefused(err, perms); ok {
			return u.showAPIKey(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, apiKeyPath(r.realm, k.ID), "API key "+k.Prefix+"… saved.")
}

// confirmDeactivateAPIKey asks before deactivating one key, as the users
// and clients screens do; a key already deactivated gets a page that says
// so instead of a button.
func (u *UI) confirmDeactivateAPIKey(r *req) error {
	k, err := u.svc.GetAPIKey(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	path := apiKeyPath(r.realm, k.ID)
	v := confirmPage{
		Heading: "Deactivate the API key " + k.Prefix + "…?",
		Points: []string{"Description: " + k.Description,
			"Ward refuses the key at once. Resource servers that already exchanged it stop accepting it within 60 seconds.",
			"The key is kept, not deleted: it can be reactivated from its page."},
		Action: path + "/deactivate", Button: "Deactivate key", Back: path, Allowed: r.p.Role.CanWrite(),
	}
	if !k.Active {
		v.Heading, v.Points, v.Allowed = "The API key "+k.Prefix+"… is already deactivated", nil, false
		v.Denied, v.BackLabel = "Nothing to do: it can be reactivated from its page.", "Back to the key"
	}
	return r.confirm("Deactivate API key "+k.Prefix+"…", "api-keys", v)
}

// setAPIKeyActive deactivates (from the confirmation page) or reactivates
// one key.
func (u *UI) setAPIKeyActive(active bool) handler {
	return func(r *req) error {
		f, done, err := r.form()
		if done || err != nil {
			return err
		}
		k, err := u.svc.UpdateAPIKey(r.ctx, r.realm, r.c.Param("id"), realm.APIKeyPatch{Active: &active})
		if err != nil {
			return r.fail(err)
		}
		flash := "API key " + k.Prefix + "… deactivated. Ward refuses it from now on."
		if active {
			flash = "API key " + k.Prefix + "… reactivated."
		}
		return r.done(f, apiKeyPath(r.realm, k.ID), flash)
	}
}

func apiKeysPath(realmName string) string {
	return realmPath(realmName, "api-keys")
}

func apiKeyPath(realmName, id string) string {
	return realmPath(realmName, "api-keys", id)
}
