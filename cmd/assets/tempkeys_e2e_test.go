package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mintKey asks Ward for a temporary key of template with the API key, as a
// backend does (CONTRACT §6), and returns the answer.
func mintKey(t *testing.T, ward, realm, apiKey string, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", ward+"/realms/"+realm+"/temporary-keys", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("minting answered %d, not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// mustMint is mintKey that must succeed; it returns the key.
func mustMint(t *testing.T, ward, realm, apiKey string, body map[string]any) string {
	t.Helper()
	status, out := mintKey(t, ward, realm, apiKey, body)
	key, _ := out["key"].(string)
	if status != http.StatusCreated || key == "" {
		t.Fatalf("minting %v = %d %v, want 201 with a key", body, status, out)
	}
	return key
}

// from is a client sending key as X-API-Key with X-Forwarded-For: addr (the
// assets server trusts 127.0.0.1 as its proxy).
type from struct {
	t    *testing.T
	base string
	key  string
	addr string
}

func (c from) do(method, path string, body any) (int, map[string]any, http.Header) {
	c.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.addr != "" {
		req.Header.Set("X-Forwarded-For", c.addr)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// want expects status and, for an error, a problem whose detail contains
// detail.
func (c from) want(status int, detail, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out, _ := c.do(method, path, body)
	d, _ := out["detail"].(string)
	if got != status || !strings.Contains(d, detail) {
		c.t.Fatalf("%s %s from %s = %d %v, want %d with detail containing %q", method, path, c.addr, got, out, status, detail)
	}
	return out
}

// TestAssetsTemporaryKeys: a backend holding an API key mints temporary
// keys from security templates at Ward, and cmd/assets enforces them
// offline (CONTRACT §6): within the template's dir_scope and permissions
// they work on every endpoint, outside it they are 403; over a per-minute
// limit (per key, per key and address) 429 with Retry-After; from outside
// the template's ip_ranges 403; expired 401; and once the minting API key is
// deactivated, every key it minted is refused after the assets server's
// next policy poll. The assets server runs with no clock leeway, so a key
// minted for one second is expired a second later.
func TestAssetsTemporaryKeys(t *testing.T) {
	ward, admin := startWard(t)
	const r = "/admin/v1/realms/media"
	admin.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "media"})
	for _, action := range []string{"create", "read", "write", "delete", "manage"} {
		admin.must(201, "POST", r+"/permissions", map[string]any{"name": "asset:" + action, "description": action + " assets"})
	}
	backend := admin.must(201, "POST", r+"/api-keys", map[string]any{"description": "web backend",
		"permissions": []string{"asset:create", "asset:read", "asset:write"}})
	backendID, backendKey := backend["id"].(string), backend["key"].(string)
	template := func(body map[string]any) {
		t.Helper()
		admin.must(201, "POST", r+"/security-templates", body)
	}
	template(map[string]any{"name": "uploader", "description": "marketing uploads",
		"permissions": []string{"asset:create", "asset:read"}, "dir_scope": []string{"/marketing/*"}})
	template(map[string]any{"name": "burst", "permissions": []string{"asset:read"}, "limit_per_minute": 2})
	template(map[string]any{"name": "per-address", "permissions": []string{"asset:read"}, "limit_per_source_ip_per_minute": 1})
	template(map[string]any{"name": "office", "permissions": []string{"asset:read"}, "ip_ranges": []string{"203.0.113.0/24", "2001:db8::/32"}})
	template(map[string]any{"name": "editor", "permissions": []string{"asset:read", "asset:write", "asset:delete", "asset:manage"}})
	admin.badField("ip_ranges[0]", "POST", r+"/security-templates", map[string]any{"name": "bad", "permissions": []string{"asset:read"}, "ip_ranges": []string{"203.0.113.0/33"}})

	serverClient := admin.must(201, "POST", r+"/clients", map[string]any{"name": "assets-server", "kind": "service_account", "audience": []string{"assets"}})
	assets := start(t, assetsBin, []string{
		"PATH=" + os.Getenv("PATH"),
		"ASSETS_ADDR=127.0.0.1:0",
		"ASSETS_ISSUER=" + ward.URL + "/realms/media",
		"ASSETS_CLIENT_ID=" + serverClient["client_id"].(string),
		"ASSETS_CLIENT_SECRET=" + serverClient["client_secret"].(string),
		"ASSETS_DB=sqlite:" + filepath.Join(t.TempDir(), "assets.db"),
		"ASSETS_TRUSTED_PROXIES=127.0.0.1",
		"ASSETS_POLICY_REFRESH=1s",
		"ASSETS_CLOCK_LEEWAY=0s",
	})

	// The backend mints; the key is a JWS of type ward-tk+jwt.
	uploaderKey := mustMint(t, ward.URL, "media", backendKey, map[string]any{"template": "uploader"})
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(uploaderKey, ".")[0])
	if err != nil || !bytes.Contains(header, []byte(`"typ":"ward-tk+jwt"`)) {
		t.Fatalf("temporary key header %s (%v), want typ ward-tk+jwt", header, err)
	}
	// A key without every permission of a template may not mint from it.
	reader := admin.must(201, "POST", r+"/api-keys", map[string]any{"description": "reader", "permissions": []string{"asset:read"}})
	if status, out := mintKey(t, ward.URL, "media", reader["key"].(string), map[string]any{"template": "uploader"}); status != http.StatusForbidden ||
		!strings.Contains(out["detail"].(string), "asset:create") {
		t.Fatalf("minting beyond the key's permissions = %d %v, want 403 naming asset:create", status, out)
	}

	// Within scope: create, read, list.
	widget := from{t: t, base: assets.URL, key: uploaderKey, addr: "198.51.100.10"}
	banner := widget.want(201, "", "POST", "/assets", map[string]any{"name": "Banner", "department": "marketing", "path": "/marketing/2026/banner.png"})
	bannerID := banner["id"].(string)
	if banner["owner"] != backendID || banner["path"] != "/marketing/2026/banner.png" {
		t.Errorf("asset created with a temporary key = %v, want owner %s (the minting key) and its path", banner, backendID)
	}
	widget.want(200, "", "GET", "/assets/"+bannerID, nil)
	// Out of scope: another directory, a look-alike prefix, a relative
	// trick; and what the template does not grant.
	widget.want(403, "dir_scope", "POST", "/assets", map[string]any{"name": "Ledger", "department": "finance", "path": "/finance/ledger.xlsx"})
	widget.want(403, "dir_scope", "POST", "/assets", map[string]any{"name": "X", "department": "marketing", "path": "/marketingx/a.png"})
	widget.want(400, "", "POST", "/assets", map[string]any{"name": "X", "department": "marketing", "path": "/marketing/../finance/a"})
	widget.want(403, "asset:write", "PATCH", "/assets/"+bannerID, map[string]any{"name": "Renamed"})
	// The backend's own key reaches everything; the widget's list shows
	// only what is in its scope.
	backendAPI := from{t: t, base: assets.URL, key: backendKey}
	ledger := backendAPI.want(201, "", "POST", "/assets", map[string]any{"name": "Ledger", "department": "finance", "path": "/finance/ledger.xlsx"})
	widget.want(403, "dir_scope", "GET", "/assets/"+ledger["id"].(string), nil)
	if got := ids(t, widget.want(200, "", "GET", "/assets", nil)); !slices.Equal(got, []string{bannerID}) {
		t.Errorf("the widget lists %v, want only %s", got, bannerID)
	}
	// An editor key moving an asset out of the uploader's scope is fine
	// for the editor; the uploader then no longer sees it.
	editor := from{t: t, base: assets.URL, key: mustMint(t, ward.URL, "media", adminKey(t, admin, r), map[string]any{"template": "editor"})}
	editor.want(403, "asset:create", "PATCH", "/assets/"+bannerID, map[string]any{"path": "/archive/banner.png"})
	// Nor may it hand on what it reaches: a share link would outlive it.
	editor.want(403, "share links", "POST", "/assets/"+bannerID+"/shares", map[string]any{"expires_in_seconds": 60})

	// Limits: two a minute in all, then 429 with Retry-After.
	burst := from{t: t, base: assets.URL, key: mustMint(t, ward.URL, "media", backendKey, map[string]any{"template": "burst"}), addr: "198.51.100.20"}
	burst.want(200, "", "GET", "/assets/"+bannerID, nil)
	burst.want(200, "", "GET", "/assets/"+bannerID, nil)
	status, out, h := burst.do("GET", "/assets/"+bannerID, nil)
	if ra, err := strconv.Atoi(h.Get("Retry-After")); status != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 60 {
		t.Errorf("third request of a 2-a-minute key = %d %v Retry-After %q, want 429 with 1..60", status, out, h.Get("Retry-After"))
	}
	// One a minute per address: a second address has its own budget.
	perIP := mustMint(t, ward.URL, "media", backendKey, map[string]any{"template": "per-address"})
	first, second := from{t: t, base: assets.URL, key: perIP, addr: "198.51.100.30"}, from{t: t, base: assets.URL, key: perIP, addr: "198.51.100.31"}
	first.want(200, "", "GET", "/assets/"+bannerID, nil)
	if status, _, _ := first.do("GET", "/assets/"+bannerID, nil); status != http.StatusTooManyRequests {
		t.Errorf("second request from one address = %d, want 429", status)
	}
	second.want(200, "", "GET", "/assets/"+bannerID, nil)

	// IP ranges, v4 and v6, as the trusted proxy reports the caller.
	office := mustMint(t, ward.URL, "media", backendKey, map[string]any{"template": "office"})
	from{t: t, base: assets.URL, key: office, addr: "203.0.113.7"}.want(200, "", "GET", "/assets/"+bannerID, nil)
	from{t: t, base: assets.URL, key: office, addr: "2001:db8::42"}.want(200, "", "GET", "/assets/"+bannerID, nil)
	from{t: t, base: assets.URL, key: office, addr: "198.51.100.7"}.want(403, "", "GET", "/assets/"+bannerID, nil)

	// A temporary key is not an access token, here or at Ward's admin API.
	if status, _, _ := (&api{t: t, base: assets.URL, token: uploaderKey}).do("GET", "/assets/"+bannerID, nil); status != http.StatusUnauthorized {
		t.Errorf("a temporary key as Bearer = %d, want 401", status)
	}
	if status, _, _ := (&api{t: t, base: ward.URL, token: uploaderKey}).do("GET", "/admin/v1/realms", nil); status != http.StatusUnauthorized {
		t.Errorf("a temporary key at Ward's admin API = %d, want 401", status)
	}

	// Expiry: a key minted for one second is refused once it is over.
	brief := from{t: t, base: assets.URL, key: mustMint(t, ward.URL, "media", backendKey, map[string]any{"template": "uploader", "ttl_seconds": 1})}
	brief.want(200, "", "GET", "/assets/"+bannerID, nil)
	time.Sleep(2100 * time.Millisecond)
	brief.want(401, "", "GET", "/assets/"+bannerID, nil)

	// Deactivating the backend's API key stops the keys it minted at the
	// assets server's next policy poll (every second here).
	widget.want(200, "", "GET", "/assets/"+bannerID, nil)
	admin.must(200, "PATCH", r+"/api-keys/"+backendID, map[string]any{"active": false})
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, out, _ := widget.do("GET", "/assets/"+bannerID, nil)
		if status == http.StatusUnauthorized {
			if d, _ := out["detail"].(string); !strings.Contains(d, "deactivated") {
				t.Errorf("a key of a deactivated API key: detail %q, want it to say deactivated", d)
			}
			break
		}
		if status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("a key of a deactivated API key = %d %v after %s, want 401 within the poll interval", status, out, 10*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Keys of other API keys go on working; and the deactivated key can
	// no longer mint.
	editor.want(200, "", "GET", "/assets/"+bannerID, nil)
	if status, _ := mintKey(t, ward.URL, "media", backendKey, map[string]any{"template": "uploader"}); status != http.StatusUnauthorized {
		t.Errorf("minting with a deactivated key = %d, want 401", status)
	}
	if strings.Contains(assets.output.String(), uploaderKey) || strings.Contains(ward.output.String(), uploaderKey) {
		t.Error("a temporary key was logged")
	}
}

// adminKey makes an API key holding every asset permission.
func adminKey(t *testing.T, admin *api, r string) string {
	t.Helper()
	k := admin.must(201, "POST", r+"/api-keys", map[string]any{"description": "editor backend",
		"permissions": []string{"asset:create", "asset:read", "asset:write", "asset:delete", "asset:manage"}})
	return k["key"].(string)
}
