package realm

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fields lists the bad fields v names, in order.
func fields(v *ValidationError) []string {
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCheckDirScope(t *testing.T) {
	ok := []string{"/marketing/*", "/", "/*", "/press", "/a/b/c*", "/a-b_c.d/e f", "/dir.d/..x/x..", "/über/*"}
	v := &ValidationError{}
	if got := CheckDirScope(v, ok); v.OrNil() != nil || !slices.Equal(got, ok) {
		t.Errorf("CheckDirScope(%q) = %q, %v; want them all, unchanged", ok, got, v.OrNil())
	}
	bad := map[string]string{
		"marketing/*":                  "absolute",
		"":                             "absolute",
		"/a/../b":                      ". or ..",
		"/a/./b":                       ". or ..",
		"/a/..":                        ". or ..",
		"/..*":                         "", // ".." then "*": refused either way
		"/a//b":                        "empty segments",
		"//":                           "empty segments",
		"/a*b":                         "* only as its last",
		"/a/*/b":                       "* only as its last",
		"/press/":                      "write /press/* for everything under /press",
		"/**":                          "* only as its last",
		"/a?b":                         "control characters",
		"/a#b":                         "control characters",
		"/a\\b":                        "control characters",
		"/a\nb":                        "control characters",
		"/" + strings.Repeat("a", 512): "at most 512",
	}
	for p, why := range bad {
		v := &ValidationError{}
		got := CheckDirScope(v, []string{"/ok/*", p})
		if len(v.Fields) != 1 || v.Fields[0].Field != "dir_scope[1]" || !strings.Contains(v.Fields[0].Message, why) {
			t.Errorf("CheckDirScope(%q) errors = %+v, want dir_scope[1] saying %q", p, v.Fields, why)
		}
		if !slices.Equal(got, []string{"/ok/*"}) {
			t.Errorf("CheckDirScope(%q) kept %q", p, got)
		}
	}
	// Duplicates are dropped, the order kept; too many is one error on
	// the list.
	v = &ValidationError{}
	if got := CheckDirScope(v, []string{"/b", "/a", "/b"}); v.OrNil() != nil || !slices.Equal(got, []string{"/b", "/a"}) {
		t.Errorf("CheckDirScope with a duplicate = %q, %v", got, v.OrNil())
	}
	v = &ValidationError{}
	CheckDirScope(v, slices.Repeat([]string{"/a"}, MaxDirScopePatterns+1))
	if !slices.Equal(fields(v), []string{"dir_scope"}) {
		t.Errorf("CheckDirScope with %d patterns: errors %+v", MaxDirScopePatterns+1, v.Fields)
	}
	v = &ValidationError{}
	if got := CheckDirScope(v, nil); v.OrNil() != nil || got == nil || len(got) != 0 {
		t.Errorf("CheckDirScope(nil) = %#v, %v; want an empty list", got, v.OrNil())
	}
}

func TestCheckIPRanges(t *testing.T) {
	v := &ValidationError{}
	got := CheckIPRanges(v, "ip_ranges", []string{"203.0.113.0/24", " 10.0.0.1/32 ", "2001:DB8::/32", "0.0.0.0/0",
		"::/0", "203.0.113.0/24", "2001:db8::/32"})
	want := []string{"203.0.113.0/24", "10.0.0.1/32", "2001:db8::/32", "0.0.0.0/0", "::/0"}
	if v.OrNil() != nil || !slices.Equal(got, want) {
		t.Errorf("CheckIPRanges = %q, %v; want %q (canonical, duplicates dropped)", got, v.OrNil(), want)
	}

	for _, tc := range []struct{ in, says string }{
		{"203.0.113.7/24", "did you mean 203.0.113.0/24?"},
		{"2001:db8::1/32", "did you mean 2001:db8::/32?"},
		{"10.0.0.1", "for one address write 10.0.0.1/32"},
		{"2001:db8::1", "for one address write 2001:db8::1/128"},
		{"not-an-ip", "is not a CIDR range"},
		{"10.0.0.0/33", "is not a CIDR range"},
		{"10.0.0/8", "is not a CIDR range"},
		{"", "is not a CIDR range"},
		{"fe80::1%eth0/64", "is not a CIDR range"}, // netip refuses zones in prefixes
	} {
		v := &ValidationError{}
		got := CheckIPRanges(v, "ip_ranges", []string{"10.0.0.0/8", tc.in})
		if len(v.Fields) != 1 || v.Fields[0].Field != "ip_ranges[1]" || !strings.Contains(v.Fields[0].Message, tc.says) {
			t.Errorf("CheckIPRanges(%q) errors = %+v, want ip_ranges[1] saying %q", tc.in, v.Fields, tc.says)
		}
		if !slices.Equal(got, []string{"10.0.0.0/8"}) {
			t.Errorf("CheckIPRanges(%q) kept %q", tc.in, got)
		}
	}
	v = &ValidationError{}
	CheckIPRanges(v, "ip_ranges", slices.Repeat([]string{"10.0.0.0/8"}, MaxIPRanges+1))
	if !slices.Equal(fields(v), []string{"ip_ranges"}) {
		t.Errorf("CheckIPRanges with %d ranges: errors %+v", MaxIPRanges+1, v.Fields)
	}
}

func TestCheckCountries(t *testing.T) {
	v := &ValidationError{}
	got := CheckCountries(v, []string{"de", "AT", " fr ", "De"})
	if v.OrNil() != nil || !slices.Equal(got, []string{"AT", "DE", "FR"}) {
		t.Errorf("CheckCountries = %q, %v; want upper case, sorted, without duplicates", got, v.OrNil())
	}
	for _, c := range []string{"XX", "D", "DEU", "", "1A", "ÄT", "UK"} {
		v := &ValidationError{}
		got := CheckCountries(v, []string{"DE", c})
		if len(v.Fields) != 1 || v.Fields[0].Field != "countries[1]" ||
			!strings.Contains(v.Fields[0].Message, "is not an ISO 3166-1 alpha-2 country code") {
			t.Errorf("CheckCountries(%q) errors = %+v, want countries[1]", c, v.Fields)
		}
		if !slices.Equal(got, []string{"DE"}) {
			t.Errorf("CheckCountries(%q) kept %q", c, got)
		}
	}
	for _, c := range []string{"AD", "ZW", "GB", "SS", "US"} {
		if !IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = false", c)
		}
	}
	for _, c := range []string{"de", "XX", "AA", "ZZ", "A", ""} {
		if IsCountryCode(c) {
			t.Errorf("IsCountryCode(%q) = true", c)
		}
	}
}

