package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/wardiam/ward/realm/mail/mailtest"
)

// Console browser tests: the real ward binary with its outbox, the admin
// API for set-up the test is not about, and the console driven in
// headless Chromium. One consoleEnv per test function; each signed-in
// person gets a tab in its own browser context (its own cookies).

type consoleEnv struct {
	w       *wardEnv
	s       *server
	owner   *admin // the bootstrap org admin client (owner role), for set-up
	browser context.Context
	seen    map[string]bool // outbox files already read
}

// newConsoleEnv bootstraps the org "acme" with owner@acme.test, starts
// Ward and Chromium.
func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	w := newWardEnv(t, "")
	s, owner := adminFor(t, w)
	return &consoleEnv{w: w, s: s, owner: owner, browser: startBrowser(t), seen: map[string]bool{}}
}

// mailLink waits for a mail to email not read before and returns the
// set-password link in it.
func (e *consoleEnv) mailLink(t *testing.T, email string) string {
	t.Helper()
	dir := filepath.Join(e.w.dataDir, "outbox")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		for _, f := range entries {
			if e.seen[f.Name()] || strings.HasPrefix(f.Name(), ".tmp-") || !strings.HasSuffix(f.Name(), ".eml") {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m := mailtest.Parse(t, raw)
			if !strings.Contains(strings.ToLower(m.To), strings.ToLower(email)) {
				continue
			}
			e.seen[f.Name()] = true
			if link := setPasswordLink.FindString(m.Text); link != "" {
				return link
			}
			t.Fatalf("no set-password link in the mail to %s:\n%s", email, m.Text)
		}
	}
	t.Fatalf("no mail to %s in %s within 20s", email, dir)
	return ""
}

// member adds a console member with role through the admin API, sets its
// password from the mailed link and returns the password.
func (e *consoleEnv) member(t *testing.T, email, role string) string {
	t.Helper()
	e.owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": email, "first_name": "Test", "last_name": strings.ToUpper(role[:1]) + role[1:], "role": role})
	password := role + " console horse battery"
	e.setPassword(t, e.mailLink(t, email), password)
	return password
}

// setPassword sets a password through a set-password link, over HTTP.
func (e *consoleEnv) setPassword(t *testing.T, link, password string) {
	t.Helper()
	setPasswordVia(t, link, password)
}

// signedIn opens a tab with its own cookies, signs email in to the console
// on the console realm's login page, and returns the tab on the realms
// list. timeout bounds everything done in the tab.
func (e *consoleEnv) signedIn(t *testing.T, email, password string, timeout time.Duration) context.Context {
	t.Helper()
	tab := newTab(t, e.browser, timeout)
	if err := chromedp.Do(tab, chromedp.Navigate(e.s.URL+"/console")); err != nil {
		t.Fatal(err)
	}
	signIn(t, tab, email, password)
	waitPage(t, tab, "[data-role]")
	return tab
}

// visit opens a console path in tab and waits for the page.
func (e *consoleEnv) visit(t *testing.T, tab context.Context, path string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(e.s.URL+path)); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	waitPage(t, tab, "body")
}

