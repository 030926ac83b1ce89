package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// The groups screen: list + search + create, and per group its attribute
// values (edited by type), its members and its deletion (behind a
// confirmation page: deleting drops every membership and so changes the
// members' effective attributes).
//
// Attribute values travel in the form under the service's own field names,
// "attributes.NAME", so that the service's field errors land next to the
// right input without renaming:
//   - single string, integer, number, date: one input named attributes.NAME;
//     empty means "not set".
//   - boolean: a radio group "Not set / True / False" in a fieldset,
//     one name attributes.NAME with the values "", "true" and "false".
//     The issue asks for a checkbox, but a checkbox has two states and an
//     attribute has three (unset, true, false): a plain checkbox could
//     never say "not set", and a pair of checkboxes ("has a value" + "is
//     true") made admins read a sentence to decide and needed a script to
//     keep the two in step. Three radios are the honest three-state
//     control: every state is visible, labelled and reachable by keyboard,
//     with no script. (A select would hide the value behind a menu.)
//   - multi-valued (any type): chips. Each value the page starts with is a
//     ticked checkbox named attributes.NAME, so that unticking removes it
//     without JavaScript; console.js turns each into the same chip it
//     builds for a typed value (the value in a hidden input, the text in a
//     span, a remove button), so with script a click on a chip's text
//     changes nothing and what is shown is what is sent. The text input
//     attributes.NAME.new takes further values separated by commas; it has
//     its own name so that a stored value containing a comma is not split
//     when the form is sent back. Dates are typed here as YYYY-MM-DD text
//     (a date picker takes one value; the hint says the format).
// Values are converted to the types realm.Service expects from JSON (see
// console/handlers_realm.go: decoded with UseNumber) and the service
// validates them, exactly as for the admin API.

func (u *UI) registerGroups(e *echo.Echo) {
	e.GET("/console/realms/:realm/groups", u.page(u.groupsPage))
	e.POST("/console/realms/:realm/groups", u.page(u.createGroup))
	e.GET("/console/realms/:realm/groups/:id", u.page(u.groupPage))
	e.POST("/console/realms/:realm/groups/:id", u.page(u.updateGroup))
	e.GET("/console/realms/:realm/groups/:id/delete", u.page(u.confirmDeleteGroup))
	e.POST("/console/realms/:realm/groups/:id/delete", u.page(u.deleteGroup))
	e.POST("/console/realms/:realm/groups/:id/members/add", u.page(u.addGroupMember))
	e.POST("/console/realms/:realm/groups/:id/members/remove", u.page(u.removeGroupMember))
}

// attrField is one attribute's input (or read-only value) on a group form.
type attrField struct {
	Def   realm.Attribute
	ID    string // the input's id
	Key   string // the form field name, "attributes.NAME"
	Input string // input type of a single value: text, number, date
	Step  string // step of a number input
	Hint  string
	// Single value (not boolean): what is in the input.
	Value string
	// Boolean: which radio is checked: "", "true" or "false".
	Bool string
	// Multi-valued: the chips, and the text typed after them.
	Values []string
	Text   string
	Error  string
}

// groupValue is a group's stored value of one attribute, for display.
type groupValue struct {
	Name   string
	Type   attributes.Type
	Multi  bool
	Values []string
}

// groupRow is a group in the list with its values shown.
type groupRow struct {
	G      realm.Group
	Values []groupValue
}

// groupsView is the data of console/groups.html.
type groupsView struct {
	base
	Groups []groupRow
	Next   string
	Paged  bool // a later page: the pager links back to the first
	Q      string
	Fields []attrField
}

func (u *UI) groupsPage(r *req) error { return u.showGroups(r, http.StatusOK, nil, nil) }

func (u *UI) showGroups(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Groups", "groups")
	if err != nil {
		return r.fail(err)
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	q := strings.TrimSpace(r.c.QueryParam("q"))
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	page, err := u.svc.ListGroups(r.ctx, r.realm, realm.ListOptions{Query: q, Cursor: cursor})
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		// A new group is never made anyone's primary group by a sign-in
		// unless the admin says so.
		b.Form.Set("idp_primary_priority", "0")
	}
	v := &groupsView{base: b, Next: page.NextCursor, Paged: r.c.QueryParam("cursor") != "", Q: q, Fields: attrFields(defs, b.Form, b.Errors)}
	for _, g := range page.Items {
		v.Groups = append(v.Groups, groupRow{G: g, Values: groupValues(defs, g.Attributes)})
	}
	return r.render(status, "groups.html", v)
}

