package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// realmSignIn signs email in to the app of conf at the realm's login page
// over HTTP, in a new browser, and returns the tokens (or, when the page
// does not redirect with a code, the login answer's status).
func realmSignIn(t *testing.T, conf *oauth2.Config, base, email, password string) (*oauth2.Token, int) {
	t.Helper()
	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := oauth2.GenerateVerifier()
	_, body, csrf := page(t, ua, conf.AuthCodeURL("state-"+time.Now().Format("150405.000000"), oauth2.S256ChallengeOption(verifier)))
	m := loginAction.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form:\n%s", body)
	}
	resp, err := ua.PostForm(base+html.UnescapeString(m[1]), url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		return nil, resp.StatusCode
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok, resp.StatusCode
}

// TestConsoleBrowserSessions (issue 19): on a user's page an admin sees
// that an invited user has no password yet, sees the user's sessions with
// application and address, signs one out (its refresh token is then
// refused), sees a lockout with its end and unlocks it, and signs the user
// out everywhere; all through the real ward binary.
func TestConsoleBrowserSessions(t *testing.T) {
	e := newConsoleEnv(t)
	base := "/admin/v1/realms/shop"
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	const redirect = "http://127.0.0.1:43131/cb"
	app := e.owner.must(201, "POST", base+"/clients", map[string]any{
		"name": "webapp", "kind": "application", "public": true, "redirect_uris": []string{redirect}})
	user := e.owner.must(201, "POST", base+"/users", map[string]any{"email": "ann@shop.test", "first_name": "Ann", "last_name": "Lee"})
	userPage := "/console/realms/shop/users/" + user["id"].(string)
	issuer := e.s.URL + "/realms/shop"
	conf := &oauth2.Config{ClientID: app["client_id"].(string), RedirectURL: redirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/protocol/openid-connect/auth", TokenURL: issuer + "/protocol/openid-connect/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	refreshErr := func(rt string) error {
		_, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
		return err
	}
	wantRefused := func(what string, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("%s: refresh gave %v, want invalid_grant", what, err)
		}
	}

	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 120*time.Second)
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}

	// Invited: no password yet, and the button says "Send", not "Resend".
	e.visit(t, tab, userPage)
	if got := text(t, tab, "[data-user-status]"); got != "Invited — no password yet" {
		t.Errorf("an invited user's status: %q, want %q", got, "Invited — no password yet")
	}
	if got := text(t, tab, `form[action$="/set-password-email"] button`); got != "Send set-password email" {
		t.Errorf("an invited user's mail button: %q", got)
	}
	if count(t, tab, "[data-empty-sessions]") != 1 {
		t.Errorf("an invited user's sessions: %q, want none", text(t, tab, "main"))
	}
	const password = "correct horse battery staple"
	e.setPassword(t, e.mailLink(t, "ann@shop.test"), password)

	// Two sign-ins: each a browser session with a refresh chain.
	tok1, status := realmSignIn(t, conf, e.s.URL, "ann@shop.test", password)
	if tok1 == nil {
		t.Fatalf("first sign-in: %d", status)
	}
	tok2, status := realmSignIn(t, conf, e.s.URL, "ann@shop.test", password)
	if tok2 == nil {
		t.Fatalf("second sign-in: %d", status)
	}
	e.visit(t, tab, userPage)
	if got := text(t, tab, "[data-user-status]"); got != "Active: may sign in" {
		t.Errorf("status after setting a password: %q", got)
	}
	if n, b := count(t, tab, `tr[data-kind="browser"]`), count(t, tab, `tr[data-kind="refresh"]`); n != 2 || b != 2 {
		t.Fatalf("sessions table: %d browser sign-ins and %d refresh tokens, want 2 and 2:\n%s", n, b, text(t, tab, "main"))
	}
	if got := text(t, tab, `tr[data-kind="refresh"] td[data-label="Application"]`); got != conf.ClientID {
		t.Errorf("a refresh token's application: %q, want %q", got, conf.ClientID)
	}
	if got := text(t, tab, `tr[data-kind="browser"] td[data-label="Address"]`); got != "127.0.0.1" {
		t.Errorf("a browser sign-in's address: %q, want 127.0.0.1", got)
	}
	screenshot(t, tab, "user-sessions")

	// Signing out of the newest browser sign-in (the first row) ends the
	// second sign-in's refresh token; the first one's still works.
	sessions := e.owner.must(200, "GET", base+"/users/"+user["id"].(string)+"/sessions", nil)["items"].([]any)
	newest := ""
	for _, s := range sessions {
		if m := s.(map[string]any); m["kind"] == "browser" && newest == "" {
			newest = m["id"].(string)
		}
	}
	submit(t, tab, `tr[data-session="`+newest+`"] button[type=submit]`)
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "Signed out of the session") {
		t.Errorf("after signing out one session: flash %q", flash)
	}
	if count(t, tab, `tr[data-session="`+newest+`"]`) != 0 || count(t, tab, `tr[data-kind="browser"]`) != 1 || count(t, tab, `tr[data-kind="refresh"]`) != 1 {
		t.Errorf("sessions after signing out one: %s", text(t, tab, "main"))
	}
	wantRefused("the signed-out session's refresh token", refreshErr(tok2.RefreshToken))
	tok1, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok1.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("the other session's refresh token: %v", err)
	}

	// Ten wrong passwords lock sign-in; the page says until when, and
	// Unlock lets the right password in again.
	for range 10 {
		if tok, status := realmSignIn(t, conf, e.s.URL, "ann@shop.test", "not the password"); tok != nil || status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", status)
		}
	}
	if tok, _ := realmSignIn(t, conf, e.s.URL, "ann@shop.test", password); tok != nil {
		t.Fatal("the right password signed in while locked")
	}
	e.visit(t, tab, userPage)
	if got := text(t, tab, "[data-user-status]"); !strings.HasPrefix(got, "Locked until ") || !strings.HasSuffix(got, " after 10 failed sign-ins") {
		t.Errorf("a locked user's status: %q, want Locked until … after 10 failed sign-ins", got)
	}
	submit(t, tab, "form[data-unlock] button[type=submit]")
	if flash := text(t, tab, ".flash"); flash != "User Ann Lee unlocked: it may sign in again at once." {
		t.Errorf("after unlocking: flash %q", flash)
	}
	if got := text(t, tab, "[data-user-status]"); got != "Active: may sign in" || count(t, tab, "form[data-unlock]") != 0 {
		t.Errorf("status after unlocking: %q", got)
	}
	tok3, status := realmSignIn(t, conf, e.s.URL, "ann@shop.test", password)
	if tok3 == nil {
		t.Fatalf("sign-in after unlocking: %d", status)
	}

	// Signing out everywhere ends every session and refresh token.
	e.visit(t, tab, userPage)
	click("form[data-logout] button[type=submit]")
	waitPage(t, tab, "[data-empty-sessions]")
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "Signed out everywhere") {
		t.Errorf("after signing out everywhere: flash %q", flash)
	}
	wantRefused("a refresh token after signing out everywhere", refreshErr(tok1.RefreshToken))
	wantRefused("the newest refresh token after signing out everywhere", refreshErr(tok3.RefreshToken))
	types := map[string]int{}
	for _, ev := range e.owner.must(200, "GET", base+"/events?limit=200", nil)["items"].([]any) {
		if m := ev.(map[string]any); m["target_id"] == user["id"] {
			types[m["type"].(string)]++
		}
	}
	for typ, n := range map[string]int{"user.signed_in": 3, "user.session_revoked": 1, "user.unlocked": 1, "user.signed_out_everywhere": 1} {
		if types[typ] != n {
			t.Errorf("%d %s events, want %d (all: %v)", types[typ], typ, n, types)
		}
	}

	// The user's events, from its page: the events screen filtered by
	// subject, then by type from the menu; the CSV export has the same.
	click("a[data-user-events]")
	waitPage(t, tab, "tr[data-event]")
	rowTypes := func() []string {
		return evalJS[[]string](t, tab, `[...document.querySelectorAll("tr[data-event]")].map(r => r.dataset.event)`)
	}
	all := rowTypes()
	if len(all) < 7 || evalJS[string](t, tab, `document.querySelector("#event-target").value`) != user["id"] {
		t.Fatalf("the user's events: %q", all)
	}
	fill(t, tab, map[string]string{"#event-type": "user.signed_in"})
	submit(t, tab, `form.filters button[type=submit]`)
	if got := rowTypes(); len(got) != 3 || !allAre(got, "user.signed_in") {
		t.Errorf("the user's sign-ins: %q, want 3 user.signed_in", got)
	}
	csvText := evalJS[string](t, tab, `fetch(document.querySelector("a[data-export]").href).then(r => r.text())`, awaitPromise)
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "time,type,actor_type,actor_id,target_type,target_id,details") {
		t.Fatalf("CSV export of the user's sign-ins:\n%s", csvText)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",user.signed_in,system,,user,"+user["id"].(string)+",") || !strings.Contains(l, "127.0.0.1") {
			t.Errorf("CSV row %q, want a user.signed_in of the user with its address", l)
		}
	}
	// A time range that ends before the sign-ins keeps none of them; one
	// whose end is not after its start is refused by name.
	e.visit(t, tab, "/console/realms/shop/events?type=user.signed_in&until=2000-01-01T00:00")
	if count(t, tab, "tr[data-event]") != 0 {
		t.Errorf("sign-ins until 2000: %q", rowTypes())
	}
	e.visit(t, tab, "/console/realms/shop/events?since=2030-01-01T00:00&until=2029-01-01T00:00")
	if msg := text(t, tab, "#event-until-error"); msg != "must be later than Since" {
		t.Errorf("until before since: error %q", msg)
	}
}

