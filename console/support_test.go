package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// Support access (CONTRACT §7, issue 16) through the real token path: the
// admin API over AdminAuth and a real OAuth server, on SQLite and
// PostgreSQL, with the clock the tests move.

type supportEnv struct {
	t     *testing.T
	oauth *oauthtest.Env
	url   string
	owner string // the bootstrapped owner client's token
	boot  *realm.BootstrapResult
}

func newSupportEnv(t *testing.T, env *oauthtest.Env) *supportEnv {
	t.Helper()
	sys := env.System()
	if err := env.Service.EnsureSystem(sys); err != nil {
		t.Fatal(err)
	}
	res, err := env.Service.Bootstrap(sys, realm.BootstrapInput{OrgSlug: "acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Config{Service: env.Service, IdPs: env.IdPs, Auth: adminAuthOf(t, env)})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = api.HandleError
	api.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	s := &supportEnv{t: t, oauth: env, url: srv.URL, boot: res}
	s.owner = env.MustToken(realm.ConsoleRealm, res.Client.ClientID, res.ClientSecret, nil)
	return s
}

// call makes one admin API call and returns the status and the decoded
// JSON body (nil when there is none).
func (s *supportEnv) call(token, method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func (s *supportEnv) want(status int, token, method, path string, body any) map[string]any {
	s.t.Helper()
	got, m := s.call(token, method, path, body)
	if got != status {
		s.t.Fatalf("%s %s: %d %v, want %d", method, path, got, m, status)
	}
	return m
}

func (s *supportEnv) issue(reason string, ttl time.Duration) string {
	s.t.Helper()
	tok, err := s.oauth.OAuth.IssueSupportToken(s.oauth.System(), "acme", reason, ttl)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

func onBothSupport(t *testing.T, f func(t *testing.T, s *supportEnv)) {
	t.Run("SQLite", func(t *testing.T) { f(t, newSupportEnv(t, oauthtest.New(t))) })
	t.Run("Postgres", func(t *testing.T) { f(t, newSupportEnv(t, oauthtest.NewOn(t, oauthtest.OpenPostgres))) })
}

// TestSupportAccessAPI: GET/PUT /support-access, owners only; bad ends are
// 400 naming until and change nothing; default 24 h; off.
func TestSupportAccessAPI(t *testing.T) {
	onBothSupport(t, func(t *testing.T, s *supportEnv) {
		m := s.want(200, s.owner, "GET", "/admin/v1/support-access", nil)
		if m["enabled"] != false || m["until"] != nil {
			t.Errorf("never switched: %v", m)
		}
		// An admin client: 403 for both.
		c := s.want(201, s.owner, "POST", "/admin/v1/clients", map[string]any{"name": "ci", "role": "admin"})
		adminTok := s.oauth.MustToken(realm.ConsoleRealm, c["client_id"].(string), c["client_secret"].(string), nil)
		s.want(403, adminTok, "GET", "/admin/v1/support-access", nil)
		s.want(403, adminTok, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true})

		now := s.oauth.Now().UTC()
		for name, body := range map[string]map[string]any{
			"past":     {"enabled": true, "until": now.Add(-time.Minute).Format(time.RFC3339)},
			"too far":  {"enabled": true, "until": now.Add(8 * 24 * time.Hour).Format(time.RFC3339)},
			"off with": {"enabled": false, "until": now.Add(time.Hour).Format(time.RFC3339)},
		} {
			got, p := s.call(s.owner, "PUT", "/admin/v1/support-access", body)
			errs, _ := p["errors"].([]any)
			if got != 400 || len(errs) != 1 || errs[0].(map[string]any)["field"] != "until" {
				t.Errorf("%s: %d %v, want 400 naming until", name, got, p)
			}
		}
		if got, p := s.call(s.owner, "PUT", "/admin/v1/support-access", map[string]any{}); got != 400 {
			t.Errorf("no enabled: %d %v", got, p)
		}
		if m := s.want(200, s.owner, "GET", "/admin/v1/support-access", nil); m["enabled"] != false || m["updated_at"] != nil {
			t.Errorf("refused switches changed it: %v", m)
		}

		m = s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true})
		until, err := time.Parse(time.RFC3339, m["until"].(string))
		if err != nil || m["enabled"] != true || until.Sub(now) < 24*time.Hour-time.Minute || until.Sub(now) > 24*time.Hour+time.Minute {
			t.Errorf("on by default: %v", m)
		}
		m = s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": false})
		if m["enabled"] != false || m["until"] != nil || !strings.HasPrefix(m["updated_by"].(string), "client:") {
			t.Errorf("off: %v", m)
		}
	})
}

// TestSupportTokenAPI: a support token reads while support access is on
// (each call, reads included, an event with actor support and the reason),
// is refused writes and the switch (403), and is refused at once (401) once
// switched off, after switching on again, and when until passes.
func TestSupportTokenAPI(t *testing.T) {
	onBothSupport(t, func(t *testing.T, s *supportEnv) {
		if _, err := s.oauth.OAuth.IssueSupportToken(s.oauth.System(), "acme", "ticket 42", 0); !errors.Is(err, realm.ErrSupportNotAllowed) {
			t.Fatalf("token while off: %v", err)
		}
		s.want(201, s.owner, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
		until := s.oauth.Now().UTC().Add(2 * time.Hour)
		s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true, "until": until.Format(time.RFC3339)})

		tok := s.issue("ticket 42", 0)
		s.want(200, tok, "GET", "/admin/v1/realms", nil)
		s.want(200, tok, "GET", "/admin/v1/realms/shop/users", nil)
		s.want(403, tok, "POST", "/admin/v1/realms", map[string]any{"name": "evil"})
		s.want(403, tok, "POST", "/admin/v1/clients", map[string]any{"name": "x", "role": "owner"})
		s.want(403, tok, "GET", "/admin/v1/support-access", nil)
		s.want(403, tok, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true})

		evs, _ := s.want(200, s.owner, "GET", "/admin/v1/events?type=support.call&limit=50", nil)["items"].([]any)
		if len(evs) != 6 {
			t.Fatalf("support.call events: %d, want 6 (one per call): %v", len(evs), evs)
		}
		// The first GET's event (found by its route: event IDs order only
		// to the millisecond, so two calls in one can come either way).
		var first map[string]any
		for _, e := range evs {
			if m := e.(map[string]any); m["target_id"] == "/admin/v1/realms" && m["details"].(map[string]any)["method"] == "GET" {
				first = m
			}
		}
		if first == nil {
			t.Fatalf("no support.call for GET /admin/v1/realms among %v", evs)
		}
		if d := first["details"].(map[string]any); first["actor_type"] != "support" || d["reason"] != "ticket 42" || d["route"] != "/admin/v1/realms" {
			t.Errorf("first support.call: %v", first)
		}

		// Off: refused at once, with a detail saying why.
		s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": false})
		got, p := s.call(tok, "GET", "/admin/v1/realms", nil)
		if got != 401 || !strings.Contains(p["detail"].(string), "support access") {
			t.Errorf("after off: %d %v, want 401 naming support access", got, p)
		}
		// On again: the old token stays refused, a new one works.
		until = s.oauth.Now().UTC().Add(30 * time.Minute)
		s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true, "until": until.Format(time.RFC3339)})
		s.want(401, tok, "GET", "/admin/v1/realms", nil)
		fresh := s.issue("ticket 43", 0) // ttl 1 h, cut to the 30 min left
		s.want(200, fresh, "GET", "/admin/v1/realms", nil)
		// The owner brings until forward while access is on: the token
		// (exp still 30 min away) is refused once the new until passes,
		// by the support access check itself.
		until = s.oauth.Now().UTC().Add(10 * time.Minute)
		s.want(200, s.owner, "PUT", "/admin/v1/support-access", map[string]any{"enabled": true, "until": until.Format(time.RFC3339)})
		s.want(200, fresh, "GET", "/admin/v1/realms", nil)
		s.oauth.Advance(10*time.Minute + time.Second)
		if got, p := s.call(fresh, "GET", "/admin/v1/realms", nil); got != 401 || !strings.Contains(p["detail"].(string), "support access") {
			t.Errorf("after until, token not expired: %d %v, want 401 naming support access", got, p)
		}
		// (fosite stamps a new owner token from the wall clock, so ask the
		// service directly.)
		owner := realm.WithPrincipal(s.oauth.Ctx, realm.Principal{OrgID: s.boot.Org.ID, Role: realm.RoleOwner,
			ActorType: "member", ActorID: s.boot.Owner.UserID})
		if v, err := s.oauth.Service.GetSupportAccess(owner); err != nil || v.Enabled {
			t.Errorf("after until: %+v %v", v, err)
		}
	})
}
