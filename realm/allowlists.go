package realm

import (
	"context"
	"slices"
	"time"
)

// NetworkStore keeps the IP allow lists (CONTRACT §7). The realm's list is
// also on Realm and in the claims reads; groups' lists on Group.
type NetworkStore interface {
	// SetRealmIPAllowList replaces the realm's allow list (canonical CIDRs;
	// empty: no restriction) and sets its update time. ErrNotFound when
	// there is no such realm.
	SetRealmIPAllowList(ctx context.Context, realmID string, cidrs []string, updatedAt time.Time) error
	// NetworkLists returns, in one read, the realm's allow list (empty,
	// never nil, when it has none) and the lists of its groups that have
	// one, by group name. ErrNotFound when there is no such realm.
	NetworkLists(ctx context.Context, realmID string) (realmList []string, groupLists map[string][]string, err error)
}

// GetIPAllowList returns the realm's allow list (CONTRACT §7): empty when
// the realm restricts nothing.
func (s *Service) GetIPAllowList(ctx context.Context, realmName string) ([]string, error) {
	return readInRealm(ctx, s, realmName, func(r *Realm) ([]string, error) {
		if r.IPAllowList == nil {
			return []string{}, nil
		}
		return r.IPAllowList, nil
	})
}

// SetIPAllowList replaces the realm's allow list, checked with
// CheckIPAllowList on the field "cidrs" (a prefix with host bits set is
// refused, naming the prefix meant), and returns the list as stored:
// canonical, without duplicates, in the order given. An empty list lifts
// the restriction. A change is the event realm.ip_allow_list_updated
// naming the new list; setting the list it already has changes nothing
// and records nothing.
func (s *Service) SetIPAllowList(ctx context.Context, realmName string, cidrs []string) ([]string, error) {
	a, err := canWrite(ctx)
	if err != nil {
		return nil, err
	}
	v := &ValidationError{}
	list := CheckIPAllowList(v, "cidrs", cidrs)
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		// The realm row's lock: two changes at once apply one after the
		// other, and the second compares with the first's list.
		r, err := a.realmForMembership(ctx, tx, realmName)
		if err != nil {
			return err
		}
		if slices.Equal(r.IPAllowList, list) {
			return nil
		}
		if err := tx.SetRealmIPAllowList(ctx, r.ID, list, s.now()); err != nil {
			return err
		}
		return appendEvents(ctx, tx, s.event(a, r.OrgID, r.ID, EventRealmIPAllowListUpdated, "realm", r.ID,
			map[string]any{"cidrs": list}))
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// NetworkLists returns the realm's allow list and its groups' non-empty
// lists by group name, for the realm's policy document. It checks no
// caller: the oauth package serves the document to the realm's own
// authenticated clients.
func (s *Service) NetworkLists(ctx context.Context, realmID string) (realmList []string, groupLists map[string][]string, err error) {
	return s.store.NetworkLists(ctx, realmID)
}
