package tenantadmin

import (
	"context"
	"unicode/utf8"

	"github.com/portcullis/portcullis/storage"
)

// SetPassword is the operator's break-glass (CLI): it sets the user's password, ends their sessions
// and revokes their tokens, with the audit event, in one transaction. The second factor stays.
func (s *Service) SetPassword(ctx context.Context, a Actor, tenantID, userID, password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return invalid("password: %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	if s.Passwords != nil {
		u, err := s.User(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		t, err := s.Store.TenantByRef(ctx, tenantID)
		if err != nil {
			return err
		}
		if err := s.Passwords.Check(password, u.Email, t.Name); err != nil {
			return invalid("password: %s", err.Error())
		}
	} else if _, err := s.User(ctx, tenantID, userID); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.UpdateUser(ctx, userID, func(u *storage.User) error {
			u.PasswordHash = hash
			return nil
		}); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, userID); err != nil {
			return err
		}
		if err := tx.RevokeUserTokens(ctx, userID, s.Now()); err != nil {
			return err
		}
		return tx.AddAudit(ctx, s.event(a, tenantID, AuditPasswordSet, userID, nil))
	})
}

// DeleteUser removes the tenant's user, their personal data (email, name, authenticator, codes,
// sessions, links, unsent mail) and revokes every token they hold, with the audit event, in one
// transaction. It refuses (ErrLastAdmin) to delete the tenant's last active admin.
func (s *Service) DeleteUser(ctx context.Context, a Actor, tenantID, userID string) error {
	return s.Store.InTx(ctx, func(tx Tx) error {
		u, err := lockedUser(ctx, tx, tenantID, userID) // users.go
		if err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, userID, s.Now()); err != nil {
			return err
		}
		if activeAdmin(u) {
			if err := keepsAdmin(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		// The audit trail keeps the id and the role, not the address: the user's personal data goes.
		return tx.AddAudit(ctx, s.event(a, tenantID, AuditUserDeleted, userID, map[string]any{"role": u.Role}))
	})
}
