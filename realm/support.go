package realm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Support access (CONTRACT §7): the operator who runs Ward may look into an
// organization only while its owner allows it, with a read-only token that
// `ward support-token` issues. Everything is checked against the database
// on every call, so switching it off or its end passing ends every support
// token at once on every node.

// ActorSupport is the actor type of a support principal and of its events.
const ActorSupport = "support"

// Bounds of support access and its tokens.
const (
	// SupportAccessDefault is how long support access stays on when the
	// owner names no end.
	SupportAccessDefault = 24 * time.Hour
	// SupportAccessMax is how far ahead its end may be.
	SupportAccessMax = 7 * 24 * time.Hour
	// SupportTokenDefaultTTL is a support token's life when none is asked.
	SupportTokenDefaultTTL = time.Hour
	// SupportTokenMinTTL is the shortest life one may ask for.
	SupportTokenMinTTL = time.Minute
	// MaxSupportReason bounds the reason, in characters.
	MaxSupportReason = 500
)

// ErrSupportAccessOff: a support token of an org whose support access is
// off, has ended, or was switched on again since the token was issued. It
// is a 401: the token is no longer good.
var ErrSupportAccessOff = fmt.Errorf("%w: support access to the organization is off or has ended", ErrUnauthenticated)

// SupportAccessInput is the owner's switch: Enabled is required; Until
// only goes with Enabled true (nil: SupportAccessDefault from now).
type SupportAccessInput struct {
	Enabled *bool
	Until   *time.Time
}

// SupportAccessView is the state of the switch as the owner sees it.
type SupportAccessView struct {
	// Enabled is whether it is on now (false once Until has passed).
	Enabled bool
	// Until is the end while it is on, or the end that passed; nil after
	// it was switched off (or never on).
	Until     *time.Time
	EnabledAt *time.Time
	// UpdatedBy is who last switched it ("member:ID", "client:ID"; empty
	// if never), UpdatedAt when.
	UpdatedBy string
	UpdatedAt *time.Time
}

func (s *Service) supportView(sa *SupportAccess) *SupportAccessView {
	v := &SupportAccessView{Enabled: sa.On(s.now()), Until: sa.Until, UpdatedBy: sa.UpdatedBy}
	if v.Enabled {
		v.EnabledAt = sa.EnabledAt
	}
	if sa.UpdatedBy != "" {
		at := sa.UpdatedAt
		v.UpdatedAt = &at
	}
	return v
}

// GetSupportAccess returns the org's support access. Owners only.
func (s *Service) GetSupportAccess(ctx context.Context) (*SupportAccessView, error) {
	sa, err := s.callersSupportAccess(ctx, ownerOnly)
	if err != nil {
		return nil, err
	}
	return s.supportView(sa), nil
}

