package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserFirstRun: on an empty database, the setup link that
// `ward serve` prints leads a person, in a browser, through creating the
// organization and its owner, setting the owner's password and signing in
// to the console as owner.
func TestConsoleBrowserFirstRun(t *testing.T) {
	w := newWardEnv(t, "")
	s := w.serve(t)
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = regexp.MustCompile(`http://\S+/console/setup\?token=\S+`).FindStringSubmatch(s.stdout.String())
	}
	if m == nil {
		t.Fatalf("no setup link printed; stdout:\n%s", s.stdout.String())
	}
	tab := newTab(t, startBrowser(t), 90*time.Second)
	if err := chromedp.Do(tab, chromedp.Navigate(m[0])); err != nil {
		t.Fatal(err)
	}
	waitPage(t, tab, "#org")
	fill(t, tab, map[string]string{"#org": "acme", "#email": "founder@acme.test", "#first_name": "Fay", "#last_name": "Founder"})
	submit(t, tab, `button[type=submit]`)
	setPassword := evalJS[string](t, tab, `(document.querySelector('.done a[href*="/realms/console/login-actions/set-password"]') || {}).href || ""`)
	if err := clickLink(tab, `.done a[href*="/realms/console/login-actions/set-password"]`); err != nil {
		t.Fatalf("no set-password link on the finished setup page: %v\n%s", err, text(t, tab, "body"))
	}
	const password = "founder first run horse"
	waitPage(t, tab, "#password")
	fill(t, tab, map[string]string{"#password": password, "#password_confirm": password})
	submit(t, tab, `button[type=submit]`)
	if err := clickLink(tab, `.done a[href="/console"]`); err != nil {
		t.Fatalf("no console link after setting the password: %v\n%s", err, text(t, tab, "body"))
	}
	signIn(t, tab, "founder@acme.test", password)
	waitPage(t, tab, "[data-role]")
	if role, org := text(t, tab, "[data-role]"), text(t, tab, "header"); role != "owner" || !strings.Contains(org, "acme") {
		t.Fatalf("signed in as %q in %q", role, org)
	}
	if !strings.Contains(text(t, tab, "main"), "no realms yet") || count(t, tab, `form[aria-labelledby="create-realm"]`) != 1 {
		t.Errorf("the new owner's console:\n%s", text(t, tab, "main"))
	}
	// Used links say so when their page opens (issue 19): no form to fill
	// in for nothing.
	for _, link := range []string{m[0], setPassword} {
		if err := chromedp.Do(tab, chromedp.Navigate(link)); err != nil {
			t.Fatal(err)
		}
		waitPage(t, tab, "body")
		if body := text(t, tab, "body"); !strings.Contains(body, "invalid, expired or already used") || count(t, tab, "form") != 0 {
			t.Errorf("the used link %s opens:\n%s", link, body)
		}
	}
}
