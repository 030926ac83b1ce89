package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/console"
	"github.com/wardiam/ward/console/ui"
	"github.com/wardiam/ward/oauth"
	"github.com/wardiam/ward/oauth/broker"
	"github.com/wardiam/ward/oauth/login"
	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/realm/mail"
	"github.com/wardiam/ward/storage/sql"
)

// appConfig says what a command needs built.
type appConfig struct {
	settings *settings
	log      *slog.Logger
	// migrate applies pending migrations first.
	migrate bool
	// publicURL prefixes issuers and the links the service mails.
	publicURL string
	// mail starts the delivery worker; without it mail is only queued
	// (a running `ward serve` sends it).
	mail bool
}

// app is everything a command uses, built from settings.
type app struct {
	log     *slog.Logger
	store   *sql.Store
	master  []byte // the master key
	keys    *oauth.Keys
	mailer  *mail.Mailer // the delivery worker; nil without appConfig.mail
	service *realm.Service
	idps    *realm.IdentityProviders
}

// build connects to the database and builds the rest in the order each
// part needs the one before: store, signing keys, mail outbox, domain
// service, delivery worker. On error nothing is left open.
func build(ctx context.Context, cfg appConfig) (_ *app, err error) {
	a := &app{log: cfg.log}
	if a.store, err = sql.Open(ctx, sql.Config{DSN: cfg.settings.DB, Logger: cfg.log}); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if a.mailer != nil {
				_ = a.mailer.Close(context.Background())
			}
			a.store.Close()
		}
	}()
	if cfg.migrate {
		if err := a.store.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrating: %w", err)
		}
	}
	if a.master, err = cfg.settings.masterKey(); err != nil {
		return nil, err
	}
	if a.keys, err = oauth.NewKeys(a.master, nil, time.Now); err != nil {
		return nil, err
	}
	queue, err := newMailQueue(a.store, a.master, cfg.log)
	if err != nil {
		return nil, err
	}
	a.service, err = realm.NewService(realm.ServiceConfig{Store: a.store, Keys: a.keys, Logger: cfg.log,
		Mail: queue, PublicURL: cfg.publicURL})
	if err != nil {
		return nil, err
	}
	// Its own key, derived from the master key: client secrets and SP
	// keys of identity providers are sealed with nothing else.
	idpKey, err := hkdf.Key(sha256.New, a.master, nil, "ward identity provider secrets v1", 32)
	if err != nil {
		return nil, err
	}
	if a.idps, err = realm.NewIdentityProviders(realm.IdentityProvidersConfig{Service: a.service, SecretKey: idpKey,
		Checker: broker.NewChecker(broker.NewClient(cfg.settings.IdPPrivate))}); err != nil {
		return nil, err
	}
	if cfg.mail {
		if a.mailer, err = newMailer(cfg.settings, cfg.log, queue); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	s.resolve()
	log := newLogger(s.LogFormat, stderr)
	store, err := sql.Open(ctx, sql.Config{DSN: s.DB, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	pending, err := store.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s)\n", pending)
	return nil
}

func cmdBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var org, email, first, last string
	var asJSON bool
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.bind(fs)
	fs.StringVar(&org, "org", "", "organization slug (required)")
	fs.StringVar(&email, "owner-email", "", "owner's email (required)")
	fs.StringVar(&first, "owner-first-name", "", "owner's first name")
	fs.StringVar(&last, "owner-last-name", "", "owner's last name")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if org == "" || email == "" {
		return errors.New("--org and --owner-email are required")
	}
	s.resolve()
	log := newLogger(s.LogFormat, stderr)
	a, err := build(ctx, appConfig{settings: &s, log: log, migrate: true, publicURL: s.publicURL(s.Addr)})
	if err != nil {
		return err
	}
	defer a.store.Close()
	sys := realm.WithPrincipal(ctx, realm.System)
	res, err := a.service.Bootstrap(sys, realm.BootstrapInput{OrgSlug: org, OwnerEmail: email, FirstName: first, LastName: last})
	if err != nil {
		var verr *realm.ValidationError
		switch {
		case errors.Is(err, realm.ErrConflict):
			return fmt.Errorf("organization %q already exists", org)
		case errors.As(err, &verr):
			return verr
		}
		return err
	}
	link, err := a.service.SetPasswordLink(sys, res.Owner.User.RealmID, res.Owner.UserID)
	if err != nil {
		return err
	}
	setPasswordURL := s.publicURL(s.Addr) + link
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{
			"org":              res.Org.Slug,
			"owner_email":      res.Owner.User.Email,
			"set_password_url": setPasswordURL,
			"client_id":        res.Client.ClientID,
			"client_secret":    res.ClientSecret,
		})
	}
	fmt.Fprintf(stdout, "Organization %q created.\n\n", res.Org.Slug)
	fmt.Fprintf(stdout, "Owner %s sets a password here (valid 12 hours, single use):\n  %s\n\n", res.Owner.User.Email, setPasswordURL)
	fmt.Fprintf(stdout, "Org admin client (role owner):\n  client_id:     %s\n  client_secret: %s\n\n", res.Client.ClientID, res.ClientSecret)
	fmt.Fprintf(stdout, "The secret is shown only now; store it safely. Get an admin API token with:\n")
	fmt.Fprintf(stdout, "  curl -u %s:SECRET -d grant_type=client_credentials %s/realms/%s/protocol/openid-connect/token\n",
		res.Client.ClientID, s.publicURL(s.Addr), realm.ConsoleRealm)
	return nil
}

func cmdRotateKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var realmName, alg string
	fs := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.bind(fs)
	fs.StringVar(&realmName, "realm", "", "realm name (required; \"console\" for the admin API's tokens)")
	fs.StringVar(&alg, "alg", "ES256", "ES256 (access tokens) or RS256 (ID tokens)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if realmName == "" {
		return errors.New("--realm is required")
	}
	s.resolve()
	log := newLogger(s.LogFormat, stderr)
	a, err := build(ctx, appConfig{settings: &s, log: log, migrate: true, publicURL: s.publicURL(s.Addr)})
	if err != nil {
		return err
	}
	defer a.store.Close()
	_, err = a.service.RotateSigningKey(realm.WithPrincipal(ctx, realm.System), realmName, alg)
	var verr *realm.ValidationError
	switch {
	case errors.Is(err, realm.ErrNotFound):
		return fmt.Errorf("no realm named %q", realmName)
	case errors.As(err, &verr):
		return fmt.Errorf("--alg %s: %s", alg, verr.Fields[0].Message)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "realm %q has a new %s signing key; running servers publish it in their JWKS within a second and sign with it from 30 s on, and the old key stays in the JWKS until its tokens have expired\n", realmName, alg)
	return nil
}

func cmdSupportToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var org, reason string
	var ttl time.Duration
	fs := flag.NewFlagSet("support-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.bind(fs)
	fs.StringVar(&org, "org", "", "organization slug (required)")
	fs.StringVar(&reason, "reason", "", "why support looks in; recorded with every call (required)")
	fs.DurationVar(&ttl, "ttl", realm.SupportTokenDefaultTTL, "token lifetime, at most until the org's support access ends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if org == "" {
		return errors.New("--org is required")
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("--reason is required: it is recorded with every call the token makes")
	}
	if ttl < realm.SupportTokenMinTTL || ttl > realm.SupportAccessMax {
		return fmt.Errorf("--ttl %s: must be between %s and %s", ttl, realm.SupportTokenMinTTL, realm.SupportAccessMax)
	}
	s.resolve()
	log := newLogger(s.LogFormat, stderr)
	publicURL := s.publicURL(s.Addr)
	a, err := build(ctx, appConfig{settings: &s, log: log, migrate: true, publicURL: publicURL})
	if err != nil {
		return err
	}
	defer a.store.Close()
	srv, err := oauth.New(oauth.Config{Store: a.store, Service: a.service, Keys: a.keys, PublicURL: publicURL,
		Logger: log, WebMessage: login.WriteWebMessage})
	if err != nil {
		return err
	}
	tok, err := srv.IssueSupportToken(realm.WithPrincipal(ctx, realm.System), org, reason, ttl)
	var verr *realm.ValidationError
	switch {
	case errors.Is(err, realm.ErrNotFound):
		return fmt.Errorf("no organization %q (or no console realm: start ward serve once)", org)
	case errors.Is(err, realm.ErrSupportNotAllowed):
		return fmt.Errorf("organization %q has not allowed support access (or it has ended): its owner switches it on at PUT /admin/v1/support-access or in the console", org)
	case errors.As(err, &verr):
		f := verr.Fields[0]
		return fmt.Errorf("--%s: %s", f.Field, f.Message)
	case err != nil:
		return err
	}
	fmt.Fprintln(stdout, tok.Token)
	fmt.Fprintf(stderr, "support token for %q, valid until %s; use it as \"Authorization: Bearer TOKEN\" at %s/admin/v1 (read only; every call is recorded with the reason)\n",
		tok.Org, tok.ExpiresAt.Format(time.RFC3339), publicURL)
	return nil
}

