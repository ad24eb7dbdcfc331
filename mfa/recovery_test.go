package mfa

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// enrolled runs a real enrolment for a new user and returns the user, the key and the recovery codes.
func (f *fixture) enrolled(t *testing.T, email string) (storage.User, []byte, []string) {
	t.Helper()
	ctx := context.Background()
	user := f.user(t, email)
	en, err := f.svc.Enrolment(ctx, user, f.req(t, user), "Acme", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := b32.DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmEnrolment(ctx, user, f.req(t, user), mustCode(t, key, f.clk.Now()), Meta{})
	if err != nil {
		t.Fatalf("ConfirmEnrolment: %v", err)
	}
	return user, key, codes
}

func TestNormaliseRecoveryCode(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{in: "abcd-efgh-jkmn", want: "abcd-efgh-jkmn", wantOK: true},
		{in: "ABCD-EFGH-JKMN", want: "abcd-efgh-jkmn", wantOK: true},
		{in: "abcdefghjkmn", want: "abcd-efgh-jkmn", wantOK: true},
		{in: " abcd efgh jkmn ", want: "abcd-efgh-jkmn", wantOK: true},
		{in: "ab-cd-ef-gh-jk-mn", want: "abcd-efgh-jkmn", wantOK: true},
		{in: "o0il-1234-5678", want: "0011-1234-5678", wantOK: true}, // o→0, i/l→1
		{in: "abcd-efgh-jkm", wantOK: false},
		{in: "abcd-efgh-jkmnp", wantOK: false},
		{in: "abcd-efgh-jkmu", wantOK: false}, // u is not in the alphabet
		{in: "abcd_efgh_jkmn", wantOK: false},
		{in: "abcd-efgh-jkmé", wantOK: false},
		{in: "", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := normaliseRecoveryCode(tc.in)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("normaliseRecoveryCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user, _, codes := f.enrolled(t, "alice@example.com")
	meta := Meta{Address: "192.0.2.7", ClientID: "app"}

	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodeRE.MatchString(c) {
			t.Errorf("recovery code %q does not match xxxx-xxxx-xxxx over the alphabet", c)
		}
		if seen[c] {
			t.Errorf("recovery code %q repeated", c)
		}
		seen[c] = true
	}
	if n, err := f.svc.RecoveryCodesLeft(ctx, user.ID); err != nil || n != RecoveryCodeCount {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want %d", n, err, RecoveryCodeCount)
	}

	tests := []struct {
		name     string
		code     string
		want     error
		wantLeft int
	}{
		{name: "as shown", code: codes[0], wantLeft: 9},
		{name: "used again", code: codes[0], want: ErrInvalidCode, wantLeft: 9},
		{name: "upper case", code: strings.ToUpper(codes[1]), wantLeft: 8},
		{name: "without dashes", code: strings.ReplaceAll(codes[2], "-", ""), wantLeft: 7},
		{name: "with spaces", code: " " + strings.ReplaceAll(codes[3], "-", " ") + " ", wantLeft: 6},
		{name: "malformed", code: "not-a-code", want: ErrInvalidCode, wantLeft: 6},
		{name: "well-formed but wrong", code: "zzzz-zzzz-zzzz", want: ErrInvalidCode, wantLeft: 6},
		{name: "a TOTP code", code: "123456", want: ErrInvalidCode, wantLeft: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clk.Advance(time.Hour) // past any throttle delay
			err := f.svc.UseRecoveryCode(ctx, user, tc.code, meta)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("UseRecoveryCode(%q) = %v, want %v", tc.code, err, tc.want)
			}
			if n, err := f.svc.RecoveryCodesLeft(ctx, user.ID); err != nil || n != tc.wantLeft {
				t.Fatalf("RecoveryCodesLeft = %d, %v; want %d", n, err, tc.wantLeft)
			}
		})
	}
	got := f.actions(t)
	if got[AuditRecoveryCodeUsed] != 4 || got[AuditRecoveryCodeRefused] != 4 {
		t.Errorf("audit actions = %v, want 4 used and 4 refused", got)
	}

	// Regenerating replaces every old code.
	fresh, err := f.svc.RegenerateRecoveryCodes(ctx, user, meta)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(ctx, user.ID); n != RecoveryCodeCount || len(fresh) != RecoveryCodeCount {
		t.Fatalf("after regeneration %d codes left, %d returned", n, len(fresh))
	}
	f.clk.Advance(time.Hour)
	if err := f.svc.UseRecoveryCode(ctx, user, codes[5], meta); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("old code after regeneration = %v, want ErrInvalidCode", err)
	}
	f.clk.Advance(time.Hour)
	if err := f.svc.UseRecoveryCode(ctx, user, fresh[9], meta); err != nil {
		t.Errorf("new code after regeneration = %v", err)
	}
	if got := f.actions(t); got[AuditRecoveryRegenerated] != 1 {
		t.Errorf("audit actions = %v, want 1 regeneration", got)
	}

	other := f.user(t, "bob@example.com")
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, other, meta); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("RegenerateRecoveryCodes without authenticator = %v, want ErrNotEnrolled", err)
	}
	// Another user's code is not this user's.
	if err := f.svc.UseRecoveryCode(ctx, other, fresh[0], meta); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("UseRecoveryCode with another user's code = %v, want ErrInvalidCode", err)
	}
}

