package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/sql"
	"github.com/wardiam/ward/storage/sqltest"
)

// sessionsEnv is a LoginFixture (realm "shop", user ada, public app "web"
// allowed offline access) with the admin API served over its service, and
// a confidential client "rs" to introspect with.
type sessionsEnv struct {
	*env
	f        *oauthtest.LoginFixture
	rsSecret string
	users    string // the admin API path of the realm's users
}

func newSessionsEnv(t *testing.T, open func(testing.TB) realm.Store) *sessionsEnv {
	f := oauthtest.NewLoginFixture(t, open)
	f.Client.AllowOfflineAccess = true
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	_, secret := f.Env.NewClient(f.Realm.ID, "rs", nil)
	org := f.Realm.OrgID
	auth := tokenAuth{
		ownerToken:  {OrgID: org, Role: realm.RoleOwner, ActorType: "member", ActorID: "owner"},
		adminToken:  {OrgID: org, Role: realm.RoleAdmin, ActorType: "client", ActorID: "admin-client"},
		viewerToken: {OrgID: org, Role: realm.RoleViewer, ActorType: "client", ActorID: "viewer-client"},
	}
	logs := &bytes.Buffer{}
	e := serveAPI(t, f.Env.Service, auth, logs, slogTo(logs))
	return &sessionsEnv{env: e, f: f, rsSecret: secret, users: "/admin/v1/realms/shop/users/"}
}

// sessions lists the user's sessions by kind and ID.
func (s *sessionsEnv) sessions(userID string) map[string]map[string]any {
	s.t.Helper()
	body := s.must(http.StatusOK, viewerToken, http.MethodGet, s.users+userID+"/sessions", nil)
	out := map[string]map[string]any{}
	for _, it := range body["items"].([]any) {
		m := it.(map[string]any)
		out[m["kind"].(string)+":"+m["id"].(string)] = m
	}
	return out
}

// refresh redeems a refresh token of app "web".
func (s *sessionsEnv) refresh(rt string) error {
	_, err := s.f.Conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	return err
}

// active introspects an access token.
func (s *sessionsEnv) active(at string) bool {
	s.t.Helper()
	r := s.f.Env.Introspect("shop", at, "rs", s.rsSecret)
	if r.Status != http.StatusOK {
		s.t.Fatalf("introspection: %d %s", r.Status, r.Body)
	}
	return r.Body["active"] == true
}

// eventTypes lists the types of the realm's events about target, newest first.
func (s *sessionsEnv) eventTypes(target string) []string {
	s.t.Helper()
	body := s.must(http.StatusOK, viewerToken, http.MethodGet, "/admin/v1/realms/shop/events?limit=200", nil)
	var out []string
	for _, it := range body["items"].([]any) {
		m := it.(map[string]any)
		if m["target_id"] == target {
			out = append(out, m["type"].(string))
		}
	}
	return out
}

