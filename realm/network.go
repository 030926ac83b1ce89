package realm

import "net/netip"

// IP allow lists (CONTRACT §7): a realm-wide list and one per group, CIDR
// prefixes, IPv4 and IPv6. An empty list restricts nothing.

// MaxIPAllowList bounds one realm's or group's allow list.
const MaxIPAllowList = 1000

// CheckIPAllowList checks an allow list as CheckIPRanges checks a
// template's ranges (a prefix with host bits set is refused, naming the
// prefix meant), bounded by MaxIPAllowList. The result is canonical and
// without duplicates; nil input is an empty list.
func CheckIPAllowList(v *ValidationError, field string, cidrs []string) []string {
	out := checkCIDRs(v, field, cidrs, MaxIPAllowList)
	if out == nil {
		out = []string{}
	}
	return out
}

// ParsePrefixes parses a stored allow list. Stored lists were checked when
// written; an entry that does not parse (a hand-edited row, a future
// format) becomes the zero Prefix, which contains no address: it allows
// nobody, yet keeps the list non-empty, so a list of such entries still
// restricts rather than reading as "no list" (fail closed).
func ParsePrefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			p = netip.Prefix{}
		}
		out = append(out, p)
	}
	return out
}

// NetworkAllows is CONTRACT §7's rule: addr must be in the realm's list
// when it has one and, when any of the subject's groups has a list, in the
// union of those lists. An invalid (unknown) address is allowed only where
// no list applies.
func NetworkAllows(realmList []netip.Prefix, groupLists [][]netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	if len(realmList) > 0 && !inAnyPrefix(realmList, addr) {
		return false
	}
	restricted := false
	for _, l := range groupLists {
		if len(l) == 0 {
			continue
		}
		restricted = true
		if inAnyPrefix(l, addr) {
			return true
		}
	}
	return !restricted
}

func inAnyPrefix(list []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