// janitorInterval is how often expired rows are deleted.
const janitorInterval = 10 * time.Minute

// The drain at SIGTERM fits CONTRACT §8's 10 s: requests in flight get
// drainRequests to finish, and the mail worker, stopped at the same moment,
// gets drainMail to finish its sends in flight before it aborts them and
// hands their mails back to the outbox (any node sends them). Both run side
// by side; what is left of the 10 s closes the database.
const (
	drainRequests = 8 * time.Second
	drainMail     = 9 * time.Second
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.bind(fs)
	fs.BoolVar(&s.NoMigrate, "no-migrate", false, "do not apply pending migrations at start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s.resolve()
	log := newLogger(s.LogFormat, stderr)
	started := time.Now()
	tuneGC(ctx)

	// Bind first so that the public URL (in issuers and mailed links) can
	// name the port actually chosen (":0" in tests).
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	publicURL := s.publicURL(ln.Addr().String())

	a, err := build(ctx, appConfig{settings: &s, log: log, migrate: !s.NoMigrate, publicURL: publicURL, mail: true})
	if err != nil {
		return err
	}
	defer a.store.Close()
	// Runs before the store closes (defers run last-in first-out): sends
	// in flight finish and are recorded, or are handed back to the outbox
	// for the next node; queued mail stays queued. At SIGTERM the drain
	// below has already stopped the worker, and this returns at once.
	defer stopMailer(a.mailer, log)
	sys := realm.WithPrincipal(ctx, realm.System)
	if err := a.service.EnsureSystem(sys); err != nil {
		return fmt.Errorf("preparing the console realm: %w", err)
	}
	if err := checkMasterKey(ctx, a); err != nil {
		return err
	}

	proxies, err := s.trustedProxies()
	if err != nil {
		return err
	}
	// Without a database refusals name no country; a database named but
	// unreadable stops the start rather than quietly recording less.
	var countries oauth.CountryLookup
	if s.GeoIPDB != "" {
		db, err := attributes.OpenCountryDatabase(s.GeoIPDB)
		if err != nil {
			return fmt.Errorf("WARD_GEOIP_DB: %w", err)
		}
		defer db.Close()
		countries = db
	}
	oauthServer, err := oauth.New(oauth.Config{
		Store: a.store, Service: a.service, Keys: a.keys, PublicURL: publicURL, Logger: log,
		WebMessage: login.WriteWebMessage, TrustedProxies: proxies, Countries: countries,
	})
	if err != nil {
		return err
	}
	loginPages, err := login.New(login.Config{OAuth: oauthServer, Store: a.store, Service: a.service,
		PublicURL: publicURL, Logger: log, TrustedProxies: proxies})
	if err != nil {
		return err
	}
	brokerPages, err := broker.New(broker.Config{Store: a.store, IdPs: a.idps, Pages: loginPages, OAuth: oauthServer,
		PublicURL: publicURL, Logger: log, TrustedProxies: proxies, Client: broker.NewClient(s.IdPPrivate)})
	if err != nil {
		return err
	}
	adminAuth, err := console.NewAdminAuth(oauthServer, a.service)
	if err != nil {
		return err
	}
	api, err := console.New(console.Config{Service: a.service, IdPs: a.idps, Auth: adminAuth, Logger: log})
	if err != nil {
		return err
	}
	// Its own key, derived from the master key: every node opens what
	// another sealed, and the signing keys' encryption key is never used
	// for anything else.
	consoleKey, err := hkdf.Key(sha256.New, a.master, nil, "ward console sessions v1", 32)
	if err != nil {
		return err
	}
	consoleUI, err := ui.New(ui.Config{Service: a.service, Auth: adminAuth, PublicURL: publicURL,
		Sessions: a.store, Key: consoleKey, Client: &http.Client{Timeout: 10 * time.Second}, Logger: log,
		MintTestKey: oauthServer.MintTestKey, IdPs: a.idps})
	if err != nil {
		return err
	}
	var draining atomic.Bool
	handler := newRouter(routerConfig{Log: log, Store: a.store, OAuth: oauthServer, Login: loginPages, Broker: brokerPages,
		API: api, UI: consoleUI, Draining: &draining})

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// Expired revocations, codes, refresh tokens, links, login failures and
	// console sessions go away.
	go runJanitor(ctx, janitorInterval, oauthServer.Sweep, loginPages.Sweep, consoleUI.Sweep, a.idps.Sweep)
	if token, err := a.service.NewSetupToken(sys); err != nil {
		log.Error("creating the console setup link", "err", err)
	} else if token != "" {
		// Printed, not logged: the link is a credential, and logs are kept.
		fmt.Fprintf(stdout, "\nNo organization exists yet. Set up Ward here (valid 1 hour, single use):\n  %s/console/setup?token=%s\n\n", publicURL, token)
	}
	// Logged last: "listening" tells operators and tests that start-up is over.
	log.Info("listening", "addr", ln.Addr().String(), "public_url", publicURL,
		"startup_ms", time.Since(started).Milliseconds())
	releaseStartupPages(log)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// The drain: /readyz answers 503 from now on (to a request already on
	// its way: Shutdown closes the listener at once, so new connections are
	// refused), requests in flight finish, and the mail worker stops
	// claiming and finishes its sends, all within 10 s of the signal.
	draining.Store(true)
	log.Info("shutting down: draining requests")
	begun := time.Now()
	mailStopped := make(chan struct{})
	go func() { defer close(mailStopped); stopMailer(a.mailer, log) }()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drainRequests)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if err != nil {
		// Past the bound: cut the connections still open, so that no
		// handler runs on after the database has closed.
		_ = srv.Close()
	}
	<-mailStopped
	if err != nil {
		return fmt.Errorf("shutdown: requests still in flight after %s were cut off: %w", drainRequests, err)
	}
	log.Info("stopped", "drain_ms", time.Since(begun).Milliseconds())
	return nil
}

