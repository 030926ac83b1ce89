package realm

import (
	"context"
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
