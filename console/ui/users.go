package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The users screen. Users are never deleted (CONTRACT §3): there is no
// delete action anywhere, deactivation is the way to stop one. Deactivating
// goes through a confirmation page because it takes effect at once (sign-in
// refused, sessions and refresh tokens revoked); reactivating is a plain
// button on the user's page, since it takes nothing away and the user still
// needs its password (or a new set-password email) to sign in.

func (u *UI) registerUsers(e *echo.Echo) {
	e.GET("/console/realms/:realm/users", u.page(u.usersPage))
	e.POST("/console/realms/:realm/users", u.page(u.createUser))
	e.GET("/console/realms/:realm/users/:id", u.page(u.userPage))
	e.POST("/console/realms/:realm/users/:id", u.page(u.updateUserDetails))
	e.POST("/console/realms/:realm/users/:id/groups", u.page(u.updateUserGroups))
	e.POST("/console/realms/:realm/users/:id/set-password-email", u.page(u.resendSetPassword))
	e.GET("/console/realms/:realm/users/:id/deactivate", u.page(u.confirmDeactivate))
	e.POST("/console/realms/:realm/users/:id/deactivate", u.page(u.deactivateUser))
	e.POST("/console/realms/:realm/users/:id/reactivate", u.page(u.reactivateUser))
	e.POST("/console/realms/:realm/users/:id/unlock", u.page(u.unlockUser))
	e.POST("/console/realms/:realm/users/:id/sessions/:session/revoke", u.page(u.revokeUserSession))
	e.POST("/console/realms/:realm/users/:id/logout", u.page(u.logoutUser))
}

// usersView is the data of console/users.html.
type usersView struct {
	base
	Users  []realm.User
	Total  int // users matching the search and filters
	Query  string
	Groups []realm.Group
	// GroupNames names group IDs for the list's groups column.
	GroupNames map[string]string
	// The filters as asked.
	Status, GroupFilter string
	Locked              bool
	Filtered            bool
	// Page links with the same search and filters ("" when there is
	// none): the first page, the one before and the one after.
	FirstURL, PrevURL, NextURL string
}

func (u *UI) usersPage(r *req) error { return u.showUsers(r, http.StatusOK, nil, nil) }

func (u *UI) showUsers(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Users", "users")
	if err != nil {
		return r.fail(err)
	}
	q := strings.TrimSpace(r.c.QueryParam("q"))
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	back, err := backCursors(r.c.QueryParam("back"))
	if err != nil {
		return r.fail(err)
	}
	v := &usersView{base: b, Query: q, Status: r.c.QueryParam("status"), GroupFilter: r.c.QueryParam("group"),
		Locked: r.c.QueryParam("locked") == "on"}
	page, err := u.svc.SearchUsers(r.ctx, r.realm, realm.UserSearch{ListOptions: realm.ListOptions{Query: q, Cursor: cursor},
		Status: v.Status, GroupID: v.GroupFilter, Locked: v.Locked})
	if err != nil {
		return r.fail(err)
	}
	if v.Groups, v.GroupNames, err = u.allGroups(r); err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		// The set-password email is what a new user needs to sign in at
		// all, so it is on unless the admin turns it off.
		b.Form.Set("send_email", "on")
	}
	v.base = b
	v.Users, v.Total = page.Items, page.Total
	filters := url.Values{}
	for k, s := range map[string]string{"q": q, "status": v.Status, "group": v.GroupFilter} {
		if s != "" {
			filters.Set(k, s)
		}
	}
	if v.Locked {
		filters.Set("locked", "on")
	}
	v.Filtered = len(filters) > 0
	v.FirstURL, v.PrevURL, v.NextURL = pageLinks(realmPath(r.realm, "users"), filters, cursor, back, page.NextCursor)
	return r.render(status, "users.html", v)
}

// maxBackCursors bounds how many earlier pages a list's Previous link
// remembers (each a cursor in the URL).
const maxBackCursors = 20

// backCursors reads a list's ?back=: the cursors of the pages before this
// one (after the first), oldest first, comma-separated.
func backCursors(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	back := strings.Split(s, ",")
	if len(back) > maxBackCursors {
		back = back[len(back)-maxBackCursors:]
	}
	for _, c := range back {
		if !cursorPattern.MatchString(c) {
			return nil, realm.Invalid("back", "is not a page link Ward made")
		}
	}
	return back, nil
}

