package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/internal/testbrowser"
	"github.com/wardiam/ward/realm/mail/mailtest"
	"github.com/wardiam/ward/templates"
)

// Browser tests: the real ward binary, pages of an application served on
// other loopback ports (other origins), and Debian's Chromium, headless,
// driven through chromedp. One Chromium serves every subtest; each subtest
// that needs a clean slate gets its own browser context (its own cookies).

// The generic browser helpers are testbrowser's, under the names these
// tests call them by.
var (
	startBrowser = testbrowser.Start
	newSession   = testbrowser.NewSession
	step         = testbrowser.Step
	newTab       = testbrowser.NewTab
)

// waitJS is testbrowser.WaitJS.
func waitJS(t testing.TB, ctx context.Context, expr string, timeout time.Duration) ([]byte, error) {
	t.Helper()
	return testbrowser.WaitJS(ctx, expr, timeout)
}

// evalJS is testbrowser.Eval: script's JSON value in the tab, or the test fails.
func evalJS[T any](t testing.TB, ctx context.Context, script string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	return testbrowser.Eval[T](t, ctx, script, opts...)
}

// appServer serves an application's pages on its own loopback origin: the
// opener page (testdata/opener.html) at any path with login options, and
// /callback, which records the authorization responses it receives.
type appServer struct {
	Origin    string
	mu        sync.Mutex
	pages     map[string]map[string]any // path → login() options
	callbacks chan url.Values
}

var openerTemplate = template.Must(template.ParseFiles(filepath.Join("testdata", "opener.html")))

