package sql

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardiam/ward/realm"
)

// ListUserSessions reads a user's live browser sessions and refresh token
// chains (realm.SessionStore). A chain's live token is its one unused,
// unrevoked, unexpired row: it was issued last, so it tells when and from
// where the chain was last used; the chain's first row tells when it began.
func (s *Store) ListUserSessions(ctx context.Context, realmID, userID string, now time.Time) ([]realm.UserSession, error) {
	var out []realm.UserSession
	browser := map[string]int{} // session ID → index in out
	rows, err := s.q(ctx).Raw(`SELECT id, ip_address, auth_time, expires_at FROM browser_sessions
 WHERE realm_id = ? AND user_id = ? AND revoked = ? AND expires_at > ?
 ORDER BY auth_time DESC, id DESC LIMIT ?`, realmID, userID, false, dbTime(now), realm.MaxUserSessions).Rows()
	if err != nil {
		return nil, mapErr(err)
	}
	for rows.Next() {
		us := realm.UserSession{Kind: realm.SessionBrowser}
		if err := rows.Scan(&us.ID, &us.IPAddress, &us.StartedAt, &us.ExpiresAt); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		us.StartedAt, us.ExpiresAt = fromDBTime(us.StartedAt), fromDBTime(us.ExpiresAt)
		us.LastUsedAt = us.StartedAt
		browser[us.ID] = len(out)
		out = append(out, us)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}

	rows, err = s.q(ctx).Raw(`SELECT family_id, session_id, client_id, offline, ip_address, created_at, expires_at
 FROM refresh_tokens WHERE realm_id = ? AND user_id = ? AND used = ? AND revoked = ? AND expires_at > ?
 ORDER BY created_at DESC, id DESC LIMIT ?`, realmID, userID, false, false, dbTime(now), realm.MaxUserSessions).Rows()
	if err != nil {
		return nil, mapErr(err)
	}
	chains := map[string]int{} // family ID → index in out
	var families []any
	for rows.Next() {
		var (
			us      realm.UserSession
			offline bool
		)
		if err := rows.Scan(&us.ID, &us.SessionID, &us.ClientID, &offline, &us.IPAddress, &us.LastUsedAt, &us.ExpiresAt); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		us.LastUsedAt, us.ExpiresAt = fromDBTime(us.LastUsedAt), fromDBTime(us.ExpiresAt)
		us.Kind = realm.SessionRefresh
		if offline {
			us.Kind, us.SessionID = realm.SessionOffline, ""
		}
		if _, dup := chains[us.ID]; dup {
			continue // the newest live row speaks for its chain
		}
		if us.Kind == realm.SessionRefresh {
			i, live := browser[us.SessionID]
			if !live {
				continue // its browser session has ended, and the chain with it
			}
			if us.LastUsedAt.After(out[i].LastUsedAt) {
				out[i].LastUsedAt = us.LastUsedAt
			}
		}
		us.StartedAt = us.LastUsedAt
		chains[us.ID] = len(out)
		families = append(families, us.ID)
		out = append(out, us)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}

	if len(families) > 0 {
		// Each chain's first row: when it began.
		rows, err = s.q(ctx).Raw(`SELECT family_id, MIN(created_at) FROM refresh_tokens
 WHERE realm_id = ? AND family_id IN (?`+strings.Repeat(", ?", len(families)-1)+`) GROUP BY family_id`,
			append([]any{realmID}, families...)...).Rows()
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var (
				family  string
				started any
			)
			if err := rows.Scan(&family, &started); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			t, err := aggregateTime(started)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if i, ok := chains[family]; ok {
				out[i].StartedAt = t
			}
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b realm.UserSession) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(b.ID, a.ID))
	})
	return out, nil
}

// closeRows closes rows and returns the error that ended them, if any.
func closeRows(rows interface {
	Err() error
	Close() error
}) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return mapErr(err)
}

// aggregateTime reads a timestamp computed by the database (MIN and MAX of a
// TIMESTAMP column): PostgreSQL answers a time, SQLite the stored text.
func aggregateTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return fromDBTime(v), nil
	case string:
		return parseSQLiteTime(v)
	case []byte:
		return parseSQLiteTime(string(v))
	}
	return time.Time{}, fmt.Errorf("storage/sql: a timestamp aggregate of type %T", v)
}

// parseSQLiteTime reads a timestamp as the SQLite driver writes it (UTC).
func parseSQLiteTime(text string) (time.Time, error) {
	// The layout without fractional seconds accepts any fraction.
	t, err := time.Parse(time.DateTime, text)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, text); err != nil {
			return time.Time{}, fmt.Errorf("storage/sql: %q is not a time", text)
		}
	}
	return t.UTC(), nil
}

// SessionRefreshFamilies lists the non-offline families bound to the
// browser session with a token not yet revoked (refresh_tokens_session_idx).
func (s *Store) SessionRefreshFamilies(ctx context.Context, realmID, sessionID string) ([]string, error) {
	var families []string
	err := s.q(ctx).Model(&refreshTokenModel{}).Distinct("family_id").
		Where("realm_id = ? AND session_id = ? AND offline = ? AND revoked = ?", realmID, sessionID, false, false).
		Order("family_id").Pluck("family_id", &families).Error
	return families, mapErr(err)
}

// LiveRefreshToken reads the user's live token of the family.
func (s *Store) LiveRefreshToken(ctx context.Context, realmID, userID, familyID string, now time.Time) (*realm.RefreshToken, error) {
	var m refreshTokenModel
	err := s.q(ctx).Where("realm_id = ? AND family_id = ? AND user_id = ? AND used = ? AND revoked = ? AND expires_at > ?",
		realmID, familyID, userID, false, false, dbTime(now)).Order("created_at DESC").Take(&m).Error
	if err != nil {
		return nil, mapErr(err)
	}
	return &realm.RefreshToken{ID: m.ID, RealmID: m.RealmID, FamilyID: m.FamilyID, SessionID: m.SessionID, UserID: m.UserID,
		ClientID: m.ClientID, AccessJTI: m.AccessJTI, Offline: m.Offline, Used: m.Used, Revoked: m.Revoked,
		ExpiresAt: fromDBTime(m.ExpiresAt), CreatedAt: fromDBTime(m.CreatedAt), IPAddress: m.IPAddress}, nil
}
