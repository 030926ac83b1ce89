package realm

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// event builds an audit record of a change made by a. details must never
// carry a secret, a hash or a token: only IDs, names and field names.
func (s *Service) event(a access, orgID, realmID string, typ EventType, targetType, targetID string, details map[string]any) *Event {
	if details == nil {
		details = map[string]any{}
	}
	return &Event{
		ID:         s.newID(),
		OrgID:      orgID,
		RealmID:    realmID,
		Type:       typ,
		ActorType:  a.p.ActorType,
		ActorID:    a.p.ActorID,
		TargetType: targetType,
		TargetID:   targetID,
		Details:    details,
		Time:       s.now(),
	}
}

// appendEvents writes events in the caller's transaction, so the record and
// the change land together or not at all.
func appendEvents(ctx context.Context, tx Store, events ...*Event) error {
	for _, e := range events {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// ListEvents lists the audit log of a realm, or of the org when realmName
// is empty, newest first. Every role may read it.
func (s *Service) ListEvents(ctx context.Context, realmName string, f EventFilter) (Page[Event], error) {
	a, err := canRead(ctx)
	if err != nil {
		return Page[Event]{}, err
	}
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return Page[Event]{}, err
	}
	f.Limit = limit
	if err := checkEventFilter(f); err != nil {
		return Page[Event]{}, err
	}
	if realmName == "" {
		orgID, err := a.orgID()
		if err != nil {
			return Page[Event]{}, err
		}
		return s.store.ListEvents(ctx, orgID, "", f)
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return Page[Event]{}, err
	}
	return s.store.ListEvents(ctx, r.OrgID, r.ID, f)
}

// maxEventRefLen bounds an event filter's actor and target: IDs and
// client_ids are far shorter.
const maxEventRefLen = 200

// checkEventFilter refuses filters that can match nothing by mistake.
func checkEventFilter(f EventFilter) error {
	v := &ValidationError{}
	for field, s := range map[string]string{"actor_id": f.ActorID, "target_id": f.TargetID} {
		if p := TextProblem(s, false); p != "" {
			v.Add(field, p)
		} else if len(s) > maxEventRefLen {
			v.Add(field, fmt.Sprintf("must be at most %d characters", maxEventRefLen))
		}
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		v.Add("until", "must be later than since")
	}
	return v.OrNil()
}

// changed is a small helper for "what fields did this patch touch" details.
type changed []string

func (c *changed) add(field string) { *c = append(*c, field) }

func (c changed) has(field string) bool { return slices.Contains(c, field) }

func (c changed) details() map[string]any {
	fields := make([]any, len(c))
	for i, f := range c {
		fields[i] = f
	}
	return map[string]any{"fields": fields}
}

// timePtr returns a pointer to t (for optional timestamps).
func timePtr(t time.Time) *time.Time { return &t }
