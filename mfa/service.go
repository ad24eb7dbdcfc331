package mfa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// Sentinel errors. The UI shows one generic message for ErrInvalidCode and ErrReplay, so that a replayed
// code does not reveal that it was once valid; they are distinct for audit and tests.
var (
	ErrInvalidCode        = errors.New("invalid code")
	ErrReplay             = errors.New("code already used")
	ErrAlreadyEnrolled    = errors.New("user already has an active authenticator")
	ErrNoPendingEnrolment = errors.New("no pending enrolment")
	ErrNotEnrolled        = errors.New("user has no active authenticator")
)

// Audit actions written by the service.
const (
	AuditEnrolmentStarted    = "mfa.enrolment_started"
	AuditEnrolmentConfirmed  = "mfa.enrolment_confirmed"
	AuditCodeAccepted        = "mfa.code_accepted"
	AuditCodeRefused         = "mfa.code_refused"
	AuditReplayRefused       = "mfa.replay_refused"
	AuditLockout             = "mfa.lockout"
	AuditRecoveryCodeUsed    = "mfa.recovery_code_used"
	AuditRecoveryCodeRefused = "mfa.recovery_code_refused"
	AuditRecoveryRegenerated = "mfa.recovery_codes_regenerated"
)

// States of a user's second factor, as State reports them.
const (
	StateNone    = "none"
	StatePending = storage.AuthenticatorPending
	StateActive  = storage.AuthenticatorActive
)

// Store is the part of the storage the service uses; *storage.Store implements it. It includes the
// throttle methods so that a Service without a Limiter can count failures in the same store.
type Store interface {
	AuthenticatorByUser(ctx context.Context, userID string) (storage.Authenticator, error)
	CreatePendingEnrolment(ctx context.Context, p storage.PendingEnrolment) error
	PendingEnrolment(ctx context.Context, authRequestID string) (storage.PendingEnrolment, error)
	SessionPendingEnrolment(ctx context.Context, sessionID string) (storage.PendingEnrolment, error)
	DeleteSessionPendingEnrolment(ctx context.Context, sessionID string) error
	ActivateAuthenticator(ctx context.Context, act storage.Activation) (storage.Authenticator, error)
	EnrolmentCodeByUser(ctx context.Context, userID string) (storage.EnrolmentCode, error)
	AcceptStep(ctx context.Context, id string, step int64, now time.Time) error
	UnusedRecoveryCodes(ctx context.Context, userID string) ([]storage.RecoveryCode, error)
	UseRecoveryCode(ctx context.Context, id string, now time.Time, rec storage.Record) error
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []storage.RecoveryCode, now time.Time, rec storage.Record) error
	AddAudit(ctx context.Context, ev storage.AuditEvent) error
	throttle.Store
}

// Service enrols and verifies the second factor. Store and Sealer are required; the others default to
// the OTP policy on Store, time.Now, crypto/rand and a discarding logger.
type Service struct {
	Store  Store
	Sealer *secret.Sealer // purpose "totp"; the user id is the associated data
	// RecoveryHash hashes recovery codes (HMAC-SHA-256, purpose "recovery-codes"); without it new
	// codes are hashed with argon2id as before (~20 ms each).
	RecoveryHash *secret.KeyedHash
	// EnrolmentHash hashes enrolment codes (purpose "enrolment-codes"); without it they are stored as
	// SHA-256, which it still verifies (an 80-bit random code needs no slow hash).
	EnrolmentHash *secret.KeyedHash
	Limiter       *throttle.Limiter
	Now           func() time.Time
	Rand          io.Reader
	Log           *slog.Logger
	Notify        Notifier // optional: security notifications by email (notify.go)
}

// Meta is the request context recorded in audit events.
type Meta struct {
	Address  string // client address
	ClientID string // OIDC client of the sign-in, if any
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) limiter() *throttle.Limiter {
	if s.Limiter != nil {
		return s.Limiter
	}
	return &throttle.Limiter{Store: s.Store, Policy: throttle.OTPPolicy(), Now: s.Now}
}

// audit records an event about user. A failure to write it is logged, not returned: the user's action
// already happened (or was refused) and must not be undone or retried because of the audit trail.
func (s *Service) audit(ctx context.Context, user storage.User, action string, meta Meta, detail map[string]any) {
	d := map[string]any{"client_id": meta.ClientID}
	for k, v := range detail {
		d[k] = v
	}
	ev := storage.AuditEvent{TenantID: user.TenantID, ActorID: user.ID, TargetID: user.ID, Action: action,
		Address: meta.Address, Detail: d, CreatedAt: s.now()}
	if err := s.Store.AddAudit(ctx, ev); err != nil {
		s.log().ErrorContext(ctx, "write audit event", "action", action, "user", user.ID, "err", err)
	}
}

// record is the audit event of a change about user and, for the events the user is told of, its
// notification mail: the change writes both in its own transaction (storage.Record).
func (s *Service) record(ctx context.Context, user storage.User, action string, meta Meta, detail map[string]any) storage.Record {
	d := map[string]any{"client_id": meta.ClientID}
	for k, v := range detail {
		d[k] = v
	}
	ev := storage.AuditEvent{TenantID: user.TenantID, ActorID: user.ID, TargetID: user.ID, Action: action,
		Address: meta.Address, Detail: d, CreatedAt: s.now()}
	rec := storage.Record{Audit: &ev}
	if s.Notify != nil && notifies(action) {
		if m, ok := s.Notify.NoticeMail(ctx, user, ev); ok {
			rec.Mail = &m
		}
	}
	return rec
}