// stopMailer stops the mail worker, giving its sends in flight drainMail;
// those it aborts go back to the outbox. It may be called more than once.
func stopMailer(m *mail.Mailer, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), drainMail)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		log.Warn("mail in flight handed back to the outbox at shutdown", "err", err)
	}
}

// runJanitor runs the sweeps at once and then every interval until ctx
// ends.
func runJanitor(ctx context.Context, every time.Duration, sweeps ...func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, sweep := range sweeps {
			sweep(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkMasterKey refuses to serve with a master key that does not open
// the keys this database holds: such a node would start and answer, then
// fail every signature, provider secret and queued mail with a 503 and a
// log line. Two small reads: the console realm and its newest signing key
// (made with the realm, so every database that has served once has it).
func checkMasterKey(ctx context.Context, a *app) error {
	r, err := a.store.GetRealmByName(ctx, realm.ConsoleRealm)
	if err != nil {
		return fmt.Errorf("checking the master key: %w", err)
	}
	keys, err := a.store.ListSigningKeys(ctx, r.ID)
	if err != nil {
		return fmt.Errorf("checking the master key: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	if _, err := a.keys.PrivateKey(&keys[0]); err != nil {
		return fmt.Errorf("WARD_MASTER_KEY does not open the signing keys stored in this database (%v): start Ward with the master key the database was set up with", err)
	}
	return nil
}
