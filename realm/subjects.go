package realm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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

// checkPrimary: the primary group must be one of the subject's groups;
// who names the subject in the message ("user", "client").
func checkPrimary(v *ValidationError, who, primary string, groups []string) {
	if primary != "" && !slices.Contains(groups, primary) {
		v.Add("primary_group", "must be one of the "+who+"'s groups")
	}
}

// groupsPatch works out a subject's groups and primary group after a patch
// that may replace the groups and may change the primary group. Dropping the
// current primary group without naming a new one (or "" for none) is a
// conflict.
func groupsPatch(ctx context.Context, st Store, v *ValidationError, who, realmID string,
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
	checkPrimary(v, who, primary, groups)
	if len(v.Fields) == 0 && (!slices.Equal(groups, curGroups) || primary != curPrimary) {
		field := "groups"
		if newGroups == nil {
			field = "primary_group"
		}
		names, eff, err := subjectClaims(ctx, st, realmID, groups, primary)
		if err != nil {
			return nil, "", err
		}
		if n := claimsBytes(names, eff); n > MaxClaimsBytes {
			v.Add(field, subjectTooLarge(n))
		}
	}
	return groups, primary, nil
}

// MaxClaimsBytes bounds a subject's groups and effective attributes as its
// access token carries them: the bytes of {"attributes":…,"groups":…} in
// the token's JSON. With the token's other claims (issuer, audience,
// names, email: a few KiB at most) and base64url, a token stays under
// 16 KiB, well within HTTP header limits and what Ward's introspection
// reads. Every admin change that could make a subject's claims grow
// checks it: group values and names, memberships, primary groups.
const MaxClaimsBytes = 8 << 10

// claimsBytes is the size of a subject's groups and effective attributes
// in its token (encoding/json's bytes, which the token encoder matches).
func claimsBytes(groups []string, attrs map[string]any) int {
	b, err := json.Marshal(struct {
		Attributes map[string]any `json:"attributes"`
		Groups     []string       `json:"groups"`
	}{attrs, groups})
	if err != nil {
		return math.MaxInt // fail closed: normalized values always encode
	}
	return len(b)
}

func subjectTooLarge(n int) string {
	return fmt.Sprintf("would give the subject's access token %d bytes of groups and effective attributes; the limit is %d",
		n, MaxClaimsBytes)
}

// checkClaimsFit is the bound for claims already merged (a subject being
// created, whose groups were just read): 400 naming field.
func checkClaimsFit(field string, groups []string, attrs map[string]any) error {
	if n := claimsBytes(groups, attrs); n > MaxClaimsBytes {
		return Invalid(field, subjectTooLarge(n))
	}
	return nil
}

// checkMemberClaims is the bound for a subject joining or leaving a group
// (leaving can grow the claims too: a single-valued attribute on which
// the groups disagreed may then be settled). The request itself is fine;
// the subject's other groups make it too much, hence 409 naming groups.
func checkMemberClaims(ctx context.Context, st Store, realmID string, groupIDs []string, primary string) error {
	names, eff, err := subjectClaims(ctx, st, realmID, groupIDs, primary)
	if err != nil {
		return err
	}
	if n := claimsBytes(names, eff); n > MaxClaimsBytes {
		return Conflict("groups", subjectTooLarge(n))
	}
	return nil
}

// checkGroupClaims is the bound after a group's name or values changed (g
// as now written in the transaction st): the group alone must fit in a
// member's token (400), and so must the claims of every member, merged
// with their other groups (409: other objects take part). Members sharing
// their groups and primary group share their claims, so the cost is one
// merge per distinct combination among the members (ListMemberGroupings)
// and one read of the groups involved.
func checkGroupClaims(ctx context.Context, st Store, g *Group, field string) error {
	defs, err := st.ListAttributes(ctx, g.RealmID)
	if err != nil {
		return err
	}
	names, eff := ClaimsOf(defs, []Group{*g}, g.ID)
	if n := claimsBytes(names, eff); n > MaxClaimsBytes {
		return Invalid(field, fmt.Sprintf("would give a member's access token %d bytes of groups and effective attributes "+
			"from this group alone; the limit is %d", n, MaxClaimsBytes))
	}
	groupings, err := st.ListMemberGroupings(ctx, g.RealmID, g.ID)
	if err != nil {
		return err
	}
	return checkGroupings(ctx, st, defs, g.RealmID, groupings, field)
}

// maxGroupsPerRead bounds the IDs of one GetGroups call (an IN list), far
// below what SQLite and PostgreSQL accept as parameters.
const maxGroupsPerRead = 500

// checkGroupings merges each combination of groups as it stands in st (a
// group no longer there simply drops out) and refuses, with a conflict
// naming field, the first whose claims exceed MaxClaimsBytes.
func checkGroupings(ctx context.Context, st Store, defs []Attribute, realmID string, groupings []SubjectGroups, field string) error {
	var ids []string
	seen := map[string]bool{}
	for _, sg := range groupings {
		for _, id := range sg.Groups {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	byID := make(map[string]Group, len(ids))
	for chunk := range slices.Chunk(ids, maxGroupsPerRead) {
		found, err := st.GetGroups(ctx, realmID, chunk)
		if err != nil {
			return err
		}
		for _, g := range found {
			byID[g.ID] = g
		}
	}
	for _, sg := range groupings {
		groups := make([]Group, 0, len(sg.Groups))
		for _, id := range sg.Groups {
			if g, ok := byID[id]; ok {
				groups = append(groups, g)
			}
		}
		names, eff := ClaimsOf(defs, groups, sg.PrimaryGroup)
		if n := claimsBytes(names, eff); n > MaxClaimsBytes {
			return Conflict(field, fmt.Sprintf("would give the access token of %s %s (and of any member with the same groups) "+
				"%d bytes of groups and effective attributes; the limit is %d", sg.Kind, sg.ID, n, MaxClaimsBytes))
		}
	}
	return nil
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
