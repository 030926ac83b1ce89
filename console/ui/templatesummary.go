package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wardiam/ward/realm"
)

// templateSummary says in one plain sentence what a key minted from t may
// do: "Upload to /marketing/* for 20 min, 60 requests a minute (10 per
// address), from 203.0.113.0/24, in DE, FR". It is a reading aid beside
// the template's fields, never a replacement: it says only what the
// fields say. The verb comes from the permissions when they are all
// actions it knows on one resource type; otherwise the permissions are
// listed as they are, all of them. Long lists of paths, ranges and
// countries are cut after summaryListMax items, saying how many more there
// are.
func templateSummary(t realm.SecurityTemplate) string {
	verbs, prep := permissionVerbs(t.Permissions)
	var b strings.Builder
	b.WriteString(verbs)
	if len(t.DirScope) == 0 {
		b.WriteString(" on any path")
	} else {
		b.WriteString(" " + prep + " " + summaryList(t.DirScope, "path", "paths"))
	}
	b.WriteString(" for " + ttlWords(t.TTLSeconds) + ", " + limitWords(t.LimitPerMinute, t.LimitPerSourceIPPerMinute))
	if len(t.IPRanges) > 0 {
		b.WriteString(", from " + summaryList(t.IPRanges, "range", "ranges"))
	}
	if len(t.Countries) > 0 {
		b.WriteString(", in " + summaryList(t.Countries, "country", "countries"))
	}
	return b.String()
}

type actionVerb struct{ action, verb, prep string }

// actionVerbs are the actions the summary has a word for, in the order
// the words are said, with the preposition that goes before the paths a
// key may do them in ("upload to", "read from", "create in").
var actionVerbs = []actionVerb{
	{"read", "read", "from"},
	{"list", "list", "from"},
	{"download", "download", "from"},
	{"upload", "upload", "to"},
	{"create", "create", "in"},
	{"write", "change", "in"},
	{"update", "change", "in"},
	{"delete", "delete", "in"},
	{"share", "share", "in"},
}

// permissionVerbs turns the permissions into a verb phrase ("Read and
// upload") and the preposition for the paths: "to" or "from" when every
// verb takes it, "in" otherwise. Creating an asset is uploading it (the
// resource servers Ward is made for store files), so asset:create reads
// "upload". Permissions of several resource types, or an action without a
// word here, are listed instead, every one of them (they are what a key
// may do): "Use asset:approve, asset:read". Another resource type than
// asset is named: "Read reports".
func permissionVerbs(perms []string) (phrase, prep string) {
	if len(perms) == 0 {
		return "Do nothing", "in"
	}
	var words []string
	var preps []string
	typ0, _, _ := strings.Cut(perms[0], ":")
	known := true
	order := make([]int, 0, len(perms))
	for _, p := range perms {
		typ, action, _ := strings.Cut(p, ":")
		if typ == "asset" && action == "create" {
			action = "upload"
		}
		i := slices.IndexFunc(actionVerbs, func(a actionVerb) bool { return a.action == action })
		if typ != typ0 || i < 0 {
			known = false
			break
		}
		order = append(order, i)
	}
	if !known {
		return "Use " + strings.Join(perms, ", "), "in"
	}
	slices.Sort(order)
	for _, i := range order {
		a := actionVerbs[i]
		if !slices.Contains(words, a.verb) {
			words = append(words, a.verb)
		}
		if !slices.Contains(preps, a.prep) {
			preps = append(preps, a.prep)
		}
	}
	prep = "in"
	if len(preps) == 1 {
		prep = preps[0]
	}
	phrase = andList(words)
	if typ0 != "asset" {
		phrase += " " + pluralType(typ0)
	}
	return strings.ToUpper(phrase[:1]) + phrase[1:], prep
}

// pluralType names a resource type's objects: "report" → "reports",
// "policy" → "policies" (asset, Ward's own, goes unnamed).
func pluralType(typ string) string {
	typ = strings.ReplaceAll(typ, "_", " ")
	switch {
	case strings.HasSuffix(typ, "y") && !strings.HasSuffix(typ, "ey"):
		return typ[:len(typ)-1] + "ies"
	case strings.HasSuffix(typ, "s") || strings.HasSuffix(typ, "x") || strings.HasSuffix(typ, "ch") || strings.HasSuffix(typ, "sh"):
		return typ + "es"
	}
	return typ + "s"
}

// andList joins words as a sentence does: "a", "a and b", "a, b and c".
func andList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// summaryListMax is how many items of a list the summary names.
const summaryListMax = 3

// summaryList names a list's items, comma separated, the first
// summaryListMax of a longer one with how many more there are: "DE, FR, IT
// and 2 more countries".
func summaryList(items []string, one, many string) string {
	if len(items) <= summaryListMax {
		return strings.Join(items, ", ")
	}
	more := len(items) - summaryListMax
	return fmt.Sprintf("%s and %d more %s", strings.Join(items[:summaryListMax], ", "), more, plural(more, one, many))
}

// ttlWords is a key's lifetime as people say it: "2 hours", "20 min",
// "90 seconds" (a lifetime that is not whole minutes is said exactly).
func ttlWords(seconds int) string {
	switch {
	case seconds > 0 && seconds%3600 == 0:
		h := seconds / 3600
		return fmt.Sprintf("%d %s", h, plural(h, "hour", "hours"))
	case seconds > 0 && seconds%60 == 0:
		return fmt.Sprintf("%d min", seconds/60)
	}
	return fmt.Sprintf("%d %s", seconds, plural(seconds, "second", "seconds"))
}

// limitWords says the two per-minute limits: "60 requests a minute (10
// per address)", "10 requests a minute per address", "no request limit".
func limitWords(total, perIP *int) string {
	requests := func(n int) string { return fmt.Sprintf("%d %s a minute", n, plural(n, "request", "requests")) }
	switch {
	case total != nil && perIP != nil:
		return fmt.Sprintf("%s (%d per address)", requests(*total), *perIP)
	case total != nil:
		return requests(*total)
	case perIP != nil:
		return requests(*perIP) + " per address"
	}
	return "no request limit"
}
