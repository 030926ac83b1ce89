package oauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// refusalsCall posts body to a realm's network-refusals endpoint.
func refusalsCall(env *oauthtest.Env, realmName, token, contentType, body string) *oauthtest.Response {
	env.T.Helper()
	req, err := http.NewRequest(http.MethodPost, env.Base+"/realms/"+realmName+"/network-refusals", strings.NewReader(body))
	if err != nil {
		env.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	return env.Do(req)
}

// TestNetworkRefusalReports: a resource server's client reports the
// refusals its Guard made (CONTRACT §7, a refusal is an audit event); each
// becomes a network.refused event with "at": "guard", the reporter as
// actor and the refused caller as target. Bad reports are refused with
// the field named and record nothing; a report needs a token of the
// realm. Both databases.
func TestNetworkRefusalReports(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			// Many bad reports in a row: the per-client limit has its own test.
			testNetworkRefusalReports(t, oauthtest.NewOn(t, open, func(c oauthtest.Configs) {
				c.OAuth.RefusalReportRateLimit = oauth.RateLimit{Rate: 1000, Burst: 1000}
			}))
		})
	}
}

func testNetworkRefusalReports(t *testing.T, env *oauthtest.Env) {
	rf := env.NewRealm(env.NewOrg("o").ID, "media", true)
	svc, secret := env.NewClient(rf.ID, "assets-server", nil)
	tok := env.MustToken(rf.Name, svc.ClientID, secret, nil)
	const jsonType = "application/json"
	events := func() []realm.Event {
		t.Helper()
		page, err := env.Service.ListEvents(env.System(), rf.Name, realm.EventFilter{Type: realm.EventNetworkRefused})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	refusal := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"address": "192.0.2.7", "subject": "u-1", "kind": "user", "method": "GET",
			"path": "/assets/1", "time": "2026-12-07T10:00:00.5Z"}
		if mod != nil {
			mod(m)
		}
		return m
	}
	body := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Bad reports: 400 naming the field (415 for the type), nothing recorded.
	many := make([]any, 101)
	for i := range many {
		many[i] = refusal(nil)
	}
	for name, c := range map[string]struct {
		contentType, body, field string
		status                   int
	}{
		"form body":       {"application/x-www-form-urlencoded", "a=b", "", http.StatusUnsupportedMediaType},
		"not JSON":        {jsonType, "{", "", http.StatusBadRequest},
		"unknown field":   {jsonType, `{"refusals":[],"extra":1}`, "", http.StatusBadRequest},
		"no refusals":     {jsonType, `{"refusals":[]}`, "refusals", http.StatusBadRequest},
		"101 refusals":    {jsonType, body(map[string]any{"refusals": many}), "refusals", http.StatusBadRequest},
		"negative count":  {jsonType, body(map[string]any{"refusals": []any{refusal(nil)}, "unreported": -1}), "unreported", http.StatusBadRequest},
		"bad address":     {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["address"] = "192.0.2.300" })}}), "refusals[0].address", http.StatusBadRequest},
		"a prefix":        {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["address"] = "192.0.2.0/24" })}}), "refusals[0].address", http.StatusBadRequest},
		"bad country":     {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["country"] = "fr" })}}), "refusals[0].country", http.StatusBadRequest},
		"bad kind":        {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["kind"] = "robot" })}}), "refusals[0].kind", http.StatusBadRequest},
		"NUL in subject":  {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["subject"] = "u\x00" })}}), "refusals[0].subject", http.StatusBadRequest},
		"long subject":    {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["subject"] = strings.Repeat("u", 256) })}}), "refusals[0].subject", http.StatusBadRequest},
		"not a method":    {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["method"] = "GE T" })}}), "refusals[0].method", http.StatusBadRequest},
		"long method":     {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["method"] = strings.Repeat("M", 17) })}}), "refusals[0].method", http.StatusBadRequest},
		"huge count":      {jsonType, body(map[string]any{"refusals": []any{refusal(nil)}, "unreported": 1_000_000_001}), "unreported", http.StatusBadRequest},
		"year 10000":      {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["time"] = "9999-12-31T23:00:00-05:00" })}}), "refusals[0].time", http.StatusBadRequest},
		"relative path":   {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["path"] = "assets" })}}), "refusals[0].path", http.StatusBadRequest},
		"long path":       {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["path"] = "/" + strings.Repeat("a", 1024) })}}), "refusals[0].path", http.StatusBadRequest},
		"control in path": {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["path"] = "/a\nb" })}}), "refusals[0].path", http.StatusBadRequest},
		"no time":         {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { delete(m, "time") })}}), "refusals[0].time", http.StatusBadRequest},
		"time not text":   {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["time"] = 5 })}}), "", http.StatusBadRequest},
		"the second bad":  {jsonType, body(map[string]any{"refusals": []any{refusal(nil), refusal(func(m map[string]any) { m["kind"] = "" })}}), "refusals[1].kind", http.StatusBadRequest},
	} {
		r := refusalsCall(env, rf.Name, tok, c.contentType, c.body)
		if r.Status != c.status || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q %s, want %d problem", name, r.Status, r.Header.Get("Content-Type"), r.RawBody, c.status)
			continue
		}
		if c.field != "" && !strings.Contains(r.RawBody, `"field":"`+c.field+`"`) {
			t.Errorf("%s: %s does not name %s", name, r.RawBody, c.field)
		}
	}
	if n := len(events()); n != 0 {
		t.Fatalf("%d events after bad reports, want none", n)
	}

	// No token, another realm's name, a user's kind of token are refused.
	good := body(map[string]any{"refusals": []any{refusal(nil)}})
	if r := refusalsCall(env, rf.Name, "", jsonType, good); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", r.Status, r.RawBody)
	}
	if r := refusalsCall(env, rf.Name, tok+"x", jsonType, good); r.Status != http.StatusUnauthorized {
		t.Errorf("a forged token: %d %s", r.Status, r.RawBody)
	}
	other := env.NewRealm(env.NewOrg("p").ID, "other", true)
	if r := refusalsCall(env, other.Name, tok, jsonType, good); r.Status != http.StatusUnauthorized {
		t.Errorf("another realm's token: %d %s", r.Status, r.RawBody)
	}

	// A good report: one event per refusal, the dropped count on the first.
	r := refusalsCall(env, rf.Name, tok, jsonType, body(map[string]any{"unreported": 7, "refusals": []any{
		refusal(nil),
		refusal(func(m map[string]any) {
			m["address"], m["country"], m["kind"], m["subject"], m["method"], m["path"] = "2001:db8::7", "FR", "service_account", "svc-9", "POST", "/up%20load"
		}),
		refusal(func(m map[string]any) {
			m["address"], m["country"], m["kind"], m["subject"] = "", "", "temporary_key", "key-1"
		}),
		refusal(func(m map[string]any) { m["kind"], m["subject"], m["method"] = "api_key", "key-2", "m-search" }),
	}}))
	if r.Status != http.StatusNoContent {
		t.Fatalf("good report: %d %s", r.Status, r.RawBody)
	}
	got := map[string]bool{}
	for _, e := range events() {
		got[fmt.Sprintf("%s %s %s %s %v", e.ActorType, e.ActorID, e.TargetType, e.TargetID, e.Details)] = true
	}
	want := []string{
		"client assets-server user u-1 map[address:192.0.2.7 at:guard method:GET path:/assets/1 refused_at:2026-12-07T10:00:00.5Z unreported_before:7]",
		"client assets-server client svc-9 map[address:2001:db8::7 at:guard country:FR method:POST path:/up%20load refused_at:2026-12-07T10:00:00.5Z]",
		"client assets-server api_key key-1 map[address: at:guard country: method:GET path:/assets/1 refused_at:2026-12-07T10:00:00.5Z]",
		"client assets-server api_key key-2 map[address:192.0.2.7 at:guard method:m-search path:/assets/1 refused_at:2026-12-07T10:00:00.5Z]",
	}
	if n := len(events()); n != len(want) {
		t.Errorf("%d events, want %d: %v", n, len(want), got)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no event %q among %v", w, got)
		}
	}
}

