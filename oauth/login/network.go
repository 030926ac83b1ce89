package login

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// IP allow lists at sign-in (CONTRACT §7). The realm's list is checked
// before the form is shown: nobody outside it is offered a password field.
// A group's list can only be known once the person is: it is checked after
// the password (and for a browser session that would skip it), and a
// refusal then counts as a failed attempt for the account's lockout, so
// that the page cannot be used to test passwords from outside.

// errNetworkRefused is a correct password from outside the user's lists.
var errNetworkRefused = errors.New("login: sign-in refused for this network")

const (
	networkRefusedTitle = "Sign-in not allowed"
	networkRefusedText  = "Sign-in is not allowed from this network."
)

// clientAddr is the caller's address: the socket's, or X-Forwarded-For
// from a trusted proxy.
func (h *Handler) clientAddr(r *http.Request) netip.Addr {
	a, _ := netip.ParseAddr(h.proxies.ClientIP(r))
	return a.Unmap()
}

// addrText is an address for a record: "" when unknown.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// realmAllows checks the realm's own list, read afresh (not the provider
// cache's copy, up to 30 s old): a list set or lifted applies to the next
// page. An error fails closed.
// It returns the realm as read, for the page's other realm settings.
func (h *Handler) realmAllows(ctx context.Context, r *realm.Realm, addr netip.Addr) (*realm.Realm, bool, error) {
	fresh, err := h.store.GetRealm(ctx, r.ID)
	if err != nil {
		return nil, false, err
	}
	return fresh, len(fresh.IPAllowList) == 0 || realm.NetworkAllows(realm.ParsePrefixes(fresh.IPAllowList), nil, addr), nil
}

// userAllows checks the realm's list and the user's groups' lists, read
// with the user in one query. An error fails closed.
func (h *Handler) userAllows(ctx context.Context, r *realm.Realm, u *realm.User, addr netip.Addr) (bool, error) {
	uc, err := h.store.GetUserClaims(ctx, r.ID, u.ID)
	if err != nil {
		return false, err
	}
	lists := make([][]netip.Prefix, len(uc.Groups))
	for i, g := range uc.Groups {
		lists[i] = realm.ParsePrefixes(g.IPAllowList)
	}
	return realm.NetworkAllows(realm.ParsePrefixes(uc.RealmIPAllowList), lists, addr), nil
}

// refusal is how a refused request is answered.
type refusal struct {
	// charge spends a token of the address's sign-in budget (loginIPs):
	// pages that are not a password attempt, which loginRateLimited has
	// charged already. Past the budget the answer is 429 and nothing is
	// recorded, so refusals cannot flood the audit log.
	charge bool
	// answer, when set, ends the authorization request with access_denied
	// (redirect or posted message) instead of the page: prompt=none must
	// show nothing, and a popup's opener waits for a message.
	answer func(error) error
}

// networkRefused records the refusal (an audit event naming the address)
// and answers the page that says so, or access_denied (see refusal).
func (h *Handler) networkRefused(c echo.Context, page loginPage, r *realm.Realm, targetType, targetID string, addr netip.Addr, how refusal) error {
	if how.charge {
		if limited, err := h.loginRateLimited(c, page); limited {
			return err
		}
	}
	h.oauth.RecordNetworkRefusal(c.Request().Context(), r, targetType, targetID, "login", addr)
	if how.answer != nil {
		denied := *fosite.ErrAccessDenied.WithDescription(networkRefusedText)
		denied.HintField = ""
		return how.answer(&denied)
	}
	return h.errorPage(c, page, http.StatusForbidden, networkRefusedTitle, networkRefusedText)
}
