package sql

import (
	"context"

	"github.com/wardiam/ward/realm"
)

// AppendEvent inserts e.
func (s *Store) AppendEvent(ctx context.Context, e *realm.Event) error {
	m, err := toEvent(e)
	if err != nil {
		return err
	}
	return mapErr(s.q(ctx).Create(&m).Error)
}

// ListEvents lists newest first (descending ID, which is time order).
// realmID empty lists the org-level events.
func (s *Store) ListEvents(ctx context.Context, orgID, realmID string, f realm.EventFilter) (realm.Page[realm.Event], error) {
	limit := clampLimit(f.Limit)
	db := s.q(ctx).Model(&eventModel{}).Where("org_id = ? AND realm_id = ?", orgID, realmID)
	if f.Type != "" {
		db = db.Where("type = ?", f.Type)
	}
	if f.Since != nil {
		db = db.Where("time >= ?", dbTime(*f.Since))
	}
	if f.Until != nil {
		db = db.Where("time < ?", dbTime(*f.Until))
	}
	if f.ActorID != "" {
		db = db.Where("actor_id = ?", f.ActorID)
	}
	if f.TargetID != "" {
		db = db.Where("target_id = ?", f.TargetID)
	}
	if f.Cursor != "" {
		db = db.Where("id < ?", f.Cursor)
	}
	var rows []eventModel
	if err := db.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return realm.Page[realm.Event]{}, mapErr(err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	items := make([]realm.Event, len(rows))
	for i, m := range rows {
		var err error
		if items[i], err = fromEvent(m); err != nil {
			return realm.Page[realm.Event]{}, err
		}
	}
	return pageOf(items, next), nil
}
