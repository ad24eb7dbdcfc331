package app

import (
	"fmt"
	"net/mail"
	"time"

	portmail "github.com/portcullis/portcullis/mail"
)

// MailConfig is the mail path (smtp.url, smtp.from) and the lifetimes of emailed links (links.*).
type MailConfig struct {
	SMTP  SMTPConfig  `yaml:"smtp"`
	Links LinksConfig `yaml:"links"`
}

// SMTPConfig names the SMTP server: smtp://[user:pass@]host:port (STARTTLS when offered;
// ?starttls=required demands it, ?starttls=none never tries), or smtps:// for implicit TLS.
type SMTPConfig struct {
	URL  string `yaml:"url"`
	From string `yaml:"from"`
}

// LinksConfig holds the lifetimes of emailed links.
type LinksConfig struct {
	InvitationTTL Duration `yaml:"invitation_ttl"`
	ResetTTL      Duration `yaml:"reset_ttl"`
}

// DevSMTPURL is where dev mode sends mail when smtp.url is empty: Mailpit's SMTP port on this machine.
const DevSMTPURL = "smtp://127.0.0.1:1025?starttls=none"

func defaultMail() MailConfig {
	return MailConfig{SMTP: SMTPConfig{From: "Portcullis <no-reply@localhost>"},
		Links: LinksConfig{InvitationTTL: Duration{7 * 24 * time.Hour}, ResetTTL: Duration{time.Hour}}}
}

var mailEnvNames = []string{"SMTP_URL", "SMTP_FROM", "LINKS_INVITATION_TTL", "LINKS_RESET_TTL"}

// set assigns one mail setting by its YAML path ("smtp.url") or its environment name ("smtp_url").
func (m *MailConfig) set(key, v string) (ok bool, err error) {
	dur := func(d *Duration) { d.Duration, err = time.ParseDuration(v) }
	switch key {
	case "smtp.url", "smtp_url":
		m.SMTP.URL = v
	case "smtp.from", "smtp_from":
		m.SMTP.From = v
	case "links.invitation_ttl", "links_invitation_ttl":
		dur(&m.Links.InvitationTTL)
	case "links.reset_ttl", "links_reset_ttl":
		dur(&m.Links.ResetTTL)
	default:
		return false, nil
	}
	return true, err
}

// smtpURL is the server to send through: the configured one, Mailpit's in dev mode, or "" (mail waits
// in the outbox until one is configured).
func (c Config) smtpURL() string {
	if c.Mail.SMTP.URL == "" && c.Dev {
		return DevSMTPURL
	}
	return c.Mail.SMTP.URL
}

func (m MailConfig) validate() []error {
	var errs []error
	if m.SMTP.URL != "" {
		if _, err := portmail.NewSMTP(m.SMTP.URL, m.SMTP.From, nil); err != nil {
			errs = append(errs, fmt.Errorf("smtp.url / smtp.from: %w", err))
		}
	} else if _, err := mail.ParseAddress(m.SMTP.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp.from: %w", err))
	}
	if m.Links.InvitationTTL.Duration < time.Minute || m.Links.InvitationTTL.Duration > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("links.invitation_ttl: must be between 1m and 720h"))
	}
	if m.Links.ResetTTL.Duration < time.Minute || m.Links.ResetTTL.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("links.reset_ttl: must be between 1m and 24h"))
	}
	return errs
}
