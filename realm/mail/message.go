package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	netmail "net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/wardiam/ward/templates"
)

// Kind names which mail a Mail is. It is also the stem of its template files
// (templates/mail/{kind}.txt and .html).
type Kind string

const (
	// KindSetPassword: an admin created the account (or asked for a new
	// link); the link lets the user choose a first password.
	KindSetPassword Kind = "set_password"
	// KindResetPassword: the user asked for a reset on the
	// "forgot password" page.
	KindResetPassword Kind = "reset_password"
)

// Default link lifetimes shown in the mails when Mail.ValidFor is zero
// (CONTRACT §4: 12 h from an admin, 30 min self-service).
const (
	SetPasswordValidFor   = 12 * time.Hour
	ResetPasswordValidFor = 30 * time.Minute
)

// Mail is what the realm service knows when it wants a mail sent.
type Mail struct {
	Kind Kind
	// To is the recipient's address (a bare address or "Name <addr>").
	To string
	// FirstName greets the user.
	FirstName string
	// RealmName is the realm's display name, shown in subject and body.
	RealmName string
	// OrgName and Role make a set-password mail a console invitation: it
	// names the organization and the role.
	OrgName, Role string
	// Link is the absolute http(s) URL the mail carries.
	Link string
	// ValidFor is how long the link works, as told to the reader; zero means
	// the default of the kind.
	ValidFor time.Duration
	// OrgID, RealmID and UserID are not shown; they identify the mail in
	// logs.
	OrgID   string
	RealmID string
	UserID  string
}

// Message is a composed mail, ready for a Sender. Its ID comes from the
// queued mail's ID, so every retry (and a mail sent again after a crash)
// carries the same Message-ID and a receiving server can recognise a
// duplicate.
type Message struct {
	ID      string // Message-ID without angle brackets
	Date    time.Time
	From    netmail.Address
	To      netmail.Address
	Subject string
	Text    string
	HTML    string
	// Kind and Link are carried for the Outbox, which names files by kind
	// and logs the link; the SMTP sender uses neither.
	Kind Kind
	Link string
}

// WriteTo writes the message in RFC 5322 form (multipart/alternative:
// text/plain first, then text/html, as readers pick the last part they can
// show).
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	msg, err := m.goMail()
	if err != nil {
		return 0, err
	}
	return msg.WriteTo(w)
}

// goMail builds go-mail's representation. It is rebuilt for each attempt
// because go-mail marks a Msg as delivered and carries per-send state.
func (m *Message) goMail() (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8))
	from := m.From
	to := m.To
	msg.FromMailAddress(&from)
	msg.ToMailAddress(&to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(m.Date)
	msg.SetMessageIDWithValue(m.ID)
	// RFC 3834: tells autoresponders not to answer a machine.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// templateData is what the mail templates see.
type templateData struct {
	FirstName string
	RealmName string
	OrgName   string
	Role      string
	Link      string
	ValidFor  string
}

// kindTemplates holds the parsed templates of one Kind.
type kindTemplates struct {
	text *texttemplate.Template // defines "subject" and the body as the root
	html *htmltemplate.Template // layout.html + {kind}.html; executed as "layout"
}

// composer turns a Mail into a Message. It is built once by New.
type composer struct {
	from  netmail.Address
	now   func() time.Time
	kinds map[Kind]kindTemplates
}

func newComposer(fsys fs.FS, from netmail.Address, now func() time.Time) (*composer, error) {
	c := &composer{from: from, now: now, kinds: map[Kind]kindTemplates{}}
	for _, k := range []Kind{KindSetPassword, KindResetPassword} {
		txt, err := texttemplate.ParseFS(fsys, "mail/"+string(k)+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: template %s.txt: %w", k, err)
		}
		if txt.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: template %s.txt defines no \"subject\"", k)
		}
		html, err := htmltemplate.ParseFS(fsys, "mail/layout.html", "mail/"+string(k)+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: template %s.html: %w", k, err)
		}
		c.kinds[k] = kindTemplates{text: txt, html: html}
	}
	return c, nil
}

// defaultTemplates is the embedded template tree.
func defaultTemplates() fs.FS { return templates.FS }

// compose validates the Mail and renders it with the Message-ID id@the
// sender's domain (a random one when id is empty). Errors name the bad
// field and never contain the link.
func (c *composer) compose(in Mail, id string) (*Message, error) {
	t, ok := c.kinds[in.Kind]
	if !ok {
		return nil, fmt.Errorf("mail: unknown kind %q", in.Kind)
	}
	to, err := netmail.ParseAddress(strings.TrimSpace(in.To))
	if err != nil {
		return nil, fmt.Errorf("mail: bad recipient address: %w", err)
	}
	if err := checkLink(in.Link); err != nil {
		return nil, err
	}
	validFor := in.ValidFor
	if validFor <= 0 {
		validFor = SetPasswordValidFor
		if in.Kind == KindResetPassword {
			validFor = ResetPasswordValidFor
		}
	}
	data := templateData{
		FirstName: oneLine(in.FirstName),
		RealmName: oneLine(in.RealmName),
		OrgName:   oneLine(in.OrgName),
		Role:      oneLine(in.Role),
		Link:      in.Link,
		ValidFor:  humanDuration(validFor),
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return nil, fmt.Errorf("mail: render %s subject: %w", in.Kind, err)
	}
	if err := t.text.Execute(&text, data); err != nil {
		return nil, fmt.Errorf("mail: render %s text: %w", in.Kind, err)
	}
	if err := t.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return nil, fmt.Errorf("mail: render %s html: %w", in.Kind, err)
	}
	msgID, err := messageID(id, c.from.Address)
	if err != nil {
		return nil, err
	}
	return &Message{
		ID:      msgID,
		Date:    c.now().UTC(),
		From:    c.from,
		To:      *to,
		Subject: oneLine(subject.String()),
		Text:    text.String(),
		HTML:    html.String(),
		Kind:    in.Kind,
		Link:    in.Link,
	}, nil
}

// checkLink insists on an absolute http(s) URL: a relative link in a mail is
// useless to the reader, and any other scheme is a bug or an attack.
func checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("mail: link must be an absolute http(s) URL")
	}
	return nil
}

// oneLine drops control characters (CR and LF above all), so a display name
// can never add a header line or break the subject, and trims the result.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// humanDuration renders link lifetimes the way people say them
// ("12 hours", "30 minutes", "1 hour").
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d/time.Second), "second")
	}
}

// messageID makes the Message-ID id@the sender's domain (RFC 5322
// §3.6.4), so it does not reveal the host name of the node that composed
// it; an empty id is replaced by a random one. A queued mail's id is its
// queue ID, so every attempt, on any node, sends the same Message-ID.
func messageID(id, fromAddr string) (string, error) {
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("mail: message id: %w", err)
		}
		id = hex.EncodeToString(b[:])
	}
	for _, r := range id {
		// Letters, digits and '-': a dot-atom that cannot break the header.
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return "", errors.New("mail: message id: queue ID has characters a Message-ID cannot carry")
		}
	}
	domain := "localhost"
	if at := strings.LastIndexByte(fromAddr, '@'); at >= 0 && at < len(fromAddr)-1 {
		domain = fromAddr[at+1:]
	}
	return id + "@" + domain, nil
}
