package ui

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Support access (CONTRACT §7): the org's owner lets the operator who runs
// Ward look in until a time. The page shows the switch (owners) or its
// state (everyone else) and the calls support made; every page of the org
// carries a banner while it is on (base.SupportUntil).

const (
	supportPath = "/console/support-access"
	// supportCallLimit bounds the support calls the page lists (newest
	// first); the rest are on the organization's events page.
	supportCallLimit = 50
	// untilLayout is a datetime-local input's value, in UTC as the console
	// shows every time.
	untilLayout = "2006-01-02T15:04"
)

func (u *UI) registerSupport(e *echo.Echo) {
	e.GET(supportPath, u.page(u.supportPage))
	e.POST(supportPath, u.page(u.setSupport))
}

// supportView is the data of console/support.html.
type supportView struct {
	base
	// Access is the switch as the owner sees it (nil for other roles, who
	// see only base.SupportUntil).
	Access *realm.SupportAccessView
	// Ended is the end that passed, when support access ended by itself.
	Ended *time.Time
	// ChangedBy names who last switched it (owners only).
	ChangedBy string
	Calls     []supportCall
	CallsErr  bool // the list could not be read
	More      bool // more calls than listed
	EventsURL string
	MaxUntil  string // the latest end the form takes, as the hint shows it
}

// supportCall is one support.call event as the page lists it.
type supportCall struct {
	Time                       time.Time
	Method, Path, Route, Token string
	Reason                     string
}

func (u *UI) supportPage(r *req) error { return u.showSupport(r, http.StatusOK, nil, nil) }

func (u *UI) showSupport(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Support access", "support")
	if err != nil {
		return r.fail(err)
	}
	now := u.now().UTC()
	v := &supportView{base: b, MaxUntil: now.Add(realm.SupportAccessMax).Format("2006-01-02 15:04 UTC"),
		EventsURL: "/console/events?" + url.Values{"type": {string(realm.EventSupportCall)}}.Encode()}
	if b.IsOwner {
		a, err := u.svc.GetSupportAccess(r.ctx)
		if err != nil {
			return r.fail(err)
		}
		v.Access = a
		// The banner follows the state just read.
		v.SupportUntil = nil
		if a.Enabled {
			v.SupportUntil = a.Until
		} else if a.Until != nil {
			v.Ended = a.Until
		}
		v.ChangedBy = u.supportChanger(r, a.UpdatedBy)
	}
	if !v.refill(f, fe) {
		until := now.Add(realm.SupportAccessDefault)
		if v.SupportUntil != nil {
			until = *v.SupportUntil
		}
		v.Form.Set("until", until.UTC().Format(untilLayout))
	}
	page, err := u.svc.ListEvents(r.ctx, "", realm.EventFilter{Type: realm.EventSupportCall, Limit: supportCallLimit})
	if err != nil {
		// The switch still works without the list.
		u.log.Warn("console: listing support calls", "err", err)
		v.CallsErr = true
	} else {
		v.Calls, v.More = supportCalls(page.Items), page.NextCursor != ""
	}
	return r.render(status, "support.html", v)
}

// supportCalls turns support.call events into the page's rows.
func supportCalls(evs []realm.Event) []supportCall {
	out := make([]supportCall, 0, len(evs))
	for _, ev := range evs {
		out = append(out, supportCall{Time: ev.Time, Method: detailString(ev.Details, "method"),
			Path: detailString(ev.Details, "path"), Route: detailString(ev.Details, "route"),
			Reason: detailString(ev.Details, "reason"), Token: ev.ActorID})
	}
	return out
}

// supportChanger names who last switched support access: a member by
// email when the org's members can be listed, else as recorded.
func (u *UI) supportChanger(r *req, by string) string {
	kind, id, ok := strings.Cut(by, ":")
	if !ok {
		return by
	}
	if kind == "member" {
		if id == r.p.ActorID {
			return "you"
		}
		if p, err := u.svc.ListMembers(r.ctx, realm.ListOptions{Limit: eventNameLimit}); err == nil {
			for _, m := range p.Items {
				if m.UserID == id && m.User != nil {
					return m.User.Email
				}
			}
		}
		return "member " + id
	}
	return kind + " " + id
}

// supportForm reads the switch: enabled "true" with until (a
// datetime-local value in UTC; empty means the default end) or enabled
// "false". A value that is not a time is a field error, as the service's
// are.
func supportForm(f url.Values) (realm.SupportAccessInput, fieldErrors) {
	var in realm.SupportAccessInput
	fe := fieldErrors{}
	switch f.Get("enabled") {
	case "true":
		on := true
		in.Enabled = &on
		if s := strings.TrimSpace(f.Get("until")); s != "" {
			t, ok := parseUntil(s)
			if !ok {
				fe["until"] = "must be a date and time such as 2026-01-02T15:04 (UTC)"
			} else {
				in.Until = &t
			}
		}
	case "false":
		off := false
		in.Enabled = &off
	default:
		fe[""] = "Choose to switch support access on or off."
	}
	return in, fe
}

// parseUntil reads a datetime-local value (minutes or seconds) or an RFC
// 3339 time; times without a zone are UTC.
func parseUntil(s string) (time.Time, bool) {
	for _, l := range []string{untilLayout, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (u *UI) setSupport(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	in, fe := supportForm(f)
	if len(fe) > 0 {
		return u.showSupport(r, http.StatusBadRequest, f, fe)
	}
	a, err := u.svc.SetSupportAccess(r.ctx, in)
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showSupport(r, status, f, fe)
		}
		return r.fail(err)
	}
	flash := "Support access is off: support tokens no longer work."
	if a.Enabled && a.Until != nil {
		flash = "Support access is on until " + a.Until.UTC().Format("2006-01-02 15:04:05 UTC") + "."
	}
	return r.done(f, supportPath, flash)
}