// waitPage waits until the current document has loaded and sel is in it.
func waitPage(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	expr := fmt.Sprintf(`document.readyState === "complete" && document.querySelector(%q) !== null`, sel)
	if _, err := waitJS(t, tab, expr, 15*time.Second); err != nil {
		loc, _ := chromedp.Run(tab, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage: %s", sel, err, loc)
	}
}

// fill types values into the form fields named by CSS selector (text
// inputs and textareas are cleared first; selects take the option value).
func fill(t *testing.T, tab context.Context, fields map[string]string) {
	t.Helper()
	for sel, v := range fields {
		tag, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).tagName||""`, sel)))
		if err != nil || tag == "" {
			t.Fatalf("no field %s on the page", sel)
		}
		if tag == "SELECT" {
			err = chromedp.Do(tab, chromedp.SetValue(chromedp.CSS(sel), v))
		} else {
			// Cleared by script (chromedp.Clear fails on an empty
			// textarea), then typed as a user types.
			if _, err = chromedp.Run(tab, chromedp.Evaluate[any](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))); err == nil {
				err = chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(sel), v))
			}
		}
		if err != nil {
			t.Fatalf("fill %s: %v", sel, err)
		}
	}
}

// submit clicks the button matched by sel (a form's submit button) and
// waits for the next page to load.
func submit(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`window.__wardOldPage = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	if _, err := waitJS(t, tab, `window.__wardOldPage !== true && document.readyState === "complete"`, 15*time.Second); err != nil {
		t.Fatalf("no new page after clicking %s: %v", sel, err)
	}
}

// text is the visible text of the first element matching sel, "" when
// there is none.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// count is the number of elements matching sel.
func count(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	return evalJS[int](t, tab, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// TestConsoleBrowserAttributes: an owner defines attributes in the
// console; a refused form names the bad field and keeps what was typed; a
// double submission creates one attribute.
func TestConsoleBrowserAttributes(t *testing.T) {
	e := newConsoleEnv(t)
	e.owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	pw := e.member(t, "ada@acme.test", "admin")
	tab := e.signedIn(t, "ada@acme.test", pw, 90*time.Second)

	e.visit(t, tab, "/console/realms/shop/attributes")
	// A bad name is refused, named, and what was typed stays.
	fill(t, tab, map[string]string{"#attr-name": "Bad Name", "#attr-type": "integer", "#attr-description": "kept text"})
	submit(t, tab, `form[aria-labelledby="new-attribute"] button[type=submit]`)
	if msg := text(t, tab, "#attr-name-error"); msg == "" || !strings.Contains(text(t, tab, "#error-summary"), "Name: "+msg) {
		t.Fatalf("no field error for a bad name; page:\n%s", text(t, tab, "main"))
	}
	if got := evalJS[[]string](t, tab, `[document.querySelector("#attr-name").value, document.querySelector("#attr-type").value, document.querySelector("#attr-description").value, document.activeElement.id]`); got[0] != "Bad Name" || got[1] != "integer" || got[2] != "kept text" || got[3] != "error-summary" {
		t.Errorf("after the refused form: name, type, description, focus = %q", got)
	}
	// The summary links to the field it names.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#error-summary a[href="#attr-name"]`))); err != nil {
		t.Fatalf("no link to the name field in the error summary: %v", err)
	}
	if id := evalJS[string](t, tab, `document.activeElement.id`); id != "attr-name" {
		t.Errorf("the summary's link focused %q", id)
	}
	// Fixed, it is created; clicking twice still makes one.
	fill(t, tab, map[string]string{"#attr-name": "departments", "#attr-type": "string"})
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#attr-multi"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`window.__wardOldPage = true;
		(() => { const b = document.querySelector('form[aria-labelledby="new-attribute"] button[type=submit]'); b.click(); b.click(); })()`)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitJS(t, tab, `window.__wardOldPage !== true && document.readyState === "complete"`, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text(t, tab, ".flash"), "departments") || count(t, tab, `tr[data-attribute="departments"]`) != 1 {
		t.Fatalf("after creating: flash %q, page:\n%s", text(t, tab, ".flash"), text(t, tab, "main"))
	}
	screenshot(t, tab, "attributes")
	attrs := e.owner.must(200, "GET", "/admin/v1/realms/shop/attributes", nil)["items"].([]any)
	if len(attrs) != 1 || attrs[0].(map[string]any)["multi"] != true {
		t.Fatalf("attributes after a double click: %v", attrs)
	}

	// Deleting asks first; while a group sets the attribute the refusal is
	// about the deletion as a whole, shown in the summary.
	group := e.owner.must(201, "POST", "/admin/v1/realms/shop/groups", map[string]any{"name": "News",
		"attributes": map[string]any{"departments": []string{"news"}}})
	e.visit(t, tab, "/console/realms/shop/attributes/departments")
	if err := clickLink(tab, `a[href$="/departments/delete"]`); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, tab, "h1"); h1 != "Delete the attribute departments?" {
		t.Fatalf("confirmation page: %q", h1)
	}
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	if summary := text(t, tab, "#error-summary"); !strings.Contains(summary, "group") || count(t, tab, "[aria-invalid=true]") != 0 {
		t.Errorf("refused deletion: summary %q, %d fields marked", summary, count(t, tab, "[aria-invalid=true]"))
	}
	// The edit form beside it still shows the stored definition (saving it
	// must not turn the attribute into a blank single string).
	if got := evalJS[[]any](t, tab, `[document.querySelector("#attr-type").value, document.querySelector("#attr-multi").checked, document.querySelector("#attr-description").value]`); fmt.Sprint(got) != "[string true kept text]" {
		t.Errorf("after the refused deletion the edit form shows %v", got)
	}
	e.owner.must(204, "DELETE", "/admin/v1/realms/shop/groups/"+group["id"].(string), nil)
	e.visit(t, tab, "/console/realms/shop/attributes/departments/delete")
	submit(t, tab, `main form[action$="/delete"] button[type=submit]`)
	if !strings.Contains(text(t, tab, ".flash"), "departments deleted") || count(t, tab, "tr[data-attribute]") != 0 {
		t.Errorf("after deleting: flash %q\n%s", text(t, tab, ".flash"), text(t, tab, "main"))
	}
}

// screenshot saves the page in tab as docs/console/NAME.png when
// WARD_SCREENSHOTS=1 (make screenshots); otherwise it does nothing.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	if os.Getenv("WARD_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll("../../docs/console", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("../../docs/console", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// resetPassword asks the console realm's reset page for a link for email
// (over HTTP, as a person who forgot it would), reads the link from the
// mail and sets password with it.
func (e *consoleEnv) resetPassword(t *testing.T, email, password string) {
	t.Helper()
	resetURL := e.s.URL + "/realms/console/login-actions/reset-password"
	b := browser(t)
	_, _, csrf := page(t, b, resetURL)
	if status, body := post(t, b, resetURL, url.Values{"csrf_token": {csrf}, "email": {email}}); status != 200 {
		t.Fatalf("reset for %s = %d:\n%s", email, status, body)
	}
	e.setPassword(t, e.mailLink(t, email), password)
}

// forgePost submits, from the page in tab, a form to action with the
// session's real CSRF token (read from the sign-out form) and fields, as a
// user editing the page by hand could, and returns the answer's status
// line text (the page's h1).
func forgePost(t *testing.T, tab context.Context, action string, fields map[string]string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = %q;
		const add = (n, v) => { const i = document.createElement("input"); i.type = "hidden"; i.name = n; i.value = v; f.append(i); };
		add("csrf_token", document.querySelector('form[action="/console/logout"] input[name=csrf_token]').value);
		add("form_id", "forged-" + Math.random());
		const fields = %s;
		for (const k in fields) add(k, fields[k]);
		document.body.append(f);
		window.__wardOldPage = true;
		f.submit();
	})()`, action, mustJSON(t, fields))
	if _, err := chromedp.Run(tab, chromedp.Evaluate[any](js)); err != nil {
		t.Fatal(err)
	}
	if _, err := waitJS(t, tab, `window.__wardOldPage !== true && document.readyState === "complete"`, 15*time.Second); err != nil {
		t.Fatalf("no answer to the forged form: %v", err)
	}
	return text(t, tab, "h1")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// adminClient is an admin API client for a bootstrapped org's owner client.
func (e *consoleEnv) adminClient(t *testing.T, boot bootstrapOut) *admin {
	t.Helper()
	tok, err := clientToken(context.Background(), e.s.URL, "console", boot.ClientID, boot.ClientSecret, oauth2.AuthStyleInHeader)
	if err != nil {
		t.Fatal(err)
	}
	return &admin{t: t, base: e.s.URL, token: tok.AccessToken}
}

// clickLink follows the link matched by sel as a user clicking it, and
// waits for the next page to load (not only for an element that the old
// page may have too).
func clickLink(tab context.Context, sel string) error {
	if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`window.__wardOldPage = true`)); err != nil {
		return err
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
		return err
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		done, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__wardOldPage !== true && document.readyState === "complete"`))
		if err == nil && done {
			return nil
		}
	}
	return fmt.Errorf("no new page within 15 s after clicking %s", sel)
}
