package app

import (
	"context"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
)

// wireMail builds the outbox worker (nil when no SMTP server is configured: mail then waits in the
// outbox) and the keyed hash of emailed link tokens.
func (a *App) wireMail(master []byte) error {
	var err error
	if a.LinkHash, err = secret.NewKeyedHash(master, "links"); err != nil {
		return err
	}
	u := a.Config.smtpURL()
	if u == "" {
		return nil
	}
	s, err := mail.NewSMTP(u, a.Config.Mail.SMTP.From, a.SMTPTLS)
	if err != nil {
		return err
	}
	a.Mail = &mail.Worker{Outbox: a.Store, Sender: s, Now: a.Now, Log: a.Log}
	return nil
}

// sendMail runs the outbox worker until ctx ends; without an SMTP server it says so once.
func (a *App) sendMail(ctx context.Context) {
	if a.Mail == nil {
		a.Log.WarnContext(ctx, "no smtp.url configured: mail waits in the outbox until one is")
		return
	}
	a.Mail.Run(ctx)
}

// wireAccounts builds the account lifecycle by email (resets, invitations, notifications).
func (a *App) wireAccounts() {
	a.Accounts = &lifecycle.Service{Store: a.Store, Hash: a.LinkHash, Hasher: a.Hasher, Passwords: pwpolicy.New(),
		Issuer: a.Config.Issuer, ResetTTL: a.Config.Mail.Links.ResetTTL.Duration, InviteTTL: a.Config.Mail.Links.InvitationTTL.Duration,
		Now: a.Now, Log: a.Log}
}
