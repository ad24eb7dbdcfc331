package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Setting up or replacing the authenticator app from the account page (a user with a key but no app,
// or a new phone). There is no sign-in to bind the secret to, so it is bound to the browser's SSO
// session (sessionID, the session's id), as the account page's key ceremony is: the same secret at every
// visit of that session, and no other session or sign-in of the user can see, replace or confirm it.
// Whether this session may do it (a fresh sign-in that proved a second factor) is the caller's check;
// the enrolment-code rule and a disabled user are checked here. Confirming is throttled and stores the
// accepted step like a sign-in's enrolment, and replaces the active app in the same transaction.

// CeremonyAccount names the account page in the audit events of an app set up or replaced there.
const CeremonyAccount = "account"

// AccountEnrolment returns the secret pending for the account page of the session sessionID, or
// ErrNoPendingEnrolment when that session has begun none.
func (s *Service) AccountEnrolment(ctx context.Context, user storage.User, sessionID, issuer string) (Enrolment, error) {
	p, err := s.Store.SessionPendingEnrolment(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && p.UserID != user.ID) {
		return Enrolment{}, ErrNoPendingEnrolment
	}
	if err != nil {
		return Enrolment{}, fmt.Errorf("account enrolment: %w", err)
	}
	return s.enrolmentOf(p, issuer, user)
}

// BeginAccountEnrolment returns the secret pending for the account page of the session sessionID,
// making one on first use. ErrUserDisabled for a disabled user; ErrEnrolmentCodeRequired (or
// ErrEnrolmentCodeExpired) while an admin's reset has left an enrolment code, which only a sign-in that
// presents it can spend.
func (s *Service) BeginAccountEnrolment(ctx context.Context, user storage.User, sessionID, issuer string, meta Meta) (Enrolment, error) {
	if sessionID == "" {
		return Enrolment{}, errors.New("begin account enrolment: no session")
	}
	if err := s.accountMayEnrol(ctx, user); err != nil {
		return Enrolment{}, err
	}
	en, err := s.AccountEnrolment(ctx, user, sessionID, issuer)
	if !errors.Is(err, ErrNoPendingEnrolment) {
		return en, err
	}
	return s.beginEnrolment(ctx, user, storage.PendingEnrolment{SessionID: sessionID},
		func() (storage.PendingEnrolment, error) { return s.Store.SessionPendingEnrolment(ctx, sessionID) },
		issuer, meta, map[string]any{"ceremony": CeremonyAccount})
}

// CancelAccountEnrolment drops the secret pending for the account page of the session sessionID.
func (s *Service) CancelAccountEnrolment(ctx context.Context, sessionID string) error {
	return s.Store.DeleteSessionPendingEnrolment(ctx, sessionID)
}

// ConfirmAccountEnrolment makes the secret pending for the account page of the session sessionID the
// user's authenticator when code is right for it, replacing the app the user has (if any), and returns
// ten new recovery codes in plain text, once (the old ones stop working). In the same transaction the
// user's other pending enrolments go, and with a replaced app the user's other sessions that carry a
// code of it (a TOTP or recovery code) end; this session stays. Refusals as ConfirmEnrolment's (a wrong
// code counts on the OTP throttle), and as BeginAccountEnrolment's.
func (s *Service) ConfirmAccountEnrolment(ctx context.Context, user storage.User, sessionID, code string, meta Meta) ([]string, error) {
	if err := s.accountMayEnrol(ctx, user); err != nil {
		return nil, err
	}
	old, err := s.Store.AuthenticatorByUser(ctx, user.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("confirm account enrolment: %w", err)
	}
	act := storage.Activation{}
	detail := map[string]any{"factor": FactorOTP, "ceremony": CeremonyAccount}
	if err == nil && old.State == storage.AuthenticatorActive {
		act = storage.Activation{Replaces: old.ID, EndSessionsWith: []string{FactorOTP, FactorRecoveryCode}, KeepSession: sessionID,
			RevokeAMR: []string{AMROTP, AMRKBA}}
		detail["replaced"] = true
	}
	codes, _, err := s.confirm(ctx, user, func() (storage.PendingEnrolment, error) { return s.Store.SessionPendingEnrolment(ctx, sessionID) },
		code, meta, act, detail)
	return codes, err
}

// accountMayEnrol refuses a disabled user, and a user whose admin's reset left an enrolment code.
func (s *Service) accountMayEnrol(ctx context.Context, user storage.User) error {
	if user.Disabled {
		return ErrUserDisabled
	}
	return EnrolmentCodePending(ctx, s.Store, user.ID, s.now())
}

// EnrolmentCodePending refuses, outside a sign-in, a user whose admin's reset left an enrolment code:
// only a sign-in that presents the code enrols (ErrEnrolmentCodeRequired, or ErrEnrolmentCodeExpired).
// The account lifecycle reads it too: a code outstanding holds the user's self-service password reset.
func EnrolmentCodePending(ctx context.Context, st interface {
	EnrolmentCodeByUser(ctx context.Context, userID string) (storage.EnrolmentCode, error)
}, userID string, now time.Time) error {
	code, err := st.EnrolmentCodeByUser(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("enrolment code: %w", err)
	case !now.Before(code.ExpiresAt):
		return ErrEnrolmentCodeExpired
	default:
		return ErrEnrolmentCodeRequired
	}
}