func (u *UI) createGroup(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	priority, fe := priorityForm(f)
	if fe != nil {
		return u.showGroups(r, http.StatusBadRequest, f, fe)
	}
	g, err := u.svc.CreateGroup(r.ctx, r.realm, realm.GroupInput{
		Name: strings.TrimSpace(f.Get("name")), Description: f.Get("description"), Attributes: formAttributes(defs, f),
		IPAllowList: allowListForm(f, "ip_allow_list"), IDPPrimaryPriority: priority,
	})
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showGroups(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, groupPath(r.realm, g.ID), "Group "+g.Name+" created.")
}

// groupView is the data of console/group.html, the group's page and, with
// ConfirmDelete, the page that confirms its deletion.
type groupView struct {
	base
	G           *realm.Group
	Values      []groupValue
	Fields      []attrField
	Members     []realm.GroupMember
	MemberQuery string // the members list's search
	// Member list pages, with the same search ("" when none).
	FirstURL, PrevURL, NextURL string
	// UserMembers counts the group's users (service accounts are few).
	UserMembers int
	// AddQuery is the search for users and service accounts to add;
	// Candidates are what it found that are not members yet.
	AddQuery      string
	Candidates    []realm.GroupMember
	MoreFound     bool // the search found more than it shows
	ConfirmDelete bool
}

// candidateLimit bounds how many users (and as many service accounts) an
// add-members search shows: a narrower search finds the rest.
const candidateLimit = 20

func (u *UI) groupPage(r *req) error { return u.showGroup(r, http.StatusOK, nil, nil, false) }

func (u *UI) confirmDeleteGroup(r *req) error { return u.showGroup(r, http.StatusOK, nil, nil, true) }

func (u *UI) showGroup(r *req, status int, f url.Values, fe fieldErrors, confirm bool) error {
	g, err := u.svc.GetGroup(r.ctx, r.realm, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	title := "Group " + g.Name
	if confirm {
		title = "Delete group " + g.Name
	}
	b, err := r.base(title, "groups")
	if err != nil {
		return r.fail(err)
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	back, err := backCursors(r.c.QueryParam("back"))
	if err != nil {
		return r.fail(err)
	}
	mq := strings.TrimSpace(r.c.QueryParam("mq"))
	members, err := u.svc.ListGroupMembers(r.ctx, r.realm, g.ID, realm.ListOptions{Cursor: cursor, Query: mq})
	if err != nil {
		return r.fail(err)
	}
	users, err := u.svc.SearchUsers(r.ctx, r.realm, realm.UserSearch{GroupID: g.ID, ListOptions: realm.ListOptions{Limit: 1}})
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form = groupForm(defs, g)
	}
	v := &groupView{base: b, G: g, Values: groupValues(defs, g.Attributes),
		Fields: attrFields(defs, b.Form, b.Errors), Members: members.Items, MemberQuery: mq, ConfirmDelete: confirm,
		AddQuery: strings.TrimSpace(r.c.QueryParam("add")), UserMembers: users.Total}
	filters := url.Values{}
	if mq != "" {
		filters.Set("mq", mq)
	}
	v.FirstURL, v.PrevURL, v.NextURL = pageLinks(groupPath(r.realm, g.ID), filters, cursor, back, members.NextCursor)
	if v.AddQuery != "" && b.CanWrite {
		if v.Candidates, v.MoreFound, err = u.memberCandidates(r, g.ID, v.AddQuery); err != nil {
			return r.fail(err)
		}
	}
	return r.render(status, "group.html", v)
}

// memberCandidates finds the users (by email or name) and service accounts
// (by name or client_id) matching q that are not in the group yet.
func (u *UI) memberCandidates(r *req, groupID, q string) ([]realm.GroupMember, bool, error) {
	var out []realm.GroupMember
	more := false
	users, err := u.svc.SearchUsers(r.ctx, r.realm, realm.UserSearch{ListOptions: realm.ListOptions{Query: q, Limit: candidateLimit}})
	if err != nil {
		return nil, false, err
	}
	more = more || users.NextCursor != ""
	for _, x := range users.Items {
		if !slices.Contains(x.Groups, groupID) {
			out = append(out, realm.GroupMember{Kind: "user", ID: x.ID, Name: strings.TrimSpace(x.FirstName + " " + x.LastName + " <" + x.Email + ">")})
		}
	}
	clients, err := u.svc.ListClients(r.ctx, r.realm, realm.ListOptions{Query: q, Limit: candidateLimit})
	if err != nil {
		return nil, false, err
	}
	more = more || clients.NextCursor != ""
	for _, c := range clients.Items {
		if c.Kind == realm.KindServiceAccount && !slices.Contains(c.Groups, groupID) {
			out = append(out, realm.GroupMember{Kind: "client", ID: c.ID, ClientID: c.ClientID, Name: c.Name})
		}
	}
	return out, more, nil
}

// addGroupMember and removeGroupMember put a user or service account in
// the group or take it out, from the group's page.
func (u *UI) addGroupMember(r *req) error    { return u.changeGroupMember(r, true) }
func (u *UI) removeGroupMember(r *req) error { return u.changeGroupMember(r, false) }

func (u *UI) changeGroupMember(r *req, add bool) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	groupID, kind, id, name := r.c.Param("id"), f.Get("kind"), f.Get("member"), f.Get("name")
	switch {
	case kind == "user" && add:
		_, err = u.svc.AddUserToGroup(r.ctx, r.realm, id, groupID)
	case kind == "user":
		_, err = u.svc.RemoveUserFromGroup(r.ctx, r.realm, id, groupID)
	case kind == "client" && add:
		_, err = u.svc.AddClientToGroup(r.ctx, r.realm, id, groupID)
	case kind == "client":
		_, err = u.svc.RemoveClientFromGroup(r.ctx, r.realm, id, groupID)
	default:
		err = realm.Invalid("kind", "must be user or client")
	}
	if err != nil {
		if fe, status, ok := refusedForm(err); ok {
			// Such as a member whose primary group this is: said on the
			// group's page, at the members.
			msg := ""
			for _, m := range fe {
				msg = m
			}
			return u.showGroup(r, status, nil, fieldErrors{"members": name + ": " + msg}, false)
		}
		return r.fail(err)
	}
	back := groupPath(r.realm, groupID) + "#group-members"
	if add {
		if q := f.Get("add"); q != "" {
			back = groupPath(r.realm, groupID) + "?" + url.Values{"add": {q}}.Encode() + "#add-members"
		}
		return r.done(f, back, name+" added to the group.")
	}
	return r.done(f, back, name+" removed from the group.")
}

