package realm

import (
	"context"
	"time"
)

// SupportAccess is an organization's permission for the operator's support
// to look in (CONTRACT §7). It is on while Until is set and still ahead.
type SupportAccess struct {
	OrgID string
	// EnabledAt is when it was last switched on (nil: never, or off). A
	// support token names it, so switching off and on again does not
	// revive tokens issued before.
	EnabledAt *time.Time
	// Until is when it ends; nil when it is off.
	Until *time.Time
	// UpdatedBy names who last switched it: "member:ID", "client:ID".
	UpdatedBy string
	UpdatedAt time.Time
}

// On reports whether support access is on at now.
func (a *SupportAccess) On(now time.Time) bool {
	return a != nil && a.Until != nil && a.EnabledAt != nil && now.Before(*a.Until)
}

// SupportAccessStore keeps each org's support access.
type SupportAccessStore interface {
	// GetSupportAccess returns the org's support access; an org that has
	// never switched it reads as off (OrgID set, everything else zero),
	// without checking that the org exists.
	GetSupportAccess(ctx context.Context, orgID string) (*SupportAccess, error)
	// SetSupportAccess writes the org's support access, replacing what
	// was there. ErrNotFound when there is no such org.
	SetSupportAccess(ctx context.Context, a *SupportAccess) error
	// LockOrgSupport holds the org's row until the transaction ends (in
	// a transaction), so that switching support access on and off is
	// read-then-written by one owner at a time. ErrNotFound when there is
	// no such org.
	LockOrgSupport(ctx context.Context, orgID string) error
}