// TestRecoveryCodesShareOTPThrottle: recovery-code guesses count on the same per-user counter as TOTP
// codes, so switching factor does not reset the attacker's budget.
func TestRecoveryCodesShareOTPThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user, key, codes := f.enrolled(t, "alice@example.com")
	policy := throttle.OTPPolicy()
	var err error
	for i := 1; i <= policy.LockoutAt; i++ {
		f.clk.Advance(time.Minute)
		if i%2 == 0 {
			err = f.svc.UseRecoveryCode(ctx, user, "zzzz-zzzz-zzzz", Meta{})
		} else {
			err = f.svc.Verify(ctx, user, wrongCode(t, key, f.clk.Now()), Meta{})
		}
	}
	var le *throttle.LockedError
	if !errors.As(err, &le) || !le.Lockout {
		t.Fatalf("last failure = %v, want lockout", err)
	}
	if err := f.svc.UseRecoveryCode(ctx, user, codes[0], Meta{}); !errors.As(err, &le) {
		t.Fatalf("right recovery code during lockout = %v, want locked", err)
	}
	if n, _ := f.svc.RecoveryCodesLeft(ctx, user.ID); n != RecoveryCodeCount {
		t.Errorf("a code was spent during the lockout: %d left", n)
	}
	f.clk.Advance(policy.LockoutFor)
	if err := f.svc.UseRecoveryCode(ctx, user, codes[0], Meta{}); err != nil {
		t.Fatalf("right recovery code after lockout = %v", err)
	}
}

// TestRecoveryCodeConcurrentUse: one recovery code sent by several requests at once works once.
func TestRecoveryCodeConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user, _, codes := f.enrolled(t, "alice@example.com")
	const n = 4
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			errs[i] = f.svc.UseRecoveryCode(ctx, user, codes[9], Meta{})
		})
	}
	start.Done()
	done.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if !errors.Is(err, ErrInvalidCode) && !errors.As(err, new(*throttle.LockedError)) {
			t.Errorf("UseRecoveryCode = %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent uses succeeded, want 1 (%v)", wins, errs)
	}
}

// TestRecoveryCodesKeyedHash: new codes are stored as HMAC-SHA-256 under a key derived from the secret
// key (fast, and a code can be found by its hash), and codes hashed with argon2id before keep working.
func TestRecoveryCodesKeyedHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user, _, codes := f.enrolled(t, "alice@example.com")
	stored, err := f.st.UnusedRecoveryCodes(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	byHash := map[string]bool{}
	for _, c := range stored {
		if !strings.HasPrefix(c.Hash, secret.KeyedHashPrefix) {
			t.Fatalf("recovery code stored as %.20q…, want the keyed hash", c.Hash)
		}
		byHash[c.Hash] = true
	}
	for _, c := range codes {
		if !byHash[f.svc.RecoveryHash.Sum(c)] {
			t.Errorf("code %d cannot be found by its hash", len(byHash))
		}
	}

	// A code from before the keyed hash (argon2id) is still accepted, once.
	legacy := "abcd-efgh-jkmn"
	h, err := secret.HashPassword(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.ReplaceRecoveryCodes(ctx, user.ID, []storage.RecoveryCode{{Hash: h, CreatedAt: f.clk.Now()}}, f.clk.Now(), storage.Record{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.UseRecoveryCode(ctx, user, legacy, Meta{}); err != nil {
		t.Fatalf("legacy argon2id code: %v", err)
	}
	f.clk.Advance(time.Hour)
	if err := f.svc.UseRecoveryCode(ctx, user, legacy, Meta{}); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("legacy code used twice: %v", err)
	}
}
