package mfa

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Enrolment codes close the trust-on-first-use window after an admin reset (the lost-phone case): the
// reset hands the admin a one-time code to pass to the user out of band, and until it is spent, a new
// authenticator can only be enrolled by a sign-in that presented it. The code is 16 characters of the
// recovery-code alphabet (80 bits), stored as a hash, valid for EnrolmentCodeTTL, and fits in a URL, so
// an emailed link can carry it.
const (
	EnrolmentCodeTTL = 72 * time.Hour
	enrolmentCodeLen = 16
)

// More sentinel errors of enrolment.
var (
	ErrEnrolmentCodeRequired = errors.New("an enrolment code from an admin is required")
	ErrEnrolmentCodeExpired  = errors.New("the enrolment code has expired")
)

// Audit actions of enrolment codes.
const (
	AuditEnrolmentCodeAccepted = "mfa.enrolment_code_accepted"
	AuditEnrolmentCodeRefused  = "mfa.enrolment_code_refused"
)

// NewEnrolmentCode returns a fresh enrolment code for user, in plain text (show it once) and as the
// record that storage.ResetMFA keeps. createdBy names the admin (or "cli").
func (s *Service) NewEnrolmentCode(user storage.User, createdBy string) (string, storage.EnrolmentCode, error) {
	raw, err := s.randomCode(enrolmentCodeLen)
	if err != nil {
		return "", storage.EnrolmentCode{}, fmt.Errorf("new enrolment code: %w", err)
	}
	plain := strings.ReplaceAll(group(raw, recoveryGroup), " ", "-")
	now := s.now()
	return plain, storage.EnrolmentCode{UserID: user.ID, TenantID: user.TenantID, CodeHash: s.enrolmentHash(plain),
		CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(EnrolmentCodeTTL)}, nil
}

// RedeemEnrolmentCode checks the enrolment code that an admin's reset left for user and, when it is
// right, begins this sign-in's enrolment (the code stays valid until an authenticator is confirmed, so
// a sign-in that is abandoned half-way can be started again). A wrong code counts on the OTP throttle:
// ErrInvalidCode, or the *throttle.LockedError of a lockout. Without an outstanding code it returns
// this sign-in's enrolment as Enrolment does.
func (s *Service) RedeemEnrolmentCode(ctx context.Context, user storage.User, authRequestID, code, issuer string, meta Meta) (Enrolment, error) {
	att, err := s.begin(ctx, user)
	if err != nil {
		return Enrolment{}, err
	}
	defer att.ReleaseLogged(ctx, s.log())
	stored, err := s.Store.EnrolmentCodeByUser(ctx, user.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return s.Enrolment(ctx, user, authRequestID, issuer, meta)
	}
	if err != nil {
		return Enrolment{}, fmt.Errorf("redeem enrolment code: %w", err)
	}
	norm, ok := normaliseAlphabetCode(code, enrolmentCodeLen)
	if !ok || !s.enrolmentCodeMatches(stored.CodeHash, norm) {
		return Enrolment{}, s.refuse(ctx, user, att, meta, AuditEnrolmentCodeRefused, "enrolment_code", ErrInvalidCode)
	}
	if !s.now().Before(stored.ExpiresAt) {
		return Enrolment{}, ErrEnrolmentCodeExpired
	}
	s.succeed(ctx, user, att)
	s.audit(ctx, user, AuditEnrolmentCodeAccepted, meta, nil)
	return s.beginSignInEnrolment(ctx, user, authRequestID, issuer, meta)
}

func (s *Service) enrolmentHash(code string) string {
	if s.EnrolmentHash == nil {
		return secret.TokenHash(code)
	}
	return s.EnrolmentHash.Sum(code)
}

func (s *Service) enrolmentCodeMatches(stored, code string) bool {
	if strings.HasPrefix(stored, secret.KeyedHashPrefix) {
		return s.EnrolmentHash != nil && s.EnrolmentHash.Equal(stored, code)
	}
	return subtle.ConstantTimeCompare([]byte(secret.TokenHash(code)), []byte(stored)) == 1
}

// randomCode returns n characters of the recovery-code alphabet from crypto/rand.
func (s *Service) randomCode(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(s.rand(), buf); err != nil {
		return "", err
	}
	for i, b := range buf {
		buf[i] = recoveryAlphabet[b&31] // 256 is a multiple of 32: no modulo bias
	}
	return string(buf), nil
}

// Standing is where a user stands with the second factor, as seen from one sign-in: what the sign-in
// state machine needs to choose between the code, the enrolment and the enrolment code.
type Standing struct {
	Enrolled              bool                  // the user has an active authenticator
	Authenticator         storage.Authenticator // ... that one, as read (VerifyWith takes it)
	EnrolmentCodeRequired bool                  // an admin's reset left an enrolment code that this sign-in has not given
	EnrolmentCodeExpired  bool                  // ... and it has expired: only a new reset helps
	HasKey                bool                  // the user has a passkey or security key (set by the caller that runs WebAuthn)
	KeysOn                bool                  // WebAuthn works on this server (it can offer to add a key)
}

// Standing returns where userID stands for the sign-in authRequestID.
func (s *Service) Standing(ctx context.Context, userID, authRequestID string) (Standing, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, userID)
	switch {
	case err == nil && a.State == storage.AuthenticatorActive:
		return Standing{Enrolled: true, Authenticator: a}, nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return Standing{}, fmt.Errorf("standing: %w", err)
	}
	code, err := s.Store.EnrolmentCodeByUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return Standing{}, nil
	}
	if err != nil {
		return Standing{}, fmt.Errorf("standing: %w", err)
	}
	if p, err := s.Store.PendingEnrolment(ctx, authRequestID); err == nil && p.UserID == userID {
		return Standing{}, nil // this sign-in gave the code: its secret is waiting
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Standing{}, fmt.Errorf("standing: %w", err)
	}
	return Standing{EnrolmentCodeRequired: true, EnrolmentCodeExpired: !s.now().Before(code.ExpiresAt)}, nil
}
