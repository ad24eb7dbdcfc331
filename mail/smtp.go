package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/portcullis/portcullis/storage"
)

// Sender delivers one message; the Worker calls it for each claimed outbox row.
type Sender interface {
	Send(ctx context.Context, m storage.OutboxMail) error
}

// SMTP sends through one SMTP server configured by a URL:
//
//	smtp://[user:pass@]host[:port]              STARTTLS when the server offers it (port 587 by default)
//	smtp://host:port?starttls=required          STARTTLS or fail
//	smtp://host:port?starttls=none              never STARTTLS (a local relay or Mailpit in dev)
//	smtps://[user:pass@]host[:port]             implicit TLS (port 465 by default)
type SMTP struct {
	host      string
	port      int
	implicit  bool
	policy    gomail.TLSPolicy
	user      string
	pass      string
	from      string
	tlsConfig *tls.Config
	timeout   time.Duration
}

// NewSMTP parses the URL and the From address. tlsConfig may be nil (system roots, the URL's host as
// server name); tests pass one that trusts their own certificate.
func NewSMTP(rawURL, from string, tlsConfig *tls.Config) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("smtp from: %w", err)
	}
	s := &SMTP{host: u.Hostname(), from: from, timeout: 30 * time.Second}
	if s.host == "" {
		return nil, errors.New("smtp url: no host")
	}
	switch u.Scheme {
	case "smtp":
		s.port, s.policy = 587, gomail.TLSOpportunistic
		switch v := u.Query().Get("starttls"); v {
		case "", "opportunistic":
		case "required", "mandatory":
			s.policy = gomail.TLSMandatory
		case "none", "off":
			s.policy = gomail.NoTLS
		default:
			return nil, fmt.Errorf("smtp url: starttls must be required, opportunistic or none, got %q", v)
		}
	case "smtps":
		s.port, s.implicit, s.policy = 465, true, gomail.TLSMandatory
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, got %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	s.tlsConfig = tlsConfig
	if s.tlsConfig == nil {
		s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig = s.tlsConfig.Clone()
		s.tlsConfig.ServerName = s.host
	}
	return s, nil
}

// Addr is host:port of the server, for logs.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Send delivers m: one connection per message (the outbox worker sends few, and a failure stays
// confined to one message).
func (s *SMTP) Send(ctx context.Context, m storage.OutboxMail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@portcullis")
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.timeout), gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithTLSPolicy(s.policy)}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send to %s: %w", s.Addr(), err)
	}
	return nil
}