func TestCheckTTL(t *testing.T) {
	for ttl, ok := range map[int]bool{59: false, 60: true, 1200: true, 86400: true, 86401: false, 0: false, -60: false} {
		v := &ValidationError{}
		checkTTL(v, ttl)
		if bad := v.OrNil() != nil; bad == ok || !ok && !slices.Equal(fields(v), []string{"ttl_seconds"}) {
			t.Errorf("checkTTL(%d) errors = %+v, want ok %v", ttl, v.Fields, ok)
		}
	}
}

func TestCheckLimit(t *testing.T) {
	n := func(i int) *int { return &i }
	for _, tc := range []struct {
		in   *int
		ok   bool
		want *int
	}{
		{nil, true, nil},
		{n(1), true, n(1)},
		{n(MaxTemplateLimit), true, n(MaxTemplateLimit)},
		{n(0), false, nil},
		{n(-1), false, nil},
		{n(MaxTemplateLimit + 1), false, nil},
	} {
		v := &ValidationError{}
		got := checkLimit(v, "limit_per_minute", tc.in)
		if bad := v.OrNil() != nil; bad == tc.ok || !tc.ok && !slices.Equal(fields(v), []string{"limit_per_minute"}) {
			t.Errorf("checkLimit(%v) errors = %+v, want ok %v", deref(tc.in), v.Fields, tc.ok)
		}
		if !sameLimit(got, tc.want) {
			t.Errorf("checkLimit(%v) = %v, want %v", deref(tc.in), deref(got), deref(tc.want))
		}
		if got != nil && got == tc.in {
			t.Errorf("checkLimit(%v) returned the caller's pointer", deref(tc.in))
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCheckMint(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	tpl := &SecurityTemplate{ID: "tpl1", Name: "uploader", Permissions: []string{"asset:read", "asset:write"}, TTLSeconds: 600}
	key := func(mod func(k *APIKey)) *APIKey {
		k := &APIKey{ID: "key1", Active: true, Permissions: []string{"asset:delete", "asset:read", "asset:write"}}
		if mod != nil {
			mod(k)
		}
		return k
	}
	ttl := func(n int) *int { return &n }
	past, soon := now.Add(-time.Second), now.Add(100*time.Second)

	for _, tc := range []struct {
		name   string
		key    *APIKey
		ttl    *int
		status int
		says   string
		field  string
	}{
		{"deactivated key", key(func(k *APIKey) { k.Active = false }), nil, 401, APIKeyDeactivated, ""},
		{"expired key", key(func(k *APIKey) { k.ExpiresAt = &past }), nil, 401, APIKeyExpired, ""},
		{"key expiring now", key(func(k *APIKey) { e := now; k.ExpiresAt = &e }), nil, 401, APIKeyExpired, ""},
		{"missing permission", key(func(k *APIKey) { k.Permissions = []string{"asset:read"} }), nil, 403, "asset:write", ""},
		{"no permissions", key(func(k *APIKey) { k.Permissions = nil }), nil, 403, "asset:read", ""},
		{"ttl above the template's", key(nil), ttl(601), 400, "600", "ttl_seconds"},
		{"ttl 0", key(nil), ttl(0), 400, "", "ttl_seconds"},
		{"ttl negative", key(nil), ttl(-1), 400, "", "ttl_seconds"},
	} {
		g, err := CheckMint(tc.key, tpl, tc.ttl, now)
		if g != nil || HTTPStatus(err) != tc.status || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: CheckMint = %+v, %v (status %d); want %d saying %q", tc.name, g, err, HTTPStatus(err), tc.status, tc.says)
			continue
		}
		var v *ValidationError
		if tc.field != "" && (!errors.As(err, &v) || !slices.Equal(fields(v), []string{tc.field})) {
			t.Errorf("%s: error %v, want one on %s", tc.name, err, tc.field)
		}
		var fe *ForbiddenError
		if tc.status == 403 && (!errors.As(err, &fe) || !strings.Contains(fe.Reason, "uploader")) {
			t.Errorf("%s: error %#v, want a *ForbiddenError naming the template", tc.name, err)
		}
	}

	issued := now.Truncate(time.Second)
	for _, tc := range []struct {
		name string
		key  *APIKey
		ttl  *int
		exp  time.Time
	}{
		{"template's ttl", key(nil), nil, issued.Add(600 * time.Second)},
		{"shorter ttl", key(nil), ttl(1), issued.Add(time.Second)},
		{"the template's ttl asked for", key(nil), ttl(600), issued.Add(600 * time.Second)},
		{"capped at the key's expiry", key(func(k *APIKey) { k.ExpiresAt = &soon }), nil, soon},
		{"key expiring later", key(func(k *APIKey) { e := now.Add(time.Hour); k.ExpiresAt = &e }), ttl(60), issued.Add(time.Minute)},
	} {
		g, err := CheckMint(tc.key, tpl, tc.ttl, now)
		if err != nil {
			t.Errorf("%s: CheckMint: %v", tc.name, err)
			continue
		}
		if g.Template != tpl || g.APIKeyID != "key1" || !g.IssuedAt.Equal(issued) || !g.ExpiresAt.Equal(tc.exp) {
			t.Errorf("%s: grant = %+v, want issued %v, expiring %v, key key1", tc.name, g, issued, tc.exp)
		}
	}
}
