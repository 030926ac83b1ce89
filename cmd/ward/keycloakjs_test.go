package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wardiam/ward/internal/testbrowser"
)

// keycloakJSVersion is the Keycloak JavaScript adapter the compatibility
// test runs, fetched from the npm registry (it is not part of Ward).
const keycloakJSVersion = "26.2.4"

// keycloakJS returns keycloak-js's lib/keycloak.js: WARD_KEYCLOAK_JS names
// the file, or it is fetched once from the npm registry (npmFile).
func keycloakJS(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WARD_KEYCLOAK_JS"); p != "" {
		return p
	}
	return npmFile(t, "keycloak-js", keycloakJSVersion, "lib/keycloak.js",
		"the keycloak-js compatibility test fetches Keycloak's adapter with it")
}

// npmFile is testbrowser.NPMFile: one file of an npm package, fetched
// once into the user's cache directory.
var npmFile = testbrowser.NPMFile

// kcAppPage is an application page that uses keycloak-js exactly as its
// documentation shows: init with login-required and PKCE, then it reports
// what the adapter holds.
const kcAppPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keycloak adapter app</title></head>
<body><p id="status">loading</p>
<script type="module">
import Keycloak from "/keycloak.js";
const kc = new Keycloak({url: %q, realm: "legacy", clientId: %q});
window.kc = kc;
kc.init({onLoad: "login-required", pkceMethod: "S256"}).then(
  (authenticated) => { window.result = {ok: true, authenticated, token: kc.token, idToken: kc.idToken,
    refreshToken: kc.refreshToken, subject: kc.subject, nonce: kc.idTokenParsed && kc.idTokenParsed.nonce}; },
  (err) => { window.result = {ok: false, error: String((err && (err.error || err.message)) || err)}; });
</script></body></html>`

// TestKeycloakJSAdapter: Keycloak's own JavaScript adapter works unchanged
// against Ward's Keycloak paths (issue 4): init({onLoad: "login-required"})
// sends the browser to Ward's login page, comes back with the code in the
// fragment, redeems it with PKCE through CORS and holds tokens for the
// user; updateToken refreshes them; logout ends the session, after which
// the adapter is sent to the login page again.
func TestKeycloakJSAdapter(t *testing.T) {
	adapter, err := os.ReadFile(keycloakJS(t))
	if err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t)
	w := newWardEnv(t, "")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "legacy"})
	user := a.must(201, "POST", "/admin/v1/realms/legacy/users", map[string]any{"email": "grace@legacy.test", "first_name": "Grace", "last_name": "Hopper"})
	const password = "correct horse battery"
	setPasswordFromOutbox(t, w, password)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	client := a.must(201, "POST", "/admin/v1/realms/legacy/clients", map[string]any{"name": "legacy-spa", "kind": "application",
		"public": true, "redirect_uris": []string{origin + "/app.html"}, "web_origins": []string{origin}})
	clientID, _ := client["client_id"].(string)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /keycloak.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(adapter)
	})
	mux.HandleFunc("GET /app.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, kcAppPage, s.URL, clientID)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	tab := newTab(t, browser, 2*time.Minute)
	if err := chromedp.Do(tab, chromedp.Navigate(origin+"/app.html")); err != nil {
		t.Fatal(err)
	}
	// keycloak-js first asks Ward's third-party-cookie page, then (told
	// "unsupported") redirects to the login page at once: well within its
	// 10 s timeout, which would fail init.
	if _, err := waitJS(t, tab, `location.pathname.endsWith("/protocol/openid-connect/auth")`, 8*time.Second); err != nil {
		t.Fatalf("keycloak-js did not go to Ward's login page: %v (page: %s)", err, evalJS[string](t, tab, `location.href + " " + JSON.stringify(window.result || null)`))
	}
	signIn(t, tab, "grace@legacy.test", password)
	type result struct {
		OK            bool   `json:"ok"`
		Error         string `json:"error"`
		Authenticated bool   `json:"authenticated"`
		Token         string `json:"token"`
		IDToken       string `json:"idToken"`
		RefreshToken  string `json:"refreshToken"`
		Subject       string `json:"subject"`
		Nonce         string `json:"nonce"`
	}
	raw, err := waitJS(t, tab, `location.pathname === "/app.html" && window.result`, 30*time.Second)
	if err != nil {
		t.Fatalf("keycloak-js init did not settle after sign-in: %v", err)
	}
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || !r.Authenticated || r.Token == "" || r.IDToken == "" || r.RefreshToken == "" || r.Nonce == "" {
		t.Fatalf("keycloak-js after sign-in: %s", raw)
	}
	if r.Subject != user["id"] {
		t.Errorf("keycloak-js subject %q, want the user %v", r.Subject, user["id"])
	}
	if h := evalJS[string](t, tab, `location.hash`); h != "" {
		t.Errorf("the adapter left the authorization response in the URL: %q", h)
	}

	// updateToken(-1) refreshes at once (refresh grant through CORS).
	before := r.Token
	out := evalJS[map[string]any](t, tab, `kc.updateToken(-1).then((r) => ({refreshed: r, token: kc.token}), (e) => ({error: String(e)}))`,
		func(p *runtime.EvaluateParams) { p.AwaitPromise = &[]bool{true}[0] })
	if out["refreshed"] != true || out["token"] == before || out["token"] == "" {
		t.Fatalf("keycloak-js updateToken(-1): %v", out)
	}

	// logout() sends the ID token as hint: Ward signs out at once and
	// returns to the application, whose adapter must now ask to sign in.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`kc.logout(), null`)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitJS(t, tab, `location.pathname.endsWith("/protocol/openid-connect/auth") && document.getElementById("password") !== null`, 20*time.Second); err != nil {
		t.Fatalf("after keycloak-js logout the adapter was not sent to the login page: %v (at %s)", err, evalJS[string](t, tab, `location.href`))
	}
}
