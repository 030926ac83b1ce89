package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardiam/ward/console"
	"github.com/wardiam/ward/console/ui"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/oauth/login"
)

type pinger interface {
	Ping(ctx context.Context) error
}

type routerConfig struct {
	Log   *slog.Logger
	Store pinger
	OAuth *oauth.Server
	Login *login.Handler // the authorization endpoint's pages, logout, login-actions
	// Broker signs in through the realms' identity providers.
	Broker *broker.Handler
	API    *console.API
	UI     *ui.UI // the console pages under /console
	// Draining is set once shutdown has begun: /readyz then answers 503
	// so that a load balancer stops sending new requests here.
	Draining *atomic.Bool
}

// newRouter assembles the HTTP surface: the admin API, the per-realm OAuth2
// endpoints, and the process endpoints (/healthz, /readyz, /metrics).
func newRouter(cfg routerConfig) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ward_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "method", "status"})
	reg.MustRegister(requests)
	if cfg.OAuth != nil {
		kept := func(kind string, n func(oauth.KeptReadStats) uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "ward_kept_reads_total",
				Help:        "Requests answered from a read kept in memory while the realm's token state held (introspection, client).",
				ConstLabels: prometheus.Labels{"kind": kind},
			}, func() float64 { return float64(n(cfg.OAuth.KeptReadStats())) })
		}
		reg.MustRegister(
			kept("introspection", func(s oauth.KeptReadStats) uint64 { return s.Introspections }),
			kept("client", func(s oauth.KeptReadStats) uint64 { return s.Clients }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "ward_token_state_poll_failures_total",
				Help: "Polls of the realms' token state epochs that failed; reads are not kept until one succeeds.",
			}, func() float64 { return float64(cfg.OAuth.KeptReadStats().PollFailures) }))
	}

	e.HTTPErrorHandler = errorHandler(cfg)
	e.Use(recoverer(cfg.Log), observe(cfg.Log, requests))

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(cfg))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	cfg.API.Register(e)
	cfg.OAuth.Register(e)
	cfg.Login.Register(e)
	cfg.Broker.Register(e)
	cfg.UI.Register(e)
	return e
}

// readyz answers 200 while the database answers, 503 without it, and
// 503 once shutdown has begun, so that a load balancer sends no more.
func readyz(cfg routerConfig) echo.HandlerFunc {
	return func(c echo.Context) error {
		if cfg.Draining != nil && cfg.Draining.Load() {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Store.Ping(ctx); err != nil {
			cfg.Log.Warn("readiness check failed: database unreachable", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
}

// errorHandler picks each area's error format: the admin API answers
// problem+json, the console pages an HTML page, everything else (OAuth2
// endpoints included) the OAuth2 error style or plain status text.
func errorHandler(cfg routerConfig) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if strings.HasPrefix(c.Request().URL.Path, "/admin/") {
			cfg.API.HandleError(err, c)
			return
		}
		if p := c.Request().URL.Path; (p == "/console" || strings.HasPrefix(p, "/console/")) && cfg.UI != nil {
			cfg.UI.HandleError(err, c)
			return
		}
		plainError(cfg.Log, err, c)
	}
}

// plainError answers errors outside the admin API without revealing
// internals.
func plainError(log *slog.Logger, err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	} else {
		log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	_ = c.JSON(status, map[string]string{"error": strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))})
}

// recoverer turns a panic into a 500 and a log line, never a stack trace in
// the response.
func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.Error("panic in handler", "method", c.Request().Method, "route", c.Path(), "panic", r)
					err = echo.NewHTTPError(http.StatusInternalServerError)
				}
			}()
			return next(c)
		}
	}
}

// observe records latency metrics and a debug log line per request. It logs
// the route pattern, never the query string (it may carry tokens).
func observe(log *slog.Logger, requests *prometheus.HistogramVec) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
			if log.Enabled(c.Request().Context(), slog.LevelDebug) {
				log.Debug("request", "method", c.Request().Method, "route", route, "status", status, "duration", time.Since(start))
			}
			return nil
		}
	}
}
