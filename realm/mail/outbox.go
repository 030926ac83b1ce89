package mail

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Outbox is the Sender used when no SMTP server is configured: each message
// becomes an RFC 5322 file "*.eml" in a private directory, and its link is
// logged at Info, so a developer (make run) or an operator without a mail
// server can still act on it.
type Outbox struct {
	dir string
	log *slog.Logger
	now func() time.Time
}

// NewOutbox creates dir if needed and makes it private (0700): the files
// hold working set-password links. logger nil means slog.Default().
func NewOutbox(dir string, logger *slog.Logger) (*Outbox, error) {
	if dir == "" {
		return nil, errors.New("mail: outbox directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: outbox: %w", err)
	}
	// MkdirAll is subject to the umask and leaves an existing directory as
	// it was; the links inside must not be readable by other accounts.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: outbox: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Outbox{dir: dir, log: logger, now: time.Now}, nil
}

// Dir is the directory the files go to.
func (o *Outbox) Dir() string { return o.dir }

// Send writes the message atomically (temporary file, fsync, rename), so a
// reader watching the directory never sees half a mail, and a crash leaves
// at most a ".tmp-*" file behind.
func (o *Outbox) Send(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	kind := string(m.Kind)
	if kind == "" {
		kind = "mail"
	}
	// Time first, so ls lists mails in order; random suffix, so two mails
	// in the same instant (or from two nodes sharing the directory) never
	// overwrite each other.
	name := fmt.Sprintf("%s-%s-%s.eml", o.now().UTC().Format("20060102T150405.000000000Z"), kind, hex.EncodeToString(rnd[:]))
	final := filepath.Join(o.dir, name)

	tmp, err := os.CreateTemp(o.dir, ".tmp-*") // created 0600; no .eml suffix, so readers of *.eml never see a partial mail
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	w := bufio.NewWriter(tmp)
	if _, err := m.WriteTo(w); err != nil {
		return fmt.Errorf("mail: outbox: write: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("mail: outbox: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("mail: outbox: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail: outbox: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("mail: outbox: rename: %w", err)
	}
	committed = true
	// The rename is durable only once the directory entry is on disk.
	if d, err := os.Open(o.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	// The one place a link is logged on purpose: without a mail server this
	// line is how the operator receives it.
	o.log.LogAttrs(ctx, slog.LevelInfo, "mail written to outbox",
		slog.String("kind", string(m.Kind)),
		slog.String("to", m.To.Address),
		slog.String("file", final),
		slog.String("link", m.Link))
	return nil
}
