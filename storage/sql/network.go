package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"time"

	"github.com/wardiam/ward/realm"
)

// SetRealmIPAllowList replaces the realm's allow list and update time.
func (s *Store) SetRealmIPAllowList(ctx context.Context, realmID string, cidrs []string, updatedAt time.Time) error {
	list, err := encodeJSON(cidrs, "[]")
	if err != nil {
		return fmt.Errorf("storage/sql: encode realm IP allow list: %w", err)
	}
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&realmModel{}).Where("id = ?", realmID).Updates(map[string]any{
			"ip_allow_list": list,
			"updated_at":    dbTime(updatedAt),
		})
		if err := oneRow(res); err != nil {
			return err
		}
		// Grants read the list with the client (tokenepochs.go).
		tx.tokenChanges.add(realmID)
		return nil
	})
}

// networkListsSQL reads the realm's list and its groups' non-empty lists in
// one statement (hence from one snapshot): one row per such group, or one
// row with NULL group columns. Lists are stored canonical, so an empty one
// is exactly '[]'.
const networkListsSQL = `SELECT r.ip_allow_list, g.name, g.ip_allow_list
FROM realms r
LEFT JOIN groups g ON g.realm_id = r.id AND g.ip_allow_list <> '[]'
WHERE r.id = ?
ORDER BY g.id`

// NetworkLists returns the realm's allow list and its groups' non-empty
// lists by group name, for the realm's policy document.
func (s *Store) NetworkLists(ctx context.Context, realmID string) ([]string, map[string][]string, error) {
	rows, err := s.q(ctx).Raw(networkListsSQL, realmID).Rows()
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	var (
		realmRaw   string
		name, raw  dbsql.NullString
		found      bool
		groupLists = map[string][]string{}
		realmList  []string
	)
	for rows.Next() {
		if err := rows.Scan(&realmRaw, &name, &raw); err != nil {
			return nil, nil, mapErr(err)
		}
		found = true
		if !name.Valid {
			continue
		}
		list, err := decodeIPAllowList(raw.String)
		if err != nil {
			return nil, nil, fmt.Errorf("storage/sql: decode IP allow list of group %q: %w", name.String, err)
		}
		if len(list) > 0 {
			groupLists[name.String] = list
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, mapErr(err)
	}
	if !found {
		return nil, nil, realm.ErrNotFound
	}
	if realmList, err = decodeIPAllowList(realmRaw); err != nil {
		return nil, nil, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", realmID, err)
	}
	return realmList, groupLists, nil
}
