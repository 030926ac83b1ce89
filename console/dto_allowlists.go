package console

// ipAllowListDTO is a realm's IP allow list as the admin API shows and
// takes it (CONTRACT §7): cidrs is always an array, empty when the realm
// restricts nothing.
type ipAllowListDTO struct {
	CIDRs []string `json:"cidrs"`
}

// ipAllowListRequest replaces the whole list: cidrs must be given, and
// null is refused ([] lifts the restriction).
type ipAllowListRequest struct {
	CIDRs Optional[[]string] `json:"cidrs"`
}
