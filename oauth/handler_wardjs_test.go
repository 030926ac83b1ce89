package oauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/oauthtest"
)

// TestWardJS: served to any origin as a JavaScript module, cacheable with
// an ETag; 404 for an unknown realm.
func TestWardJS(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	r := f.Env.Get("/realms/shop/ward.js")
	if r.Status != http.StatusOK || !strings.Contains(r.RawBody, "export async function login(") {
		t.Fatalf("ward.js: %d %.200s", r.Status, r.RawBody)
	}
	for h, want := range map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Access-Control-Allow-Origin": "*",
		"Cache-Control": oauth.WardJSCacheControl, "X-Content-Type-Options": "nosniff"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	etag := r.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, f.Env.Base+"/realms/shop/ward.js", nil)
	req.Header.Set("If-None-Match", etag)
	if r := f.Env.Do(req); etag == "" || r.Status != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: %d", etag, r.Status)
	}
	if r := f.Env.Get("/realms/nowhere/ward.js"); r.Status != http.StatusNotFound {
		t.Errorf("unknown realm: %d", r.Status)
	}
}