// pageLinks are a keyset-paged list's links to its first, previous and
// next pages, keeping filters: the page at cursor (after the pages in
// back) has the next page at next.
func pageLinks(path string, filters url.Values, cursor string, back []string, next string) (first, prev, nextURL string) {
	link := func(c string, back []string) string {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		if c != "" {
			q.Set("cursor", c)
		}
		if len(back) > 0 {
			q.Set("back", strings.Join(back, ","))
		}
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	}
	if cursor != "" {
		if len(back) == 0 {
			prev = link("", nil) // the first page: no separate link to it
		} else {
			first = link("", nil)
			prev = link(back[len(back)-1], back[:len(back)-1])
		}
	}
	if next != "" {
		nb := back
		if cursor != "" {
			nb = append(append([]string(nil), back...), cursor)
		}
		if len(nb) > maxBackCursors {
			nb = nb[len(nb)-maxBackCursors:]
		}
		nextURL = link(next, nb)
	}
	return first, prev, nextURL
}

func (u *UI) createUser(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	send := f.Get("send_email") == "on"
	v, err := u.svc.CreateUser(r.ctx, r.realm, realm.UserInput{
		Email: strings.TrimSpace(f.Get("email")), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Groups: f["groups"], PrimaryGroup: f.Get("primary_group"), SendSetPasswordEmail: &send,
	})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showUsers(r, status, f, fe)
		}
		return r.fail(err)
	}
	flash := "User " + v.Email + " created."
	if send {
		flash += " A set-password email is on its way."
	} else {
		flash += " No email was sent: use “Send a set-password email” when the user should sign in."
	}
	return r.done(f, userPath(r.realm, v.ID), flash)
}

// userView is the data of console/user.html.
type userView struct {
	base
	U          *realm.UserView
	Groups     []realm.Group
	GroupNames map[string]string
	Effective  []attrRow
	// Providers are the identity providers the user signs in with
	// (CONTRACT §9), by name.
	Providers []signInProvider
	// Password is "set" or "none" (passwordState).
	Password string
	// Sessions are the user's live sign-ins, newest first.
	Sessions []realm.UserSession
	// Threshold is the realm's lock threshold (its settings).
	Threshold int
}

// Status is what the page says of the user's sign-in: "deactivated",
// "locked" (after too many failed sign-ins), "invited" (no password yet
// and no identity provider to sign in with) or "active".
func (v *userView) Status() string {
	switch {
	case !v.U.Active:
		return "deactivated"
	case v.U.Lock.LockedUntil != nil:
		return "locked"
	case !v.U.HasPassword && len(v.Providers) == 0:
		return "invited"
	}
	return "active"
}

// LockedUntil is the end of the user's sign-in lock (zero when unlocked).
func (v *userView) LockedUntil() time.Time {
	if v.U.Lock.LockedUntil == nil {
		return time.Time{}
	}
	return *v.U.Lock.LockedUntil
}

// LockThreshold is how many failed sign-ins lock an account in the realm.
func (v *userView) LockThreshold() int { return v.Threshold }

// Name is how the page names the user: its full name, else its email.
func (v *userView) Name() string { return userDisplayName(&v.U.User) }

func userDisplayName(u *realm.User) string {
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.Email
}

func (u *UI) userPage(r *req) error { return u.showUser(r, http.StatusOK, nil, nil) }

