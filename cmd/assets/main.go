package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardiam/ward/attributes"
)

// config is what the environment sets (CONTRACT §5).
type config struct {
	addr          string
	issuer        string
	audience      string
	clientID      string
	clientSecret  string
	db            string
	publicURL     string        // "" means http:// + the listening address
	policyRefresh time.Duration // 0: the guard's default (30 s)
	apiKeyCache   int           // 0: the guard's default (10,000 keys)
	// geoIPDB is a MaxMind-format country database for temporary keys'
	// country rules; without it such keys are refused (fail closed).
	geoIPDB string
	// trustedProxies may set X-Forwarded-For: the client address that
	// temporary keys' ip_ranges and per-address limits read.
	trustedProxies []netip.Prefix
	// leeway is the clock skew tolerated on token and key expiry; nil:
	// the guard's default (30 s).
	leeway *time.Duration
}

// loadConfig reads the ASSETS_* variables through getenv.
func loadConfig(getenv func(string) string) (config, error) {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := config{
		addr:         or("ASSETS_ADDR", "127.0.0.1:8090"),
		issuer:       getenv("ASSETS_ISSUER"),
		audience:     or("ASSETS_AUDIENCE", "assets"),
		clientID:     getenv("ASSETS_CLIENT_ID"),
		clientSecret: getenv("ASSETS_CLIENT_SECRET"),
		db:           or("ASSETS_DB", "sqlite:./data/assets.db"),
		publicURL:    strings.TrimSuffix(getenv("ASSETS_PUBLIC_URL"), "/"),
		geoIPDB:      getenv("ASSETS_GEOIP_DB"),
	}
	var missing []string
	for name, v := range map[string]string{"ASSETS_ISSUER": c.issuer, "ASSETS_CLIENT_ID": c.clientID, "ASSETS_CLIENT_SECRET": c.clientSecret} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return c, fmt.Errorf("%s must be set", strings.Join(missing, ", "))
	}
	if v := getenv("ASSETS_POLICY_REFRESH"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return c, fmt.Errorf("ASSETS_POLICY_REFRESH must be a duration of at least 1s, got %q", v)
		}
		c.policyRefresh = d
	}
	if v := getenv("ASSETS_API_KEY_CACHE_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000_000 {
			return c, fmt.Errorf("ASSETS_API_KEY_CACHE_SIZE must be a number of keys from 1 to 10000000, got %q", v)
		}
		c.apiKeyCache = n
	}
	if v := getenv("ASSETS_CLOCK_LEEWAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			return c, fmt.Errorf("ASSETS_CLOCK_LEEWAY must be a duration from 0s to 5m, got %q", v)
		}
		c.leeway = &d
	}
	if v := getenv("ASSETS_TRUSTED_PROXIES"); v != "" {
		proxies, err := parseProxies(v)
		if err != nil {
			return c, fmt.Errorf("ASSETS_TRUSTED_PROXIES: %w", err)
		}
		c.trustedProxies = proxies
	}
	return c, nil
}

// parseProxies reads a comma-separated list of addresses and CIDR prefixes.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "assets:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("assets stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	store, err := OpenStore(cfg.db, nil)
	if err != nil {
		return fmt.Errorf("opening %s: %w", cfg.db, err)
	}
	defer store.Close()

	// The guard polls the realm's policies until ctx ends (a signal); each
	// fetch is bounded by the guard's HTTP client timeout (10 s).
	var leeway time.Duration // the guard's default
	if cfg.leeway != nil {
		leeway = *cfg.leeway
		if leeway == 0 {
			leeway = -1 // the guard's way of saying none
		}
	}
	guard, err := attributes.NewGuard(ctx, attributes.Config{
		Leeway:        leeway,
		Issuer:        cfg.issuer,
		Audience:      cfg.audience,
		Client:        attributes.ClientCredentials{ID: cfg.clientID, Secret: cfg.clientSecret},
		PolicyRefresh: cfg.policyRefresh,
		// API keys (X-API-Key) are exchanged with the same client
		// credentials and cached per key for at most a minute.
		APIKeyCacheSize: cfg.apiKeyCache,
		// Temporary keys are verified offline; these serve their
		// ip_ranges, countries and per-address limits.
		TrustedProxies: cfg.trustedProxies,
		GeoIPDatabase:  cfg.geoIPDB,
		OnError:        func(err error) { log.Warn("guard", "err", err) },
	})
	if err != nil {
		return fmt.Errorf("trusting %s: %w", cfg.issuer, err)
	}
	defer guard.Close()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	publicURL := cfg.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	s := &server{guard: guard, store: store, publicURL: publicURL, log: log}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.issuer, "audience", cfg.audience, "public_url", publicURL)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
