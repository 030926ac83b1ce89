package oauth

import (
	"context"
	"net/netip"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// IP allow lists at the token endpoint (CONTRACT §7): a grant whose caller
// is the subject — client_credentials, the API-key exchange — and
// temporary-key minting are refused from outside the realm's list and,
// for a client in groups with lists, outside the union of those. The
// caller's address is the socket's, or X-Forwarded-For from
// WARD_TRUSTED_PROXIES. The lists come with the client (or key) in the
// grant's one query.

type clientAddrKey struct{}

// withClientAddr puts the caller's address on the context of a token
// request, where the grants find it.
func withClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// clientAddr is the caller's address put there by withClientAddr; an
// unknown one is invalid, which no list contains.
func clientAddr(ctx context.Context) netip.Addr {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	a, _ := netip.ParseAddr(s)
	return a
}

// clientAddrText is the caller's address put there by withClientAddr, as
// given ("" when there is none).
func clientAddrText(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	return s
}

// networkAllows applies the realm's list and the groups' lists to the
// address on ctx.
func networkAllows(ctx context.Context, realmList []string, groups []realm.Group) bool {
	if len(realmList) == 0 && !anyGroupList(groups) {
		return true // the common case costs no parsing
	}
	lists := make([][]netip.Prefix, 0, len(groups))
	for _, g := range groups {
		lists = append(lists, realm.ParsePrefixes(g.IPAllowList))
	}
	return realm.NetworkAllows(realm.ParsePrefixes(realmList), lists, clientAddr(ctx))
}

func anyGroupList(groups []realm.Group) bool {
	for _, g := range groups {
		if len(g.IPAllowList) > 0 {
			return true
		}
	}
	return false
}

// networkRefusal records a refusal at the token endpoint (see
// RecordNetworkRefusal) of the caller on ctx.
func (s *Server) networkRefusal(ctx context.Context, p *provider, targetType, targetID, where string) {
	s.RecordNetworkRefusal(ctx, p.realm, targetType, targetID, where, clientAddr(ctx))
}

// RecordNetworkRefusal records a request refused by an IP allow list as
// an audit event naming the caller's address, where it was refused and,
// with a GeoIP database (Config.Countries), its country: the code, or ""
// where the database places no country (CONTRACT §7). Refusals are charged
// to the address's budget of refused requests, which bounds these writes.
// A failed write (or lookup) is logged, never a reason to answer
// differently.
func (s *Server) RecordNetworkRefusal(ctx context.Context, r *realm.Realm, targetType, targetID, where string, addr netip.Addr) {
	now := s.clock()
	addr = addr.Unmap()
	details := map[string]any{"address": "", "at": where}
	if addr.IsValid() {
		details["address"] = addr.String()
	}
	if s.countries != nil {
		country, err := s.countries.Country(addr)
		if err != nil {
			s.log.WarnContext(ctx, "oauth: GeoIP lookup failed", "err", err)
		}
		details["country"] = country
	}
	e := &realm.Event{ID: realm.NewID(now, nil), OrgID: r.OrgID, RealmID: r.ID, Type: realm.EventNetworkRefused,
		ActorType: "system", TargetType: targetType, TargetID: targetID, Details: details, Time: now.UTC()}
	if err := s.store.AppendEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "oauth: audit event not written", "realm", r.Name, "event", e.Type, "err", err)
	}
}

// networkRefusedDescription is what every refusal says.
const networkRefusedDescription = "Requests from this network are not allowed."

// errNetworkRefused is the token endpoint's refusal: access_denied, 403.
func errNetworkRefused() error {
	e := *fosite.ErrAccessDenied
	e.DescriptionField = networkRefusedDescription
	e.HintField = ""
	return &e
}