// showUser renders a user's page. f is a refused form: its fields replace
// the user's stored values in the form it came from, so what the admin
// typed stays while the page's other form shows what is stored.
func (u *UI) showUser(r *req, status int, f url.Values, fe fieldErrors) error {
	v, err := u.svc.GetUser(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base(userDisplayName(&v.User), "users")
	if err != nil {
		return r.fail(err)
	}
	groups, names, err := u.allGroups(r)
	if err != nil {
		return r.fail(err)
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	b.Form.Set("email", v.Email)
	b.Form.Set("first_name", v.FirstName)
	b.Form.Set("last_name", v.LastName)
	b.Form["groups"] = append([]string(nil), v.Groups...)
	b.Form.Set("primary_group", v.PrimaryGroup)
	if f != nil {
		b.Errors = fe
		switch f.Get("section") {
		case "details":
			for _, k := range []string{"email", "first_name", "last_name"} {
				b.Form.Set(k, f.Get(k))
			}
		case "groups":
			b.Form["groups"] = f["groups"]
			b.Form.Set("primary_group", f.Get("primary_group"))
		}
	}
	sessions, err := u.svc.ListUserSessions(r.ctx, r.realm, v.ID)
	if err != nil {
		return r.fail(err)
	}
	rl, err := u.svc.GetRealm(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	return r.render(status, "user.html", &userView{base: b, U: v, Groups: groups, GroupNames: names,
		Effective: attrRows(defs, v.EffectiveAttributes), Providers: u.userProviders(r, v.ID), Password: passwordState(v),
		Sessions: sessions, Threshold: rl.Settings.LockAfter()})
}

// passwordState says whether the user has a password: "set" or "none".
func passwordState(v *realm.UserView) string {
	if v.HasPassword {
		return "set"
	}
	return "none"
}

// updateUserDetails saves the names and email.
func (u *UI) updateUserDetails(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	email, first, last := strings.TrimSpace(f.Get("email")), f.Get("first_name"), f.Get("last_name")
	v, err := u.svc.UpdateUser(r.ctx, r.realm, r.c.Param("id"), realm.UserPatch{Email: &email, FirstName: &first, LastName: &last})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showUser(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, v.ID), "User "+userDisplayName(&v.User)+" saved.")
}

// updateUserGroups replaces the user's groups and primary group. The
// primary group is sent only when the admin changed it: unticking the
// current primary group without choosing another then meets the service's
// own refusal ("set another primary group first") instead of the form
// silently keeping or dropping it.
func (u *UI) updateUserGroups(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	cur, err := u.svc.GetUser(r.ctx, r.realm, id)
	if err != nil {
		return r.fail(err)
	}
	groups := append([]string{}, f["groups"]...)
	patch := realm.UserPatch{Groups: &groups}
	if p := f.Get("primary_group"); p != cur.PrimaryGroup {
		patch.PrimaryGroup = &p
	}
	v, err := u.svc.UpdateUser(r.ctx, r.realm, id, patch)
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showUser(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, v.ID), "User "+userDisplayName(&v.User)+" saved.")
}

func (u *UI) resendSetPassword(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	if err := u.svc.SendSetPasswordEmail(r.ctx, r.realm, id); err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showUser(r, status, f, fe)
		}
		return r.fail(err)
	}
	v, err := u.svc.GetUser(r.ctx, r.realm, id)
	if err != nil {
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, id), "A set-password email was sent to "+v.Email+". Links sent before no longer work.")
}

// userConfirmView is the data of console/user_confirm.html.
type userConfirmView struct {
	base
	U *realm.UserView
}

// Name is the user's name for the confirmation question.
func (v *userConfirmView) Name() string { return userDisplayName(&v.U.User) }

// confirmDeactivate asks before deactivating. Like the client
// confirmation pages, a viewer sees what it would do and the read-only
// note instead of the button, and a user already deactivated gets a page
// that says so (the template decides both): a link followed late or
// shared still lands on a page that explains itself.
func (u *UI) confirmDeactivate(r *req) error {
	v, err := u.svc.GetUser(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Deactivate "+userDisplayName(&v.User), "users")
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "user_confirm.html", &userConfirmView{base: b, U: v})
}

func (u *UI) deactivateUser(r *req) error { return u.setActive(r, false) }
func (u *UI) reactivateUser(r *req) error { return u.setActive(r, true) }

func (u *UI) setActive(r *req, active bool) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	v, err := u.svc.UpdateUser(r.ctx, r.realm, r.c.Param("id"), realm.UserPatch{Active: &active})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showUser(r, status, f, fe)
		}
		return r.fail(err)
	}
	flash := "User " + userDisplayName(&v.User) + " deactivated. Sign-in is refused and its sessions and refresh tokens are revoked."
	if active {
		flash = "User " + userDisplayName(&v.User) + " reactivated. It can sign in with its password."
	}
	return r.done(f, userPath(r.realm, v.ID), flash)
}

// unlockUser lifts the user's sign-in lock.
func (u *UI) unlockUser(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	v, err := u.svc.UnlockUser(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, v.ID), "User "+userDisplayName(&v.User)+" unlocked: it may sign in again at once.")
}

// revokeUserSession signs the user out of one session. A session that
// ended meanwhile (another admin, the user signing out) is said so, not
// an error page: what the admin wanted has happened.
func (u *UI) revokeUserSession(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	err = u.svc.RevokeUserSession(r.ctx, r.realm, id, r.c.Param("session"))
	if errors.Is(err, realm.ErrNotFound) {
		if _, uerr := u.svc.GetUser(r.ctx, r.realm, id); uerr == nil {
			return r.done(f, userPath(r.realm, id)+"#sessions", "That session had already ended.")
		}
	}
	if err != nil {
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, id)+"#sessions", "Signed out of the session: its refresh and access tokens no longer work.")
}

// logoutUser signs the user out everywhere.
func (u *UI) logoutUser(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	if err := u.svc.LogoutUser(r.ctx, r.realm, id); err != nil {
		return r.fail(err)
	}
	return r.done(f, userPath(r.realm, id)+"#sessions", "Signed out everywhere: every session, refresh token and access token of the user has ended.")
}

func userPath(realmName, id string) string {
	return realmPath(realmName, "users", id)
}
