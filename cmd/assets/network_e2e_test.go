package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardiam/ward/internal/testgeoip"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestAssetsIPAllowLists: the realm's IP allow list and a group's, set
// through Ward's admin API, reach the running assets server with its next
// policy poll (every second here) and apply to every request: a token
// obtained inside the network stops working outside it, a group's list
// narrows the realm's for its members, and removing the lists lifts them
// (CONTRACT §7). The assets server trusts 127.0.0.1 as its proxy, so the
// test names client addresses in X-Forwarded-For; the lists keep
// 127.0.0.0/8 so that the test itself, talking to Ward directly, may still
// get tokens. A long-lived API key meets the realm's list at the Guard too.
// Ward, given a GeoIP database and 127.0.0.1 as its proxy, names the
// country of a caller it refuses in the audit event.
func TestAssetsIPAllowLists(t *testing.T) {
	ward, admin := startWard(t, "WARD_GEOIP_DB="+testgeoip.WriteCountryDB(t, t.TempDir()), "WARD_TRUSTED_PROXIES=127.0.0.1")
	const r = "/admin/v1/realms/media"
	admin.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "media"})
	field := admin.must(201, "POST", r+"/groups", map[string]any{"name": "field"})["id"].(string)
	admin.must(201, "POST", r+"/policies", map[string]any{"name": "anyone-creates", "resource_type": "asset",
		"actions": []string{"create"}, "condition": "true"})
	sa := func(name string, groups ...string) *api {
		t.Helper()
		body := map[string]any{"name": name, "kind": "service_account", "audience": []string{"assets"}}
		if len(groups) > 0 {
			body["groups"], body["primary_group"] = groups, groups[0]
		}
		c := admin.must(201, "POST", r+"/clients", body)
		return &api{t: t, token: clientToken(t, ward.URL, "media", c["client_id"].(string), c["client_secret"].(string))}
	}
	office, reporter := sa("office"), sa("reporter", field)
	admin.must(201, "POST", r+"/permissions", map[string]any{"name": "asset:read", "description": "read assets"})
	reader := &api{t: t, apiKey: admin.must(201, "POST", r+"/api-keys", map[string]any{"description": "archive reader",
		"permissions": []string{"asset:read"}})["key"].(string)}
	server := admin.must(201, "POST", r+"/clients", map[string]any{"name": "assets-server", "kind": "service_account", "audience": []string{"assets"}})
	assets := start(t, assetsBin, []string{
		"PATH=" + os.Getenv("PATH"),
		"ASSETS_ADDR=127.0.0.1:0",
		"ASSETS_ISSUER=" + ward.URL + "/realms/media",
		"ASSETS_CLIENT_ID=" + server["client_id"].(string),
		"ASSETS_CLIENT_SECRET=" + server["client_secret"].(string),
		"ASSETS_DB=sqlite:" + filepath.Join(t.TempDir(), "assets.db"),
		"ASSETS_TRUSTED_PROXIES=127.0.0.1",
		"ASSETS_POLICY_REFRESH=1s",
	})
	office.base, reporter.base, reader.base = assets.URL, assets.URL, assets.URL
	// Each creates an asset of its own (the owner may read it).
	officeAsset := office.must(201, "POST", "/assets", map[string]any{"name": "Memo", "department": "office"})["id"].(string)
	reporterAsset := reporter.must(201, "POST", "/assets", map[string]any{"name": "Story", "department": "news"})["id"].(string)
	get := func(c *api, asset, from string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", assets.URL+"/assets/"+asset, nil)
		if c.apiKey != "" {
			req.Header.Set("X-API-Key", c.apiKey)
		} else {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// eventually waits for the assets server's next poll to bring the
	// answer (at most a few seconds: it polls every second).
	eventually := func(what string, c *api, asset, from string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := get(c, asset, from)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d from %s, want %d within the poll interval", what, got, from, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := get(office, officeAsset, "192.0.2.1"); got != http.StatusOK {
		t.Fatalf("no lists: %d", got)
	}
	if got := get(reader, officeAsset, "192.0.2.1"); got != http.StatusOK {
		t.Fatalf("no lists, API key: %d", got)
	}

	admin.must(200, "PUT", r+"/ip-allow-list", map[string]any{"cidrs": []string{"203.0.113.0/24", "2001:db8::/32", "127.0.0.0/8"}})
	eventually("outside the realm's list", office, officeAsset, "192.0.2.1", http.StatusForbidden)
	for _, from := range []string{"203.0.113.5", "2001:db8::5"} {
		if got := get(office, officeAsset, from); got != http.StatusOK {
			t.Errorf("inside the realm's list from %s: %d", from, got)
		}
	}
	if got := get(office, officeAsset, "2001:db9::5"); got != http.StatusForbidden {
		t.Errorf("outside, IPv6: %d", got)
	}
	// A long-lived API key, exchanged by the assets server (inside the
	// list), is held to the list by its caller's address.
	if got := get(reader, officeAsset, "192.0.2.1"); got != http.StatusForbidden {
		t.Errorf("API key outside the realm's list: %d, want 403", got)
	}
	if got := get(reader, officeAsset, "203.0.113.5"); got != http.StatusOK {
		t.Errorf("API key inside the realm's list: %d, want 200", got)
	}

	// Ward refuses a grant from outside (through its trusted proxy) and
	// records the caller's address and country.
	cfg := clientcredentials.Config{ClientID: server["client_id"].(string), ClientSecret: server["client_secret"].(string),
		TokenURL: ward.URL + "/realms/media/protocol/openid-connect/token", AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: forwardedFor("198.51.100.7")})
	var re *oauth2.RetrieveError
	if _, err := cfg.Token(ctx); !errors.As(err, &re) || re.Response.StatusCode != http.StatusForbidden || re.ErrorCode != "access_denied" {
		t.Fatalf("client_credentials from outside the realm's list: %v, want 403 access_denied", err)
	}
	// refusals are the network.refused events recorded where, by address.
	refusals := func(where string) map[string]int {
		out := map[string]int{}
		for _, e := range admin.must(200, "GET", r+"/events?type=network.refused", nil)["items"].([]any) {
			if d := e.(map[string]any)["details"].(map[string]any); d["at"] == where {
				out[fmt.Sprint(d["address"], " ", d["country"])]++
			}
		}
		return out
	}
	if got := refusals("client_credentials"); fmt.Sprint(got) != "map[198.51.100.7 FR:1]" {
		t.Errorf("network.refused at client_credentials: %v, want one from 198.51.100.7 in FR", got)
	}
	// The assets server's Guard reports its refusals: those of the
	// office user and the API key from 192.0.2.1 and 2001:db9::5 arrive
	// within a few seconds.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := refusals("guard")
		if got["192.0.2.1 <nil>"] >= 2 && got["2001:db9::5 <nil>"] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("network.refused at guard: %v, want the office user's and the API key's from 192.0.2.1 and one from 2001:db9::5", got)
		}
	}

	admin.must(200, "PATCH", r+"/groups/"+field, map[string]any{"ip_allow_list": []string{"203.0.113.128/25", "127.0.0.0/8"}})
	eventually("a group's list narrows the realm's", reporter, reporterAsset, "203.0.113.5", http.StatusForbidden)
	if got := get(reporter, reporterAsset, "203.0.113.200"); got != http.StatusOK {
		t.Errorf("inside the group's list: %d", got)
	}
	if got := get(office, officeAsset, "203.0.113.5"); got != http.StatusOK {
		t.Errorf("a client in no listed group, inside the realm's list: %d", got)
	}

	admin.must(200, "PUT", r+"/ip-allow-list", map[string]any{"cidrs": []string{}})
	admin.must(200, "PATCH", r+"/groups/"+field, map[string]any{"ip_allow_list": []string{}})
	eventually("lists removed", reporter, reporterAsset, "192.0.2.1", http.StatusOK)
	if got := get(office, officeAsset, "192.0.2.1"); got != http.StatusOK {
		t.Errorf("lists removed, office: %d", got)
	}
}

// forwardedFor is a transport that names addr in X-Forwarded-For, as a
// trusted proxy in front of Ward would.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}
