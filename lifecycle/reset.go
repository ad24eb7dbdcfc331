package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
)

// RequestReset is "forgot password": when the tenant has an active user with that email, the account
// got fewer than MaxResetMailsPerHour reset mails in the last hour and its self-service reset is not
// held (resetHeld), it writes a reset link and its mail to the outbox (with an audit event) in one
// transaction. It reports nothing about whether the address exists or why no mail was written: the
// caller answers alike either way.
func (s *Service) RequestReset(ctx context.Context, tenant storage.Tenant, email string, by Actor) error {
	u, err := s.Store.UserByEmail(ctx, tenant.ID, email)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if u.Disabled || u.PasswordHash == "" { // an invited user who never accepted has no password to reset
		return nil
	}
	by.ID = "" // the user themselves: a self-service link (selfService)
	return s.sendReset(ctx, tenant, u, by, "user.password_reset_requested")
}

// SendReset is an admin's "send a reset email" for u (no rate limit beyond the per-account one). It is
// sent also while the user's self-service reset is held (resetHeld): the admin who sends it vouches
// for the address, and its link works in that time.
func (s *Service) SendReset(ctx context.Context, tenant storage.Tenant, u storage.User, by Actor) error {
	if u.TenantID != tenant.ID {
		return storage.ErrNotFound
	}
	return s.sendReset(ctx, tenant, u, by, "user.password_reset_sent")
}

// sendReset writes a reset link for u (created by by.ID: "" for the user's own request), its mail and
// the audit event action in one transaction, unless u got MaxResetMailsPerHour reset mails in the last
// hour, or the request is the user's own and their self-service reset is held (resetHeld). The
// transaction locks u's row first (LockUser), so one user's requests run one after another and each
// counts the mails of the ones before it: parallel requests cannot together pass the cap, and a
// request and an admin's MFA reset (which locks the row too) cannot cross.
func (s *Service) sendReset(ctx context.Context, tenant storage.Tenant, u storage.User, by Actor, action string) error {
	return s.Store.InTx(ctx, func(tx *storage.Store) error {
		locked, err := tx.LockUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if selfService(by.ID) {
			if locked.Disabled || locked.PasswordHash == "" || locked.TenantID != tenant.ID {
				return nil // changed since the caller read it
			}
			held, err := s.resetHeld(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if held {
				s.Log.WarnContext(ctx, "self-service reset withheld: an enrolment code is outstanding", "user", u.ID)
				return nil
			}
		}
		n, err := tx.CountMail(ctx, u.ID, mail.KindPasswordReset, s.Now().Add(-time.Hour))
		if err != nil {
			return err
		}
		if n >= MaxResetMailsPerHour {
			s.Log.WarnContext(ctx, "reset mail limit reached", "user", u.ID)
			return nil
		}
		token, err := s.newLink(ctx, tx, storage.LinkReset, u, by.ID, s.ResetTTL)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenant.ID, by.ID, u.ID, action, by.Address, nil); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, mail.Message{Kind: mail.KindPasswordReset, TenantID: tenant.ID, TenantName: tenant.Name,
			UserID: u.ID, To: u.Email, Subject: "Reset your password",
			Paragraphs: []string{"Someone asked to reset the password of your " + tenant.Name + " account (" + u.Email + ")."},
			Link:       s.link("/login/reset", token), LinkLabel: "Choose a new password (the link works once, for " + human(s.ResetTTL) + ")",
			After: []string{"If this was not you, ignore this message: your password stays as it is.",
				"Resetting the password does not remove your two-factor authentication."}})
	})
}

// ErrResetHeld refuses a reset link while the user's self-service reset is held (resetHeld). It comes
// wrapped with ErrLinkInvalid: a caller that does not tell them apart refuses the link all the same.
var ErrResetHeld = errors.New("self-service password reset held: an enrolment code is outstanding")

// The self-service reset of a user is held while an admin's MFA reset has left them an enrolment code
// that is outstanding (not spent by a new authenticator, not expired). The MFA reset mails that code
// (its link), so the mailbox alone would otherwise be enough to take the account: forgot password, a
// reset link by mail, a new password, a sign-in, the enrolment code from the same mailbox, and an
// authenticator of the attacker's. While held, "forgot password" sends no mail (and answers as for
// any address), and a reset link of the user is refused (ErrResetHeld), except one an admin sent in
// that time (SendReset: the admin vouches). The MFA reset revokes the user's open reset links in its
// own transaction (tenantadmin's ResetMFA), so none sent before it survives either.
//
// selfService says whether a link (or a request) made by createdBy is the user's own: the user
// themselves is the Actor with no id.
func selfService(createdBy string) bool { return createdBy == "" }

