package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/internal/testbrowser"
	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// Browser tests of console screens in this package: the console UI over a
// real realm.Service (oauthtest's, on a migrated SQLite store), served on
// 127.0.0.1, driven in Debian's headless Chromium through chromedp, as
// cmd/ward's console tests do with the whole binary. Signing in is not
// what these tests are about: a test route plants a console session for a
// principal (the access token is a name the test's Authenticator knows)
// and sets its cookie.

// browserUI is the console UI under test and how to reach it.
type browserUI struct {
	u       *UI
	url     string
	browser context.Context
}

// testAuth is the Authenticator: each access token names a principal.
type testAuth map[string]realm.Principal

func (a testAuth) AuthenticateAdmin(_ context.Context, bearer string) (realm.Principal, error) {
	if p, ok := a[bearer]; ok {
		return p, nil
	}
	return realm.Principal{}, realm.ErrUnauthenticated
}

// newBrowserUI serves the console UI over env with principals by token,
// and starts Chromium.
func newBrowserUI(t *testing.T, env *oauthtest.Env, principals testAuth) *browserUI {
	t.Helper()
	browser := testbrowser.Start(t)
	u, err := New(Config{Service: env.Service, Auth: principals, PublicURL: "http://127.0.0.1", Sessions: env.Store,
		IdPs: env.IdPs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: env.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = u.HandleError
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			t.Logf("%s %s → %d", c.Request().Method, c.Request().URL, c.Response().Status)
			return err
		}
	})
	u.Register(e)
	e.GET("/test/sign-in/:token", func(c echo.Context) error {
		token := c.Param("token")
		p, ok := principals[token]
		if !ok {
			return echo.ErrNotFound
		}
		now := u.now()
		key, err := u.sess.create(c.Request().Context(), p.ActorType+":"+p.ActorID,
			sessionState{Access: token, CSRF: randomString()}, now.Add(time.Hour), now)
		if err != nil {
			return err
		}
		u.setCookie(c, sessionCookie, key, "/console", time.Hour)
		return c.Redirect(303, c.QueryParam("to"))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &browserUI{u: u, url: srv.URL, browser: browser}
}

// signedIn opens a tab with its own cookies, signed in as the principal
// of token, on the console page path. timeout bounds everything done in
// the tab.
func (b *browserUI) signedIn(t *testing.T, token, path string, timeout time.Duration) context.Context {
	t.Helper()
	tab := testbrowser.NewTab(t, b.browser, timeout)
	b.visit(t, tab, "/test/sign-in/"+token+"?to="+path)
	waitPage(t, tab, "[data-role]")
	return tab
}

// visit opens a path in tab and waits for the page.
func (b *browserUI) visit(t *testing.T, tab context.Context, path string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(b.url+path)); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	waitPage(t, tab, "body")
}

// waitPage waits until the current document has loaded and sel is in it.
func waitPage(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	expr := fmt.Sprintf(`document.readyState === "complete" && document.querySelector(%q) !== null`, sel)
	if _, err := testbrowser.WaitJS(tab, expr, 15*time.Second); err != nil {
		loc, _ := chromedp.Run(tab, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage: %s", sel, err, loc)
	}
}

// awaitPromise makes an evaluation wait for the promise it returns.
func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = &[]bool{true}[0] }

// text is the visible text of the first element matching sel, "" when
// there is none.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	return testbrowser.Eval[string](t, tab, fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel))
}

// count is the number of elements matching sel.
func count(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	return testbrowser.Eval[int](t, tab, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// value is the value of the form field matching sel.
func value(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	return testbrowser.Eval[string](t, tab, fmt.Sprintf(`document.querySelector(%q).value`, sel))
}

// fill types values into the form fields named by CSS selector (text
// inputs and textareas are cleared first; selects take the option value).
func fill(t *testing.T, tab context.Context, fields map[string]string) {
	t.Helper()
	for sel, v := range fields {
		tag := testbrowser.Eval[string](t, tab, fmt.Sprintf(`(document.querySelector(%q)||{}).tagName||""`, sel))
		var err error
		switch tag {
		case "":
			t.Fatalf("no field %s on the page", sel)
		case "SELECT":
			err = chromedp.Do(tab, chromedp.SetValue(chromedp.CSS(sel), v))
		default:
			testbrowser.Eval[any](t, tab, fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
			if v != "" {
				err = chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(sel), v))
			}
		}
		if err != nil {
			t.Fatalf("fill %s: %v", sel, err)
		}
	}
}

// click clicks the element matching sel (a checkbox, a radio button).
func click(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// submit clicks the button or link matched by sel and waits for the next
// page to load (not only for an element the old page may have too).
func submit(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	testbrowser.Eval[any](t, tab, `window.__wardOldPage = true`)
	click(t, tab, sel)
	if _, err := testbrowser.WaitJS(tab, `window.__wardOldPage !== true && document.readyState === "complete"`, 15*time.Second); err != nil {
		t.Fatalf("no new page after clicking %s: %v", sel, err)
	}
}

// axeVersion is the accessibility engine the tests run (as cmd/ward's
// console accessibility test), fetched from the npm registry once and
// kept in the user's cache.
const axeVersion = "4.14.1"

// axeAudit runs axe-core's WCAG 2.x A and AA rules on the page in tab and
// fails the test for each violation, naming what.
func axeAudit(t *testing.T, tab context.Context, what string) {
	t.Helper()
	axe := axeScript(t)
	raw := testbrowser.Eval[string](t, tab, axe+`;
		axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		   .then(r => JSON.stringify(r.violations))`, awaitPromise)
	var vs []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe answered %s", what, raw)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target...))
		}
		t.Errorf("%s: %s [%s] %s at %s", what, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
	}
}

var axeCache string

// axeScript is axe.min.js of axeVersion, from the npm registry (fetched
// once into the cache cmd/ward's tests share).
func axeScript(t *testing.T) string {
	t.Helper()
	if axeCache != "" {
		return axeCache
	}
	b, err := os.ReadFile(testbrowser.NPMFile(t, "axe-core", axeVersion, "axe.min.js",
		"the console's accessibility checks run axe-core"))
	if err != nil {
		t.Fatal(err)
	}
	axeCache = string(b)
	return axeCache
}
