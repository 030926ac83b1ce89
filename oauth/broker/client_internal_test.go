package broker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestProviderClientPublicOnly: the client refuses to connect to
// loopback, private and other non-public addresses unless allowed
// (WARD_IDP_ALLOW_PRIVATE_NETWORKS), so an organization admin's provider
// URL cannot reach Ward's own network.
func TestProviderClientPublicOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if _, err := NewClient(false).Get(srv.URL); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("a loopback URL without allowPrivate: %v, want ErrPrivateAddress", err)
	}
	resp, err := NewClient(true).Get(srv.URL)
	if err != nil {
		t.Fatalf("a loopback URL with allowPrivate: %v", err)
	}
	resp.Body.Close()
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.0.1": false,
		"172.16.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "::1": false, "fd00::1": false,
		"fe80::1": false, "::ffff:10.0.0.1": false, "0.0.0.0": false, "224.0.0.1": false, "203.0.113.7": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestDiscoveryErrorsRelayNothing: what a provider answered never ends up
// in the reason shown to the admin, only its status.
func TestDiscoveryErrorsRelayNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "INTERNAL-SECRET-BODY", http.StatusInternalServerError)
	}))
	defer srv.Close()
	err := NewChecker(NewClient(true)).OIDCDiscovery(context.Background(), srv.URL)
	if err == nil || strings.Contains(err.Error(), "INTERNAL-SECRET-BODY") || !strings.Contains(err.Error(), "500") {
		t.Errorf("discovery of a failing server: %v, want the status without the body", err)
	}
	_, err = NewChecker(NewClient(true)).SAMLMetadata(context.Background(), srv.URL+"/md", "")
	if err == nil || strings.Contains(err.Error(), "INTERNAL-SECRET-BODY") {
		t.Errorf("metadata of a failing server: %v, want no body", err)
	}
}

// TestMergeUserinfo: userinfo fills what the ID token lacks; the email
// and its verification come together from one source.
func TestMergeUserinfo(t *testing.T) {
	for _, c := range []struct {
		name               string
		id, userinfo, want map[string]any
	}{
		{"the ID token's email keeps its own (absent) verification",
			map[string]any{"email": "a@x"}, map[string]any{"email": "b@y", "email_verified": true, "groups": []any{"g"}},
			map[string]any{"email": "a@x", "groups": []any{"g"}}},
		{"no email in the ID token: both from userinfo",
			map[string]any{"email_verified": true}, map[string]any{"email": "b@y"},
			map[string]any{"email": "b@y"}},
		{"userinfo's pair",
			map[string]any{"given_name": "A"}, map[string]any{"email": "b@y", "email_verified": true, "given_name": "B"},
			map[string]any{"email": "b@y", "email_verified": true, "given_name": "A"}},
	} {
		mergeUserinfo(c.id, c.userinfo)
		if !reflect.DeepEqual(c.id, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.id, c.want)
		}
	}
}
