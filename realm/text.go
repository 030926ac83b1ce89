package realm

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Text from outside (issue 13). Every string a caller sends, in a JSON
// body, a query, a form or a path, is checked at the edge before it goes
// anywhere: it must be valid UTF-8 and carry no NUL, no other C0 control
// character and no DEL. PostgreSQL refuses NUL in text (a 500 if it got
// that far), SQLite would store it, and no name, email, ID or token needs
// any of them. Free text that spans lines (descriptions, policy conditions,
// the console's one-per-line lists) may also carry tab, line feed and
// carriage return.

// MaxQueryLen bounds a list's ?q= search, in characters: it is a substring
// of a name or email, and a long one only makes the database work (SQLite
// refuses LIKE patterns past 50,000 bytes).
const MaxQueryLen = 200

// TextProblem reports what makes s unacceptable as text from outside, or ""
// when it is fine. multiline allows tab, line feed and carriage return.
func TextProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	// Control characters are all ASCII, so a byte loop finds them in
	// valid UTF-8 (multi-byte sequences have only bytes >= 0x80).
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == 0:
			return "must not contain NUL characters"
		case multiline && (b == '\t' || b == '\n' || b == '\r'):
		case b < 0x20 || b == 0x7f:
			if multiline {
				return "must not contain control characters other than tab and line breaks"
			}
			return "must not contain control characters (such as line breaks or tabs)"
		}
	}
	return ""
}

// FieldName is how an error names a field or parameter called name: as it
// is, or JSON-quoted when the name itself is not acceptable text, so that
// the answer shows it without passing its bad bytes on.
func FieldName(name string) string {
	if TextProblem(name, false) == "" {
		return name
	}
	b, _ := json.Marshal(name) // never fails for a string; bad UTF-8 becomes U+FFFD
	// json.Marshal escapes every C0 control but leaves DEL as it is.
	return strings.ReplaceAll(string(b), "\x7f", `\u007f`)
}

// CheckValues checks every name and value of a query, form or set of path
// parameters: nil when all are acceptable text, else a *ValidationError
// naming each bad parameter (in sorted order, so the answer is the same
// every time). Parameters named in multiline are free text that may span
// lines.
func CheckValues(vals url.Values, multiline ...string) error {
	bad := false
	for name, vs := range vals {
		if !valuesOK(name, vs, multiline) {
			bad = true
			break
		}
	}
	if !bad {
		return nil // the common case: no sorting, no allocation
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	v := &ValidationError{}
	for _, name := range names {
		if p := TextProblem(name, false); p != "" {
			v.Add(FieldName(name), fmt.Sprintf("is not an acceptable parameter name: it %s", p))
			continue
		}
		ml := slices.Contains(multiline, name)
		for _, s := range vals[name] {
			if p := TextProblem(s, ml); p != "" {
				v.Add(name, p)
				break
			}
		}
	}
	return v
}

func valuesOK(name string, vs []string, multiline []string) bool {
	if TextProblem(name, false) != "" {
		return false
	}
	ml := len(multiline) > 0 && slices.Contains(multiline, name)
	for _, s := range vs {
		if TextProblem(s, ml) != "" {
			return false
		}
	}
	return true
}

// checkQuery bounds a list's search string (pageOptions): every list goes
// through it, whichever edge it came from.
func checkQuery(q string) error {
	if p := TextProblem(q, false); p != "" {
		return Invalid("q", p)
	}
	if utf8.RuneCountInString(q) > MaxQueryLen {
		return Invalid("q", fmt.Sprintf("must be at most %d characters", MaxQueryLen))
	}
	return nil
}

// CheckPath is CheckValues for a route's path parameters, given as the
// router has them: names and values in the same order.
func CheckPath(names, values []string) error {
	var v *ValidationError // made only when something is wrong: every OAuth request comes here
	for i, name := range names {
		if i < len(values) {
			if p := TextProblem(values[i], false); p != "" {
				if v == nil {
					v = &ValidationError{}
				}
				v.Add(name, p)
			}
		}
	}
	if v == nil {
		return nil
	}
	return v
}