func (u *UI) updateGroup(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	defs, err := u.svc.ListAttributes(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	name, desc := strings.TrimSpace(f.Get("name")), f.Get("description")
	values := formAttributes(defs, f)
	if values == nil {
		// A non-nil map replaces every value: an attribute left "not
		// set" in the form is removed from the group.
		values = map[string]any{}
	}
	ipList := allowListForm(f, "ip_allow_list")
	patch := realm.GroupPatch{Name: &name, Description: &desc, Attributes: values, IPAllowList: &ipList}
	if f.Has("idp_primary_priority") { // the edit form always sends it
		priority, fe := priorityForm(f)
		if fe != nil {
			return u.showGroup(r, http.StatusBadRequest, f, fe, false)
		}
		patch.IDPPrimaryPriority = &priority
	}
	g, err := u.svc.UpdateGroup(r.ctx, r.realm, r.c.Param("id"), patch)
	if err != nil {
		// refusedForm: an allow list's bad line (ip_allow_list[i]) is
		// "line N …" at its textarea.
		if fe, status, ok := refusedForm(err); ok {
			return u.showGroup(r, status, f, fe, false)
		}
		return r.fail(err)
	}
	return r.done(f, groupPath(r.realm, g.ID), "Group "+g.Name+" saved.")
}

func (u *UI) deleteGroup(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	id := r.c.Param("id")
	g, err := u.svc.GetGroup(r.ctx, r.realm, id)
	if err != nil {
		return r.fail(err)
	}
	if err := u.svc.DeleteGroup(r.ctx, r.realm, id); err != nil {
		if fe, status, ok := refused(err); ok {
			// The refusal (the group is someone's primary group) is
			// about the group, not a field of the form.
			if msg, ok := fe["id"]; ok {
				delete(fe, "id")
				fe[""] = "The group was not deleted: " + msg + "."
			}
			return u.showGroup(r, status, f, fe, true)
		}
		return r.fail(err)
	}
	return r.done(f, groupsPath(r.realm), "Group "+g.Name+" deleted.")
}

// priorityForm reads a group form's idp_primary_priority, the group's
// rank when a sign-in through an identity provider picks the primary
// group (CONTRACT §9): empty is 0 (never). Only the reading of the number
// is the console's: its range is the service's rule, and the service
// names idp_primary_priority when it refuses it.
func priorityForm(f url.Values) (int, fieldErrors) {
	s := strings.TrimSpace(f.Get("idp_primary_priority"))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fieldErrors{"idp_primary_priority": "must be a whole number from 0 to " + strconv.Itoa(realm.MaxIdPPrimaryPriority)}
	}
	return n, nil
}

