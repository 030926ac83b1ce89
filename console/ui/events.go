package ui

import (
	"bytes"
	"encoding/csv"
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
	e.GET("/console/realms/:realm/events.csv", u.page(u.eventsCSV))
	e.GET("/console/events.csv", u.page(u.eventsCSV))
}

// eventFilterFields are the events page's filters, as query parameters.
var eventFilterFields = []string{"type", "since", "until", "actor_id", "target_id"}

// eventsView is the data of console/events.html, the realm's log or (no
// Realm) the organization's.
type eventsView struct {
	base
	Events       []eventRow
	Types        []realm.EventType
	Path         string
	Filter       url.Values
	FilterErrors fieldErrors
	CursorError  string
	Filtered     bool
	FirstURL     string // the first page with the same filters, on a later page
	NextURL      string
	CSVURL       string // the export of every event the filters keep
}

// eventRow is one event as the table shows it: names where the log has
// IDs, each ID still shown under its name.
type eventRow struct {
	realm.Event
	Details    string // group IDs replaced by names
	RawDetails string // as recorded, when Details differs
	Actor      eventRef
	Target     eventRef
}

// eventRef is an actor or target: what to call it, its console page (none
// when it has none or is gone) and the ID as recorded when Name is not it.
type eventRef struct {
	Kind, Name, Link, ID string
}

var eventTypePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// sinceLayouts are what a since filter may be: a datetime-local input's
// value (minutes or seconds), a date, or an RFC 3339 timestamp. Times
// without a zone are UTC, as the console shows every time.
var sinceLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339}

// listCursor is a paged list's ?cursor=, which the store makes from an ID.
// Anything else is a link cut short or edited: the page says so (problem)
// and lists nothing, rather than quietly showing the first page as if it
// were the one asked for. Events and policies both use it.
func listCursor(r *req) (cursor, problem string) {
	cursor = r.c.QueryParam("cursor")
	if cursor != "" && !cursorPattern.MatchString(cursor) {
		return "", "This page link is broken (its cursor is not one Ward made)."
	}
	return cursor, ""
}

// eventsFilter reads the events page's filters from the query: the view
// with what was asked and what is wrong with it, the filter to list with
// and the filters as a query for links.
func eventsFilter(r *req, v *eventsView) (realm.EventFilter, url.Values) {
	q := r.c.QueryParams()
	v.Filter, v.FilterErrors = url.Values{}, fieldErrors{}
	for _, k := range eventFilterFields {
		v.Filter.Set(k, strings.TrimSpace(q.Get(k)))
	}
	f := realm.EventFilter{Type: realm.EventType(v.Filter.Get("type")), ActorID: v.Filter.Get("actor_id"), TargetID: v.Filter.Get("target_id")}
	f.Cursor, v.CursorError = listCursor(r)
	if f.Type != "" && (len(f.Type) > 64 || !eventTypePattern.MatchString(string(f.Type))) {
		v.FilterErrors["type"] = "must be an event type such as user.created"
	}
	for k, into := range map[string]**time.Time{"since": &f.Since, "until": &f.Until} {
		if s := v.Filter.Get(k); s != "" {
			if t, ok := parseSince(s); ok {
				*into = &t
			} else {
				v.FilterErrors[k] = "must be a date and time such as 2026-01-02T15:04 (UTC)"
			}
		}
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		v.FilterErrors["until"] = "must be later than Since"
	}
	for _, k := range []string{"actor_id", "target_id"} {
		if len(v.Filter.Get(k)) > 200 {
			v.FilterErrors[k] = "must be at most 200 characters: an ID as the events table shows it"
		}
	}
	filters := url.Values{}
	for _, k := range eventFilterFields {
		if s := v.Filter.Get(k); s != "" {
			filters.Set(k, s)
		}
	}
	v.Filtered = len(filters) > 0
	return f, filters
}

func (u *UI) eventsPage(r *req) error {
	title, section, path := "Organization events", "org-events", "/console/events"
	if r.realm != "" {
		title, section, path = "Events", "events", realmPath(r.realm, "events")
	}
	b, err := r.base(title, section)
	if err != nil {
		return r.fail(err)
	}
	v := &eventsView{base: b, Types: realm.EventTypes, Path: path}
	f, filters := eventsFilter(r, v)
	first := path
	if len(filters) > 0 {
		first += "?" + filters.Encode()
	}
	v.CSVURL = path + ".csv"
	if len(filters) > 0 {
		v.CSVURL += "?" + filters.Encode()
	}
	if r.c.QueryParam("cursor") != "" {
		v.FirstURL = first
	}
	if len(v.FilterErrors) > 0 || v.CursorError != "" {
		// A filter or page that cannot be applied lists nothing rather
		// than everything: an unfiltered list would look like an answer.
		if _, err := u.svc.ListEvents(r.ctx, r.realm, realm.EventFilter{Limit: 1}); err != nil {
			return r.fail(err) // still 404 for a realm out of reach
		}
		return r.render(http.StatusBadRequest, "events.html", v)
	}
	page, err := u.svc.ListEvents(r.ctx, r.realm, f)
	if err != nil {
		return r.fail(err)
	}
	names := u.eventNames(r, b.IsOwner, page.Items)
	for _, ev := range page.Items {
		v.Events = append(v.Events, names.row(r.realm, ev))
	}
	if page.NextCursor != "" {
		next := url.Values{"cursor": {page.NextCursor}}
		for k, s := range filters {
			next[k] = s
		}
		v.NextURL = path + "?" + next.Encode()
	}
	return r.render(http.StatusOK, "events.html", v)
}

