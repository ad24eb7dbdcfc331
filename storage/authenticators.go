package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// AuthenticatorByUser returns the user's TOTP authenticator, pending or active.
func (s *Store) AuthenticatorByUser(ctx context.Context, userID string) (Authenticator, error) {
	var r authenticatorRow
	if err := s.ctx(ctx).Where("user_id = ?", userID).Take(&r).Error; err != nil {
		return Authenticator{}, translate("authenticator by user", err)
	}
	return authenticatorFromRow(r), nil
}

// AuthenticatorsByUsers returns the authenticators of the given users, keyed by user id.
func (s *Store) AuthenticatorsByUsers(ctx context.Context, userIDs []string) (map[string]Authenticator, error) {
	var rows []authenticatorRow
	if len(userIDs) == 0 {
		return map[string]Authenticator{}, nil
	}
	if err := s.ctx(ctx).Where("user_id IN ?", userIDs).Find(&rows).Error; err != nil {
		return nil, translate("authenticators by users", err)
	}
	out := make(map[string]Authenticator, len(rows))
	for _, r := range rows {
		out[r.UserID] = authenticatorFromRow(r)
	}
	return out, nil
}

// PutPendingAuthenticator starts an enrolment: it replaces a pending authenticator of the user, but
// never an active one (ErrConflict), so a password thief cannot swap in their own secret.
func (s *Store) PutPendingAuthenticator(ctx context.Context, a Authenticator) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		var active int64
		if err := tx.Model(&authenticatorRow{}).Where("user_id = ? AND state = ?", a.UserID, AuthenticatorActive).Count(&active).Error; err != nil {
			return translate("put pending authenticator", err)
		}
		if active > 0 {
			return translate("put pending authenticator", ErrConflict)
		}
		if err := tx.Where("user_id = ? AND state = ?", a.UserID, AuthenticatorPending).Delete(&authenticatorRow{}).Error; err != nil {
			return translate("put pending authenticator", err)
		}
		if a.ID == "" {
			a.ID = NewID()
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = time.Now()
		}
		r := authenticatorRow{ID: a.ID, UserID: a.UserID, TenantID: a.TenantID, SecretSealed: a.SecretSealed,
			State: AuthenticatorPending, CreatedAt: utc(a.CreatedAt)}
		if err := tx.Create(&r).Error; err != nil {
			// A racing enrolment that activated first shows up as a duplicate user_id.
			return translate("put pending authenticator", ErrConflict)
		}
		return nil
	})
}

// ActivateAuthenticator confirms a pending authenticator with the time step of the code the user typed,
// and stores the user's new recovery codes, in one transaction. ErrConflict if it is no longer pending.
func (s *Store) ActivateAuthenticator(ctx context.Context, id string, step int64, now time.Time, codes []RecoveryCode) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		var r authenticatorRow
		if err := tx.Where("id = ?", id).Take(&r).Error; err != nil {
			return translate("activate authenticator", err)
		}
		res := tx.Model(&authenticatorRow{}).Where("id = ? AND state = ? AND last_step < ?", id, AuthenticatorPending, step).
			Updates(map[string]any{"state": AuthenticatorActive, "last_step": step, "confirmed_at": utc(now), "last_used_at": utc(now)})
		if res.Error != nil {
			return translate("activate authenticator", res.Error)
		}
		if res.RowsAffected != 1 {
			return translate("activate authenticator", ErrConflict)
		}
		return replaceRecoveryCodes(tx, r.UserID, codes, now)
	})
}

// AcceptStep records that a code of time step step was accepted: one compare-and-set that succeeds
// only if step is newer than every step accepted before, so a code works once, also across instances.
func (s *Store) AcceptStep(ctx context.Context, id string, step int64, now time.Time) error {
	res := s.ctx(ctx).Model(&authenticatorRow{}).Where("id = ? AND state = ? AND last_step < ?", id, AuthenticatorActive, step).
		Updates(map[string]any{"last_step": step, "last_used_at": utc(now)})
	if res.Error != nil {
		return translate("accept step", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("accept step", ErrConflict)
	}
	return nil
}

// ResetMFA removes the user's authenticator and recovery codes and ends their sessions, in one
// transaction, with its audit event. The user enrols again at the next sign-in that needs MFA.
func (s *Store) ResetMFA(ctx context.Context, userID string, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		for _, m := range []any{&authenticatorRow{}, &recoveryCodeRow{}, &sessionRow{}} {
			if err := tx.Where("user_id = ?", userID).Delete(m).Error; err != nil {
				return translate("reset mfa", err)
			}
		}
		return addAudit(tx, ev)
	})
}

// ReplaceRecoveryCodes swaps the user's recovery codes for new ones (hashes).
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []RecoveryCode, now time.Time) error {
	return s.inTx(ctx, func(tx *gorm.DB) error { return replaceRecoveryCodes(tx, userID, codes, now) })
}

func replaceRecoveryCodes(tx *gorm.DB, userID string, codes []RecoveryCode, now time.Time) error {
	if err := tx.Where("user_id = ?", userID).Delete(&recoveryCodeRow{}).Error; err != nil {
		return translate("replace recovery codes", err)
	}
	for _, c := range codes {
		if c.ID == "" {
			c.ID = NewID()
		}
		r := recoveryCodeRow{ID: c.ID, UserID: userID, Hash: c.Hash, CreatedAt: utc(now)}
		if err := tx.Create(&r).Error; err != nil {
			return translate("replace recovery codes", err)
		}
	}
	return nil
}

// UnusedRecoveryCodes returns the user's recovery codes that were not used yet.
func (s *Store) UnusedRecoveryCodes(ctx context.Context, userID string) ([]RecoveryCode, error) {
	var rows []recoveryCodeRow
	if err := s.ctx(ctx).Where("user_id = ? AND used_at IS NULL", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate("unused recovery codes", err)
	}
	out := make([]RecoveryCode, len(rows))
	for i, r := range rows {
		out[i] = RecoveryCode{ID: r.ID, UserID: r.UserID, Hash: r.Hash, CreatedAt: utc(r.CreatedAt), UsedAt: utcPtr(r.UsedAt)}
	}
	return out, nil
}

// UseRecoveryCode spends one recovery code (compare-and-set: ErrConflict if it was used already).
func (s *Store) UseRecoveryCode(ctx context.Context, id string, now time.Time) error {
	res := s.ctx(ctx).Model(&recoveryCodeRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", utc(now))
	if res.Error != nil {
		return translate("use recovery code", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("use recovery code", ErrConflict)
	}
	return nil
}
