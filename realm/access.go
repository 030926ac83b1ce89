package realm

import (
	"context"
	"fmt"
	"time"
)

// access is what a method needs to know about the caller once it has been
// checked: the principal and the org it acts in ("" only for System acting
// across orgs).
type access struct {
	p Principal
}

func (a access) system() bool { return a.p.ActorType == "system" }

// caller returns the principal from ctx. It fails closed: no principal is
// ErrUnauthenticated, and a non-system principal without an org or with an
// unknown role is ErrForbidden (a token that lost its claims must not act).
func caller(ctx context.Context) (access, error) {
	p, ok := PrincipalFromContext(ctx)
	if !ok {
		return access{}, ErrUnauthenticated
	}
	a := access{p: p}
	if a.system() {
		return a, nil
	}
	if p.OrgID == "" || !(p.Role.Valid() || p.supportRole()) {
		return access{}, fmt.Errorf("%w: principal has no organization or role", ErrForbidden)
	}
	return a, nil
}

// canRead: every role may read inside its org.
func canRead(ctx context.Context) (access, error) { return caller(ctx) }

// canWrite: owners and admins change things inside realms; viewers only read.
func canWrite(ctx context.Context) (access, error) {
	a, err := caller(ctx)
	if err != nil {
		return a, err
	}
	if !a.system() && !a.p.Role.CanWrite() {
		return access{}, fmt.Errorf("%w: role %s may only read", ErrForbidden, a.p.Role)
	}
	return a, nil
}

// ownerOnly: members, org admin clients and realm deletion are the owners'.
func ownerOnly(ctx context.Context) (access, error) {
	a, err := caller(ctx)
	if err != nil {
		return a, err
	}
	if !a.system() && a.p.Role != RoleOwner {
		return access{}, fmt.Errorf("%w: only owners may do this", ErrForbidden)
	}
	return a, nil
}

// systemOnly: start-up and bootstrap work that no org principal may trigger.
func systemOnly(ctx context.Context) (access, error) {
	a, err := caller(ctx)
	if err != nil {
		return a, err
	}
	if !a.system() {
		return access{}, fmt.Errorf("%w: only Ward itself may do this", ErrForbidden)
	}
	return a, nil
}

// orgID is the org an org-level call acts in. System acting without an org
// has none, and org-level calls then have nothing to act on.
func (a access) orgID() (string, error) {
	if a.p.OrgID == "" {
		return "", fmt.Errorf("%w: no organization in the principal", ErrForbidden)
	}
	return a.p.OrgID, nil
}

// realm resolves a realm by name for this caller. A realm of another org and
// the console realm are ErrNotFound: their existence is not the caller's
// business. System without an org may address every org's realm.
func (a access) realm(ctx context.Context, st Store, name string) (*Realm, error) {
	if name == "" || name == ConsoleRealm {
		return nil, ErrNotFound
	}
	r, err := st.GetRealmByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if r.OrgID == "" || r.Name == ConsoleRealm {
		return nil, ErrNotFound
	}
	if a.p.OrgID != "" && r.OrgID != a.p.OrgID {
		return nil, ErrNotFound
	}
	if a.p.OrgID == "" && !a.system() {
		return nil, ErrNotFound
	}
	return r, nil
}

// realmForMembership is realm for a change to group values or memberships
// inside tx: it also takes the realm's membership lock, before anything of
// the change is read, so the claims bound holds between concurrent changes.
func (a access) realmForMembership(ctx context.Context, tx Store, name string) (*Realm, error) {
	r, err := a.realm(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if err := tx.LockRealmMembership(ctx, r.ID); err != nil {
		return nil, err
	}
	return r, nil
}

// now is the service clock in UTC, cut to microseconds so that values read
// back from any database compare equal to the ones written.
func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

func (s *Service) newID() string { return NewID(s.clock(), s.random) }

// readInRealm runs read on the realm named realmName for a caller who may
// read it: the shape of every plain read of one realm's objects.
func readInRealm[T any](ctx context.Context, s *Service, realmName string, read func(r *Realm) (T, error)) (T, error) {
	var none T
	a, err := canRead(ctx)
	if err != nil {
		return none, err
	}
	r, err := a.realm(ctx, s.store, realmName)
	if err != nil {
		return none, err
	}
	return read(r)
}