func countOf(list []string, v string) (n int) {
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestUserSessionsAPI (issue 19): an admin lists a user's live sign-ins
// (browser sessions, refresh chains, offline chains, with client and
// address), ends one — its refresh tokens and access tokens stop working
// at once, the others keep working — and signs the user out everywhere;
// each is an audit event, as are the sign-ins and the refused refresh.
func TestUserSessionsAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite": oauthtest.OpenSQLite, "Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSessionsEnv(t, open)
			f, uid := s.f, s.f.User.ID
			if got := s.sessions(uid); len(got) != 0 {
				t.Fatalf("sessions before any sign-in = %v, want none", got)
			}
			tok1 := f.SignIn(t, oauthtest.Browser(t), "openid")
			tok2 := f.SignIn(t, oauthtest.Browser(t), "openid", "offline_access")
			var c1, c2 struct {
				SID string `json:"sid"`
			}
			if err := f.VerifyIDToken(t, tok1).Claims(&c1); err != nil {
				t.Fatal(err)
			}
			if err := f.VerifyIDToken(t, tok2).Claims(&c2); err != nil {
				t.Fatal(err)
			}

			got := s.sessions(uid)
			if len(got) != 4 {
				t.Fatalf("sessions after two sign-ins = %v, want 2 browser sessions, a refresh chain and an offline chain", got)
			}
			var chain, offline string
			for key, m := range got {
				if m["ip_address"] != "127.0.0.1" {
					t.Errorf("session %s ip_address = %v, want 127.0.0.1", key, m["ip_address"])
				}
				for _, field := range []string{"started_at", "last_used_at", "expires_at"} {
					if _, err := time.Parse(time.RFC3339, m[field].(string)); err != nil {
						t.Errorf("session %s %s = %v: %v", key, field, m[field], err)
					}
				}
				switch m["kind"] {
				case realm.SessionRefresh:
					chain = m["id"].(string)
					if m["session_id"] != c1.SID || m["client_id"] != "web" {
						t.Errorf("refresh chain = %v, want session %s of client web", m, c1.SID)
					}
				case realm.SessionOffline:
					offline = m["id"].(string)
					if m["session_id"] != nil || m["client_id"] != "web" {
						t.Errorf("offline chain = %v, want no session, client web", m)
					}
				case realm.SessionBrowser:
					if m["client_id"] != nil {
						t.Errorf("browser session = %v, want no client_id", m)
					}
				}
			}
			if got["browser:"+c1.SID] == nil || got["browser:"+c2.SID] == nil || chain == "" || offline == "" {
				t.Fatalf("sessions = %v, want browser sessions %s and %s and both chains", got, c1.SID, c2.SID)
			}

			// Refused: a viewer, an unknown session, another user's.
			problem(t, s.do(viewerToken, http.MethodDelete, s.users+uid+"/sessions/"+c1.SID, nil), http.StatusForbidden)
			problem(t, s.do(adminToken, http.MethodDelete, s.users+uid+"/sessions/nope", nil), http.StatusNotFound)
			other := &realm.User{ID: f.Env.ID(), RealmID: f.Realm.ID, Email: "bo@example.com", FirstName: "Bo", LastName: "B",
				Active: true, CreatedAt: f.Env.Now(), UpdatedAt: f.Env.Now()}
			if err := f.Env.Store.CreateUser(f.Env.Ctx, other); err != nil {
				t.Fatal(err)
			}
			problem(t, s.do(adminToken, http.MethodDelete, s.users+other.ID+"/sessions/"+c1.SID, nil), http.StatusNotFound)
			problem(t, s.do(adminToken, http.MethodGet, s.users+"nobody/sessions", nil), http.StatusNotFound)

			// Ending the first browser session ends its chain and access
			// token; the second sign-in's tokens live on.
			s.must(http.StatusNoContent, adminToken, http.MethodDelete, s.users+uid+"/sessions/"+c1.SID, nil)
			if err := s.refresh(tok1.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Errorf("refresh in the ended session: %v, want invalid_grant", err)
			}
			if s.active(tok1.AccessToken) {
				t.Error("the ended session's access token is still active")
			}
			if !s.active(tok2.AccessToken) {
				t.Error("the other sign-in's access token is inactive")
			}
			if err := s.refresh(tok2.RefreshToken); err != nil {
				t.Errorf("refresh of the other sign-in's offline token: %v", err)
			}
			got = s.sessions(uid)
			if got["browser:"+c1.SID] != nil || got["refresh:"+chain] != nil || got["browser:"+c2.SID] == nil || got["offline:"+offline] == nil {
				t.Errorf("sessions after ending %s = %v, want only %s and the offline chain", c1.SID, got, c2.SID)
			}

			// Signing out everywhere ends the rest, access tokens included.
			problem(t, s.do(viewerToken, http.MethodPost, s.users+uid+"/logout", nil), http.StatusForbidden)
			s.must(http.StatusNoContent, adminToken, http.MethodPost, s.users+uid+"/logout", nil)
			if got := s.sessions(uid); len(got) != 0 {
				t.Errorf("sessions after signing out everywhere = %v, want none", got)
			}
			if s.active(tok2.AccessToken) {
				t.Error("an access token is active after signing out everywhere")
			}
			refreshErr := s.refresh(tok2.RefreshToken)
			if refreshErr == nil || !strings.Contains(refreshErr.Error(), "invalid_grant") {
				t.Errorf("offline refresh after signing out everywhere: %v, want invalid_grant", refreshErr)
			}

			types := s.eventTypes(uid)
			for typ, n := range map[realm.EventType]int{
				realm.EventUserSignedIn: 2, realm.EventUserSessionRevoked: 1, realm.EventUserSignedOutEverywhere: 1,
				realm.EventUserTokenRefused: 2,
			} {
				if got := countOf(types, string(typ)); got != n {
					t.Errorf("%d %s events, want %d (events: %v)", got, typ, n, types)
				}
			}
		})
	}
}

