package attributes

// GroupValues is one group's attribute values, as stored after Normalize.
type GroupValues struct {
	GroupID string
	Values  map[string]any
}

// Merge computes a subject's effective attributes from its groups.
//
// A multi-valued attribute is the sorted, de-duplicated union of every group's
// values. A single-valued attribute is the common value when all groups that
// set it agree; when they disagree, the primary group's value if the primary
// group sets it; otherwise it is left out, so that a policy never sees a value
// the admins did not settle (fail closed).
//
// defs names the attributes that exist; values of attributes not in defs are
// ignored.
func Merge(defs []Definition, groups []GroupValues, primaryGroupID string) map[string]any {
	out := make(map[string]any)
	for _, def := range defs {
		if def.Multi {
			var union []any
			seen := false
			for _, g := range groups {
				v, ok := g.Values[def.Name]
				if !ok {
					continue
				}
				seen = true
				if list, ok := v.([]any); ok {
					union = append(union, list...)
				}
			}
			if seen {
				out[def.Name] = SortedUnique(union)
			}
			continue
		}
		var common any
		agreed, set := true, false
		var primary any
		primarySets := false
		for _, g := range groups {
			v, ok := g.Values[def.Name]
			if !ok {
				continue
			}
			if g.GroupID == primaryGroupID {
				primary, primarySets = v, true
			}
			if !set {
				common, set = v, true
			} else if !equal(common, v) {
				agreed = false
			}
		}
		switch {
		case !set:
		case agreed:
			out[def.Name] = common
		case primarySets:
			out[def.Name] = primary
		}
	}
	return out
}

// Canonical re-normalizes stored values (which come back from JSON as
// json.Number, float64 and []any) against defs, so that Merge compares like
// with like. Values that no longer match their definition, or whose attribute
// is not defined, are dropped: a subject never carries a value the schema
// does not allow.
func Canonical(defs []Definition, values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for _, def := range defs {
		raw, ok := values[def.Name]
		if !ok {
			continue
		}
		if v, err := Normalize(def, raw); err == nil {
			out[def.Name] = v
		}
	}
	return out
}
