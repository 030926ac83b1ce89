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

// effective computes effective attributes for groups already loaded.
func effective(ctx context.Context, st Store, realmID string, groups []Group, primary string) (map[string]any, error) {
	if len(groups) == 0 {
		return map[string]any{}, nil
	}
	defs, err := st.ListAttributes(ctx, realmID)
	if err != nil {
		return nil, err
	}
	_, eff := mergeGroups(defs, groups, primary)
	return eff, nil
}

// effectiveOf loads groupIDs and computes their effective attributes.
func effectiveOf(ctx context.Context, st Store, realmID string, groupIDs []string, primary string) (map[string]any, error) {
	if len(groupIDs) == 0 {
		return map[string]any{}, nil
	}
	groups, err := st.GetGroups(ctx, realmID, groupIDs)
	if err != nil {
		return nil, err
	}
	return effective(ctx, st, realmID, groups, primary)
}

// mergeGroups is the merge of CONTRACT §3 over stored groups: group names
// sorted, values re-normalized against the current definitions, then merged.
func mergeGroups(defs []Attribute, groups []Group, primary string) ([]string, map[string]any) {
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
	return names, attributes.Merge(ds, gv, primary)
}

// SubjectClaims computes a subject's group names and effective attributes
// (no principal needed; used by token issuing). One store round trip for the
// groups, one for the definitions, none when the subject has no groups.
func (s *Service) SubjectClaims(ctx context.Context, realmID string, groupIDs []string, primaryGroup string) (groupNames []string, effective map[string]any, err error) {
	if len(groupIDs) == 0 {
		return []string{}, map[string]any{}, nil
	}
	groups, err := s.store.GetGroups(ctx, realmID, groupIDs)
	if err != nil {
		return nil, nil, err
	}
	defs, err := s.store.ListAttributes(ctx, realmID)
	if err != nil {
		return nil, nil, err
	}
	groupNames, effective = mergeGroups(defs, groups, primaryGroup)
	return groupNames, effective, nil
}

// ClaimsOf computes a subject's group names (sorted) and effective
// attributes from its groups, already loaded, and the realm's attribute
// definitions: what SubjectClaims returns, for callers that read both
// themselves (the token endpoint's one-query path).
func ClaimsOf(defs []Attribute, groups []Group, primaryGroup string) (groupNames []string, effective map[string]any) {
	if len(groups) == 0 {
		return []string{}, map[string]any{}
	}
	return mergeGroups(defs, groups, primaryGroup)
}
