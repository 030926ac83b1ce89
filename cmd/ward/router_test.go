package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/console"
	"github.com/wardiam/ward/realm"
)

// TestPanicAnswersWithoutStackTrace: a handler that panics answers a plain
// 500 in its area's error format (CONTRACT §2: no response ever contains a
// stack trace), the server goes on serving, and the log names the route and
// the panic value without a stack trace either.
func TestPanicAnswersWithoutStackTrace(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	// The error handler and recoverer are the ones newRouter installs; the
	// admin API's error format needs only an API value (its service and
	// authenticator are never reached by an error).
	api, err := console.New(console.Config{Service: &realm.Service{}, IdPs: &realm.IdentityProviders{}, Auth: &console.AdminAuth{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(routerConfig{Log: log, API: api})
	e.Use(recoverer(log))
	const secret = "panic-detail-7f3a"
	boom := func(echo.Context) error { panic("boom: " + secret) }
	e.GET("/admin/v1/boom", boom)
	e.GET("/realms/shop/boom", boom)
	e.GET("/fine", func(c echo.Context) error { return c.String(http.StatusOK, "fine") })
	srv := httptest.NewServer(e)
	defer srv.Close()

	for path, wantType := range map[string]string{
		"/admin/v1/boom":    "application/problem+json",
		"/realms/shop/boom": "application/json",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Errorf("%s: %d %q, want 500 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), wantType)
		}
		for _, leak := range []string{secret, "goroutine", ".go:", "panic"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("%s: the answer reveals %q: %s", path, leak, body)
			}
		}
	}
	if resp, err := http.Get(srv.URL + "/fine"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the panics: %v %v", resp, err)
	}
	if !strings.Contains(logs.String(), "panic in handler") || !strings.Contains(logs.String(), secret) {
		t.Errorf("the panic was not logged with its value:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "goroutine ") {
		t.Errorf("the log carries a stack trace:\n%s", logs.String())
	}
}
