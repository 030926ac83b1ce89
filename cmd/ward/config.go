package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// settings are the values every command shares. Each flag falls back to its
// environment variable; a flag given on the command line wins.
type settings struct {
	Addr         string
	PublicURL    string
	DB           string
	DataDir      string
	MasterKey    string
	LogFormat    string
	SMTPURL      string
	OutboxDir    string
	MailFrom     string
	NoMigrate    bool
	TrustedProxy string
	GeoIPDB      string
	// IdPPrivate lets identity provider URLs reach loopback and private
	// addresses (WARD_IDP_ALLOW_PRIVATE_NETWORKS).
	IdPPrivate bool
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// bind registers the shared flags on fs with env-derived defaults.
func (s *settings) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.Addr, "addr", envOr("WARD_ADDR", "127.0.0.1:8080"), "listen address (WARD_ADDR)")
	fs.StringVar(&s.PublicURL, "public-url", envOr("WARD_PUBLIC_URL", ""), "external base URL (WARD_PUBLIC_URL); default http://ADDR")
	fs.StringVar(&s.DataDir, "data-dir", envOr("WARD_DATA_DIR", "./data"), "data directory (WARD_DATA_DIR)")
	fs.StringVar(&s.DB, "db", envOr("WARD_DB", ""), "sqlite:PATH, sqlite::memory: or postgres:// URL (WARD_DB); default sqlite:DATA_DIR/ward.db")
	fs.StringVar(&s.LogFormat, "log-format", envOr("WARD_LOG_FORMAT", ""), "text or json (WARD_LOG_FORMAT); default text on a terminal, else json")
	fs.StringVar(&s.SMTPURL, "smtp-url", envOr("WARD_SMTP_URL", ""), "SMTP server URL (WARD_SMTP_URL); unset writes mail to the outbox")
	fs.StringVar(&s.OutboxDir, "outbox-dir", envOr("WARD_OUTBOX_DIR", ""), "mail outbox directory (WARD_OUTBOX_DIR); default DATA_DIR/outbox")
	fs.StringVar(&s.MailFrom, "mail-from", envOr("WARD_MAIL_FROM", "Ward <no-reply@localhost>"), "mail sender (WARD_MAIL_FROM)")
	fs.StringVar(&s.TrustedProxy, "trusted-proxies", envOr("WARD_TRUSTED_PROXIES", ""), "comma-separated CIDRs whose X-Forwarded-For is believed (WARD_TRUSTED_PROXIES)")
	fs.BoolVar(&s.IdPPrivate, "idp-allow-private-networks", envOr("WARD_IDP_ALLOW_PRIVATE_NETWORKS", "") == "1",
		"let identity provider URLs reach loopback and private addresses (WARD_IDP_ALLOW_PRIVATE_NETWORKS=1)")
	fs.StringVar(&s.GeoIPDB, "geoip-db", envOr("WARD_GEOIP_DB", ""), "MaxMind-format .mmdb naming the country of refused callers in audit events (WARD_GEOIP_DB)")
	// The master key is read from the environment only: a flag would show it
	// in the process list.
	s.MasterKey = os.Getenv("WARD_MASTER_KEY")
}

// resolve fills defaults that depend on other settings.
func (s *settings) resolve() {
	if s.DB == "" {
		s.DB = "sqlite:" + filepath.Join(s.DataDir, "ward.db")
	}
	if s.OutboxDir == "" {
		s.OutboxDir = filepath.Join(s.DataDir, "outbox")
	}
}

// publicURL is the external base URL, given the address actually bound.
func (s *settings) publicURL(boundAddr string) string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/")
	}
	return "http://" + boundAddr
}

// trustedProxies parses WARD_TRUSTED_PROXIES: comma-separated CIDRs (or
// single addresses) whose X-Forwarded-For is believed.
func (s *settings) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s.TrustedProxy, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			addr, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("WARD_TRUSTED_PROXIES: %q is not a CIDR or an IP address", f)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("WARD_TRUSTED_PROXIES: %q is not a CIDR or an IP address", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (s *settings) isPostgres() bool {
	return strings.HasPrefix(s.DB, "postgres://") || strings.HasPrefix(s.DB, "postgresql://")
}

// masterKey returns the 32-byte key that encrypts signing keys at rest: from
// WARD_MASTER_KEY, else from DATA_DIR/master.key, generated (0600) on first
// use. With Postgres the key must be given, since every node must share it.
func (s *settings) masterKey() ([]byte, error) {
	if s.MasterKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.MasterKey))
		if err != nil || len(key) != 32 {
			return nil, errors.New("WARD_MASTER_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")
		}
		return key, nil
	}
	if s.isPostgres() {
		return nil, errors.New("WARD_MASTER_KEY is required with PostgreSQL: every node must share it (generate one with `openssl rand -base64 32`)")
	}
	path := filepath.Join(s.DataDir, "master.key")
	if data, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s does not hold a 32-byte base64 key", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return s.masterKey()
		}
		return nil, fmt.Errorf("writing master key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("writing master key: %w", err)
	}
	return key, f.Sync()
}
