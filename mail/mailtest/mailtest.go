// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) in the test process, plain,
// with STARTTLS or with implicit TLS under its own self-signed certificate, and records what it receives.
// Tests of the mail path talk to it instead of a mock of the sender.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Modes of the server.
const (
	Plain       = "plain"    // no TLS offered
	StartTLS    = "starttls" // STARTTLS offered
	ImplicitTLS = "tls"      // TLS from the first byte (smtps)
)

// Message is one received message.
type Message struct {
	From, To string
	Subject  string
	Text     string // the text/plain part
	HTML     string // the text/html part
	TLS      bool   // the session was encrypted
	Raw      []byte
}

// Server is a running test SMTP server.
type Server struct {
	t      testing.TB
	mode   string
	addr   string
	tlsCfg *tls.Config
	pool   *x509.CertPool

	mu   sync.Mutex
	srv  *smtp.Server
	ln   net.Listener
	msgs []Message
}

// Start runs a server in mode on a free loopback port until the test ends.
func Start(t testing.TB, mode string) *Server {
	t.Helper()
	s := &Server{t: t, mode: mode}
	s.tlsCfg, s.pool = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	srv.Domain = "mail.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if s.mode != Plain {
		srv.TLSConfig = s.tlsCfg
	}
	if s.mode == ImplicitTLS {
		ln = tls.NewListener(ln, s.tlsCfg)
	}
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the server (a mail server that is down); Restart brings it back on the same address.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		_ = ln.Close() // Serve may not have registered it yet
		_ = srv.Close()
	}
}

// Restart listens again on the address of Start.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("mailtest: listen again: %v", err)
	}
	s.serve(ln)
}

// URL is the smtp(s):// URL of the server for mail.NewSMTP.
func (s *Server) URL() string {
	switch s.mode {
	case ImplicitTLS:
		return "smtps://" + s.addr
	case StartTLS:
		return "smtp://" + s.addr + "?starttls=required"
	default:
		return "smtp://" + s.addr + "?starttls=none"
	}
}

// ClientTLS is a client TLS configuration that trusts the server's certificate.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Messages returns what the server received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait polls until the server holds at least n messages or d passes, and returns them.
func (s *Server) Wait(n int, d time.Duration) []Message {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := s.Messages()
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("mailtest: got %d messages, want %d", len(m), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// To returns the messages to addr.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link returns the first http(s) link of the message's text part.
func (m Message) Link() string { return linkRE.FindString(m.Text) }

type session struct {
	s        *Server
	c        *smtp.Conn
	from, to string
}

func (x *session) Reset()        { x.from, x.to = "", "" }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = to
	return nil
}
func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.c.TLSConnectionState()
	m := Message{From: x.from, To: x.to, Raw: raw, TLS: isTLS}
	if err := parse(raw, &m); err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	return nil
}

// parse reads the subject and the text and HTML parts of a multipart/alternative message.
func parse(raw []byte, m *Message) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		m.Text = b
		return err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
		if err != nil {
			return err
		}
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			m.Text = b
		case "text/html":
			m.HTML = b
		}
	}
}

func decodePart(enc string, r io.Reader) (string, error) {
	// multipart.Reader already decodes quoted-printable; base64 is left to us.
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if strings.EqualFold(enc, "base64") {
		return decodeBase64(b)
	}
	return string(b), nil
}

func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}, pool
}
