package realm

import (
	"context"
	"fmt"
	"slices"

	"github.com/wardiam/ward/attributes"
)

// Users and service-account clients are both "subjects": members of groups
// with a primary group, carrying effective attributes. The rules shared by
// the two live here.

// errLeavePrimary: the primary group decides disagreements between groups,
// so silently losing it would change effective attributes behind the
// admin's back.
var errLeavePrimary = Conflict("primary_group", "this is the primary group; set another primary group first")

// checkGroups validates group IDs for a subject of realmID: each must be a
// group of that realm (an ID of another realm is simply unknown), naming
// "groups[i]" otherwise. Duplicates are folded. It returns the groups found
// and their sorted IDs.
func checkGroups(ctx context.Context, st Store, v *ValidationError, realmID string, ids []string) ([]Group, []string, error) {
	unique := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !slices.Contains(unique, id) {
			unique = append(unique, id)
		}
	}
	var found []Group
	if len(unique) > 0 {
		var err error
		if found, err = st.GetGroups(ctx, realmID, unique); err != nil {
			return nil, nil, err
		}
	}
	known := make(map[string]bool, len(found))
	for _, g := range found {
		known[g.ID] = true
	}
	for i, id := range ids {
		if !known[id] {
			v.Add(fmt.Sprintf("groups[%d]", i), "is not a group of this realm")
		}
	}
	sorted := make([]string, 0, len(found))
	for _, g := range found {
		sorted = append(sorted, g.ID)
	}
	slices.Sort(sorted)
	return found, sorted, nil
}

// checkPrimary: the primary group must be one of the subject's groups.
func checkPrimary(v *ValidationError, primary string, groups []string) {
	if primary != "" && !slices.Contains(groups, primary) {
		v.Add("primary_group", "must be one of the subject's groups")
	}
}

// groupsPatch works out a subject's groups and primary group after a patch
// that may replace the groups and may change the primary group. Dropping the
// current primary group without naming a new one (or "" for none) is a
// conflict.
func groupsPatch(ctx context.Context, st Store, v *ValidationError, realmID string,
	curGroups []string, curPrimary string, newGroups *[]string, newPrimary *string) ([]string, string, error) {
	groups, primary := curGroups, curPrimary
	if newGroups != nil {
		_, ids, err := checkGroups(ctx, st, v, realmID, *newGroups)
		if err != nil {
			return nil, "", err
		}
		groups = ids
	}
	if newPrimary != nil {
		primary = *newPrimary
	} else if newGroups != nil && curPrimary != "" && !slices.Contains(groups, curPrimary) && len(v.Fields) == 0 {
		return nil, "", errLeavePrimary
	}
	checkPrimary(v, primary, groups)
	return groups, primary, nil
}

// subjectClaims loads a subject's groups from st (the transaction's store
// inside one) and merges them (groupClaims): one round trip for the groups,
// one for the definitions, none when the subject has no groups.
func subjectClaims(ctx context.Context, st Store, realmID string, groupIDs []string, primary string) ([]string, map[string]any, error) {
	if len(groupIDs) == 0 {
		return []string{}, map[string]any{}, nil
	}
	groups, err := st.GetGroups(ctx, realmID, groupIDs)
	if err != nil {
		return nil, nil, err
	}
	return groupClaims(ctx, st, realmID, groups, primary)
}

// groupClaims merges groups already loaded (by checkGroups, on creation)
// with the realm's attribute definitions read from st (ClaimsOf).
func groupClaims(ctx context.Context, st Store, realmID string, groups []Group, primary string) ([]string, map[string]any, error) {
	if len(groups) == 0 {
		return []string{}, map[string]any{}, nil
	}
	defs, err := st.ListAttributes(ctx, realmID)
	if err != nil {
		return nil, nil, err
	}
	names, effective := ClaimsOf(defs, groups, primary)
	return names, effective, nil
}

// ClaimsOf is the merge of CONTRACT §3 over stored groups: a subject's group
// names (sorted) and effective attributes, from its groups and the realm's
// attribute definitions, values re-normalized against the current
// definitions. It reads nothing: the token endpoint gets groups and
// definitions in its one query, the services through subjectClaims.
func ClaimsOf(defs []Attribute, groups []Group, primaryGroup string) (groupNames []string, effective map[string]any) {
	if len(groups) == 0 {
		return []string{}, map[string]any{}
	}
	ds := make([]attributes.Definition, len(defs))
	for i, d := range defs {
		ds[i] = d.Definition()
	}
	names := make([]string, len(groups))
	gv := make([]attributes.GroupValues, len(groups))
	for i, g := range groups {
		names[i] = g.Name
		gv[i] = attributes.GroupValues{GroupID: g.ID, Values: attributes.Canonical(ds, g.Attributes)}
	}
	slices.Sort(names)
	return names, attributes.Merge(ds, gv, primaryGroup)
}
