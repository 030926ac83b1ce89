package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

func (u *UI) registerEvents(e *echo.Echo) {
	e.GET("/console/realms/:realm/events", u.page(u.eventsPage))
	e.GET("/console/events", u.page(u.eventsPage))
}

// eventTypes are offered as suggestions in the type filter (any type can
// still be typed): what the service records.
var eventTypes = []string{
	"attribute.created", "attribute.deleted", "attribute.updated",
	"client.created", "client.deactivated", "client.reactivated", "client.secret_rotated", "client.updated",
	"group.created", "group.deleted", "group.updated",
	"mail.failed",
	"member.created", "member.deleted", "member.updated",
	"org.created",
	"policy.created", "policy.deleted", "policy.updated",
	"realm.created", "realm.deleted", "realm.updated",
	"user.created", "user.deactivated", "user.reactivated", "user.password_reset_requested",
	"user.password_set", "user.set_password_link_issued", "user.updated",
}

// eventsView is the data of console/events.html, the realm's log or (no
// Realm) the organization's.
type eventsView struct {
	base
	Events       []eventRow
	Types        []string
	Path         string
	Filter       url.Values
	FilterErrors fieldErrors
	Filtered     bool
	NextURL      string
}

// eventRow is one event as the table shows it.
type eventRow struct {
	realm.Event
	Details string
	Link    string // the target's console page, when it has one
}

var (
	eventTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)
	eventCursor      = regexp.MustCompile(`^[0-9a-z]{26}$`)
)

// sinceLayouts are what a since filter may be: a datetime-local input's
// value (minutes or seconds), a date, or an RFC 3339 timestamp. Times
// without a zone are UTC, as the console shows every time.
var sinceLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339}

func (u *UI) eventsPage(r *req) error {
	title, section, path := "Organization events", "org-events", "/console/events"
	if r.realm != "" {
		title, section, path = "Events", "events", "/console/realms/"+url.PathEscape(r.realm)+"/events"
	}
	b, err := r.base(title, section)
	if err != nil {
		return r.fail(err)
	}
	q := r.c.QueryParams()
	v := &eventsView{base: b, Types: eventTypes, Path: path, FilterErrors: fieldErrors{},
		Filter: url.Values{"type": {strings.TrimSpace(q.Get("type"))}, "since": {strings.TrimSpace(q.Get("since"))}}}
	f := realm.EventFilter{Type: v.Filter.Get("type"), Cursor: q.Get("cursor")}
	if f.Type != "" && (len(f.Type) > 64 || !eventTypePattern.MatchString(f.Type)) {
		v.FilterErrors["type"] = "must be an event type such as user.created"
	}
	if s := v.Filter.Get("since"); s != "" {
		t, ok := parseSince(s)
		if ok {
			f.Since = &t
		} else {
			v.FilterErrors["since"] = "must be a date and time such as 2026-01-02T15:04 (UTC)"
		}
	}
	if f.Cursor != "" && !eventCursor.MatchString(f.Cursor) {
		v.FilterErrors["cursor"] = "This page link is broken; the list starts again from the newest event."
		f.Cursor = ""
	}
	v.Filtered = f.Type != "" || f.Since != nil
	status := http.StatusOK
	if len(v.FilterErrors) > 0 {
		// A filter that cannot be applied lists nothing rather than
		// everything: an unfiltered list would look like an answer.
		status = http.StatusBadRequest
		if _, err := u.svc.ListEvents(r.ctx, r.realm, realm.EventFilter{Limit: 1}); err != nil {
			return r.fail(err) // still 404 for a realm out of reach
		}
		return r.render(status, "events.html", v)
	}
	page, err := u.svc.ListEvents(r.ctx, r.realm, f)
	if err != nil {
		return r.fail(err)
	}
	for _, ev := range page.Items {
		row := eventRow{Event: ev, Details: eventDetails(ev.Details)}
		if ev.TargetType == "policy" && r.realm != "" && ev.Type != "policy.deleted" {
			row.Link = policyPath(r.realm, ev.TargetID)
		}
		v.Events = append(v.Events, row)
	}
	if page.NextCursor != "" {
		next := url.Values{"cursor": {page.NextCursor}}
		for _, k := range []string{"type", "since"} {
			if s := v.Filter.Get(k); s != "" {
				next.Set(k, s)
			}
		}
		v.NextURL = path + "?" + next.Encode()
	}
	return r.render(status, "events.html", v)
}

func parseSince(s string) (time.Time, bool) {
	for _, l := range sinceLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// eventDetails is an event's details as key=value pairs in key order:
// strings as they are (quoted when they have spaces or are empty), other
// values as compact JSON.
func eventDetails(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var v string
		switch x := d[k].(type) {
		case string:
			v = x
			if x == "" || strings.ContainsAny(x, " \t\n\"=") {
				v = strconv.Quote(x)
			}
		default:
			b, err := json.Marshal(x)
			if err != nil {
				b = []byte("?")
			}
			v = string(b)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
