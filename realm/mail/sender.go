package mail

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"time"
)

// SenderConfig is what cmd/ward reads from WARD_SMTP_URL and WARD_OUTBOX_DIR.
type SenderConfig struct {
	// SMTPURL, when set, selects the SMTP sender (see ParseSMTPURL).
	SMTPURL string
	// RootCAs and Timeout are passed to the SMTP sender.
	RootCAs *x509.CertPool
	Timeout time.Duration
	// OutboxDir is used when SMTPURL is empty.
	OutboxDir string
	Logger    *slog.Logger
}

// NewSender picks the sender CONTRACT §1 describes: SMTP when a URL is
// configured, otherwise the outbox directory. It logs which one, without the
// SMTP password.
func NewSender(cfg SenderConfig) (Sender, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.SMTPURL != "" {
		s, err := NewSMTP(SMTPConfig{URL: cfg.SMTPURL, RootCAs: cfg.RootCAs, Timeout: cfg.Timeout})
		if err != nil {
			return nil, err
		}
		logger.Info("mail goes to SMTP", slog.String("smtp", s.String()))
		return s, nil
	}
	if cfg.OutboxDir == "" {
		return nil, errors.New("mail: neither an SMTP URL nor an outbox directory is configured")
	}
	o, err := NewOutbox(cfg.OutboxDir, logger)
	if err != nil {
		return nil, err
	}
	logger.Info("no SMTP server configured: mail is written to the outbox and its links are logged",
		slog.String("dir", o.Dir()))
	return o, nil
}