// callersSupportAccess reads the support access of the caller's org, once
// allowed checks the caller.
func (s *Service) callersSupportAccess(ctx context.Context, allowed func(context.Context) (access, error)) (*SupportAccess, error) {
	a, err := allowed(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	return s.store.GetSupportAccess(ctx, orgID)
}

// SupportAccessUntil tells every role whether support may look in now (the
// console's banner): the end while it is on, nil while it is off.
func (s *Service) SupportAccessUntil(ctx context.Context) (*time.Time, error) {
	sa, err := s.callersSupportAccess(ctx, canRead)
	if err != nil {
		return nil, err
	}
	if !sa.On(s.now()) {
		return nil, nil
	}
	return sa.Until, nil
}

// SetSupportAccess switches the org's support access on until a time (at
// most SupportAccessMax ahead, default SupportAccessDefault) or off.
// Owners only. Switching it on while it is on moves the end and keeps the
// tokens issued meanwhile; switching it off ends every support token.
func (s *Service) SetSupportAccess(ctx context.Context, in SupportAccessInput) (*SupportAccessView, error) {
	a, err := ownerOnly(ctx)
	if err != nil {
		return nil, err
	}
	orgID, err := a.orgID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &ValidationError{}
	var until time.Time
	switch {
	case in.Enabled == nil:
		v.Add("enabled", "is required (true or false)")
	case *in.Enabled && in.Until == nil:
		until = now.Add(SupportAccessDefault)
	case *in.Enabled:
		until = in.Until.UTC().Truncate(time.Microsecond)
		if !until.After(now) {
			v.Add("until", "must be in the future")
		} else if until.Sub(now) > SupportAccessMax {
			v.Add("until", fmt.Sprintf("must be at most 7 days ahead (no later than %s)", now.Add(SupportAccessMax).Format(time.RFC3339)))
		}
	case in.Until != nil:
		v.Add("until", "goes only with enabled true")
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var out *SupportAccess
	err = s.store.InTx(ctx, func(tx Store) error {
		// Without the lock, on PostgreSQL an "on" racing an "off" could
		// write back the enabled_at read before the off, reviving the
		// support tokens the off was meant to end.
		if err := tx.LockOrgSupport(ctx, orgID); err != nil {
			return err
		}
		cur, err := tx.GetSupportAccess(ctx, orgID)
		if err != nil {
			return err
		}
		next := &SupportAccess{OrgID: orgID, UpdatedBy: a.p.ActorType + ":" + a.p.ActorID, UpdatedAt: now}
		var ev *Event
		if *in.Enabled {
			enabledAt := now
			if cur.On(now) {
				enabledAt = *cur.EnabledAt
			}
			next.EnabledAt, next.Until = &enabledAt, &until
			ev = s.event(a, orgID, "", EventOrgSupportAccessEnabled, "org", orgID,
				map[string]any{"until": until.Format(time.RFC3339Nano)})
		} else {
			ev = s.event(a, orgID, "", EventOrgSupportAccessDisabled, "org", orgID, nil)
		}
		if err := tx.SetSupportAccess(ctx, next); err != nil {
			return err
		}
		out = next
		return appendEvents(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return s.supportView(out), nil
}

// SupportAllowed checks a support token's grant on a call: the org's
// support access is on now and was switched on at enabledAt (the token's
// own record of it), else ErrSupportAccessOff. It takes no principal: the
// admin API's authentication calls it on every call with such a token.
func (s *Service) SupportAllowed(ctx context.Context, orgID string, enabledAt time.Time) error {
	if orgID == "" {
		return ErrSupportAccessOff
	}
	sa, err := s.store.GetSupportAccess(ctx, orgID)
	if err != nil {
		return err
	}
	if !sa.On(s.now()) || !sa.EnabledAt.Equal(enabledAt.UTC().Truncate(time.Microsecond)) {
		return ErrSupportAccessOff
	}
	return nil
}

// RecordSupportCall appends the audit event of one admin API call made by
// the support principal on ctx: method, route (the pattern), path and the
// principal's reason. Every call is recorded, reads too, before it runs.
func (s *Service) RecordSupportCall(ctx context.Context, method, route, path string) error {
	a, err := caller(ctx)
	if err != nil {
		return err
	}
	if !a.p.supportRole() {
		return fmt.Errorf("%w: not a support principal", ErrForbidden)
	}
	return s.store.AppendEvent(ctx, s.event(a, a.p.OrgID, "", EventSupportCall, "route", route,
		map[string]any{"method": method, "route": route, "path": path, "reason": a.p.Reason}))
}

// SupportGrant is what a support token is signed from.
type SupportGrant struct {
	Org       *Org
	ID        string // the token's jti
	Reason    string
	IssuedAt  time.Time
	ExpiresAt time.Time // whole seconds, never after the access's end
	// EnabledAt is when the org's support access was switched on: the
	// token names it and is good only while that is still so.
	EnabledAt time.Time
}

// ErrSupportNotAllowed: `ward support-token` for an org that does not allow
// support access now.
var ErrSupportNotAllowed = errors.New("support access is not switched on for the organization")

// GrantSupport checks and records the issue of a support token for the org
// with this slug: the org's support access must be on, reason is required
// (single-line text, at most MaxSupportReason characters), ttl is 0 (the
// default, SupportTokenDefaultTTL) or between SupportTokenMinTTL and
// SupportAccessMax, and the token ends at the access's end if that comes
// first. Ward itself only (the CLI, as System). Errors: ErrNotFound (no
// such org), ErrSupportNotAllowed, *ValidationError naming "reason" or
// "ttl".
func (s *Service) GrantSupport(ctx context.Context, slug, reason string, ttl time.Duration) (*SupportGrant, error) {
	if _, err := systemOnly(ctx); err != nil {
		return nil, err
	}
	v := &ValidationError{}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		v.Add("reason", "is required")
	case TextProblem(reason, false) != "":
		v.Add("reason", TextProblem(reason, false))
	case utf8.RuneCountInString(reason) > MaxSupportReason:
		v.Add("reason", fmt.Sprintf("must be at most %d characters", MaxSupportReason))
	}
	switch {
	case ttl == 0:
		ttl = SupportTokenDefaultTTL
	case ttl < SupportTokenMinTTL || ttl > SupportAccessMax:
		v.Add("ttl", fmt.Sprintf("must be between %s and %s", SupportTokenMinTTL, SupportAccessMax))
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	if slug == "" {
		return nil, ErrNotFound
	}
	var g *SupportGrant
	err := s.store.InTx(ctx, func(tx Store) error {
		org, err := tx.GetOrgBySlug(ctx, slug)
		if err != nil {
			return err
		}
		sa, err := tx.GetSupportAccess(ctx, org.ID)
		if err != nil {
			return err
		}
		now := s.now()
		if !sa.On(now) {
			return ErrSupportNotAllowed
		}
		exp := now.Add(ttl)
		if sa.Until.Before(exp) {
			exp = *sa.Until
		}
		// JWT times are whole seconds: round down, so the token never
		// outlives the access.
		exp = exp.Truncate(time.Second)
		if !exp.After(now) {
			return ErrSupportNotAllowed // ends within the second
		}
		g = &SupportGrant{Org: org, ID: s.newID(), Reason: reason, IssuedAt: now, ExpiresAt: exp, EnabledAt: *sa.EnabledAt}
		sup := access{p: Principal{OrgID: org.ID, Role: RoleSupport, ActorType: ActorSupport, ActorID: g.ID, Reason: reason}}
		return appendEvents(ctx, tx, s.event(sup, org.ID, "", EventSupportTokenIssued, "support_token", g.ID,
			map[string]any{"reason": reason, "expires_at": exp.Format(time.RFC3339)}))
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}