// begin reserves an attempt on the user's OTP throttle before a code is compared (throttle.Limiter.Begin):
// a *throttle.LockedError when the user is delayed or locked out, or (Busy) while as many of their
// attempts are in flight as may be.
func (s *Service) begin(ctx context.Context, user storage.User) (*throttle.Attempt, error) {
	return s.limiter().Begin(ctx, otpKey(user))
}

// State names the second-factor state of a user from the result of AuthenticatorByUser: "none" when
// there is no authenticator (or the lookup failed), else "pending" or "active".
func State(a storage.Authenticator, err error) string {
	if err != nil || a.State == "" {
		return StateNone
	}
	return a.State
}

// Status returns State for userID; only storage errors other than not-found are returned.
func (s *Service) Status(ctx context.Context, userID string) (string, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("mfa status: %w", err)
	}
	return State(a, err), nil
}

// openSecret unseals the authenticator's TOTP secret.
func (s *Service) openSecret(a storage.Authenticator) ([]byte, error) {
	if s.Sealer == nil {
		return nil, errors.New("no sealer configured")
	}
	key, err := s.Sealer.Open(a.SecretSealed, []byte(a.UserID))
	if err != nil {
		return nil, fmt.Errorf("open totp secret of authenticator %s: %w", a.ID, err)
	}
	return key, nil
}

// refuse handles a failed attempt: it counts the failure on the user's OTP throttle, audits action, and
// returns the *throttle.LockedError when that failure locked the user out (auditing the lockout), else
// cause.
func (s *Service) refuse(ctx context.Context, user storage.User, att *throttle.Attempt, meta Meta, action, factor string, cause error) error {
	err := att.Fail(ctx)
	s.audit(ctx, user, action, meta, map[string]any{"factor": factor})
	if le, ok := throttle.IsLocked(err); ok {
		s.audit(ctx, user, AuditLockout, meta, map[string]any{"factor": factor, "until": le.Until.UTC().Format(time.RFC3339)})
		s.log().WarnContext(ctx, "second factor locked out", "user", user.ID, "until", le.Until)
		return le
	}
	if err != nil {
		return fmt.Errorf("%w (and counting the failure failed: %w)", cause, err)
	}
	return cause
}

// succeed decides the attempt as successful: it clears the user's second-factor failures counted before
// it began (one counted since stays).
func (s *Service) succeed(ctx context.Context, user storage.User, att *throttle.Attempt) {
	if err := att.Succeed(ctx); err != nil {
		s.log().ErrorContext(ctx, "clear otp throttle", "user", user.ID, "err", err)
	}
}

// Verify checks a TOTP code of the user's active authenticator. It returns nil once per accepted time
// step; a *throttle.LockedError when the user is throttled or this failure locked them out (the caller
// then ends the pending sign-in); ErrReplay for a code of a step already used (or older); ErrInvalidCode
// for a wrong or malformed code; ErrNotEnrolled without an active authenticator.
func (s *Service) Verify(ctx context.Context, user storage.User, code string, meta Meta) error {
	return s.VerifyWith(ctx, user, nil, code, meta)
}

// VerifyWith is Verify with the user's authenticator as this request already read it (Standing), so
// the code step reads it once; nil reads it here. Accepting the step is a compare-and-set on that
// authenticator being still active and its step not yet used, so one replaced or removed since the
// read refuses the code.
//
// The attempt is reserved on the user's OTP throttle before anything else (throttle.Limiter.Begin), so
// codes sent at once, to any instance, are compared no more often than codes sent one after the other.
func (s *Service) VerifyWith(ctx context.Context, user storage.User, read *storage.Authenticator, code string, meta Meta) error {
	att, err := s.begin(ctx, user)
	if err != nil {
		return err
	}
	defer att.ReleaseLogged(ctx, s.log())
	var a storage.Authenticator
	if read != nil && read.UserID == user.ID {
		a = *read
	} else if a, err = s.Store.AuthenticatorByUser(ctx, user.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("verify code: %w", err)
	}
	if err != nil || a.State != storage.AuthenticatorActive {
		return ErrNotEnrolled
	}
	code, ok := normaliseCode(code)
	if !ok {
		return s.refuse(ctx, user, att, meta, AuditCodeRefused, FactorOTP, ErrInvalidCode)
	}
	key, err := s.openSecret(a)
	if err != nil {
		return fmt.Errorf("verify code: %w", err)
	}
	now := s.now()
	step, ok, err := matchStep(key, code, now)
	if err != nil {
		return fmt.Errorf("verify code: %w", err)
	}
	if !ok {
		return s.refuse(ctx, user, att, meta, AuditCodeRefused, FactorOTP, ErrInvalidCode)
	}
	// The compare-and-set in the database is the replay guard: it refuses this step if it, or a later
	// one, was accepted before, also when another instance accepted it a moment ago.
	if err := s.Store.AcceptStep(ctx, a.ID, step, now); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return s.refuse(ctx, user, att, meta, AuditReplayRefused, FactorOTP, ErrReplay)
		}
		return fmt.Errorf("verify code: %w", err)
	}
	s.succeed(ctx, user, att)
	s.audit(ctx, user, AuditCodeAccepted, meta, map[string]any{"factor": FactorOTP})
	return nil
}