// resetHeld reports whether the user's self-service reset is held (they have an outstanding
// enrolment code), read on st (a transaction's Store, where one runs).
func (s *Service) resetHeld(ctx context.Context, st *storage.Store, userID string) (bool, error) {
	switch err := mfa.EnrolmentCodePending(ctx, st, userID, s.Now()); {
	case errors.Is(err, mfa.ErrEnrolmentCodeRequired):
		return true, nil
	case errors.Is(err, mfa.ErrEnrolmentCodeExpired), err == nil:
		return false, nil // an expired code enrols no one: only a new MFA reset helps
	default:
		return false, err
	}
}

// ResetLink checks a reset token without spending it (a page shows the form; mail scanners that open
// links spend nothing). It returns the user the link is for. While the user's self-service reset is
// held, it refuses a link the user asked for, and any link that no longer works, with ErrResetHeld.
func (s *Service) ResetLink(ctx context.Context, token string) (storage.User, storage.Tenant, error) {
	_, u, t, err := s.lookup(ctx, storage.LinkReset, token)
	return u, t, err
}

// CompleteReset spends the reset link and sets the new password, in one transaction: the link (by
// compare-and-set, so a link works once even when two requests race), the password, every session
// and token of the user ended, every other open reset link revoked, the audit event and the
// notification mail. A refused password is a *pwpolicy.Error and spends nothing. A link refused by
// ResetLink is refused here too (ErrResetHeld); a link spent before an MFA reset revoked it was spent
// before the hold began (UseLink and the revocation are compare-and-set on the link's row).
func (s *Service) CompleteReset(ctx context.Context, token, password string, by Actor) (storage.User, error) {
	return s.redeemWithPassword(ctx, storage.LinkReset, token, password, func(tx *storage.Store, u storage.User, t storage.Tenant) error {
		if err := s.audit(ctx, tx, t.ID, u.ID, u.ID, "user.password_reset", by.Address, nil); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, passwordChanged(t, u, s.Now(), by.Address))
	})
}

// redeemWithPassword is what an invitation and a reset have in common: the link of purpose is checked,
// the password too (a refused one is a *pwpolicy.Error and spends nothing), and then, in one
// transaction, the link is spent (compare-and-set, so a link works once even when two requests race),
// the password set, every session and token of the user ended, every other open link of that purpose
// revoked, and then (the audit event, the mail) written.
func (s *Service) redeemWithPassword(ctx context.Context, purpose, token, password string,
	then func(tx *storage.Store, u storage.User, t storage.Tenant) error) (storage.User, error) {
	l, u, t, err := s.lookup(ctx, purpose, token)
	if err != nil {
		return storage.User{}, err
	}
	if err := s.Passwords.Check(password, u.Email, t.Name); err != nil {
		return storage.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return storage.User{}, err
	}
	err = s.Store.InTx(ctx, func(tx *storage.Store) error {
		if err := tx.UseLink(ctx, l, s.Now()); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("%w: %w", ErrLinkInvalid, err)
			}
			return err
		}
		if err := s.setPassword(ctx, tx, u, hash); err != nil {
			return err
		}
		if err := tx.RevokeLinks(ctx, u.ID, purpose, s.Now()); err != nil {
			return err
		}
		return then(tx, u, t)
	})
	return u, err
}

// setPassword stores the hash, marks the email verified (the user proved they read it, for links) and
// ends every session and token of the user.
func (s *Service) setPassword(ctx context.Context, tx *storage.Store, u storage.User, hash string) error {
	if _, err := tx.UpdateUser(ctx, u.ID, func(x *storage.User) error {
		x.PasswordHash, x.EmailVerified = hash, true
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	return tx.RevokeUserTokens(ctx, u.ID, s.Now())
}

func passwordChanged(t storage.Tenant, u storage.User, at time.Time, address string) mail.Message {
	p := "The password of your " + t.Name + " account (" + u.Email + ") was changed on " + at.UTC().Format("2 January 2006 at 15:04 UTC")
	if address != "" {
		p += " from the address " + address
	}
	return mail.Message{Kind: mail.KindPasswordChanged, TenantID: t.ID, TenantName: t.Name, UserID: u.ID, To: u.Email,
		Subject: "Your password was changed", Paragraphs: []string{p + ".", "You were signed out everywhere."},
		After: []string{"If this was not you, tell your administrator now."}}
}

func human(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d == time.Hour:
		return "one hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	default:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
}