// attrFields builds one input per attribute defined in the realm, filled
// from f (a submitted form, or the group's values in form shape).
func attrFields(defs []realm.Attribute, f url.Values, fe fieldErrors) []attrField {
	out := make([]attrField, 0, len(defs))
	for _, d := range defs {
		a := attrField{Def: d, ID: "attr-" + d.Name, Key: "attributes." + d.Name, Input: "text", Error: fe["attributes."+d.Name]}
		switch d.Type {
		case attributes.Integer:
			a.Input, a.Step, a.Hint = "number", "1", "A whole number."
		case attributes.Number:
			a.Input, a.Step, a.Hint = "number", "any", "A number; a dot for decimals."
		case attributes.Date:
			// The picker shows the date in the browser's locale, so the
			// hint names no format (the input sends YYYY-MM-DD anyway).
			a.Input, a.Hint = "date", "Pick a date"
		}
		switch {
		case d.Multi:
			a.Values = nonEmpty(f[a.Key])
			a.Text = f.Get(a.Key + ".new")
			if d.Type == attributes.Date {
				// Typed as text: the format must be said.
				a.Hint = "Several dates, each as YYYY-MM-DD (for example 2026-03-01): press Enter or type a comma after each one."
			} else {
				a.Hint = "Several " + string(d.Type) + " values: press Enter or type a comma after each one."
			}
		case d.Type == attributes.Boolean:
			switch v := f.Get(a.Key); v {
			case "true", "false":
				a.Bool = v
			}
		default:
			a.Value = f.Get(a.Key)
			switch {
			case d.Type == attributes.Date:
				a.Hint += "; leave empty for no value."
			case a.Hint != "":
				a.Hint += " Leave empty for no value."
			default:
				a.Hint = "Leave empty for no value."
			}
		}
		out = append(out, a)
	}
	return out
}

// groupForm is a group's values in the shape of a submitted form, for the
// edit form of a fresh page.
func groupForm(defs []realm.Attribute, g *realm.Group) url.Values {
	f := url.Values{}
	f.Set("name", g.Name)
	f.Set("description", g.Description)
	f.Set("ip_allow_list", strings.Join(g.IPAllowList, "\n"))
	f.Set("idp_primary_priority", strconv.Itoa(g.IDPPrimaryPriority))
	for _, v := range groupValues(defs, g.Attributes) {
		key := "attributes." + v.Name
		f[key] = v.Values
	}
	return f
}

// formAttributes converts the attribute inputs of f into the values
// realm.Service takes (what the JSON API would decode): a nil entry is
// "not set". Text that is not of the attribute's type is passed on as a
// string, so that the service refuses it with its usual message.
func formAttributes(defs []realm.Attribute, f url.Values) map[string]any {
	if len(defs) == 0 {
		return nil
	}
	out := make(map[string]any, len(defs))
	for _, d := range defs {
		key := "attributes." + d.Name
		switch {
		case d.Multi:
			vals := nonEmpty(f[key])
			for _, s := range strings.Split(f.Get(key+".new"), ",") {
				if s = strings.TrimSpace(s); s != "" {
					vals = append(vals, s)
				}
			}
			if len(vals) == 0 {
				out[d.Name] = nil
				continue
			}
			list := make([]any, len(vals))
			for i, s := range vals {
				list[i] = typed(d.Type, s)
			}
			out[d.Name] = list
		case d.Type == attributes.Boolean:
			// "" (Not set) or a missing field unsets it; anything but
			// "true"/"false" goes to the service as text to be refused.
			if s := f.Get(key); s == "" {
				out[d.Name] = nil
			} else {
				out[d.Name] = typed(d.Type, s)
			}
		default:
			s := strings.TrimSpace(f.Get(key))
			if s == "" {
				out[d.Name] = nil
			} else {
				out[d.Name] = typed(d.Type, s)
			}
		}
	}
	return out
}

// typed converts one form value to its JSON-decoded form: numbers as
// json.Number (only when the text is a JSON number: "0x10" or "Inf" must
// not slip through strconv), booleans as bool, the rest as strings.
func typed(t attributes.Type, s string) any {
	switch t {
	case attributes.Integer, attributes.Number:
		if isJSONNumber(s) {
			return json.Number(s)
		}
	case attributes.Boolean:
		if s == "true" || s == "false" {
			return s == "true"
		}
	}
	return s
}

func isJSONNumber(s string) bool {
	var n json.Number
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return false
	}
	return d.InputOffset() == int64(len(s)) && s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
}

// groupValues are a group's values by attribute name, as text.
func groupValues(defs []realm.Attribute, values map[string]any) []groupValue {
	byName := make(map[string]realm.Attribute, len(defs))
	for _, d := range defs {
		byName[d.Name] = d
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]groupValue, 0, len(names))
	for _, name := range names {
		d := byName[name]
		gv := groupValue{Name: name, Type: d.Type, Multi: d.Multi}
		if list, ok := values[name].([]any); ok {
			gv.Multi = true
			for _, x := range list {
				gv.Values = append(gv.Values, valueText(x))
			}
		} else {
			gv.Values = []string{valueText(values[name])}
		}
		out = append(out, gv)
	}
	return out
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		// JSON's notation: what a number input accepts back.
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func groupsPath(realmName string) string {
	return realmPath(realmName, "groups")
}

func groupPath(realmName, id string) string {
	return realmPath(realmName, "groups", id)
}
