package ui

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// Pieces shared by the screens of subjects (users and service accounts):
// every group of the realm for their group checkboxes, their effective
// attributes as text, and the service's per-item errors moved onto the
// form's fields.

// groupPageSize is how many groups one ListGroups call asks for: the
// service's largest page. allGroups reads as many pages as the realm has,
// so a realm with more groups than this still offers every one.
const groupPageSize = 200

// allGroups is every group of the realm (the group checkboxes and the
// primary group menu) and their names by ID. Every group, not a first
// page: the forms send the full list of a subject's groups, so a group
// left off the form would be dropped from the subject when it is saved.
func (u *UI) allGroups(r *req) ([]realm.Group, map[string]string, error) {
	var out []realm.Group
	cursor := ""
	for {
		p, err := u.svc.ListGroups(r.ctx, r.realm, realm.ListOptions{Limit: groupPageSize, Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	names := make(map[string]string, len(out))
	for _, g := range out {
		names[g.ID] = g.Name
	}
	return out, names, nil
}

// attrRow is one attribute's value as a page shows it: Values as text (a
// list for a multi-valued attribute, even a short or empty one).
type attrRow struct {
	Name   string
	Type   attributes.Type
	Multi  bool
	Values []string
}

// attrRows are values by attribute name (effective attributes), sorted by
// name, formatted by valueText so that a number or date reads the same on
// every page (and as the group form takes it back).
func attrRows(defs []realm.Attribute, values map[string]any) []attrRow {
	byName := make(map[string]realm.Attribute, len(defs))
	for _, d := range defs {
		byName[d.Name] = d
	}
	out := make([]attrRow, 0, len(values))
	for name, v := range values {
		d := byName[name]
		row := attrRow{Name: name, Type: d.Type, Multi: d.Multi}
		if list, ok := v.([]any); ok {
			row.Multi = true
			row.Values = make([]string, 0, len(list))
			for _, x := range list {
				row.Values = append(row.Values, valueText(x))
			}
		} else {
			row.Values = []string{valueText(v)}
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// indexedField matches the service's field name for one item of a list
// ("redirect_uris[2]", "groups[0]").
var indexedField = regexp.MustCompile(`^([a-z_]+)\[(\d+)\]$`)

// foldIndexed moves the service's per-item errors onto the form's fields:
// lists are textareas (one item per line), so "redirect_uris[1]" becomes
// the redirect_uris field saying which line; groups are a set of
// checkboxes with no order the admin sees, so "groups[0]" becomes the
// groups fieldset. The first error of a field (in name order) wins.
func foldIndexed(fe fieldErrors) fieldErrors {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	// The first bad line is the one shown: order by field, then by line
	// number (as text, "x[10]" would come before "x[2]").
	slices.SortFunc(keys, func(a, b string) int {
		fa, na := splitIndexed(a)
		fb, nb := splitIndexed(b)
		if c := strings.Compare(fa, fb); c != 0 {
			return c
		}
		return na - nb
	})
	out := fieldErrors{}
	for _, k := range keys {
		field, msg := k, fe[k]
		if m := indexedField.FindStringSubmatch(k); m != nil {
			n, _ := strconv.Atoi(m[2])
			field = m[1]
			if field == "groups" {
				msg = "a chosen group " + msg
			} else {
				msg = fmt.Sprintf("line %d %s", n+1, msg)
			}
		}
		if _, dup := out[field]; !dup {
			out[field] = msg
		}
	}
	return out
}

// splitIndexed splits "redirect_uris[3]" into its field and index (-1 for
// a field without one).
func splitIndexed(k string) (string, int) {
	if m := indexedField.FindStringSubmatch(k); m != nil {
		n, _ := strconv.Atoi(m[2])
		return m[1], n
	}
	return k, -1
}

// refusedForm is refused with the service's per-item errors folded onto
// the form's fields (foldIndexed).
func refusedForm(err error) (fieldErrors, int, bool) {
	fe, status, ok := refused(err)
	if !ok {
		return nil, 0, false
	}
	return foldIndexed(fe), status, true
}