func startApp(t *testing.T, wardJS string) *appServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &appServer{Origin: "http://" + ln.Addr().String(), pages: map[string]map[string]any{}, callbacks: make(chan url.Values, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		app.callbacks <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Vault Web</title><p id="done">Signed in, finishing…</p>`))
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		app.mu.Lock()
		opts, ok := app.pages[r.URL.Path]
		app.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := openerTemplate.Execute(w, map[string]any{"WardJS": wardJS, "Options": opts}); err != nil {
			t.Errorf("opener page: %v", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return app
}

// page registers the opener page at path, calling login(options).
func (a *appServer) page(path string, options map[string]any) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pages[path] = options
	return a.Origin + path
}

// outcome is what the opener page's login() settled with.
type outcome struct {
	OK      bool           `json:"ok"`
	Error   string         `json:"error"`
	Message string         `json:"message"`
	Tokens  map[string]any `json:"tokens"`
}

// openApp loads an opener page and waits for its module to run.
func openApp(t *testing.T, ctx context.Context, pageURL string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open %s: %v", pageURL, err)
	}
	if _, err := waitJS(t, ctx, `window.ready === true`, 20*time.Second); err != nil {
		t.Fatalf("opener page %s did not load its module: %v", pageURL, err)
	}
}

// clickSignIn clicks "Sign in" and returns a context attached to the popup.
func clickSignIn(t *testing.T, ctx context.Context) (context.Context, target.ID) {
	t.Helper()
	popupID := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
		t.Fatalf("click Sign in: %v", err)
	}
	var id target.ID
	select {
	case id = <-popupID:
	case <-ctx.Done():
		t.Fatal("no popup opened")
	}
	if id == "" {
		t.Fatal("no popup opened")
	}
	popup, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	return popup, id
}

// waitOutcome waits until login() has settled on the opener page.
func waitOutcome(t *testing.T, ctx context.Context) outcome {
	t.Helper()
	raw, err := waitJS(t, ctx, `window.outcome`, 30*time.Second)
	if err != nil {
		t.Fatalf("login() did not settle: %v", err)
	}
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("outcome %s: %v", raw, err)
	}
	return o
}

// userGesture runs an evaluation as if the user had clicked (so it may
// open a window).
func userGesture(p *runtime.EvaluateParams) { p.UserGesture = &[]bool{true}[0] }

// closeTarget closes a tab or popup as a user closing the window would.
func closeTarget(t *testing.T, ctx context.Context, id target.ID) {
	t.Helper()
	if _, err := chromedp.CallBrowser(ctx, target.CloseTarget, target.CloseTargetParams{TargetID: id}); err != nil {
		t.Fatalf("close popup: %v", err)
	}
}

// signIn types the user's credentials into the login page in ctx.
func signIn(t *testing.T, ctx context.Context, email, password string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	); err != nil {
		t.Fatalf("sign in on the login page: %v", err)
	}
}

// TestBrowserSignIn: external applications sign users in through Ward in a
// real browser, by popup (web_message, with ward.js) and by redirect.
func TestBrowserSignIn(t *testing.T) {
	browser := startBrowser(t)
	ctx := context.Background()

	w := newWardEnv(t, "")
	s, a := adminFor(t, w)
	a.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "vault", "display_name": "Vault"})
	user := a.must(201, "POST", "/admin/v1/realms/vault/users", map[string]any{"email": "ada@vault.test", "first_name": "Ada", "last_name": "Lovelace"})
	const password = "correct horse battery"
	setPasswordFromOutbox(t, w, password)

	issuer := s.URL + "/realms/vault"
	wardJS := issuer + "/ward.js"
	app := startApp(t, wardJS)  // the application's origin, registered
	evil := startApp(t, wardJS) // another origin, registered nowhere
	newClient := func(body map[string]any) string {
		t.Helper()
		body["kind"], body["public"] = "application", true
		id, _ := a.must(201, "POST", "/admin/v1/realms/vault/clients", body)["client_id"].(string)
		if id == "" {
			t.Fatalf("no client_id for %v", body)
		}
		return id
	}
	popupClient := newClient(map[string]any{"name": "vault-web", "display_name": "Vault Web", "communication": "post_message",
		"redirect_uris": []string{app.Origin + "/popup-cb"}, "web_origins": []string{app.Origin}})
	redirectClient := newClient(map[string]any{"name": "vault-classic", "display_name": "Vault Classic", "communication": "redirect",
		"redirect_uris": []string{app.Origin + "/callback"}})
	// A post_message client without its origin is refused when saved
	// (issue 19); a redirect client asked for web_message by ward.js meets
	// the same check at sign-in, where the page must explain it.
	a.must(400, "POST", "/admin/v1/realms/vault/clients", map[string]any{"name": "vault-lost", "kind": "application", "public": true,
		"communication": "post_message", "redirect_uris": []string{app.Origin + "/popup-cb"}, "web_origins": []string{"http://127.0.0.1:9"}})
	misconfigured := newClient(map[string]any{"name": "vault-lost", "display_name": "Vault Lost", "communication": "redirect",
		"redirect_uris": []string{app.Origin + "/popup-cb"}, "web_origins": []string{"http://127.0.0.1:9"}})
	popupOptions := func(extra map[string]any) map[string]any {
		o := map[string]any{"clientId": popupClient, "redirectUri": app.Origin + "/popup-cb", "scope": "openid email profile"}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}

	// The browser context of the user who signs in by popup, kept for the
	// subtests that need a live session; each bounds its own work (step).
	signedIn, ok := newSession(t, browser), false

	t.Run("PopupSignsIn", func(t *testing.T) {
		tab := step(t, signedIn, 60*time.Second)
		openApp(t, tab, app.page("/", popupOptions(nil)))
		popup, _ := clickSignIn(t, tab)
		if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
			t.Fatalf("login page in the popup: %v", err)
		}
		text, err := chromedp.Run(popup, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(text, "to continue to Vault Web") {
			t.Errorf("popup does not name the application: %q %v", text, err)
		}
		loc, err := chromedp.Run(popup, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		authURL, _ := url.Parse(loc)
		q := authURL.Query()
		if !strings.HasPrefix(loc, issuer+"/protocol/openid-connect/auth?") || q.Get("response_mode") != "web_message" ||
			q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 || q.Get("nonce") == "" {
			t.Errorf("popup opened %s", loc)
		}

		// The popup has a name of its own (a fixed one would let a second
		// login() take it over).
		if name := evalJS[string](t, popup, `window.name`); !strings.HasPrefix(name, "ward-login-") || len(name) < len("ward-login-")+12 {
			t.Errorf("popup window name %q, want ward-login- and a random part", name)
		}

		// Forged answers: from the application's own window with the right
		// state (wrong origin and source); from the popup at Ward's origin
		// with a wrong state; and from another window at Ward's origin (a
		// Ward page the application's window opened) with the right state
		// and iss, which only the check of event.source stops. All reach
		// the window; ward.js must ignore them and keep waiting for the
		// real one (a forged code would fail at the token endpoint).
		forged := `({type: "authorization_response", response: {code: "forged-code", state: %q, iss: %q}})`
		_ = evalJS[chromedp.Void](t, tab, `window.postMessage(`+fmt.Sprintf(forged, q.Get("state"), issuer)+`, "*")`)
		_ = evalJS[chromedp.Void](t, popup, `window.opener.postMessage(`+fmt.Sprintf(forged, "not-the-state", issuer)+`, "*")`)
		forgerID := chromedp.WaitNewTarget(tab, func(info *target.Info) bool { return info.Type == "page" })
		if opened := evalJS[bool](t, tab, `window.open(`+fmt.Sprintf("%q", issuer+"/protocol/openid-connect/auth?client_id=forger")+`, "forger") !== null`, userGesture); !opened {
			t.Fatal("could not open the forging window")
		}
		var fid target.ID
		select {
		case fid = <-forgerID:
		case <-tab.Done():
			t.Fatal("no forging window opened")
		}
		forger, cancelForger := chromedp.NewContext(tab, chromedp.WithTargetID(fid))
		defer cancelForger()
		if _, err := waitJS(t, forger, `document.readyState === "complete" && location.origin === `+fmt.Sprintf("%q", s.URL), 20*time.Second); err != nil {
			t.Fatalf("forging window at Ward's origin: %v", err)
		}
		_ = evalJS[chromedp.Void](t, forger, `window.opener.postMessage(`+fmt.Sprintf(forged, q.Get("state"), issuer)+`, "*")`)
		if _, err := waitJS(t, tab, `window.received.length >= 3`, 10*time.Second); err != nil {
			t.Fatalf("forged messages did not arrive: %v", err)
		}
		closeTarget(t, tab, fid)
		// ward.js is still waiting: no forged message settled login().
		time.Sleep(300 * time.Millisecond)
		if o := evalJS[*outcome](t, tab, `window.outcome`); o != nil {
			t.Fatalf("ward.js accepted a forged message: %+v", *o)
		}

		if err := chromedp.Do(popup, chromedp.SendKeys(chromedp.ID("email"), "ada@vault.test")); err != nil {
			t.Fatal(err)
		}
		// The screenshot at the size ward.js asks the popup to have.
		if err := chromedp.Do(popup, chromedp.EmulateViewport(480, 600)); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(popup, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("WARD_UPDATE_SCREENSHOTS") == "1" {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", "login-popup.png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := chromedp.Do(popup,
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		); err != nil {
			t.Fatalf("submit the login form: %v", err)
		}

		o := waitOutcome(t, tab)
		if !o.OK {
			t.Fatalf("login() rejected: %s %s", o.Error, o.Message)
		}
		idToken, _ := o.Tokens["id_token"].(string)
		if o.Tokens["access_token"] == nil || o.Tokens["refresh_token"] == nil || o.Tokens["token_type"] != "Bearer" {
			t.Errorf("token response %v", o.Tokens)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: popupClient}).Verify(ctx, idToken)
		if err != nil {
			t.Fatalf("ID token from the popup: %v", err)
		}
		var claims struct {
			Email string `json:"email"`
		}
		_ = idt.Claims(&claims)
		if idt.Subject != user["id"] || idt.Nonce != q.Get("nonce") || claims.Email != "ada@vault.test" {
			t.Errorf("ID token sub %q nonce %q (ward.js sent %q) email %q", idt.Subject, idt.Nonce, q.Get("nonce"), claims.Email)
		}
		at := verifyAccessToken(t, s.URL, "vault", o.Tokens["access_token"].(string))
		if at["sub"] != user["id"] || at["client_id"] != popupClient {
			t.Errorf("access token claims %v", at)
		}
		// Exactly the three forged messages reached the window: the real
		// answer went to ward.js at Ward's origin too, and nothing else.
		received := evalJS[[]map[string]any](t, tab, `window.received`)
		if len(received) != 4 || received[0]["origin"] != app.Origin || received[1]["origin"] != s.URL ||
			received[2]["origin"] != s.URL || received[3]["origin"] != s.URL {
			t.Errorf("messages received: %v", received)
		}
		ok = true
	})
	if !ok {
		t.Fatal("the popup sign-in failed; the other subtests need its session")
	}

	t.Run("SilentReauthentication", func(t *testing.T) {
		// prompt=none with a live session: a code, no login page.
		tab := step(t, signedIn, 60*time.Second)
		openApp(t, tab, app.page("/silent", popupOptions(map[string]any{"prompt": "none"})))
		if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		o := waitOutcome(t, tab)
		if !o.OK {
			t.Fatalf("prompt=none signed in: %s %s", o.Error, o.Message)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: popupClient}).Verify(ctx, o.Tokens["id_token"].(string))
		if err != nil || idt.Subject != user["id"] {
			t.Errorf("silent ID token: %v", err)
		}
	})

	t.Run("SilentReauthenticationSignedOut", func(t *testing.T) {
		tab := newTab(t, browser, 45*time.Second)
		openApp(t, tab, app.page("/silent", popupOptions(map[string]any{"prompt": "none"})))
		if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		o := waitOutcome(t, tab)
		if o.OK || o.Error != "login_required" || !strings.Contains(o.Message, "login_required") {
			t.Errorf("prompt=none signed out: %+v", o)
		}
	})

	t.Run("UnregisteredOriginReceivesNothing", func(t *testing.T) {
		// A page elsewhere opens the popup with the application's client
		// and redirect URI (by hand: ward.js refuses a redirect URI on
		// another origin): the popup, signed in already, answers at once,
		// but only to the application's origin, so this window gets
		// nothing.
		tab := step(t, signedIn, 60*time.Second)
		openApp(t, tab, evil.page("/", popupOptions(nil)))
		conf := oauth2.Config{ClientID: popupClient, RedirectURL: app.Origin + "/popup-cb", Scopes: []string{"openid"},
			Endpoint: provider.Endpoint()}
		authURL := conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("response_mode", "web_message"))
		popupID := chromedp.WaitNewTarget(tab, func(info *target.Info) bool { return info.Type == "page" })
		if !evalJS[bool](t, tab, `(window.evilPopup = window.open(`+fmt.Sprintf("%q", authURL)+`, "evil", "popup")) !== null`, userGesture) {
			t.Fatal("the popup was blocked")
		}
		select {
		case <-popupID:
		case <-tab.Done():
			t.Fatal("no popup opened")
		}
		// The page posts (to the application's origin) and closes itself.
		if _, err := waitJS(t, tab, `window.evilPopup.closed`, 20*time.Second); err != nil {
			t.Fatalf("the popup did not answer and close: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // a message on its way would arrive now
		if received := evalJS[[]any](t, tab, `window.received`); len(received) != 0 {
			t.Errorf("a page on an unregistered origin received %v", received)
		}
	})

	t.Run("RedirectURIOnAnotherOrigin", func(t *testing.T) {
		// ward.js on a page whose origin is not the redirect URI's would
		// wait for a message that can never come: it refuses at once,
		// before opening any popup.
		tab := step(t, signedIn, 60*time.Second)
		openApp(t, tab, evil.page("/elsewhere", popupOptions(nil)))
		if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		o := waitOutcome(t, tab)
		if o.OK || o.Error != "invalid_request" || !strings.Contains(o.Message, "redirectUri must be on this page's origin") {
			t.Errorf("login() with a redirect URI on another origin: %+v", o)
		}
	})

	t.Run("PopupNeedsUserActivation", func(t *testing.T) {
		// login() called without a click: the popup blocker refuses the
		// window, and ward.js says so.
		tab := newTab(t, browser, 45*time.Second)
		openApp(t, tab, app.page("/", popupOptions(nil)))
		_ = evalJS[chromedp.Void](t, tab, `document.getElementById("signin").click()`)
		if o := waitOutcome(t, tab); o.OK || o.Error != "popup_blocked" {
			t.Errorf("login() without a user activation: %+v", o)
		}
	})

	t.Run("UserCancels", func(t *testing.T) {
		// Cancel on the login page: login() rejects with access_denied.
		tab := newTab(t, browser, 45*time.Second)
		openApp(t, tab, app.page("/", popupOptions(nil)))
		popup, _ := clickSignIn(t, tab)
		if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.Click(chromedp.CSS(`button[name="cancel"]`))); err != nil {
			t.Fatalf("press Cancel: %v", err)
		}
		o := waitOutcome(t, tab)
		if o.OK || o.Error != "access_denied" || !strings.Contains(o.Message, "The user cancelled the sign-in.") {
			t.Errorf("Cancel in the popup: %+v", o)
		}
	})

	t.Run("OriginNotAWebOrigin", func(t *testing.T) {
		// The redirect URI's origin is not among the client's web origins:
		// the popup says why and posts nothing.
		tab := newTab(t, browser, 45*time.Second)
		openApp(t, tab, app.page("/lost", map[string]any{"clientId": misconfigured, "redirectUri": app.Origin + "/popup-cb"}))
		popup, id := clickSignIn(t, tab)
		if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.ID("problem"))); err != nil {
			t.Fatalf("popup problem page: %v", err)
		}
		text, _ := chromedp.Run(popup, chromedp.Text(chromedp.ID("problem")))
		if !strings.Contains(text, app.Origin+" is not registered as a web origin") {
			t.Errorf("popup says %q", text)
		}
		closeTarget(t, tab, id)
		if o := waitOutcome(t, tab); o.OK || o.Error != "popup_closed" {
			t.Errorf("login() after the problem page: %+v", o)
		}
		if received := evalJS[[]any](t, tab, `window.received`); len(received) != 0 {
			t.Errorf("messages received: %v", received)
		}
	})

	t.Run("NoOpener", func(t *testing.T) {
		// The popup's URL opened as a tab of its own: nothing to post to.
		conf := oauth2.Config{ClientID: popupClient, RedirectURL: app.Origin + "/popup-cb", Scopes: []string{"openid"},
			Endpoint: provider.Endpoint()}
		tab, cancel := chromedp.NewContext(signedIn)
		defer cancel()
		tab = step(t, tab, 60*time.Second)
		if err := chromedp.Do(tab, chromedp.Navigate(conf.AuthCodeURL("state-0123456789",
			oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(tab, chromedp.Poll[string](`document.getElementById("status").className === "error" && document.getElementById("status").textContent`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || !strings.Contains(text, "it has no opener window") {
			t.Errorf("page without opener says %q (%v)", text, err)
		}
	})

	t.Run("UserClosesPopup", func(t *testing.T) {
		tab := newTab(t, browser, 45*time.Second)
		openApp(t, tab, app.page("/", popupOptions(nil)))
		popup, id := clickSignIn(t, tab)
		if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
			t.Fatal(err)
		}
		closeTarget(t, tab, id)
		o := waitOutcome(t, tab)
		if o.OK || o.Error != "popup_closed" || !strings.Contains(o.Message, "closed before signing in finished") {
			t.Errorf("closing the popup: %+v", o)
		}
	})

	t.Run("RedirectSignsIn", func(t *testing.T) {
		tab := newTab(t, browser, 45*time.Second)
		conf := oauth2.Config{ClientID: redirectClient, RedirectURL: app.Origin + "/callback", Scopes: []string{"openid", "email"},
			Endpoint: provider.Endpoint()}
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		verifier, state := oauth2.GenerateVerifier(), "state-redirect-0123456789"
		if err := chromedp.Do(tab, chromedp.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-0123456789")))); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(text, "to continue to Vault Classic") {
			t.Errorf("login page: %q %v", text, err)
		}
		signIn(t, tab, "ada@vault.test", password)
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
			t.Fatalf("the application's callback page: %v", err)
		}
		var q url.Values
		select {
		case q = <-app.callbacks:
		case <-tab.Done():
			t.Fatal("no callback")
		}
		if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
			t.Fatalf("callback query %v", q)
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: redirectClient}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil || idt.Subject != user["id"] || idt.Nonce != "nonce-0123456789" {
			t.Errorf("ID token: %v", err)
		}
	})
}

// setPasswordFromOutbox sets the password of the only user mailed so far,
// through the set-password link in the outbox.
func setPasswordFromOutbox(t testing.TB, w *wardEnv, password string) {
	t.Helper()
	m := mailtest.Parse(t, outboxMail(t, filepath.Join(w.dataDir, "outbox")))
	link := setPasswordLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("no set-password link in the outbox mail:\n%s", m.Text)
	}
	setPasswordVia(t, link, password)
}

// setPasswordVia sets a password through a set-password link, over HTTP
// as a browser would (the page's CSRF token, then the form).
func setPasswordVia(t testing.TB, link, password string) {
	t.Helper()
	parts := strings.SplitN(link, "?", 2)
	q, _ := url.ParseQuery(parts[1])
	b := browser(t)
	_, _, csrf := page(t, b, link)
	if status, body := post(t, b, parts[0], url.Values{"csrf_token": {csrf}, "token": {q.Get("token")},
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}
}

// fakeIssuer is a stand-in for Ward that serves the real ward.js (from
// templates) under /realms/fake and answers its popup and token requests
// wrongly in the way the client_id names, so that the checks ward.js makes
// on answers Ward itself never gives are exercised in the browser.
type fakeIssuer struct {
	URL    string
	mu     sync.Mutex
	nonces map[string]string // code → nonce of its authorization request
}

func startFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	js, err := templates.FS.ReadFile("ward.js")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{URL: "http://" + ln.Addr().String(), nonces: map[string]string{}}
	issuer := f.URL + "/realms/fake"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/fake/ward.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(js)
	})
	// The popup page posts a response to the redirect URI's origin, with
	// the window's name beside it (the opener page records every message).
	mux.HandleFunc("GET /realms/fake/protocol/openid-connect/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		scenario, code := q.Get("client_id"), fmt.Sprintf("code-%d", time.Now().UnixNano())
		f.mu.Lock()
		f.nonces[code] = q.Get("nonce")
		f.mu.Unlock()
		resp := map[string]any{"code": code, "state": q.Get("state"), "iss": issuer}
		switch scenario {
		case "wrong-iss":
			resp["iss"] = "http://127.0.0.1:9/realms/fake"
		case "no-iss":
			delete(resp, "iss")
		}
		redirect, _ := url.Parse(q.Get("redirect_uri"))
		msg, _ := json.Marshal(map[string]any{"type": "authorization_response", "response": resp})
		closeSelf := "window.close();"
		if scenario == "ok-stays-open" {
			closeSelf = "" // as if the browser refused window.close()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>fake</title><script>
var m = %s; m.response.window_name = window.name;
window.opener.postMessage(m, %q); %s
</script>`, msg, redirect.Scheme+"://"+redirect.Host, closeSelf)
	})
	mux.HandleFunc("POST /realms/fake/protocol/openid-connect/token", func(w http.ResponseWriter, r *http.Request) {
		scenario := r.PostFormValue("client_id")
		f.mu.Lock()
		nonce := f.nonces[r.PostFormValue("code")]
		f.mu.Unlock()
		if scenario == "wrong-nonce" {
			nonce = "not-this-sign-in"
		}
		// ward.js reads the ID token's payload only; the signature is not
		// its business, so an unsigned token serves.
		payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "u1", "aud": scenario, "nonce": nonce})
		tokens := map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300,
			"id_token": "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + "."}
		if scenario == "no-id-token" {
			delete(tokens, "id_token")
		}
		if scenario != "no-cors" {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tokens)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

