package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// Browser tests: the real ward binary, pages of an application served on
// other loopback ports (other origins), and Debian's Chromium, headless,
// driven through chromedp. One Chromium serves every subtest; each subtest
// that needs a clean slate gets its own browser context (its own cookies).

// chromiumPath finds Chromium, or fails (skips only with WARD_SKIP_BROWSER=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WARD_SKIP_BROWSER") == "1" {
		t.Skip("WARD_SKIP_BROWSER=1: browser tests skipped (never in CI)")
	}
	t.Fatal("Chromium is not installed: the browser tests need it. Install it with `apt-get install -y chromium` " +
		"(make test and .ci/run do), or set WARD_SKIP_BROWSER=1 to skip these tests locally.")
	return ""
}

// startBrowser starts one headless Chromium for the test and its subtests.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1000, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as the
	// context it ran in: ctx itself, not a shorter one; a timer bounds it.
	timer := time.AfterFunc(60*time.Second, cancel)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !timer.Stop() || err != nil {
		t.Fatalf("starting Chromium (within 60 s): %v", err)
	}
	return ctx
}

// newTab opens a tab in a fresh browser context (no cookies), with a
// deadline for everything the subtest does in it.
func newTab(t *testing.T, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
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
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
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
	raw, err := chromedp.Run(ctx, chromedp.Poll[[]byte](`window.outcome`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("login() did not settle: %v", err)
	}
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("outcome %s: %v", raw, err)
	}
	return o
}

// evalJS runs script in the tab and returns its JSON value.
func evalJS[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

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
	misconfigured := newClient(map[string]any{"name": "vault-lost", "display_name": "Vault Lost", "communication": "post_message",
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
	// subtests that need a live session.
	signedIn, ok := newTab(t, browser, 3*time.Minute), false

	t.Run("PopupSignsIn", func(t *testing.T) {
		tab := signedIn
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

		// Forged answers: from the application's own window with the right
		// state (wrong origin and source), and from the popup at Ward's
		// origin with a wrong state. Both reach the window; ward.js must
		// ignore them and keep waiting for the real one.
		forged := `({type: "authorization_response", response: {code: "forged-code", state: %q, iss: %q}})`
		_ = evalJS[chromedp.Void](t, tab, `window.postMessage(`+fmt.Sprintf(forged, q.Get("state"), issuer)+`, "*")`)
		_ = evalJS[chromedp.Void](t, popup, `window.opener.postMessage(`+fmt.Sprintf(forged, "not-the-state", issuer)+`, "*")`)
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](`window.received.length >= 2`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("forged messages did not arrive: %v", err)
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
		if idt.Subject != user["id"] || idt.Nonce == "" || claims.Email != "ada@vault.test" {
			t.Errorf("ID token sub %q nonce %q email %q", idt.Subject, idt.Nonce, claims.Email)
		}
		at := verifyAccessToken(t, s.URL, "vault", o.Tokens["access_token"].(string))
		if at["sub"] != user["id"] || at["client_id"] != popupClient {
			t.Errorf("access token claims %v", at)
		}
		// Exactly the two forged messages reached the window: the real
		// answer went to ward.js at Ward's origin too, and nothing else.
		received := evalJS[[]map[string]any](t, tab, `window.received`)
		if len(received) != 3 || received[0]["origin"] != app.Origin || received[1]["origin"] != s.URL || received[2]["origin"] != s.URL {
			t.Errorf("messages received: %v", received)
		}
		ok = true
	})
	if !ok {
		t.Fatal("the popup sign-in failed; the other subtests need its session")
	}

	t.Run("SilentReauthentication", func(t *testing.T) {
		// prompt=none with a live session: a code, no login page.
		openApp(t, signedIn, app.page("/silent", popupOptions(map[string]any{"prompt": "none"})))
		if err := chromedp.Do(signedIn, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		o := waitOutcome(t, signedIn)
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
		// A page elsewhere uses the application's client and redirect URI:
		// the popup (signed in already) answers at once, but only to the
		// application's origin, so this window gets nothing.
		openApp(t, signedIn, evil.page("/", popupOptions(nil)))
		if err := chromedp.Do(signedIn, chromedp.Click(chromedp.ID("signin"))); err != nil {
			t.Fatal(err)
		}
		o := waitOutcome(t, signedIn)
		if o.OK || o.Error != "popup_closed" {
			t.Errorf("login() on an unregistered origin: %+v", o)
		}
		if received := evalJS[[]any](t, signedIn, `window.received`); len(received) != 0 {
			t.Errorf("a page on an unregistered origin received %v", received)
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
func setPasswordFromOutbox(t *testing.T, w *wardEnv, password string) {
	t.Helper()
	m := mailtest.Parse(t, outboxMail(t, filepath.Join(w.dataDir, "outbox")))
	link := setPasswordLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("no set-password link in the outbox mail:\n%s", m.Text)
	}
	parts := strings.SplitN(link, "?", 2)
	q, _ := url.ParseQuery(parts[1])
	b := browser(t)
	_, _, csrf := page(t, b, link)
	if status, body := post(t, b, parts[0], url.Values{"csrf_token": {csrf}, "token": {q.Get("token")},
		"password": {password}, "password_confirm": {password}}); status != 200 {
		t.Fatalf("set password = %d:\n%s", status, body)
	}
}
