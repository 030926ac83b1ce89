package attributes

import (
	"context"
	"net/netip"
)

// IP allow lists (CONTRACT §7): the realm's policy document carries the
// realm-wide list and each group's, and the guard applies them to every
// request, so that a token obtained inside a network stops working
// outside it. A caller is allowed when its address is in the realm's list
// (when there is one) and, when any of its groups has a list, in the union
// of those lists. API keys and temporary keys belong to no group: only the
// realm's list applies to them.

// networkDocument is the policy document's ip_allow_lists.
type networkDocument struct {
	Realm  []string            `json:"realm"`
	Groups map[string][]string `json:"groups"`
}

// networkLists are the parsed lists in force.
type networkLists struct {
	realm  []netip.Prefix
	groups map[string][]netip.Prefix
}

// parsePrefixes parses a list from the document; an entry that does not
// parse is left out, which only narrows an allow list (fail closed).
func parsePrefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// setNetworkLists replaces the lists in force (from a policy document
// answered 200; absent means none).
func (g *Guard) setNetworkLists(doc networkDocument) {
	// A list whose every entry failed to parse still restricts: an empty
	// parsed list would otherwise mean "no list". The invalid prefix added
	// to each list matches nothing and keeps it non-empty.
	n := &networkLists{groups: make(map[string][]netip.Prefix, len(doc.Groups))}
	if len(doc.Realm) > 0 {
		n.realm = append(parsePrefixes(doc.Realm), netip.Prefix{})
	}
	for name, l := range doc.Groups {
		if len(l) > 0 {
			n.groups[name] = append(parsePrefixes(l), netip.Prefix{})
		}
	}
	g.network.Store(n)
}

// networkAllows applies the lists to subject at the request's address.
func (g *Guard) networkAllows(ctx context.Context, subject map[string]any) bool {
	n := g.network.Load()
	if n == nil || len(n.realm) == 0 && len(n.groups) == 0 {
		return true
	}
	ip, _ := ctx.Value(ipKey{}).(string)
	addr, _ := netip.ParseAddr(ip)
	addr = addr.Unmap().WithZone("")
	if len(n.realm) > 0 && !inPrefixes(n.realm, addr) {
		return false
	}
	restricted := false
	for _, name := range subjectGroups(subject) {
		l, ok := n.groups[name]
		if !ok {
			continue
		}
		restricted = true
		if inPrefixes(l, addr) {
			return true
		}
	}
	return !restricted
}

// subjectGroups are the group names of a token's groups claim.
func subjectGroups(subject map[string]any) []string {
	switch gs := subject["groups"].(type) {
	case []string:
		return gs
	case []any:
		out := make([]string, 0, len(gs))
		for _, g := range gs {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func inPrefixes(list []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range list {
		if p.IsValid() && p.Contains(addr) {
			return true
		}
	}
	return false
}

// networkRefused is the 403 of a caller outside the allow lists.
func networkRefused() *problem {
	return forbidden("requests from this network are not allowed")
}