// TestUserUnlockAPI (issue 19): a user locked out by failed sign-ins shows
// the lock on GET, an admin unlocks it (an audit event), and the right
// password works again; a viewer may not unlock.
func TestUserUnlockAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite": oauthtest.OpenSQLite, "Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSessionsEnv(t, open)
			f, uid := s.f, s.f.User.ID
			signIn := func() *oauthtest.Page {
				b := oauthtest.Browser(t)
				login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
					oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
				return f.SubmitLogin(t, b, login, f.User.Email, oauthtest.Password)
			}
			user := s.must(http.StatusOK, viewerToken, http.MethodGet, s.users+uid, nil)
			if in := user["sign_in"].(map[string]any); in["has_password"] != true || in["locked_until"] != nil || in["failed_sign_ins"] != 0.0 {
				t.Errorf("sign_in before failures = %v, want a password, no lock, no failures", in)
			}
			// Nothing to unlock: unchanged, no event.
			s.must(http.StatusOK, adminToken, http.MethodPost, s.users+uid+"/unlock", nil)

			b := oauthtest.Browser(t)
			login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
			for range realm.LoginLockThreshold {
				login = f.SubmitLogin(t, b, login, f.User.Email, "wrong password")
			}
			user = s.must(http.StatusOK, viewerToken, http.MethodGet, s.users+uid, nil)
			in := user["sign_in"].(map[string]any)
			until, err := time.Parse(time.RFC3339, in["locked_until"].(string))
			if err != nil || !until.After(f.Env.Now()) || in["lockouts"] != 1.0 {
				t.Fatalf("sign_in after %d failures = %v, want locked_until in the future and one lockout", realm.LoginLockThreshold, in)
			}
			if p := signIn(); p.Status != http.StatusUnauthorized {
				t.Fatalf("right password while locked: %d, want 401", p.Status)
			}
			lockedUsers := func() []any {
				t.Helper()
				return s.must(http.StatusOK, viewerToken, http.MethodGet, strings.TrimSuffix(s.users, "/")+"?locked=true", nil)["items"].([]any)
			}
			if got := lockedUsers(); len(got) != 1 || got[0].(map[string]any)["id"] != uid {
				t.Errorf("users?locked=true while locked: %v, want the user", got)
			}

			problem(t, s.do(viewerToken, http.MethodPost, s.users+uid+"/unlock", nil), http.StatusForbidden)
			problem(t, s.do(adminToken, http.MethodPost, s.users+"nobody/unlock", nil), http.StatusNotFound)
			user = s.must(http.StatusOK, adminToken, http.MethodPost, s.users+uid+"/unlock", nil)
			if in := user["sign_in"].(map[string]any); in["locked_until"] != nil || in["failed_sign_ins"] != 0.0 {
				t.Errorf("sign_in after unlock = %v, want no lock and no failures", in)
			}
			if got := lockedUsers(); len(got) != 0 {
				t.Errorf("users?locked=true after unlock: %v, want none", got)
			}
			if p := signIn(); p.Status != http.StatusSeeOther || p.Location == nil || p.Location.Query().Get("code") == "" {
				t.Errorf("right password after unlock: %d %v, want a redirect with a code", p.Status, p.Location)
			}
			types := s.eventTypes(uid)
			if n := countOf(types, string(realm.EventUserUnlocked)); n != 1 {
				t.Errorf("%d user.unlocked events, want 1 (the unlock of a locked user only): %v", n, types)
			}
			if n := countOf(types, string(realm.EventUserLockedOut)); n != 1 {
				t.Errorf("%d user.locked_out events, want 1: %v", n, types)
			}
			// Locked again, then the email changes: the lock was the old
			// address's, and the locked filter forgets the user with it.
			// (Three failures lock now: the address's sign-in budget has
			// little left for ten more.)
			s.must(http.StatusOK, adminToken, http.MethodPatch, "/admin/v1/realms/shop/settings",
				map[string]any{"brute_force": map[string]any{"lock_threshold": 3}})
			login = oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
			for range 3 {
				login = f.SubmitLogin(t, b, login, f.User.Email, "wrong password")
			}
			if got := lockedUsers(); len(got) != 1 {
				t.Fatalf("users?locked=true after locking again: %v", got)
			}
			s.must(http.StatusOK, adminToken, http.MethodPatch, s.users+uid, map[string]any{"email": "ada.new@example.com"})
			if got := lockedUsers(); len(got) != 0 {
				t.Errorf("users?locked=true after the email changed: %v, want none", got)
			}
		})
	}
}

