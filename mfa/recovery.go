package mfa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// Recovery codes: RecoveryCodeCount codes of 12 characters from a 32-symbol alphabet (60 bits each),
// shown as xxxx-xxxx-xxxx. The alphabet is Crockford's base32 in lower case: no i, l, o or u, and input
// maps i and l to 1 and o to 0, so the codes survive being read aloud or copied by hand.
const (
	RecoveryCodeCount = 10
	recoveryAlphabet  = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen       = 12
	recoveryGroup     = 4
)

func otpKey(user storage.User) string { return throttle.OTPUserKey(user.ID) }

// newRecoveryCodes returns RecoveryCodeCount fresh codes and their hashed records.
func (s *Service) newRecoveryCodes() ([]string, []storage.RecoveryCode, error) {
	plain := make([]string, RecoveryCodeCount)
	hashed := make([]storage.RecoveryCode, RecoveryCodeCount)
	buf := make([]byte, recoveryLen)
	for i := range plain {
		if _, err := io.ReadFull(s.rand(), buf); err != nil {
			return nil, nil, fmt.Errorf("generate recovery codes: %w", err)
		}
		raw := make([]byte, recoveryLen)
		for j, b := range buf {
			raw[j] = recoveryAlphabet[b&31] // 256 is a multiple of 32: no modulo bias
		}
		plain[i] = group(string(raw), recoveryGroup)
		plain[i] = strings.ReplaceAll(plain[i], " ", "-")
		h, err := s.hashRecoveryCode(plain[i])
		if err != nil {
			return nil, nil, fmt.Errorf("generate recovery codes: %w", err)
		}
		hashed[i] = storage.RecoveryCode{Hash: h, CreatedAt: s.now()}
	}
	return plain, hashed, nil
}

// hashRecoveryCode hashes a canonical code with the keyed hash (HMAC-SHA-256). A Service without a
// RecoveryHash falls back to argon2id, the format of codes made before it existed.
func (s *Service) hashRecoveryCode(canon string) (string, error) {
	if s.RecoveryHash == nil {
		return secret.HashPassword(canon)
	}
	return s.RecoveryHash.Sum(canon), nil
}

// recoveryCodeMatches checks a canonical code against a stored hash: the keyed hash, or argon2id for
// codes made before the keyed hash (kept verifiable until they are used or replaced).
func (s *Service) recoveryCodeMatches(stored, canon string) (bool, error) {
	if strings.HasPrefix(stored, secret.KeyedHashPrefix) {
		if s.RecoveryHash == nil {
			return false, errors.New("a keyed recovery code hash, but no recovery hash key")
		}
		return s.RecoveryHash.Equal(stored, canon), nil
	}
	return secret.VerifyPassword(stored, canon)
}

// normaliseRecoveryCode turns what the user typed into the canonical xxxx-xxxx-xxxx form: lower case,
// spaces and dashes ignored, i/l read as 1 and o as 0. ok is false when it cannot be a recovery code.
func normaliseRecoveryCode(in string) (string, bool) { return normaliseAlphabetCode(in, recoveryLen) }

// normaliseAlphabetCode is normaliseRecoveryCode for a code of n characters of the same alphabet.
func normaliseAlphabetCode(in string, n int) (string, bool) {
	if len(in) > 4*n {
		return "", false
	}
	raw := make([]byte, 0, n)
	for _, r := range strings.ToLower(in) {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\u00a0':
			continue
		case r == 'i' || r == 'l':
			r = '1'
		case r == 'o':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		raw = append(raw, byte(r))
	}
	if len(raw) != n {
		return "", false
	}
	return strings.ReplaceAll(group(string(raw), recoveryGroup), " ", "-"), true
}

// UseRecoveryCode accepts one of the user's unused recovery codes in place of a TOTP code and spends it.
// It shares the OTP throttle with Verify: a *throttle.LockedError when throttled or locked out by this
// failure, else ErrInvalidCode for a wrong, malformed or already used code. The attempt is reserved on
// that throttle before any code is compared, as in VerifyWith.
func (s *Service) UseRecoveryCode(ctx context.Context, user storage.User, code string, meta Meta) error {
	att, err := s.begin(ctx, user)
	if err != nil {
		return err
	}
	defer att.ReleaseLogged(ctx, s.log())
	canon, ok := normaliseRecoveryCode(code)
	if !ok {
		return s.refuse(ctx, user, att, meta, AuditRecoveryCodeRefused, FactorRecoveryCode, ErrInvalidCode)
	}
	codes, err := s.Store.UnusedRecoveryCodes(ctx, user.ID)
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	for _, c := range codes {
		match, err := s.recoveryCodeMatches(c.Hash, canon)
		if err != nil {
			s.log().ErrorContext(ctx, "bad recovery code hash", "user", user.ID, "code_id", c.ID, "err", err)
			continue
		}
		if !match {
			continue
		}
		rec := s.record(ctx, user, AuditRecoveryCodeUsed, meta, map[string]any{"factor": FactorRecoveryCode, "codes_left": len(codes) - 1})
		if err := s.Store.UseRecoveryCode(ctx, c.ID, s.now(), rec); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				// Spent a moment ago by a racing request: single use wins.
				return s.refuse(ctx, user, att, meta, AuditRecoveryCodeRefused, FactorRecoveryCode, ErrInvalidCode)
			}
			return fmt.Errorf("use recovery code: %w", err)
		}
		s.succeed(ctx, user, att)
		return nil
	}
	return s.refuse(ctx, user, att, meta, AuditRecoveryCodeRefused, FactorRecoveryCode, ErrInvalidCode)
}

// RegenerateRecoveryCodes replaces the user's recovery codes with ten new ones and returns them in plain
// text, once. The user must have an active authenticator (ErrNotEnrolled). The caller must have
// re-authenticated the user first.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, user storage.User, meta Meta) ([]string, error) {
	a, err := s.Store.AuthenticatorByUser(ctx, user.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && a.State != storage.AuthenticatorActive) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	plain, hashed, err := s.newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	rec := s.record(ctx, user, AuditRecoveryRegenerated, meta, nil)
	if err := s.Store.ReplaceRecoveryCodes(ctx, user.ID, hashed, s.now(), rec); err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	return plain, nil
}

// RecoveryCodesLeft returns how many unused recovery codes the user has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	codes, err := s.Store.UnusedRecoveryCodes(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("recovery codes left: %w", err)
	}
	return len(codes), nil
}