// maxExportEvents bounds a CSV export: the newest so many events the
// filters keep (a narrower time range reaches older ones).
const maxExportEvents = 10000

// eventsCSV exports the events the page's filters keep as CSV, newest
// first, up to maxExportEvents. Bad filters answer the events page with
// its errors, as the page itself would.
func (u *UI) eventsCSV(r *req) error {
	v := &eventsView{}
	f, _ := eventsFilter(r, v)
	if len(v.FilterErrors) > 0 || f.Cursor != "" || v.CursorError != "" {
		return u.eventsPage(r)
	}
	f.Limit = 200
	var events []realm.Event
	for len(events) < maxExportEvents {
		page, err := u.svc.ListEvents(r.ctx, r.realm, f)
		if err != nil {
			return r.fail(err)
		}
		events = append(events, page.Items...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(events) > maxExportEvents {
		events = events[:maxExportEvents]
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"time", "type", "actor_type", "actor_id", "target_type", "target_id", "details"})
	for _, ev := range events {
		details, err := json.Marshal(ev.Details)
		if err != nil {
			details = []byte("{}")
		}
		_ = w.Write([]string{ev.Time.UTC().Format(time.RFC3339Nano), string(ev.Type), csvCell(ev.ActorType), csvCell(ev.ActorID),
			csvCell(ev.TargetType), csvCell(ev.TargetID), csvCell(string(details))})
	}
	w.Flush()
	name := "ward-events"
	if r.realm != "" {
		name += "-" + r.realm
	}
	h := r.c.Response().Header()
	h.Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	h.Set("Cache-Control", "no-store")
	return r.c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// csvCell keeps a value a spreadsheet would run as a formula (it begins
// with =, +, -, @, tab or carriage return) from running: a leading
// apostrophe makes it text. Event values come partly from outside (emails,
// names, addresses).
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// eventNameLimit bounds each lookup behind the names of a page of events:
// one page of members, of org clients and of groups; an ID beyond them
// shows as the ID.
const eventNameLimit = 200

// eventNames maps the IDs a page of events carries to names, from at most
// one list call each, made only when the page needs it.
type eventNames struct {
	memberByUser map[string]realm.Member // console members by user ID (actors)
	memberByID   map[string]realm.Member // by member ID (targets)
	orgClients   map[string]string       // org admin client_id → name
	groups       map[string]string       // group ID → name
}

func (u *UI) eventNames(r *req, owner bool, events []realm.Event) *eventNames {
	n := &eventNames{}
	var members, clients, groups bool
	for _, ev := range events {
		members = members || ev.ActorType == "member" || ev.TargetType == "member"
		clients = clients || (ev.ActorType == "client" || (r.realm == "" && ev.TargetType == "client"))
		groups = groups || ev.TargetType == "group" || hasGroupDetails(ev.Details)
	}
	// A failed lookup only costs the names: the IDs are still shown.
	if members {
		if p, err := u.svc.ListMembers(r.ctx, realm.ListOptions{Limit: eventNameLimit}); err == nil {
			n.memberByUser, n.memberByID = map[string]realm.Member{}, map[string]realm.Member{}
			for _, m := range p.Items {
				n.memberByUser[m.UserID], n.memberByID[m.ID] = m, m
			}
		}
	}
	// Only owners may list the org's admin clients; others see client_ids.
	if clients && owner {
		if p, err := u.svc.ListOrgClients(r.ctx, realm.ListOptions{Limit: eventNameLimit}); err == nil {
			n.orgClients = map[string]string{}
			for _, c := range p.Items {
				n.orgClients[c.ClientID] = c.Name
			}
		}
	}
	if groups && r.realm != "" {
		if p, err := u.svc.ListGroups(r.ctx, r.realm, realm.ListOptions{Limit: eventNameLimit}); err == nil {
			n.groups = map[string]string{}
			for _, g := range p.Items {
				n.groups[g.ID] = g.Name
			}
		}
	}
	return n
}

// groupDetails are the details that hold group IDs.
var groupDetails = []string{"group_id", "groups", "primary_group"}

func hasGroupDetails(d map[string]any) bool {
	for _, k := range groupDetails {
		if _, ok := d[k]; ok {
			return true
		}
	}
	return false
}

func (n *eventNames) row(realmName string, ev realm.Event) eventRow {
	row := eventRow{Event: ev, Details: eventDetails(ev.Details)}
	if d := n.namedDetails(ev.Details); d != nil {
		if s := eventDetails(d); s != row.Details {
			row.RawDetails, row.Details = row.Details, s
		}
	}
	row.Actor = n.actor(realmName, ev)
	row.Target = n.target(realmName, ev)
	return row
}

// namedDetails is a copy of d with the group IDs it carries as names, nil
// when there is no name to put in.
func (n *eventNames) namedDetails(d map[string]any) map[string]any {
	if n.groups == nil || !hasGroupDetails(d) {
		return nil
	}
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = v
	}
	name := func(v any) any {
		if id, ok := v.(string); ok && n.groups[id] != "" {
			return n.groups[id]
		}
		return v
	}
	for _, k := range groupDetails {
		switch v := d[k].(type) {
		case string:
			out[k] = name(v)
		case []any:
			l := make([]any, len(v))
			for i, x := range v {
				l[i] = name(x)
			}
			out[k] = l
		case []string:
			l := make([]any, len(v))
			for i, x := range v {
				l[i] = name(x)
			}
			out[k] = l
		}
	}
	return out
}

func detailString(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

// ref is a reference named name (the ID when it has none) at link.
func ref(kind, id, name, link string) eventRef {
	r := eventRef{Kind: kind, Name: name, Link: link}
	if name == "" {
		r.Name = id
	}
	if r.Name != id {
		r.ID = id
	}
	return r
}

func (n *eventNames) actor(realmName string, ev realm.Event) eventRef {
	switch ev.ActorType {
	case "system":
		return eventRef{Kind: "system", Name: "Ward"}
	case "member":
		if m, ok := n.memberByUser[ev.ActorID]; ok && m.User != nil {
			return ref("member", ev.ActorID, m.User.Email, "/console/members/"+url.PathEscape(m.ID))
		}
	case "client":
		return ref("client", ev.ActorID, n.orgClients[ev.ActorID], "")
	case "identity_provider":
		// A provider's answer acting (creating or linking a user): its
		// alias is the actor's ID.
		link := ""
		if realmName != "" {
			link = idpPath(realmName, ev.ActorID)
		}
		return ref("identity_provider", ev.ActorID, "", link)
	case "user":
		// A user acting on their own account (setting a password): the
		// event's details name them.
		var name, link string
		if ev.TargetType == "user" && ev.TargetID == ev.ActorID {
			name = detailString(ev.Details, "email")
		}
		if realmName != "" {
			link = userPath(realmName, ev.ActorID)
		}
		return ref("user", ev.ActorID, name, link)
	}
	return ref(ev.ActorType, ev.ActorID, "", "")
}

func (n *eventNames) target(realmName string, ev realm.Event) eventRef {
	id, gone := ev.TargetID, strings.HasSuffix(string(ev.Type), ".deleted")
	link := func(p string) string {
		if gone {
			return "" // its page is gone with it
		}
		return p
	}
	name := detailString(ev.Details, "name")
	inRealm := realmName != ""
	switch ev.TargetType {
	case "user":
		if inRealm {
			return ref("user", id, detailString(ev.Details, "email"), userPath(realmName, id))
		}
	case "group":
		if name == "" {
			name = n.groups[id]
		}
		if inRealm {
			return ref("group", id, name, link(groupPath(realmName, id)))
		}
	case "client":
		// Client events carry the client_id, which is also the address
		// of its console page; org admin clients have no page.
		if inRealm {
			return ref("client", id, name, clientPath(realmName, id))
		}
		if name == "" {
			name = n.orgClients[id]
		}
		return ref("client", id, name, "")
	case "attribute":
		if inRealm {
			return ref("attribute", id, "", link(attributesPath(realmName)+"/"+url.PathEscape(id)))
		}
	case "policy":
		if inRealm {
			return ref("policy", id, name, link(policyPath(realmName, id)))
		}
	case "permission":
		// Its name is its ID and the address of its page.
		if inRealm {
			return ref("permission", id, "", link(permissionPath(realmName, id)))
		}
	case "api_key":
		// Keys are never deleted: the page stays. Named by prefix.
		if inRealm {
			return ref("api_key", id, detailString(ev.Details, "prefix"), apiKeyPath(realmName, id))
		}
	case "security_template":
		// Its page is at its name, which its events carry.
		if inRealm && name != "" {
			return ref("security_template", id, name, link(templatePath(realmName, name)))
		}
	case "identity_provider":
		// Its page is at its alias, which its events carry.
		alias := detailString(ev.Details, "alias")
		if alias == "" {
			alias = detailString(ev.Details, "identity_provider")
		}
		if inRealm && alias != "" {
			return ref("identity_provider", id, alias, link(idpPath(realmName, alias)))
		}
	case "member":
		if m, ok := n.memberByID[id]; ok && m.User != nil {
			name = m.User.Email
		} else {
			name = detailString(ev.Details, "email")
		}
		return ref("member", id, name, link("/console/members/"+url.PathEscape(id)))
	case "realm":
		if name != "" {
			return ref("realm", id, name, link(realmPath(name)))
		}
	}
	return ref(ev.TargetType, id, name, "")
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