// TestEventFiltersAPI (issue 19): the events list filters by actor, by
// target and by a time range, and refuses a range that ends before it
// starts and over-long IDs by name.
func TestEventFiltersAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sql.Store{"SQLite": sqltest.Open, "Postgres": sqltest.OpenPostgres} {
		t.Run(name, func(t *testing.T) { testEventFiltersAPI(t, newEnvOn(t, open(t))) })
	}
}

func testEventFiltersAPI(t *testing.T, e *env) {
	e.must(http.StatusCreated, ownerToken, http.MethodPost, "/admin/v1/realms", map[string]any{"name": "shop"})
	base := "/admin/v1/realms/shop"
	var ids []string
	for _, name := range []string{"a", "b"} {
		g := e.must(http.StatusCreated, adminToken, http.MethodPost, base+"/groups", map[string]any{"name": name})
		ids = append(ids, g["id"].(string))
	}
	e.must(http.StatusOK, ownerToken, http.MethodPatch, base+"/groups/"+ids[0], map[string]any{"name": "a2"})
	list := func(query string) []string {
		t.Helper()
		var out []string
		for _, it := range e.must(http.StatusOK, viewerToken, http.MethodGet, base+"/events?"+query, nil)["items"].([]any) {
			m := it.(map[string]any)
			out = append(out, m["type"].(string)+":"+m["target_id"].(string))
		}
		return out
	}
	if got := list("target_id=" + ids[0]); strings.Join(got, " ") != "group.updated:"+ids[0]+" group.created:"+ids[0] {
		t.Errorf("events of group a = %v", got)
	}
	if got := list("actor_id=acme-admin-client"); strings.Join(got, " ") != "group.created:"+ids[1]+" group.created:"+ids[0] {
		t.Errorf("events by the admin client = %v", got)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if got := list("until=" + past); len(got) != 0 {
		t.Errorf("events until an hour ago = %v, want none", got)
	}
	if got := list("since=" + past + "&until=" + future + "&type=group.created"); len(got) != 2 {
		t.Errorf("group.created in the last hour = %v, want 2", got)
	}
	fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"/events?since="+future+"&until="+past, nil), http.StatusBadRequest), "until")
	fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"/events?until=tomorrow", nil), http.StatusBadRequest), "until")
	fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"/events?target_id="+strings.Repeat("x", 201), nil), http.StatusBadRequest), "target_id")
}

