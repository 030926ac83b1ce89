package realm

import (
	"net/netip"
	"strings"
	"testing"
)

// TestNetworkAllows: CONTRACT §7's rule, IPv4 and IPv6, a group list
// narrowing the realm's, the union of several groups' lists, and an
// unknown address failing every list; a stored list that does not parse
// allows nobody rather than reading as no list.
func TestNetworkAllows(t *testing.T) {
	pp := func(cidrs ...string) []netip.Prefix { return ParsePrefixes(cidrs) }
	office := pp("203.0.113.0/24", "2001:db8::/32")
	lab := pp("203.0.113.128/25")
	vpn := pp("198.51.100.0/24")
	damaged := pp("not a prefix") // a stored list that no longer parses
	for _, c := range []struct {
		name   string
		realm  []netip.Prefix
		groups [][]netip.Prefix
		addr   string
		want   bool
	}{
		{"no lists", nil, nil, "192.0.2.1", true},
		{"no lists, unknown address", nil, nil, "", true},
		{"in the realm list", office, nil, "203.0.113.7", true},
		{"in the realm list, IPv6", office, nil, "2001:db8::1", true},
		{"IPv4-mapped IPv6", office, nil, "::ffff:203.0.113.7", true},
		{"outside the realm list", office, nil, "192.0.2.1", false},
		{"outside the realm list, IPv6", office, nil, "2001:db9::1", false},
		{"unknown address and a realm list", office, nil, "", false},
		{"a group narrows the realm", office, [][]netip.Prefix{lab}, "203.0.113.7", false},
		{"inside the group's list", office, [][]netip.Prefix{lab}, "203.0.113.200", true},
		{"groups without lists restrict nothing", office, [][]netip.Prefix{nil, {}}, "203.0.113.7", true},
		{"the union of the groups' lists", nil, [][]netip.Prefix{lab, vpn}, "198.51.100.9", true},
		{"outside every group's list", nil, [][]netip.Prefix{lab, vpn}, "192.0.2.1", false},
		{"group list but outside the realm's", office, [][]netip.Prefix{vpn}, "198.51.100.9", false},
		{"a realm list that does not parse allows nobody", damaged, nil, "192.0.2.1", false},
		{"a group list that does not parse allows nobody", nil, [][]netip.Prefix{damaged}, "192.0.2.1", false},
	} {
		var addr netip.Addr
		if c.addr != "" {
			addr = netip.MustParseAddr(c.addr)
		}
		if got := NetworkAllows(c.realm, c.groups, addr); got != c.want {
			t.Errorf("%s: NetworkAllows(%s) = %v, want %v", c.name, c.addr, got, c.want)
		}
	}
}

func TestCheckIPAllowList(t *testing.T) {
	v := &ValidationError{}
	if got := CheckIPAllowList(v, "cidrs", nil); v.OrNil() != nil || got == nil || len(got) != 0 {
		t.Fatalf("nil list: %#v, %v", got, v.OrNil())
	}
	big := make([]string, MaxIPAllowList+1)
	for i := range big {
		big[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String()
	}
	v = &ValidationError{}
	CheckIPAllowList(v, "cidrs", big[:MaxIPAllowList])
	if v.OrNil() != nil {
		t.Fatalf("%d entries: %v", MaxIPAllowList, v.OrNil())
	}
	v = &ValidationError{}
	CheckIPAllowList(v, "cidrs", big)
	if len(v.Fields) != 1 || v.Fields[0].Field != "cidrs" {
		t.Fatalf("%d entries: %+v, want one error on cidrs", len(big), v.Fields)
	}
	v = &ValidationError{}
	CheckIPAllowList(v, "cidrs", []string{"10.0.0.0/8", "10.1.2.3/16", "nope", "::ffff:203.0.113.0/120"})
	if len(v.Fields) != 3 || v.Fields[0].Field != "cidrs[1]" || v.Fields[1].Field != "cidrs[2]" || v.Fields[2].Field != "cidrs[3]" ||
		!strings.Contains(v.Fields[2].Message, "write 203.0.113.0/24") {
		t.Fatalf("bad entries: %+v", v.Fields)
	}
}
