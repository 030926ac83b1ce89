package attributes

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestGuardIPAllowLists: the realm's list and its groups' lists from the
// policy document apply to every request (CONTRACT §7): a token used
// outside them is refused (403), a group's list narrows the realm's, a
// subject in no listed group only meets the realm's, keys meet the realm's,
// IPv6 works, a removed list stops applying at the next poll, and a spoofed
// X-Forwarded-For from an untrusted peer changes nothing.
func TestGuardIPAllowLists(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	token := func(groups ...any) string {
		now := e.clock.now()
		return e.ti.keySigner.sign(t, "at+jwt", map[string]any{
			"iss": e.ti.issuer, "sub": "svc-1", "aud": []any{testAudience}, "client_id": "svc-1",
			"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j-svc-1",
			"kind": "service_account", "groups": groups, "attributes": map[string]any{}})
	}
	news, other := token("news"), token("other")
	tk := e.mint(t, nil)
	me := func(cred, addr string, apiKey bool) answer {
		t.Helper()
		h := []string{"Authorization", "Bearer " + cred}
		if apiKey {
			h = []string{"X-API-Key", cred}
		}
		if addr != "" {
			h = append(h, from(addr)...)
		}
		return send(t, http.MethodGet, e.srv.URL+"/me", h...)
	}
	refresh := func(lists map[string]any) {
		t.Helper()
		e.ti.set(func(ti *testIssuer) { ti.ipAllowLists = lists; ti.version++ })
		if err := e.g.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	const refused = "requests from this network are not allowed"

	wantStatus(t, "no lists", me(news, "192.0.2.1", false), http.StatusOK, "")
	refresh(map[string]any{"realm": []string{"203.0.113.0/24", "2001:db8::/32"}, "groups": map[string]any{}})
	wantStatus(t, "inside the realm's list", me(news, "203.0.113.5", false), http.StatusOK, "")
	wantStatus(t, "inside the realm's list, IPv6", me(news, "2001:db8::5", false), http.StatusOK, "")
	wantStatus(t, "outside the realm's list", me(news, "192.0.2.1", false), http.StatusForbidden, refused)
	wantStatus(t, "outside, IPv6", me(news, "2001:db9::5", false), http.StatusForbidden, refused)
	wantStatus(t, "a temporary key inside", me(tk, "203.0.113.5", true), http.StatusOK, "")
	wantStatus(t, "a temporary key outside", me(tk, "192.0.2.1", true), http.StatusForbidden, refused)
	// The proxy itself (no X-Forwarded-For) is 127.0.0.1: outside.
	wantStatus(t, "the proxy's own request", me(news, "", false), http.StatusForbidden, refused)

	refresh(map[string]any{"realm": []string{"203.0.113.0/24"}, "groups": map[string]any{"news": []string{"203.0.113.128/25", "198.51.100.0/24"}}})
	wantStatus(t, "a group narrows the realm", me(news, "203.0.113.5", false), http.StatusForbidden, refused)
	wantStatus(t, "inside the group's list", me(news, "203.0.113.200", false), http.StatusOK, "")
	wantStatus(t, "in the group's list, outside the realm's", me(news, "198.51.100.9", false), http.StatusForbidden, refused)
	wantStatus(t, "in no listed group", me(other, "203.0.113.5", false), http.StatusOK, "")
	wantStatus(t, "keys meet the realm's list only", me(tk, "203.0.113.5", true), http.StatusOK, "")

	refresh(map[string]any{"realm": []string{}, "groups": map[string]any{"news": []string{"198.51.100.0/24"}}})
	wantStatus(t, "only a group's list", me(news, "198.51.100.9", false), http.StatusOK, "")
	wantStatus(t, "outside the group's list", me(news, "203.0.113.200", false), http.StatusForbidden, refused)
	wantStatus(t, "no list for the others", me(other, "192.0.2.1", false), http.StatusOK, "")

	// Removed: the next poll lifts it.
	refresh(nil)
	wantStatus(t, "lists removed", me(news, "203.0.113.200", false), http.StatusOK, "")
}

// TestGuardIPAllowListSpoofedHeader: without a trusted proxy setting, an
// X-Forwarded-For naming an allowed address is ignored: the socket
// address (127.0.0.1) decides.
func TestGuardIPAllowListSpoofedHeader(t *testing.T) {
	e := newTKEnv(t, nil)
	e.ti.set(func(ti *testIssuer) {
		ti.ipAllowLists = map[string]any{"realm": []string{"203.0.113.0/24"}}
		ti.version++
	})
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tk := e.mint(t, nil)
	wantStatus(t, "spoofed", send(t, http.MethodGet, e.srv.URL+"/me", append([]string{"X-API-Key", tk}, from("203.0.113.5")...)...),
		http.StatusForbidden, "requests from this network are not allowed")
	e.ti.set(func(ti *testIssuer) {
		ti.ipAllowLists = map[string]any{"realm": []string{"127.0.0.0/8"}}
		ti.version++
	})
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "the socket address", send(t, http.MethodGet, e.srv.URL+"/me", "X-API-Key", tk), http.StatusOK, "")
}

// TestGuardIPAllowListUnreadable: a realm list none of whose entries the
// guard can read still restricts (to nothing), rather than lifting.
func TestGuardIPAllowListUnreadable(t *testing.T) {
	e := newTKEnv(t, func(c *Config) { c.TrustedProxies = localProxy })
	tk := e.mint(t, nil)
	e.ti.set(func(ti *testIssuer) {
		ti.ipAllowLists = map[string]any{"realm": []string{"not a prefix"}}
		ti.version++
	})
	if err := e.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "an unreadable realm list", send(t, http.MethodGet, e.srv.URL+"/me", append([]string{"X-API-Key", tk}, from("203.0.113.5")...)...),
		http.StatusForbidden, "requests from this network are not allowed")
}
