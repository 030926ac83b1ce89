package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

func TestCORS(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	const app = "https://app.example"
	f.Client.WebOrigins = []string{app}
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	// An inactive client's origins do not count.
	f.Env.NewClient(f.Realm.ID, "old", func(c *realm.Client) {
		c.Kind, c.Public, c.SecretHash = realm.KindApplication, true, nil
		c.WebOrigins = []string{"https://old.example"}
		c.Active = false
	})
	_, secret := f.Env.NewClient(f.Realm.ID, "svc", nil)
	b := oauthtest.Browser(t)
	tok := f.SignIn(t, b, "openid")

	call := func(method, path, origin string, form url.Values, header map[string]string) *oauthtest.Response {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, f.Realm.Issuer+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return f.Env.Do(req)
	}
	allowed := func(what string, r *oauthtest.Response, origin string) {
		t.Helper()
		if r.Header.Get("Access-Control-Allow-Origin") != origin || r.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("%s: CORS headers %v, want %s echoed with credentials and Vary: Origin", what, r.Header, origin)
		}
	}
	denied := func(what string, r *oauthtest.Response) {
		t.Helper()
		for k := range r.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: CORS header %s: %v, want none", what, k, r.Header[k])
			}
		}
	}
	ccForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {secret}}
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken}

	r := call(http.MethodPost, oauth.PathToken, app, ccForm, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("token: %d %s", r.Status, r.RawBody)
	}
	allowed("token", r, app)
	allowed("userinfo", call(http.MethodGet, oauth.PathUserinfo, app, nil, bearer), app)
	allowed("revoke", call(http.MethodPost, oauth.PathRevoke, app, url.Values{"token": {"x"}, "client_id": {"svc"}, "client_secret": {secret}}, nil), app)
	allowed("logout", call(http.MethodGet, oauth.PathLogout, app, nil, nil), app)

	for _, origin := range []string{"https://evil.example", "https://app.example:8443", "http://app.example", "null", "https://old.example"} {
		denied("token from "+origin, call(http.MethodPost, oauth.PathToken, origin, ccForm, nil))
		denied("userinfo from "+origin, call(http.MethodGet, oauth.PathUserinfo, origin, nil, bearer))
		denied("preflight from "+origin, call(http.MethodOptions, oauth.PathUserinfo, origin, nil,
			map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}))
	}
	// No Origin: no CORS work, no Vary.
	r = call(http.MethodPost, oauth.PathToken, "", ccForm, nil)
	denied("token without Origin", r)
	if len(r.Header.Values("Vary")) != 0 {
		t.Errorf("token without Origin: Vary %v", r.Header.Values("Vary"))
	}
	// Introspection is for servers: never CORS.
	denied("introspection", call(http.MethodPost, oauth.PathIntrospect, app, url.Values{"token": {"x"}, "client_id": {"svc"}, "client_secret": {secret}}, nil))

	for _, path := range []string{oauth.PathToken, oauth.PathUserinfo, oauth.PathRevoke, oauth.PathLogout} {
		r := call(http.MethodOptions, path, app, nil, map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"})
		if r.Status != http.StatusNoContent {
			t.Errorf("preflight %s: %d", path, r.Status)
		}
		allowed("preflight "+path, r, app)
		h := r.Header.Get("Access-Control-Allow-Headers")
		if !strings.Contains(h, "Authorization") || !strings.Contains(h, "Content-Type") || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight %s: allow headers %q methods %q", path, h, r.Header.Get("Access-Control-Allow-Methods"))
		}
	}
	// Another realm does not share the origins.
	f.Env.NewRealm(f.Env.NewOrg("other").ID, "other", true)
	req, _ := http.NewRequest(http.MethodOptions, f.Env.Base+"/realms/other"+oauth.PathToken, nil)
	req.Header.Set("Origin", app)
	denied("another realm's preflight", f.Env.Do(req))

	// A change of web_origins made elsewhere (another node writes the
	// row) is in force within a second (CONTRACT §8): the new origin is
	// allowed and the removed one refused once 500 ms have passed.
	const moved = "https://moved.example"
	f.Client.WebOrigins = []string{moved}
	if err := f.Env.Store.UpdateClient(f.Env.Ctx, f.Client); err != nil {
		t.Fatal(err)
	}
	f.Env.Advance(time.Second)
	allowed("token from the new origin", call(http.MethodPost, oauth.PathToken, moved, ccForm, nil), moved)
	denied("token from the removed origin", call(http.MethodPost, oauth.PathToken, app, ccForm, nil))
}

// TestCORSOriginSerialized: origins are compared as browsers serialize
// them, as the web_message page compares them, so a web origin stored in
// another spelling (a row written before web origins were normalized)
// still lets its app's token request through, and the page that delivers
// the code and the token endpoint that redeems it agree.
func TestCORSOriginSerialized(t *testing.T) {
	f := oauthtest.NewLoginFixture(t, oauthtest.OpenSQLite)
	const redirect = "https://app.example.com/popup-cb"
	f.NewPopupClient("popup", redirect, []string{"HTTPS://App.Example.COM:443"})
	const origin = "https://app.example.com"
	req, _ := http.NewRequest(http.MethodOptions, f.Realm.Issuer+oauth.PathToken, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	if r := f.Env.Do(req); r.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("preflight from %s: CORS headers %v", origin, r.Header)
	}
	// The stored spelling itself is not what a browser sends; it matches
	// nothing.
	req, _ = http.NewRequest(http.MethodOptions, f.Realm.Issuer+oauth.PathToken, nil)
	req.Header.Set("Origin", "HTTPS://App.Example.COM:443")
	if r := f.Env.Do(req); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unserialized Origin header allowed: %v", r.Header)
	}
	// The web_message origin (oauth/login's webMessageOrigin), read from the
	// page its writer makes.
	rec := httptest.NewRecorder()
	login.WriteWebMessage(rec, mustClient(t, f, "popup"), redirect, map[string]any{})
	var got string
	m := regexp.MustCompile(`var origin = ("[^"\n]*");`).FindStringSubmatch(rec.Body.String())
	ok := rec.Code == http.StatusOK && m != nil && json.Unmarshal([]byte(m[1]), &got) == nil
	if !ok || got != origin {
		t.Errorf("web_message origin %q %v", got, ok)
	}
}