// TestNetworkRefusalReportsLimited: one client's reports are limited (2 a
// second, bursts of 10: a Guard sends at most one a second), so a client
// cannot flood the audit log: past the burst 429 with Retry-After, and
// nothing recorded; another client has its own budget. A user's token is
// valid but not for this: 403 insufficient_scope.
func TestNetworkRefusalReportsLimited(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	env := f.Env
	thaw := env.Freeze()
	defer thaw()
	svc, secret := env.NewClient(f.Realm.ID, "assets-server", nil)
	other, otherSecret := env.NewClient(f.Realm.ID, "other-server", nil)
	tok := env.MustToken(f.Realm.Name, svc.ClientID, secret, nil)
	report := `{"refusals":[{"address":"192.0.2.7","subject":"u-1","kind":"user","method":"GET","path":"/a","time":"2026-12-07T10:00:00Z"}]}`
	for i := range 10 {
		if r := refusalsCall(env, f.Realm.Name, tok, "application/json", report); r.Status != http.StatusNoContent {
			t.Fatalf("report %d of the burst: %d %s", i+1, r.Status, r.RawBody)
		}
	}
	r := refusalsCall(env, f.Realm.Name, tok, "application/json", report)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("past the burst: %d Retry-After %q %s, want 429 after 1 s", r.Status, r.Header.Get("Retry-After"), r.RawBody)
	}
	page, err := env.Service.ListEvents(env.System(), f.Realm.Name, realm.EventFilter{Type: realm.EventNetworkRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 10 {
		t.Errorf("%d events, want the burst's 10", len(page.Items))
	}
	if r := refusalsCall(env, f.Realm.Name, env.MustToken(f.Realm.Name, other.ClientID, otherSecret, nil), "application/json", report); r.Status != http.StatusNoContent {
		t.Errorf("another client: %d %s", r.Status, r.RawBody)
	}
	env.Advance(time.Second)
	if r := refusalsCall(env, f.Realm.Name, tok, "application/json", report); r.Status != http.StatusNoContent {
		t.Errorf("a second later: %d %s", r.Status, r.RawBody)
	}

	user := f.SignIn(t, oauthtest.Browser(t), "openid")
	r = refusalsCall(env, f.Realm.Name, user.AccessToken, "application/json", report)
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("a user's token: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.RawBody)
	}
}