// TestConsoleBrowserRealmSettings (issue 19): the realm settings screen
// shows the values in force, names a bad value at its field and changes
// nothing, and saves; the admin API and the login page follow.
func TestConsoleBrowserRealmSettings(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 90*time.Second)
	e.visit(t, tab, "/console/realms/shop/settings")
	values := func() []string {
		return evalJS[[]string](t, tab, `["#settings-display","#settings-accent","#settings-min-length","#settings-min-strength",
			"#settings-lock-threshold","#settings-max-lock","#settings-session","#settings-access"].map(s => document.querySelector(s).value)`)
	}
	if got := strings.Join(values(), " "); got != "shop  10 0 10 15 600 5" {
		t.Errorf("the settings in force: %q", got)
	}
	fill(t, tab, map[string]string{"#settings-accent": "red", "#settings-lock-threshold": "3", "#settings-access": "90"})
	submit(t, tab, "form[data-settings] button[type=submit]")
	if msg := text(t, tab, "#settings-accent-error"); !strings.Contains(msg, "#rrggbb") {
		t.Errorf("accent red: error %q", msg)
	}
	if msg := text(t, tab, "#settings-access-error"); !strings.Contains(msg, "1 to 60") {
		t.Errorf("access token 90 minutes: error %q", msg)
	}
	if got := e.owner.must(200, "GET", "/admin/v1/realms/shop/settings", nil)["brute_force"].(map[string]any)["lock_threshold"]; got != 10.0 {
		t.Errorf("a refused form changed the lock threshold to %v", got)
	}
	fill(t, tab, map[string]string{"#settings-display": "The Shop", "#settings-accent": "#AA3300", "#settings-access": "2"})
	submit(t, tab, "form[data-settings] button[type=submit]")
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "Settings saved.") {
		t.Fatalf("after saving: flash %q\n%s", flash, text(t, tab, "main"))
	}
	// Only what was changed is recorded (and stored): the defaults the
	// form showed and sent back stay defaults.
	ev := e.owner.must(200, "GET", "/admin/v1/realms/shop/events?type=realm.settings_updated", nil)["items"].([]any)
	if len(ev) != 1 || fmt.Sprint(ev[0].(map[string]any)["details"].(map[string]any)["fields"]) !=
		"[branding.accent_color brute_force.lock_threshold lifetimes.access_token_seconds display_name]" {
		t.Errorf("realm.settings_updated events: %v", ev)
	}
	got := e.owner.must(200, "GET", "/admin/v1/realms/shop/settings", nil)
	if got["display_name"] != "The Shop" || got["brute_force"].(map[string]any)["lock_threshold"] != 3.0 ||
		got["lifetimes"].(map[string]any)["access_token_seconds"] != 120.0 || got["branding"].(map[string]any)["accent_color"] != "#aa3300" {
		t.Errorf("settings after saving: %v", got)
	}
	// The logo: a text file is refused at the field; a PNG is saved and
	// shown, served by Ward.
	dir := t.TempDir()
	notImage, logo := filepath.Join(dir, "logo.txt"), filepath.Join(dir, "logo.png")
	img := image.NewRGBA(image.Rect(0, 0, 96, 32))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logo, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notImage, []byte("not an image"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{notImage, logo} {
		if err := chromedp.Do(tab, chromedp.SetUploadFiles("#settings-logo", []string{file})); err != nil {
			t.Fatal(err)
		}
		submit(t, tab, "form[data-logo-form] button[type=submit]")
		if file == notImage {
			if msg := text(t, tab, "#settings-logo-error"); !strings.Contains(msg, "PNG or JPEG") {
				t.Errorf("a text file as the logo: error %q", msg)
			}
		}
	}
	if flash := text(t, tab, ".flash"); !strings.HasPrefix(flash, "Logo saved") {
		t.Fatalf("after uploading the PNG: flash %q", flash)
	}
	screenshot(t, tab, "settings")
	if _, err := waitJS(t, tab, `document.querySelector("img[data-logo]").naturalWidth === 96`, 5*time.Second); err != nil {
		t.Errorf("the console does not show the uploaded logo: %v", err)
	}
	app := e.owner.must(201, "POST", "/admin/v1/realms/shop/clients", map[string]any{"name": "web", "kind": "application", "public": true,
		"redirect_uris": []string{"http://127.0.0.1:43141/cb"}})
	conf := &oauth2.Config{ClientID: app["client_id"].(string), RedirectURL: "http://127.0.0.1:43141/cb", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: e.s.URL + "/realms/shop/protocol/openid-connect/auth"}}
	_, body, _ := page(t, browser(t), conf.AuthCodeURL("state-settings-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if !strings.Contains(body, "button{background:#aa3300}") || !strings.Contains(body, "The Shop") ||
		!strings.Contains(body, `<img src="/realms/shop/branding/logo?v=`) {
		t.Errorf("the login page after the settings:\n%s", body)
	}
}