// TestUserSearchAPI (issue 19): the users list finds full names, filters
// by status and group, counts all matches in total, and names a bad
// filter; on SQLite and PostgreSQL.
func TestUserSearchAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sql.Store{"SQLite": sqltest.Open, "Postgres": sqltest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnvOn(t, open(t))
			e.must(http.StatusCreated, ownerToken, http.MethodPost, "/admin/v1/realms", map[string]any{"name": "shop"})
			base := "/admin/v1/realms/shop/users"
			g := e.must(http.StatusCreated, adminToken, http.MethodPost, "/admin/v1/realms/shop/groups", map[string]any{"name": "traders"})["id"].(string)
			no := false
			for i, n := range []string{"Alice Trader", "Bob Trader", "Carol Stone"} {
				first, last, _ := strings.Cut(n, " ")
				body := map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "first_name": first, "last_name": last, "send_set_password_email": &no}
				if i < 2 {
					body["groups"] = []string{g}
				}
				u := e.must(http.StatusCreated, adminToken, http.MethodPost, base, body)
				if i == 1 {
					e.must(http.StatusOK, adminToken, http.MethodPatch, base+"/"+u["id"].(string), map[string]any{"active": false})
				}
			}
			list := func(query string) (string, float64) {
				t.Helper()
				body := e.must(http.StatusOK, viewerToken, http.MethodGet, base+"?"+query, nil)
				var emails []string
				for _, it := range body["items"].([]any) {
					emails = append(emails, it.(map[string]any)["email"].(string))
				}
				return strings.Join(emails, " "), body["total"].(float64)
			}
			for query, want := range map[string]string{
				"q=" + url.QueryEscape("alice trader"): "u0@example.com",
				"group_id=" + g:                        "u0@example.com u1@example.com",
				"group_id=" + g + "&status=active":     "u0@example.com",
				"status=deactivated":                   "u1@example.com",
				"status=invited":                       "u0@example.com u2@example.com",
				"locked=true":                          "",
				"locked=false&q=stone":                 "u2@example.com",
			} {
				if got, total := list(query); got != want || int(total) != len(strings.Fields(want)) {
					t.Errorf("%s: %q (total %v), want %q", query, got, total, want)
				}
			}
			if got, total := list("limit=1&q=trader"); strings.Count(got, "@") != 1 || total != 2 {
				t.Errorf("a page of one of two traders: %q, total %v", got, total)
			}
			fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"?status=asleep", nil), http.StatusBadRequest), "status")
			fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"?group_id=nope", nil), http.StatusBadRequest), "group_id")
			fieldNamed(t, problem(t, e.do(viewerToken, http.MethodGet, base+"?locked=maybe", nil), http.StatusBadRequest), "locked")
		})
	}
}

