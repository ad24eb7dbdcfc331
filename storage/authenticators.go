package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// AuthenticatorByUser returns the user's active TOTP authenticator. A user without one whose sign-in is
// showing a secret gets a record in state AuthenticatorPending with no secret (for display only).
func (s *Store) AuthenticatorByUser(ctx context.Context, userID string) (Authenticator, error) {
	// The common case, an enrolled user (every code step reads it), is one plain query; without an
	// active authenticator the user may still be pending, which AuthenticatorsByUsers tells.
	var r authenticatorRow
	err := s.queryRow(ctx, authenticatorByUserSQL, userID).Scan(&r.ID, &r.UserID, &r.TenantID, &r.SecretSealed, &r.State,
		&r.LastStep, &r.CreatedAt, &r.ConfirmedAt, &r.LastUsedAt, &r.EnrolledClientID, &r.EnrolledAddress)
	if err == nil {
		return authenticatorFromRow(r), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Authenticator{}, s.translateSQL("authenticator by user", err)
	}
	m, err := s.AuthenticatorsByUsers(ctx, []string{userID})
	if err != nil {
		return Authenticator{}, err
	}
	a, ok := m[userID]
	if !ok {
		return Authenticator{}, translate("authenticator by user", ErrNotFound)
	}
	return a, nil
}

// AuthenticatorsByUsers returns the authenticators of the given users, keyed by user id, as
// AuthenticatorByUser does.
func (s *Store) AuthenticatorsByUsers(ctx context.Context, userIDs []string) (map[string]Authenticator, error) {
	if len(userIDs) == 0 {
		return map[string]Authenticator{}, nil
	}
	var rows []authenticatorRow
	if err := s.ctx(ctx).Where("user_id IN ?", userIDs).Find(&rows).Error; err != nil {
		return nil, translate("authenticators by users", err)
	}
	out := make(map[string]Authenticator, len(rows))
	for _, r := range rows {
		out[r.UserID] = authenticatorFromRow(r)
	}
	if len(out) == len(userIDs) {
		return out, nil
	}
	var pending []pendingEnrolmentRow
	// Only a sign-in's secret makes the user "pending" (they finish at their next sign-in); a secret shown
	// on the account page is that page's business.
	if err := s.ctx(ctx).Select("user_id", "tenant_id", "created_at").Where("user_id IN ? AND auth_request_id IS NOT NULL", userIDs).
		Find(&pending).Error; err != nil {
		return nil, translate("authenticators by users", err)
	}
	for _, p := range pending {
		if _, ok := out[p.UserID]; !ok {
			out[p.UserID] = Authenticator{UserID: p.UserID, TenantID: p.TenantID, State: AuthenticatorPending, CreatedAt: utc(p.CreatedAt)}
		}
	}
	return out, nil
}

// CreatePendingEnrolment stores the secret shown to one sign-in (AuthRequestID) or to the account page
// of one SSO session (SessionID): exactly one of the two. ErrAlreadyExists if that sign-in or session has
// one already (the caller shows that one). A sign-in's secret is a first enrolment: ErrConflict if the
// user has an active authenticator. A session's may replace the active one (see Activation.Replaces).
func (s *Store) CreatePendingEnrolment(ctx context.Context, p PendingEnrolment) error {
	if (p.AuthRequestID == "") == (p.SessionID == "") {
		return fmt.Errorf("create pending enrolment: bound to %q and %q, want exactly one of a sign-in and a session", p.AuthRequestID, p.SessionID)
	}
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if p.AuthRequestID != "" {
			var active int64
			if err := tx.Model(&authenticatorRow{}).Where("user_id = ?", p.UserID).Count(&active).Error; err != nil {
				return translate("create pending enrolment", err)
			}
			if active > 0 {
				return translate("create pending enrolment", ErrConflict)
			}
		}
		if p.ID == "" {
			p.ID = NewID()
		}
		r := pendingEnrolmentRow{ID: p.ID, AuthRequestID: nonEmpty(p.AuthRequestID), SessionID: nonEmpty(p.SessionID), UserID: p.UserID,
			TenantID: p.TenantID, SecretSealed: p.SecretSealed, CreatedAt: utc(p.CreatedAt)}
		return translate("create pending enrolment", tx.Create(&r).Error)
	})
}

// PendingEnrolment returns the secret pending for the sign-in authRequestID.
func (s *Store) PendingEnrolment(ctx context.Context, authRequestID string) (PendingEnrolment, error) {
	return s.pendingEnrolment(ctx, "auth_request_id", authRequestID)
}

// SessionPendingEnrolment returns the secret pending for the account page of the SSO session sessionID.
func (s *Store) SessionPendingEnrolment(ctx context.Context, sessionID string) (PendingEnrolment, error) {
	return s.pendingEnrolment(ctx, "session_id", sessionID)
}

