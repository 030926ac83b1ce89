package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A real SMTP server (go-smtp) on 127.0.0.1:0 that records what it receives
// and can be told to refuse.

type Received struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool
	AuthUser string
}

type Server struct {
	Addr string
	// Set before the first connection.
	User, Pass string // when set, AUTH PLAIN is required before MAIL
	// RefuseData refuses the first N DATA commands with RefuseCode (default 451).
	RefuseData int
	RefuseCode int
	// RefuseRcpt answers every RCPT with this code (0 = accept).
	RefuseRcpt int
	// Hold, when set, keeps every DATA after the first HoldAfter waiting
	// (its mail read but neither accepted nor recorded) until Hold is
	// closed: mail stays in flight, for tests that kill the sender then.
	Hold      chan struct{}
	HoldAfter int

	mu       sync.Mutex
	msgs     []Received
	dataCmds int
	authFail int
}

func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

func (s *Server) DataCommands() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataCmds
}

func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFail
}

type Mode int

const (
	Plain    Mode = iota // no TLS at all
	StartTLS             // STARTTLS offered
	Implicit             // TLS from the first byte (smtps)
)

// Start starts the server; cert is required for the TLS modes.
func Start(t testing.TB, s *Server, mode Mode, cert *tls.Certificate) *Server {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = false // AUTH only over TLS, as real servers do
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != Plain {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	if mode == Implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type session struct {
	srv      *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.srv.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.srv.User || password != ss.srv.Pass {
			ss.srv.mu.Lock()
			ss.srv.authFail++
			ss.srv.mu.Unlock()
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authUser = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.User != "" && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.srv.RefuseRcpt != 0 {
		return &smtp.SMTPError{Code: ss.srv.RefuseRcpt, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.srv
	s.mu.Lock()
	s.dataCmds++
	if s.Hold != nil && s.dataCmds > s.HoldAfter {
		s.mu.Unlock()
		<-s.Hold
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.dataCmds <= s.RefuseData {
		code := s.RefuseCode
		if code == 0 {
			code = 451
		}
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 3, 0}, Message: "try again later"}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	s.msgs = append(s.msgs, Received{From: ss.from, To: ss.to, Data: bytes.Clone(data), TLS: isTLS, AuthUser: ss.authUser})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// SelfSignedCert makes a certificate for 127.0.0.1 and a pool that trusts it.
func SelfSignedCert(t testing.TB) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "ward test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Mail is a Received mail taken apart with the standard library only.
type Mail struct {
	From, To, Subject, MessageID, AutoSubmitted string
	Text, HTML                                  string
}

func Parse(t testing.TB, raw []byte) Mail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	p := Mail{
		From: msg.Header.Get("From"), To: msg.Header.Get("To"), Subject: subject,
		MessageID: msg.Header.Get("Message-Id"), AutoSubmitted: msg.Header.Get("Auto-Submitted"),
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), ""))
			if err != nil {
				t.Fatal(err)
			}
		}
		ct, ctp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(ctp["charset"], "utf-8") {
			t.Errorf("part %s charset = %q, want UTF-8", ct, ctp["charset"])
		}
		order = append(order, ct)
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain then text/html", order)
	}
	return p
}

// Wait returns the mails received once there are at least n, failing the
// test after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d mail(s) received within %s, want %d", len(s.Received()), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