// TestBrowserWardJSChecks: ward.js refuses answers that Ward never gives:
// an authorization response without iss or with another issuer's, an ID
// token with another nonce, a token response without an ID token when
// openid was asked for; a token endpoint that CORS withholds is a
// network_error. Each popup has a name of its own, and ward.js closes the
// popup when the page could not close itself.
func TestBrowserWardJSChecks(t *testing.T) {
	browser := startBrowser(t)
	fake := startFakeIssuer(t)
	app := startApp(t, fake.URL+"/realms/fake/ward.js")
	names := map[string]bool{}
	for _, c := range []struct{ scenario, wantError, wantMessage string }{
		{"wrong-iss", "invalid_response", "names issuer http://127.0.0.1:9/realms/fake, not " + fake.URL + "/realms/fake"},
		{"no-iss", "invalid_response", "does not name its issuer"},
		{"wrong-nonce", "invalid_response", "nonce is not this sign-in's"},
		{"no-id-token", "invalid_response", "has no ID token"},
		{"no-cors", "network_error", "did not allow this origin (" + app.Origin + ") by CORS"},
		{"ok-stays-open", "", ""},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			tab := newTab(t, browser, 45*time.Second)
			openApp(t, tab, app.page("/"+c.scenario, map[string]any{"clientId": c.scenario, "redirectUri": app.Origin + "/cb", "scope": "openid"}))
			_, popupID := clickSignIn(t, tab)
			o := waitOutcome(t, tab)
			if c.wantError == "" {
				if !o.OK || o.Tokens["access_token"] != "at" {
					t.Errorf("login(): %+v", o)
				}
			} else if o.OK || o.Error != c.wantError || !strings.Contains(o.Message, c.wantMessage) {
				t.Errorf("login(): %+v, want %s (%s)", o, c.wantError, c.wantMessage)
			}
			received := evalJS[[]struct {
				Data struct {
					Response struct {
						WindowName string `json:"window_name"`
					} `json:"response"`
				} `json:"data"`
			}](t, tab, `window.received`)
			if len(received) != 1 {
				t.Fatalf("messages received: %v", received)
			}
			name := received[0].Data.Response.WindowName
			if !strings.HasPrefix(name, "ward-login-") || len(name) < len("ward-login-")+12 || names[name] {
				t.Errorf("popup window name %q, want ward-login- and a random part, a new one each time", name)
			}
			names[name] = true
			// The popup is gone, whether it closed itself or not.
			deadline := time.Now().Add(5 * time.Second)
			for {
				infos, err := chromedp.Targets(tab)
				if err != nil {
					t.Fatal(err)
				}
				open := false
				for _, info := range infos {
					open = open || info.TargetID == popupID
				}
				if !open {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the popup is still open after login() settled")
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
