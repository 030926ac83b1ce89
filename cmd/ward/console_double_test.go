package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var formIDField = regexp.MustCompile(`name="form_id" value="([^"]+)"`)

// TestConsoleFormSubmittedTwice: without any JavaScript, a form sent twice
// (a double click, a resubmitted page, two tabs racing) creates one
// object, and both answers send the browser to the same page; a form
// without the session's CSRF token changes nothing.
func TestConsoleFormSubmittedTwice(t *testing.T) {
	w := newWardEnv(t, "")
	s, owner := adminFor(t, w)
	owner.must(201, "POST", "/admin/v1/realms", map[string]any{"name": "shop"})
	owner.must(201, "POST", "/admin/v1/members", map[string]any{
		"email": "dee@acme.test", "first_name": "Dee", "last_name": "Double", "role": "admin"})
	const password = "dee double horse battery"
	setPasswordFromOutbox(t, w, password)
	ua := browser(t)
	ua.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consoleSignIn(t, s, ua, "dee@acme.test", password)

	csrf, formID := formKeys(t, ua, s.URL+"/console/realms/shop/attributes")
	form := url.Values{"csrf_token": {csrf}, "form_id": {formID}, "name": {"region"}, "type": {"string"}}

	// A forged form (no CSRF token) is refused and creates nothing.
	forged := url.Values{"form_id": {"other"}, "name": {"forged"}, "type": {"string"}}
	if resp, err := ua.PostForm(s.URL+"/console/realms/shop/attributes", forged); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form without CSRF token: %v %v", resp.StatusCode, err)
	}

	var wg sync.WaitGroup
	locations := make([]string, 3)
	for i := range locations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := ua.PostForm(s.URL+"/console/realms/shop/attributes", form)
			if err != nil {
				t.Error(err)
				return
			}
			readBody(t, resp)
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("submission %d = %d", i, resp.StatusCode)
			}
			locations[i] = resp.Header.Get("Location")
		}()
	}
	wg.Wait()
	if locations[0] != "/console/realms/shop/attributes" || locations[1] != locations[0] || locations[2] != locations[0] {
		t.Errorf("the three submissions went to %q", locations)
	}
	items := owner.must(200, "GET", "/admin/v1/realms/shop/attributes", nil)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "region" {
		t.Fatalf("attributes after one form sent three times: %v", items)
	}
	// The flash of the first submission is shown once.
	resp, err := ua.Get(s.URL + "/console/realms/shop/attributes")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); strings.Count(body, `role="status">Attribute region created.</p>`) != 1 {
		t.Errorf("flash after the double submission not shown once")
	}
}

// formKeys opens a console page with ua and returns the CSRF token and the
// idempotency key of its first form.
func formKeys(t *testing.T, ua *http.Client, pageURL string) (csrf, formID string) {
	t.Helper()
	resp, err := ua.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	c, f := csrfField.FindStringSubmatch(body), formIDField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || c == nil || f == nil {
		t.Fatalf("%s = %d without form keys (signed out?):\n%s", pageURL, resp.StatusCode, body)
	}
	return c[1], f[1]
}
