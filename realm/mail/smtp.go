package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// StartTLS is the STARTTLS policy of a smtp:// URL.
type StartTLS string

const (
	// StartTLSRequired: upgrade with STARTTLS or fail (never send in clear).
	StartTLSRequired StartTLS = "required"
	// StartTLSOpportunistic: upgrade when the server offers STARTTLS,
	// otherwise send in clear.
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSNone: never upgrade (a relay on localhost or a test server).
	StartTLSNone StartTLS = "none"
)

// SMTPConfig configures the SMTP sender.
type SMTPConfig struct {
	// URL is WARD_SMTP_URL; see ParseSMTPURL for its form.
	URL string
	// RootCAs verifies the server's certificate; nil means the system roots.
	// Verification is never switched off: a private relay's CA goes here.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and each SMTP command; default 30 s.
	Timeout time.Duration
	// HELO is the name given in EHLO; default the host name of the machine.
	HELO string
}

// SMTPSettings is a parsed WARD_SMTP_URL.
type SMTPSettings struct {
	Host string
	Port int
	// ImplicitTLS: smtps://, TLS from the first byte (RFC 8314).
	ImplicitTLS bool
	// StartTLS applies to smtp:// only; it is StartTLSNone for smtps://.
	StartTLS StartTLS
	Username string
	Password string
	// Auth is the SASL mechanism ("" = pick the strongest the server offers,
	// and never a clear-text one on an unencrypted connection).
	Auth string
}

// ParseSMTPURL reads
//
//	smtp://[user:pass@]host[:port][?starttls=required|opportunistic|none][&auth=MECH]
//	smtps://[user:pass@]host[:port][?auth=MECH]
//
// Defaults: smtps:// is implicit TLS on port 465. smtp:// uses port 587
// (submission) and STARTTLS "opportunistic", except when the URL carries
// credentials: then STARTTLS is "required", so a connection whose STARTTLS
// offer was stripped fails instead of sending the password in clear.
// auth is one of plain, login, cram-md5, scram-sha-1, scram-sha-256 (default:
// the strongest the server offers). User and password are percent-decoded.
// Unknown parameters are errors, so a typo never weakens the connection.
// Errors never contain the password.
func ParseSMTPURL(raw string) (SMTPSettings, error) {
	var s SMTPSettings
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the input, password included.
		return s, errors.New("mail: WARD_SMTP_URL is not a valid URL")
	}
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port = 465
		s.ImplicitTLS = true
	default:
		return s, fmt.Errorf("mail: WARD_SMTP_URL scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return s, errors.New("mail: WARD_SMTP_URL must be scheme://[user:pass@]host[:port][?options]")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return s, errors.New("mail: WARD_SMTP_URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("mail: WARD_SMTP_URL port %q is not valid", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return s, errors.New("mail: WARD_SMTP_URL has a password but no user")
		}
	}
	q := u.Query()
	for key := range q {
		if key != "starttls" && key != "auth" {
			return s, fmt.Errorf("mail: WARD_SMTP_URL: unknown option %q (known: starttls, auth)", key)
		}
	}
	if s.ImplicitTLS {
		s.StartTLS = StartTLSNone
		if q.Has("starttls") {
			return s, errors.New("mail: WARD_SMTP_URL: starttls does not apply to smtps:// (already TLS)")
		}
	} else {
		s.StartTLS = StartTLSOpportunistic
		if s.Username != "" {
			s.StartTLS = StartTLSRequired
		}
		if q.Has("starttls") {
			switch v := StartTLS(strings.ToLower(q.Get("starttls"))); v {
			case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
				s.StartTLS = v
			default:
				return s, fmt.Errorf("mail: WARD_SMTP_URL: starttls must be required, opportunistic or none, not %q", q.Get("starttls"))
			}
		}
	}
	if q.Has("auth") {
		if s.Username == "" {
			return s, errors.New("mail: WARD_SMTP_URL: auth needs user:pass@ in the URL")
		}
		switch v := strings.ToLower(q.Get("auth")); v {
		case "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256":
			s.Auth = strings.ToUpper(v)
		default:
			return s, fmt.Errorf("mail: WARD_SMTP_URL: auth must be plain, login, cram-md5, scram-sha-1 or scram-sha-256, not %q", q.Get("auth"))
		}
	}
	return s, nil
}

// SMTP sends mail to one SMTP server with go-mail. It opens a connection per
// message: mails are rare, and a fresh connection cannot be left in a bad
// state by a previous failure.
type SMTP struct {
	set     SMTPSettings
	tls     *tls.Config
	timeout time.Duration
	helo    string
}

// NewSMTP validates the configuration; it does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	set, err := ParseSMTPURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &SMTP{
		set: set,
		tls: &tls.Config{
			ServerName: set.Host,
			RootCAs:    cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		timeout: timeout,
		helo:    cfg.HELO,
	}, nil
}

// String describes the target without the password, for startup logs.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.set.ImplicitTLS {
		scheme = "smtps"
	}
	user := ""
	if s.set.Username != "" {
		user = s.set.Username + ":xxxxx@"
	}
	desc := fmt.Sprintf("%s://%s%s", scheme, user, net.JoinHostPort(s.set.Host, strconv.Itoa(s.set.Port)))
	if !s.set.ImplicitTLS {
		desc += "?starttls=" + string(s.set.StartTLS)
	}
	return desc
}

// Send delivers one message. A refusal the server calls permanent (5xx) is
// wrapped so IsPermanent reports it and the Mailer stops retrying.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	msg, err := m.goMail()
	if err != nil {
		return Permanent(err)
	}
	opts := []gomail.Option{
		gomail.WithPort(s.set.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls.Clone()),
	}
	if s.set.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		policy := gomail.TLSOpportunistic
		switch s.set.StartTLS {
		case StartTLSRequired:
			policy = gomail.TLSMandatory
		case StartTLSNone:
			policy = gomail.NoTLS
		}
		// WithTLSPolicy (not WithTLSPortPolicy) keeps the configured port and
		// never falls back to another one.
		opts = append(opts, gomail.WithTLSPolicy(policy))
	}
	if s.helo != "" {
		opts = append(opts, gomail.WithHELO(s.helo))
	}
	if s.set.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.set.Auth != "" {
			auth = gomail.SMTPAuthType(s.set.Auth)
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.set.Username), gomail.WithPassword(s.set.Password))
	}
	c, err := gomail.NewClient(s.set.Host, opts...)
	if err != nil {
		return Permanent(fmt.Errorf("mail: smtp client: %w", err))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		err = fmt.Errorf("mail: smtp %s: %w", net.JoinHostPort(s.set.Host, strconv.Itoa(s.set.Port)), err)
		if smtpPermanent(err) {
			return Permanent(err)
		}
		return err
	}
	return nil
}

// smtpPermanent reports a 5xx answer: the server will refuse the same mail
// again, so retrying only delays the failure event.
func smtpPermanent(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500 && te.Code < 600
	}
	return false
}
