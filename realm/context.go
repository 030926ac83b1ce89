package realm

import "context"

// Principal is who is acting: a console member or an org admin client,
// within one organization, or the system itself (bootstrap, start-up).
type Principal struct {
	OrgID     string
	Role      Role
	ActorType string // "member", "client" or "system"
	ActorID   string // member's console user ID, client's client_id, or "ward"
	// Reason is why support looks in (ActorType "support" only): the
	// reason given to `ward support-token`, recorded with every call.
	Reason string
}

// supportRole: role support is only ever acted with by a support principal.
func (p Principal) supportRole() bool { return p.Role == RoleSupport && p.ActorType == ActorSupport }

// System is the principal for work Ward does on its own behalf.
var System = Principal{ActorType: "system", ActorID: "ward"}

type principalKey struct{}
type realmKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the acting principal, if any. Callers that
// find none must fail closed.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithRealm returns a context carrying the request's realm.
func WithRealm(ctx context.Context, r *Realm) context.Context {
	return context.WithValue(ctx, realmKey{}, r)
}

// FromContext returns the request's realm, if any. Handlers that need a
// realm and find none must fail closed.
func FromContext(ctx context.Context) (*Realm, bool) {
	r, ok := ctx.Value(realmKey{}).(*Realm)
	return r, ok && r != nil
}