// TestRealmSettingsAPI (issue 19): GET shows every default; PATCH changes
// settings within their bounds, refuses a value outside by name changing
// nothing, sets one back to its default with null, and records the change;
// sign-in follows them: the lock threshold, the access token's lifetime
// and the browser session's. On SQLite and PostgreSQL.
func TestRealmSettingsAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite": oauthtest.OpenSQLite, "Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSessionsEnv(t, open)
			path := "/admin/v1/realms/shop/settings"
			want := func(got map[string]any, wantJSON string) {
				t.Helper()
				var w map[string]any
				if err := json.Unmarshal([]byte(wantJSON), &w); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("settings = %v, want %v", got, w)
				}
			}
			want(s.must(http.StatusOK, viewerToken, http.MethodGet, path, nil), `{"display_name":"shop","branding":{"accent_color":null,"logo_url":null},
				"password_policy":{"min_length":10,"min_strength":0},"brute_force":{"lock_threshold":10,"max_lock_seconds":900},
				"lifetimes":{"session_seconds":36000,"access_token_seconds":300}}`)
			problem(t, s.do(viewerToken, http.MethodPatch, path, map[string]any{"display_name": "Shop"}), http.StatusForbidden)
			for field, body := range map[string]map[string]any{
				"password_policy.min_length":     {"password_policy": map[string]any{"min_length": 9}},
				"password_policy.min_strength":   {"password_policy": map[string]any{"min_strength": 5}},
				"brute_force.lock_threshold":     {"brute_force": map[string]any{"lock_threshold": 2}},
				"brute_force.max_lock_seconds":   {"brute_force": map[string]any{"max_lock_seconds": 86401}},
				"lifetimes.session_seconds":      {"lifetimes": map[string]any{"session_seconds": 299}},
				"lifetimes.access_token_seconds": {"lifetimes": map[string]any{"access_token_seconds": 3601}},
				"branding.accent_color":          {"branding": map[string]any{"accent_color": "red"}},
			} {
				body["display_name"] = "Not saved"
				fieldNamed(t, problem(t, s.do(adminToken, http.MethodPatch, path, body), http.StatusBadRequest), field)
			}
			problem(t, s.do(adminToken, http.MethodPatch, path, map[string]any{"brute_force": map[string]any{"lock": 3}}), http.StatusBadRequest)
			want(s.must(http.StatusOK, adminToken, http.MethodPatch, path, map[string]any{"display_name": "The Shop",
				"branding": map[string]any{"accent_color": "#AA3300"}, "password_policy": map[string]any{"min_length": 12, "min_strength": 3},
				"brute_force": map[string]any{"lock_threshold": 3, "max_lock_seconds": 3600},
				"lifetimes":   map[string]any{"session_seconds": 600, "access_token_seconds": 120}}),
				`{"display_name":"The Shop","branding":{"accent_color":"#aa3300","logo_url":null},
				"password_policy":{"min_length":12,"min_strength":3},"brute_force":{"lock_threshold":3,"max_lock_seconds":3600},
				"lifetimes":{"session_seconds":600,"access_token_seconds":120}}`)
			if n := countOf(s.eventTypes(s.f.Realm.ID), string(realm.EventRealmSettingsUpdated)); n != 1 {
				t.Errorf("%d realm.settings_updated events, want 1 (refusals record nothing)", n)
			}

			// The login page wears the accent colour.
			f := s.f
			page := oauthtest.Fetch(t, oauthtest.Browser(t), http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
			if !strings.Contains(page.Body, "button{background:#aa3300}") || !strings.Contains(page.Body, "The Shop") {
				t.Errorf("the login page lacks the accent colour or the display name:\n%s", page.Body)
			}
			// Sign-in follows: the token lasts 120 s, the session 600 s.
			tok := f.SignIn(t, oauthtest.Browser(t), "openid")
			if d := time.Until(tok.Expiry); d < 100*time.Second || d > 125*time.Second {
				t.Errorf("access token expires in %v, want about 120 s", d)
			}
			var sess map[string]any
			for _, it := range s.must(http.StatusOK, viewerToken, http.MethodGet, s.users+f.User.ID+"/sessions", nil)["items"].([]any) {
				if m := it.(map[string]any); m["kind"] == realm.SessionBrowser {
					sess = m
				}
			}
			started, _ := time.Parse(time.RFC3339, sess["started_at"].(string))
			ends, _ := time.Parse(time.RFC3339, sess["expires_at"].(string))
			if ends.Sub(started) != 600*time.Second {
				t.Errorf("browser session from %v to %v, want 600 s", started, ends)
			}
			// Three failures lock (not ten).
			b := oauthtest.Browser(t)
			login := oauthtest.Fetch(t, b, http.MethodGet, f.Conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
			for range 3 {
				login = f.SubmitLogin(t, b, login, f.User.Email, "wrong password")
			}
			in := s.must(http.StatusOK, viewerToken, http.MethodGet, s.users+f.User.ID, nil)["sign_in"].(map[string]any)
			if in["locked_until"] == nil {
				t.Errorf("after 3 failures with lock_threshold 3: %v, want locked", in)
			}
			// null goes back to the default.
			got := s.must(http.StatusOK, adminToken, http.MethodPatch, path, map[string]any{"brute_force": map[string]any{"lock_threshold": nil},
				"branding": map[string]any{"accent_color": nil}})
			if got["brute_force"].(map[string]any)["lock_threshold"] != 10.0 || got["branding"].(map[string]any)["accent_color"] != nil {
				t.Errorf("after nulls: %v", got)
			}
		})
	}
}
