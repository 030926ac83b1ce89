package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wardiam/ward/realm"
)

// realmsPage is the data of console/realms.html: the org's realms and the
// form that creates one.
type realmsPage struct {
	base
	Realms []realm.Realm
	Q      string // the search
	Next   string // the next page's cursor
	Paged  bool   // a page after the first
}

// realmsPage lists the realms of the member's org, through the same
// service call as GET /admin/v1/realms.
func (u *UI) realmsPage(r *req) error { return u.showRealms(r, http.StatusOK, nil, nil) }

func (u *UI) showRealms(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Realms", "realms")
	if err != nil {
		return r.fail(err)
	}
	q := strings.TrimSpace(r.c.QueryParam("q"))
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	page, err := u.svc.ListRealms(r.ctx, realm.ListOptions{Query: q, Cursor: cursor})
	if err != nil {
		return r.fail(err)
	}
	b.refill(f, fe)
	return r.render(status, "realms.html", &realmsPage{base: b, Realms: page.Items, Q: q, Next: page.NextCursor, Paged: cursor != ""})
}

// createRealm is POST /console: the realm-creation form.
func (u *UI) createRealm(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	created, err := u.svc.CreateRealm(r.ctx, realm.RealmInput{Name: strings.TrimSpace(f.Get("name")), DisplayName: f.Get("display_name")})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showRealms(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, realmPath(created.Name), "Realm "+created.Name+" created.")
}

// switchOrg signs the member in again for another of its orgs (scope
// org:SLUG). The console realm's browser session answers at once, without
// a password; the new session replaces this one.
func (u *UI) switchOrg(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	slug := f.Get("org")
	orgs, err := u.svc.MemberOrgs(r.ctx)
	if err != nil {
		return r.fail(err)
	}
	for _, m := range orgs {
		if m.Org.Slug == slug {
			return u.startSignIn(r.c, "/console", slug)
		}
	}
	return u.message(r.c, http.StatusBadRequest, "Unknown organization", "You are not a member of that organization.")
}

// realmOverview is the data of console/realm.html.
type realmOverview struct {
	base
	R         *realm.Realm
	Issuer    string
	Discovery string
	// NobodySignsIn: password sign-in is off and none of the realm's
	// identity providers is enabled, so nobody can sign in to it.
	NobodySignsIn bool
}

func (u *UI) realmPage(r *req) error { return u.showRealm(r, http.StatusOK, nil, nil) }

func (u *UI) showRealm(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Overview", "overview")
	if err != nil {
		return r.fail(err)
	}
	rm, err := u.svc.GetRealm(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	// A refused delete comes back with the stored values and the
	// confirmation as typed, never a blank that saving would store.
	b.refill(f, fe)
	if !b.Form.Has("display_name") {
		b.Form.Set("display_name", rm.DisplayName)
	}
	// The Network card's textarea: the stored list unless it is the form
	// that was refused.
	if !b.Form.Has("cidrs") {
		b.Form.Set("cidrs", strings.Join(rm.IPAllowList, "\n"))
	}
	issuer := u.public + "/realms/" + url.PathEscape(rm.Name)
	return r.render(status, "realm.html", &realmOverview{base: b, R: rm, Issuer: issuer,
		Discovery: issuer + "/.well-known/openid-configuration", NobodySignsIn: u.nobodySignsIn(r, rm)})
}

// nobodySignsIn reports whether the realm's login page offers nothing:
// password sign-in off and no identity provider enabled. A failed read
// costs the warning, never the page.
func (u *UI) nobodySignsIn(r *req, rm *realm.Realm) bool {
	if !rm.PasswordLoginDisabled || u.idps == nil {
		return false
	}
	list, err := u.idps.ListIdentityProviders(r.ctx, rm.Name)
	if err != nil {
		if r.ctx.Err() == nil {
			u.log.Warn("console: reading identity providers for the sign-in warning", "err", err)
		}
		return false
	}
	for _, p := range list {
		if p.Enabled {
			return false
		}
	}
	return true
}

// setRealmSignIn is the Sign-in card's form: whether the realm's login
// page offers email and password (RealmPatch.PasswordLogin, CONTRACT §9).
// An unticked checkbox is not sent, so its absence is "off".
func (u *UI) setRealmSignIn(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	on := f.Get("password_login") == "on"
	rm, err := u.svc.UpdateRealm(r.ctx, r.realm, realm.RealmPatch{PasswordLogin: &on})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showRealm(r, status, nil, fe)
		}
		return r.fail(err)
	}
	msg := "Sign-in saved: people may sign in with email and password."
	if rm.PasswordLoginDisabled {
		msg = "Sign-in saved: people sign in only through the realm's identity providers."
	}
	return r.done(f, realmPath(rm.Name)+"#sign-in", msg)
}

// updateRealm changes the realm's display name (the Settings card).
func (u *UI) updateRealm(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	dn := f.Get("display_name")
	rm, err := u.svc.UpdateRealm(r.ctx, r.realm, realm.RealmPatch{DisplayName: &dn})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showRealm(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, realmPath(rm.Name), "Realm saved.")
}

// deleteRealm deletes the realm when the owner typed its name again.
func (u *UI) deleteRealm(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	if err := u.svc.DeleteRealm(r.ctx, r.realm, f.Get("confirm")); err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showRealm(r, status, url.Values{"confirm": {f.Get("confirm")}}, fe)
		}
		// A second click is answered by the form's key (req.form); a
		// realm not found is another org's or gone: say so.
		return r.fail(err)
	}
	return r.done(f, "/console", "Realm "+r.realm+" deleted.")
}

// allowListForm reads a one-CIDR-a-line textarea (the realm's "cidrs", a
// group's "ip_allow_list") as the service takes it: blank lines dropped,
// empty meaning no list (never nil: the service stores what it is given).
// The service checks each line and names the bad one (cidrs[i]), which
// refusedForm turns into "line N …" at the textarea.
func allowListForm(f url.Values, field string) []string {
	if l := lines(f.Get(field)); l != nil {
		return l
	}
	return []string{}
}

// setRealmIPAllowList is the Network card's form: it replaces the realm's
// IP allow list (CONTRACT §7); empty lifts the restriction. A change is
// the event realm.ip_allow_list_updated (recorded by the service).
func (u *UI) setRealmIPAllowList(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	list, err := u.svc.SetIPAllowList(r.ctx, r.realm, allowListForm(f, "cidrs"))
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showRealm(r, status, url.Values{"cidrs": {f.Get("cidrs")}}, fe)
		}
		return r.fail(err)
	}
	return r.done(f, realmPath(r.realm)+"#network", allowListSaved(list))
}

// allowListSaved is the confirmation of a saved allow list.
func allowListSaved(list []string) string {
	switch len(list) {
	case 0:
		return "IP allow list saved: empty, so sign-in and tokens are allowed from anywhere."
	case 1:
		return "IP allow list saved: sign-in and tokens only from " + list[0] + "."
	}
	return "IP allow list saved: sign-in and tokens only from these " + strconv.Itoa(len(list)) + " networks."
}
