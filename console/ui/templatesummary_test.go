package ui

import (
	"testing"

	"github.com/wardiam/ward/realm"
)

func intp(n int) *int { return &n }

// TestTemplateSummary: the plain-language line of a security template
// says what its fields say: the verb from the permissions (or the
// permissions themselves), where, for how long, how often, from where.
func TestTemplateSummary(t *testing.T) {
	for _, c := range []struct {
		name string
		t    realm.SecurityTemplate
		want string
	}{
		{"everything", realm.SecurityTemplate{Permissions: []string{"asset:create"}, TTLSeconds: 1200,
			LimitPerMinute: intp(60), LimitPerSourceIPPerMinute: intp(10), DirScope: []string{"/marketing/*"},
			IPRanges: []string{"203.0.113.0/24"}, Countries: []string{"DE", "FR"}},
			"Upload to /marketing/* for 20 min, 60 requests a minute (10 per address), from 203.0.113.0/24, in DE, FR"},
		{"no limits, no dir_scope", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 1200},
			"Read on any path for 20 min, no request limit"},
		{"several patterns", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 600,
			DirScope: []string{"/public/*", "/press/kit.zip"}},
			"Read from /public/*, /press/kit.zip for 10 min, no request limit"},
		{"more patterns than are named", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 600,
			DirScope: []string{"/a/*", "/b/*", "/c/*", "/d/*", "/e/*"}},
			"Read from /a/*, /b/*, /c/* and 2 more paths for 10 min, no request limit"},
		{"IPv6 and IPv4", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 60,
			IPRanges: []string{"2001:db8::/32", "198.51.100.7/32"}},
			"Read on any path for 1 min, no request limit, from 2001:db8::/32, 198.51.100.7/32"},
		{"seconds", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 90},
			"Read on any path for 90 seconds, no request limit"},
		{"hours", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 86400},
			"Read on any path for 24 hours, no request limit"},
		{"one hour", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 3600},
			"Read on any path for 1 hour, no request limit"},
		{"minutes past the hour", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 5400},
			"Read on any path for 90 min, no request limit"},
		{"only the total limit", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 1200, LimitPerMinute: intp(1)},
			"Read on any path for 20 min, 1 request a minute"},
		{"only the per-address limit", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 1200, LimitPerSourceIPPerMinute: intp(5)},
			"Read on any path for 20 min, 5 requests a minute per address"},
		{"countries", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 1200,
			Countries: []string{"AT", "CH", "DE", "FR", "IT"}},
			"Read on any path for 20 min, no request limit, in AT, CH, DE and 2 more countries"},
		{"one country", realm.SecurityTemplate{Permissions: []string{"asset:read"}, TTLSeconds: 1200, Countries: []string{"DE"}},
			"Read on any path for 20 min, no request limit, in DE"},
		{"read and upload", realm.SecurityTemplate{Permissions: []string{"asset:create", "asset:read"}, TTLSeconds: 1200,
			DirScope: []string{"/inbox/*"}},
			"Read and upload in /inbox/* for 20 min, no request limit"},
		{"create on another resource type", realm.SecurityTemplate{Permissions: []string{"report:create"}, TTLSeconds: 1200,
			DirScope: []string{"/q1/*"}},
			"Create reports in /q1/* for 20 min, no request limit"},
		{"words said once, in order", realm.SecurityTemplate{Permissions: []string{"asset:delete", "asset:read", "asset:update", "asset:write"},
			TTLSeconds: 1200},
			"Read, change and delete on any path for 20 min, no request limit"},
		{"an action without a word", realm.SecurityTemplate{Permissions: []string{"asset:approve", "asset:read"}, TTLSeconds: 1200,
			DirScope: []string{"/review/*"}},
			"Use asset:approve, asset:read in /review/* for 20 min, no request limit"},
		{"several resource types", realm.SecurityTemplate{Permissions: []string{"asset:read", "report:read"}, TTLSeconds: 1200},
			"Use asset:read, report:read on any path for 20 min, no request limit"},
		{"many permissions, all named", realm.SecurityTemplate{Permissions: []string{"asset:approve", "asset:list", "asset:publish", "asset:share", "asset:write"}, TTLSeconds: 1200},
			"Use asset:approve, asset:list, asset:publish, asset:share, asset:write on any path for 20 min, no request limit"},
		{"a type ending in y", realm.SecurityTemplate{Permissions: []string{"policy:read"}, TTLSeconds: 1200, Countries: []string{"DE"}},
			"Read policies on any path for 20 min, no request limit, in DE"},
	} {
		if got := templateSummary(c.t); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}
