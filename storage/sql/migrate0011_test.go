package sql_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
)

// TestMigration0011 (issue 13): clients and users stored before migration
// 0011 keep working. Applications get Keycloak's default scopes, profile
// and email, and offline_access as an optional scope when they had offline
// access; service accounts get no scopes; nothing is marked deactivated.
func TestMigration0011(t *testing.T) {
	beforeMigration(t, 10, func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time) {
		must(t, s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
		insertActive := func(id, kind string, offline, active bool) {
			t.Helper()
			must(t, s.Exec(ctx, `INSERT INTO clients (id, realm_id, client_id, name, description, kind, active, public, audience,
 primary_group, redirect_uris, web_origins, communication, display_name, org_role, created_at, updated_at, allow_offline_access)
 VALUES (?, 'r1', ?, ?, '', ?, ?, ?, '[]', '', '[]', '[]', '', '', '', ?, ?, ?)`, id, id, id, kind, active, kind == "application", now, now, offline))
		}
		insert := func(id, kind string, offline bool) { insertActive(id, kind, offline, true) }
		insert("web", "application", false)
		insert("mobile", "application", true)
		insert("svc", "service_account", false)
		// A client deactivated before 0011 with a live (offline) refresh
		// token: only its active flag kept the token out, so 0011 revokes
		// it; an active client's token is left alone.
		insertActive("gone", "application", true, false)
		refreshRow := func(id, clientID string) {
			t.Helper()
			must(t, s.Exec(ctx, `INSERT INTO refresh_tokens (id, realm_id, family_id, session_id, user_id, client_id, access_jti,
 offline, data, used, revoked, expires_at, created_at) VALUES (?, 'r1', ?, '', 'u1', ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, id, clientID, id+"-at", true, []byte("{}"), false, false, now.Add(30*24*time.Hour), now))
		}
		refreshRow("rt-gone", "gone")
		refreshRow("rt-mobile", "mobile")
		must(t, s.Exec(ctx, `INSERT INTO users (id, realm_id, email, email_lower, first_name, last_name, active, primary_group,
 password_hash, created_at, updated_at) VALUES ('u1', 'r1', 'a@example.com', 'a@example.com', 'A', 'B', ?, '', '', ?, ?)`, true, now, now))
		must(t, s.Migrate(ctx))

		for _, tc := range []struct {
			id                 string
			defaults, optional []string
		}{
			{"web", []string{"profile", "email"}, nil},
			{"mobile", []string{"profile", "email"}, []string{"offline_access"}},
			{"svc", nil, nil},
		} {
			c, err := s.GetClient(ctx, "r1", tc.id)
			must(t, err)
			if !slices.Equal(c.DefaultScopes, tc.defaults) || !slices.Equal(c.OptionalScopes, tc.optional) || c.TokensValidAfter != nil {
				t.Errorf("%s after 0011: default %v, optional %v, tokens valid after %v; want %v, %v, nil",
					tc.id, c.DefaultScopes, c.OptionalScopes, c.TokensValidAfter, tc.defaults, tc.optional)
			}
		}
		for id, want := range map[string]bool{"rt-gone": true, "rt-mobile": false} {
			var revoked bool
			must(t, s.DB().Raw(`SELECT revoked FROM refresh_tokens WHERE realm_id = 'r1' AND id = ?`, id).Scan(&revoked).Error)
			if revoked != want {
				t.Errorf("%s after 0011: revoked = %v, want %v", id, revoked, want)
			}
		}
		u, err := s.GetUser(ctx, "r1", "u1")
		must(t, err)
		if u.TokensValidAfter != nil {
			t.Errorf("user after 0011: tokens valid after %v, want nil", u.TokensValidAfter)
		}
	})
}
