package ui

import (
	"net/url"
	"slices"
	"testing"
)

// TestFormScopes: the application form's scope choices become default and
// optional scopes; a choice the form does not offer (a tampered form) is
// refused naming its field, never read as "never".
func TestFormScopes(t *testing.T) {
	d, o, ok, bad := formScopes(url.Values{"scope_profile": {"default"}, "scope_email": {"optional"}}, true)
	if !ok || bad != nil || !slices.Equal(d, []string{"profile"}) || !slices.Equal(o, []string{"email", "offline_access"}) {
		t.Errorf("always/when asked: %v %v %v %v", d, o, ok, bad)
	}
	d, o, ok, bad = formScopes(url.Values{"scope_profile": {"never"}, "scope_email": {"never"}}, false)
	if !ok || bad != nil || len(d) != 0 || len(o) != 0 {
		t.Errorf("never: %v %v %v %v", d, o, ok, bad)
	}
	if _, _, ok, bad := formScopes(url.Values{}, false); ok || bad != nil {
		t.Errorf("no choices: ok %v, bad %v; want nothing to change", ok, bad)
	}
	_, _, _, bad = formScopes(url.Values{"scope_profile": {"default"}, "scope_email": {"bogus"}}, false)
	if len(bad) != 1 || bad["scope_email"] == "" {
		t.Errorf("a tampered choice: %v, want scope_email named", bad)
	}
}