func (s *Store) pendingEnrolment(ctx context.Context, col, key string) (PendingEnrolment, error) {
	if key == "" {
		return PendingEnrolment{}, translate("pending enrolment", ErrNotFound)
	}
	var r pendingEnrolmentRow
	if err := s.ctx(ctx).Where(col+" = ?", key).Take(&r).Error; err != nil {
		return PendingEnrolment{}, translate("pending enrolment", err)
	}
	p := PendingEnrolment{ID: r.ID, UserID: r.UserID, TenantID: r.TenantID, SecretSealed: r.SecretSealed, CreatedAt: utc(r.CreatedAt)}
	if r.AuthRequestID != nil {
		p.AuthRequestID = *r.AuthRequestID
	}
	if r.SessionID != nil {
		p.SessionID = *r.SessionID
	}
	return p, nil
}

// DeleteSessionPendingEnrolment drops the secret pending for the account page of the session sessionID
// (the user cancelled); dropping none is not an error.
func (s *Store) DeleteSessionPendingEnrolment(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	return translate("delete session pending enrolment", s.ctx(ctx).Where("session_id = ?", sessionID).Delete(&pendingEnrolmentRow{}).Error)
}

// Record is what a change writes beside itself, in its own transaction: its audit event and the mail
// it causes (a security notification), so that neither is lost nor written for a change that failed.
type Record struct {
	Audit *AuditEvent
	Mail  *OutboxMail
}

func (r Record) write(tx *gorm.DB) error {
	if r.Audit != nil {
		if err := addAudit(tx, *r.Audit); err != nil {
			return err
		}
	}
	if r.Mail != nil {
		if _, err := (&Store{db: tx}).EnqueueMail(context.Background(), *r.Mail); err != nil {
			return err
		}
	}
	return nil
}

// Activation is what confirming a pending enrolment records.
type Activation struct {
	PendingID string
	Step      int64 // the time step of the code that confirmed it
	Now       time.Time
	ClientID  string // the app signed in to
	Address   string // the client address
	Codes     []RecoveryCode
	Record    Record // the audit event and notification of the enrolment

	// Replaces is the id of the user's active authenticator that the new one replaces (a new phone, on
	// the account page); "" when the user must have none. It must still be the user's active one when
	// the transaction runs, so two replacements racing cannot both win.
	Replaces string
	// EndSessionsWith: the user's sessions that carry any of these factors end (those signed in with
	// the replaced app's code), except KeepSession (the browser that replaced it).
	EndSessionsWith []string
	KeepSession     string
	// RevokeAMR: the user's live tokens whose amr holds any of these values are revoked (those issued
	// to sign-ins with the replaced app's codes).
	RevokeAMR []string
}

// ActivateAuthenticator turns a pending enrolment into the user's active authenticator, in one
// transaction: it removes the authenticator it replaces (if any), stores the new recovery codes (the
// old ones stop working), removes every other pending enrolment and the enrolment code of the user, so
// nothing pending remains, ends the sessions of EndSessionsWith, and writes the Record. ErrNotFound if
// the enrolment is gone; ErrConflict if the user's active authenticator is not the one it replaces
// (none, for a first enrolment): only one enrolment can ever win.
func (s *Store) ActivateAuthenticator(ctx context.Context, act Activation) (Authenticator, error) {
	var out Authenticator
	if act.Step <= 0 { // a real code's step; the replay guard refuses steps at or below last_step
		return out, translate("activate authenticator", ErrConflict)
	}
	err := s.inTx(ctx, func(tx *gorm.DB) error {
		var p pendingEnrolmentRow
		if err := tx.Where("id = ?", act.PendingID).Take(&p).Error; err != nil {
			return translate("activate authenticator", err)
		}
		now := utc(act.Now)
		r := authenticatorRow{ID: NewID(), UserID: p.UserID, TenantID: p.TenantID, SecretSealed: p.SecretSealed,
			State: AuthenticatorActive, LastStep: act.Step, CreatedAt: utc(p.CreatedAt), ConfirmedAt: &now, LastUsedAt: &now,
			EnrolledClientID: act.ClientID, EnrolledAddress: act.Address}
		if act.Replaces != "" {
			res := tx.Where("id = ? AND user_id = ?", act.Replaces, p.UserID).Delete(&authenticatorRow{})
			if res.Error != nil {
				return translate("activate authenticator", res.Error)
			}
			if res.RowsAffected != 1 {
				return translate("activate authenticator", ErrConflict)
			}
		}
		var active int64
		if err := tx.Model(&authenticatorRow{}).Where("user_id = ?", p.UserID).Count(&active).Error; err != nil {
			return translate("activate authenticator", err)
		}
		if active > 0 {
			return translate("activate authenticator", ErrConflict)
		}
		if err := tx.Create(&r).Error; err != nil {
			// A racing confirmation of another enrolment shows up as a duplicate user_id.
			if errors.Is(translate("", err), ErrAlreadyExists) {
				return translate("activate authenticator", ErrConflict)
			}
			return translate("activate authenticator", err)
		}
		for _, m := range []any{&pendingEnrolmentRow{}, &enrolmentCodeRow{}} {
			if err := tx.Where("user_id = ?", p.UserID).Delete(m).Error; err != nil {
				return translate("activate authenticator", err)
			}
		}
		out = authenticatorFromRow(r)
		if err := replaceRecoveryCodes(tx, p.UserID, act.Codes, now); err != nil {
			return err
		}
		if len(act.EndSessionsWith) > 0 { // and the sign-ins in flight that proved the old app (deleted above)
			where, args := sessionsCarrying(p.UserID, act.EndSessionsWith, act.KeepSession)
			if err := endSessionsAndSignIns(tx, p.UserID, act.EndSessionsWith, where, args...); err != nil {
				return translate("activate authenticator", err)
			}
		}
		if err := revokeTokensWithAMR(tx, p.UserID, act.RevokeAMR, now); err != nil {
			return err
		}
		return act.Record.write(tx)
	})
	return out, err
}

