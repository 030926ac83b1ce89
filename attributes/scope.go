package attributes

import "strings"

// dir_scope (CONTRACT §6): a temporary key may act only on resources whose
// "path" (from the loader) one of its patterns covers. "*" appears only
// last and matches any rest of the path.

// isCleanPath reports whether p is an absolute path without empty, "." or
// ".." segments: the only paths dir_scope is matched against, so that
// "/marketing/../finance/x" cannot pass for a path under /marketing/. A
// trailing "/" is allowed.
func isCleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || s == "" && i < len(segs)-1 {
			return false
		}
	}
	return true
}

// isScopePattern reports whether p is a dir_scope pattern: a clean
// absolute path, or one followed by "*" (which matches any rest of a path,
// "/" included, and appears nowhere else).
func isScopePattern(p string) bool {
	prefix, wild := strings.CutSuffix(p, "*")
	if strings.Contains(prefix, "*") {
		return false
	}
	if !wild {
		return isCleanPath(p)
	}
	// The last segment of a wildcard's prefix is a name's beginning, so
	// "/a/.*" (names starting with a dot) is fine; what comes before must
	// be clean.
	dir := prefix[:strings.LastIndex(prefix, "/")+1]
	return strings.HasPrefix(prefix, "/") && isCleanPath(dir)
}

// scopeMatches: "/marketing/*" matches "/marketing/a/b.png" and
// "/marketing/x", not "/marketing" nor "/marketingx"; a pattern without
// "*" matches only itself.
func scopeMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == path
}

// ScopeAllows reports whether subject may reach a resource at path as far
// as dir_scope goes: for a temporary key with a non-empty dir_scope, path
// must be a clean absolute path (no "." or ".." segments, no "//")
// matching one of its patterns; any other subject, or a key without
// dir_scope, is not restricted by path. Decide checks it against the
// resource's "path"; a handler filtering a list for a temporary key can
// ask it per item, beside KeyAllows.
func ScopeAllows(subject map[string]any, path string) bool {
	if !IsTemporaryKey(subject) {
		return true
	}
	var patterns []string
	switch scope := subject["dir_scope"].(type) {
	case nil:
		return true
	case []string:
		patterns = scope
	case []any:
		patterns = make([]string, 0, len(scope))
		for _, p := range scope {
			s, ok := p.(string)
			if !ok {
				return false // not from a verified key: allows nothing
			}
			patterns = append(patterns, s)
		}
	default:
		// A dir_scope of any other type (not from a verified key) allows
		// nothing.
		return false
	}
	if len(patterns) == 0 {
		return true
	}
	if !isCleanPath(path) {
		return false
	}
	for _, p := range patterns {
		if scopeMatches(p, path) {
			return true
		}
	}
	return false
}

// decideTemporaryKey is Decide for a temporary key: its permissions, then
// the resource's path (a string from the loader; missing counts as
// outside a non-empty dir_scope).
func decideTemporaryKey(subject map[string]any, resourceType, action string, resource map[string]any) bool {
	path, _ := resource["path"].(string)
	return KeyAllows(subject, resourceType, action) && ScopeAllows(subject, path)
}
