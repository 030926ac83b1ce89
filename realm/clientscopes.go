package realm

import (
	"fmt"
	"slices"
	"strings"
)

// Scopes of application clients (CONTRACT §4): default scopes are granted
// on every sign-in whether asked for or not, optional ones only when asked
// for. offline_access is only ever optional, and it is the same setting as
// the client's offline access flag (AllowOfflineAccess): one is true
// exactly when the other holds it.

// The scope names a client may list.
const (
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// DefaultClientScopes are an application's default scopes unless it says
// otherwise (Keycloak's default client scopes).
func DefaultClientScopes() []string { return []string{ScopeProfile, ScopeEmail} }

// maxScopes bounds each list; there are only three names to list.
const maxScopes = 10

// scopesInput is what a request says about a client's scopes; a nil list
// is not given.
type scopesInput struct {
	defaults, optional *[]string
	offline            *bool
}

// clientScopes validates in against kind and the client's current scopes
// (cur, its zero value for a new client) and returns the scopes to store:
// defaults, optional ones (offline_access among them exactly when offline)
// and the offline access flag. Each bad entry names its field.
func clientScopes(v *ValidationError, kind ClientKind, cur Client, in scopesInput) (defaults, optional []string, offline bool) {
	if kind != KindApplication {
		for _, f := range []struct {
			name string
			list *[]string
		}{{"default_scopes", in.defaults}, {"optional_scopes", in.optional}} {
			if f.list != nil && len(*f.list) > 0 {
				v.Add(f.name, "only application clients have scopes")
			}
		}
		if in.offline != nil {
			checkOfflineAccess(v, kind, *in.offline)
		}
		return []string{}, []string{}, false
	}
	defaults, optional, offline = cur.DefaultScopes, cur.OptionalScopes, cur.AllowOfflineAccess
	if in.defaults != nil {
		defaults = checkScopeList(v, "default_scopes", *in.defaults, ScopeProfile, ScopeEmail)
	}
	switch {
	case in.optional != nil:
		optional = checkScopeList(v, "optional_scopes", *in.optional, ScopeProfile, ScopeEmail, ScopeOfflineAccess)
		offline = slices.Contains(optional, ScopeOfflineAccess)
		if in.offline != nil && *in.offline != offline {
			v.Add("offline_access", "must agree with optional_scopes (offline_access is an optional scope)")
		}
	case in.offline != nil:
		offline = *in.offline
		optional = slices.DeleteFunc(slices.Clone(optional), func(s string) bool { return s == ScopeOfflineAccess })
		if offline {
			optional = append(optional, ScopeOfflineAccess)
		}
	}
	for i, sc := range optional {
		if slices.Contains(defaults, sc) {
			v.Add(fmt.Sprintf("optional_scopes[%d]", i), "is a default scope already")
		}
	}
	return nonNil(defaults), nonNil(optional), offline
}

// checkScopeList checks that list names each of the allowed scopes at most
// once and nothing else.
func checkScopeList(v *ValidationError, field string, list []string, allowed ...string) []string {
	if len(list) > maxScopes {
		v.Add(field, fmt.Sprintf("at most %d scopes", maxScopes))
		return list
	}
	for i, sc := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !slices.Contains(allowed, sc):
			v.Add(f, "must be one of "+strings.Join(allowed, ", "))
		case slices.Index(list, sc) != i:
			v.Add(f, "duplicate scope")
		}
	}
	return list
}
