package oauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
// the field named and record nothing; a report needs a client's own token.
// Both databases.
func TestNetworkRefusalReports(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"sqlite": oauthtest.OpenSQLite, "postgres": oauthtest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testNetworkRefusalReports(t, oauthtest.NewOn(t, open)) })
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
		"lower method":    {jsonType, body(map[string]any{"refusals": []any{refusal(func(m map[string]any) { m["method"] = "get" })}}), "refusals[0].method", http.StatusBadRequest},
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
		refusal(func(m map[string]any) { m["kind"], m["subject"] = "api_key", "key-2" }),
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
		"client assets-server api_key key-2 map[address:192.0.2.7 at:guard method:GET path:/assets/1 refused_at:2026-12-07T10:00:00.5Z]",
	}
	if len(got) != len(want) {
		t.Errorf("%d events, want %d: %v", len(got), len(want), got)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no event %q among %v", w, got)
		}
	}
}