// EnrolmentCodeByUser returns the user's outstanding enrolment code (expired or not: the caller decides).
func (s *Store) EnrolmentCodeByUser(ctx context.Context, userID string) (EnrolmentCode, error) {
	var r enrolmentCodeRow
	if err := s.ctx(ctx).Where("user_id = ?", userID).Take(&r).Error; err != nil {
		return EnrolmentCode{}, translate("enrolment code by user", err)
	}
	return EnrolmentCode{UserID: r.UserID, TenantID: r.TenantID, CodeHash: r.CodeHash, CreatedBy: r.CreatedBy,
		CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt)}, nil
}

// AcceptStep records that a code of time step step was accepted: one compare-and-set that succeeds
// only if step is newer than every step accepted before, so a code works once, also across instances.
func (s *Store) AcceptStep(ctx context.Context, id string, step int64, now time.Time) error {
	return s.execOne(ctx, "accept step", acceptStepSQL, step, utc(now), id, AuthenticatorActive, step)
}

const (
	authenticatorByUserSQL = `SELECT id, user_id, tenant_id, secret_sealed, state, last_step, created_at, confirmed_at,
 last_used_at, enrolled_client_id, enrolled_address FROM authenticators WHERE user_id = ?`
	acceptStepSQL = `UPDATE authenticators SET last_step = ?, last_used_at = ? WHERE id = ? AND state = ? AND last_step < ?`
)

// ResetMFA removes the user's authenticator, recovery codes, passkeys and security keys and pending
// enrolments and ends their sessions and sign-ins in flight, in one transaction, with its audit event.
// With code, the user's next enrolment needs that enrolment code (it replaces an earlier one); without,
// the next sign-in that needs MFA enrols freely.
func (s *Store) ResetMFA(ctx context.Context, userID string, code *EnrolmentCode, ev AuditEvent) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		for _, m := range []any{&authenticatorRow{}, &recoveryCodeRow{}, &pendingEnrolmentRow{}, &enrolmentCodeRow{}, &webauthnCredentialRow{}} {
			if err := tx.Where("user_id = ?", userID).Delete(m).Error; err != nil {
				return translate("reset mfa", err)
			}
		}
		// After the factors' deletes: see endSessionsAndSignIns.
		if err := endSessionsAndSignIns(tx, userID, nil, "user_id = ?", userID); err != nil {
			return translate("reset mfa", err)
		}
		if code != nil {
			r := enrolmentCodeRow{UserID: userID, TenantID: code.TenantID, CodeHash: code.CodeHash, CreatedBy: code.CreatedBy,
				CreatedAt: utc(code.CreatedAt), ExpiresAt: utc(code.ExpiresAt)}
			if err := tx.Create(&r).Error; err != nil {
				return translate("reset mfa", err)
			}
		}
		return addAudit(tx, ev)
	})
}

// ReplaceRecoveryCodes swaps the user's recovery codes for new ones (hashes), with rec.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []RecoveryCode, now time.Time, rec Record) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := replaceRecoveryCodes(tx, userID, codes, now); err != nil {
			return err
		}
		return rec.write(tx)
	})
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

// UseRecoveryCode spends one recovery code (compare-and-set: ErrConflict if it was used already), with
// rec in the same transaction.
func (s *Store) UseRecoveryCode(ctx context.Context, id string, now time.Time, rec Record) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&recoveryCodeRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", utc(now))
		if res.Error != nil {
			return translate("use recovery code", res.Error)
		}
		if res.RowsAffected != 1 {
			return translate("use recovery code", ErrConflict)
		}
		return rec.write(tx)
	})
}

// sessionsCarrying is the condition (with its arguments) that selects the user's sessions that carry any
// of factors (at least one), except keep.
func sessionsCarrying(userID string, factors []string, keep string) (string, []any) {
	holds, args := holdsAnyWord("factors", factors)
	where := "user_id = ? AND " + holds
	args = append([]any{userID}, args...)
	if keep != "" {
		where += " AND id <> ?"
		args = append(args, keep)
	}
	return where, args
}

// holdsAnyWord is the condition that column, a list of space-separated words (factors, amr values),
// holds any of words as a whole word, with its arguments.
func holdsAnyWord(column string, words []string) (string, []any) {
	likes := make([]string, len(words))
	args := make([]any, len(words))
	for i, w := range words {
		likes[i] = "(' ' || " + column + " || ' ') LIKE ?"
		args[i] = "% " + w + " %"
	}
	return "(" + strings.Join(likes, " OR ") + ")", args
}
