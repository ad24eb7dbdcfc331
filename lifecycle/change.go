package lifecycle

import (
	"context"
	"errors"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// ErrWrongPassword refuses a change whose current password is not right.
var ErrWrongPassword = errors.New("the current password is not right")

// ChangePassword is a signed-in user's own change: the current password must be right and the new one
// follow the rules. The hash, the end of every other session (keepSession, the browser that asked,
// stays), the revocation of the user's tokens, the audit event and the notification are one transaction.
//
// The current password is guessed no more freely here than at sign-in: the attempt is reserved on the
// user's password counter before the hash is compared, a wrong one counts as a failed sign-in would, and
// a delayed or locked-out user gets the *throttle.LockedError.
func (s *Service) ChangePassword(ctx context.Context, u storage.User, current, password, keepSession string, by Actor) error {
	var att *throttle.Attempt
	if s.Guesses != nil {
		var err error
		if att, err = s.Guesses.Begin(ctx, throttle.PasswordUserKey(u.ID)); err != nil {
			return err
		}
		defer att.ReleaseLogged(ctx, s.Log)
	}
	ok, err := s.Hasher.Verify(ctx, u.PasswordHash, current)
	if errors.Is(err, secret.ErrBusy) {
		return err // compared nothing: the attempt is released
	}
	if err != nil && !errors.Is(err, context.Canceled) && u.PasswordHash != "" {
		s.Log.ErrorContext(ctx, "verify password", "user", u.ID, "err", err)
	}
	if !ok {
		if att != nil {
			if err := att.Fail(ctx); err != nil {
				return err // the *throttle.LockedError of the failure that locked the user, or a fault
			}
		}
		return ErrWrongPassword
	}
	if att != nil {
		if err := att.Succeed(ctx); err != nil {
			return err
		}
	}
	t, err := s.Store.TenantByID(ctx, u.TenantID)
	if err != nil {
		return err
	}
	if err := s.Passwords.Check(password, u.Email, t.Name); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx *storage.Store) error {
		if _, err := tx.UpdateUser(ctx, u.ID, func(x *storage.User) error {
			x.PasswordHash = hash
			return nil
		}); err != nil {
			return err
		}
		if err := tx.DeleteOtherSessions(ctx, u.ID, keepSession); err != nil {
			return err
		}
		if err := tx.RevokeUserTokens(ctx, u.ID, s.Now()); err != nil {
			return err
		}
		if err := tx.RevokeLinks(ctx, u.ID, storage.LinkReset, s.Now()); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, t.ID, u.ID, u.ID, "user.password_changed", by.Address, nil); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, passwordChanged(t, u, s.Now(), by.Address))
	})
}
