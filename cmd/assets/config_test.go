package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLoadConfig: the defaults of CONTRACT §5, the required variables named
// in the error, and a bad policy refresh or API key cache size refused.
func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := loadConfig(env(nil))
	if err == nil || !strings.Contains(err.Error(), "ASSETS_CLIENT_ID, ASSETS_CLIENT_SECRET, ASSETS_ISSUER must be set") {
		t.Errorf("empty environment: %v", err)
	}
	base := map[string]string{"ASSETS_ISSUER": "http://127.0.0.1:8080/realms/media", "ASSETS_CLIENT_ID": "assets-server", "ASSETS_CLIENT_SECRET": "s"}
	c, err := loadConfig(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:8090" || c.audience != "assets" || c.db != "sqlite:./data/assets.db" || c.publicURL != "" || c.policyRefresh != 0 {
		t.Errorf("defaults = %+v", c)
	}
	base["ASSETS_PUBLIC_URL"] = "https://assets.example.com/"
	base["ASSETS_POLICY_REFRESH"] = "5s"
	if c, err = loadConfig(env(base)); err != nil || c.publicURL != "https://assets.example.com" || c.policyRefresh != 5*time.Second {
		t.Errorf("public URL and refresh = %q %v, %v", c.publicURL, c.policyRefresh, err)
	}
	base["ASSETS_POLICY_REFRESH"] = "10ms"
	if _, err := loadConfig(env(base)); err == nil || !strings.Contains(err.Error(), "ASSETS_POLICY_REFRESH") {
		t.Errorf("a 10ms refresh: %v", err)
	}
	base["ASSETS_POLICY_REFRESH"] = ""
	if c.apiKeyCache != 0 {
		t.Errorf("default API key cache = %d, want 0 (the guard's default)", c.apiKeyCache)
	}
	base["ASSETS_API_KEY_CACHE_SIZE"] = "1"
	if c, err = loadConfig(env(base)); err != nil || c.apiKeyCache != 1 {
		t.Errorf("API key cache of 1 = %d, %v", c.apiKeyCache, err)
	}
	for _, bad := range []string{"0", "-5", "many", "1e3", "10000001"} {
		base["ASSETS_API_KEY_CACHE_SIZE"] = bad
		if _, err := loadConfig(env(base)); err == nil || !strings.Contains(err.Error(), "ASSETS_API_KEY_CACHE_SIZE") {
			t.Errorf("API key cache %q: %v", bad, err)
		}
	}
	base["ASSETS_API_KEY_CACHE_SIZE"] = ""
	base["ASSETS_TRUSTED_PROXIES"] = "127.0.0.1, 10.0.0.0/8,2001:db8::1"
	base["ASSETS_GEOIP_DB"] = "/var/lib/geoip/country.mmdb"
	c, err = loadConfig(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.trustedProxies); got != "[127.0.0.1/32 10.0.0.0/8 2001:db8::1/128]" || c.geoIPDB != "/var/lib/geoip/country.mmdb" {
		t.Errorf("proxies %s, GeoIP %q", got, c.geoIPDB)
	}
	base["ASSETS_CLOCK_LEEWAY"] = "0s"
	if c, err = loadConfig(env(base)); err != nil || c.leeway == nil || *c.leeway != 0 {
		t.Errorf("leeway 0s = %v, %v", c.leeway, err)
	}
	for _, bad := range []string{"-1s", "1h", "soon"} {
		base["ASSETS_CLOCK_LEEWAY"] = bad
		if _, err := loadConfig(env(base)); err == nil || !strings.Contains(err.Error(), "ASSETS_CLOCK_LEEWAY") {
			t.Errorf("leeway %q: %v", bad, err)
		}
	}
	base["ASSETS_CLOCK_LEEWAY"] = ""
	for _, bad := range []string{"proxy.example.com", "10.0.0.0/33", "1.2.3"} {
		base["ASSETS_TRUSTED_PROXIES"] = bad
		if _, err := loadConfig(env(base)); err == nil || !strings.Contains(err.Error(), "ASSETS_TRUSTED_PROXIES") {
			t.Errorf("trusted proxies %q: %v", bad, err)
		}
	}
}
