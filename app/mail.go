package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
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
		Guesses: &throttle.Limiter{Store: a.Store, Policy: a.Config.Throttle.PasswordPolicy(), Now: a.Now},
		Issuer:  a.Config.Issuer, ResetTTL: a.Config.Mail.Links.ResetTTL.Duration, InviteTTL: a.Config.Mail.Links.InvitationTTL.Duration,
		Now: a.Now, Log: a.Log}
	a.MFA.Notify = a.Accounts // security notifications of the second factor
}

// lazyAccounts is the account lifecycle for the CLI: it reads the secret key (for the links' keyed
// hash) only when an operation needs it, so the other commands work without one.
type lazyAccounts struct {
	cfg   Config
	store *storage.Store
	now   func() time.Time
	log   *slog.Logger
}

func (l *lazyAccounts) svc() (*lifecycle.Service, error) {
	master, err := masterKey(l.cfg)
	if err != nil {
		return nil, err
	}
	kh, err := secret.NewKeyedHash(master, "links")
	if err != nil {
		return nil, err
	}
	return &lifecycle.Service{Store: l.store, Hash: kh, Hasher: secret.NewHasher(secret.HasherOptions{}), Passwords: pwpolicy.New(),
		Issuer: l.cfg.Issuer, ResetTTL: l.cfg.Mail.Links.ResetTTL.Duration, InviteTTL: l.cfg.Mail.Links.InvitationTTL.Duration,
		Now: l.now, Log: l.log}, nil
}

func (l *lazyAccounts) Invite(ctx context.Context, t storage.Tenant, email, name, role string, by lifecycle.Actor) (lifecycle.Invitation, error) {
	s, err := l.svc()
	if err != nil {
		return lifecycle.Invitation{}, err
	}
	return s.Invite(ctx, t, email, name, role, by)
}

func (l *lazyAccounts) Invitations(ctx context.Context, tenantID string) ([]lifecycle.Invitation, error) {
	s, err := l.svc()
	if err != nil {
		return nil, err
	}
	return s.Invitations(ctx, tenantID)
}

func (l *lazyAccounts) ResendInvitation(ctx context.Context, t storage.Tenant, id string, by lifecycle.Actor) (lifecycle.Invitation, error) {
	s, err := l.svc()
	if err != nil {
		return lifecycle.Invitation{}, err
	}
	return s.ResendInvitation(ctx, t, id, by)
}

func (l *lazyAccounts) RevokeInvitation(ctx context.Context, t storage.Tenant, id string, by lifecycle.Actor, keep lifecycle.RevokeGuard) error {
	s, err := l.svc()
	if err != nil {
		return err
	}
	return s.RevokeInvitation(ctx, t, id, by, keep)
}

func (l *lazyAccounts) SendReset(ctx context.Context, t storage.Tenant, u storage.User, by lifecycle.Actor) error {
	s, err := l.svc()
	if err != nil {
		return err
	}
	return s.SendReset(ctx, t, u, by)
}
