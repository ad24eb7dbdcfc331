package mfa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/throttle"
)

// TestEnrolmentCodeAfterReset: after an admin reset with an enrolment code, no sign-in is shown a secret
// until it presents the code; a wrong code counts on the OTP throttle; enrolling spends the code.
func TestEnrolmentCodeAfterReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "alice@example.com")
	f.activate(t, user, randomKey(t), 1)

	plain, rec, err := f.svc.NewEnrolmentCode(user, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 19 || strings.Count(plain, "-") != 3 || strings.Contains(rec.CodeHash, plain) {
		t.Fatalf("enrolment code %q (hash %q): want xxxx-xxxx-xxxx-xxxx stored hashed", plain, rec.CodeHash)
	}
	if !rec.ExpiresAt.Equal(f.clk.Now().Add(72 * time.Hour)) {
		t.Errorf("expires %v, want 72 h from now", rec.ExpiresAt)
	}
	if err := f.st.ResetMFA(ctx, user.ID, &rec, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", TargetID: user.ID}); err != nil {
		t.Fatal(err)
	}

	req := f.req(t, user)
	if _, err := f.svc.Enrolment(ctx, user, req, "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeRequired) {
		t.Fatalf("Enrolment after a reset with a code = %v, want ErrEnrolmentCodeRequired", err)
	}
	if _, err := f.st.PendingEnrolment(ctx, req); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a secret was made before the enrolment code: %v", err)
	}
	for i, bad := range []string{"", "nope", strings.Repeat("a", 16), strings.Repeat("x", 400)} {
		f.clk.Set(t0.Add(time.Duration(i) * 40 * time.Second)) // past the throttle's short delays
		if _, err := f.svc.RedeemEnrolmentCode(ctx, user, req, bad, "Acme", Meta{}); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("RedeemEnrolmentCode(%q) = %v, want ErrInvalidCode", bad, err)
		}
	}
	th, err := f.st.Throttle(ctx, throttle.OTPUserKey(user.ID))
	if err != nil || th.Failures != 4 {
		t.Fatalf("OTP throttle after 4 wrong enrolment codes: %+v, %v", th, err)
	}
	f.clk.Advance(time.Minute)
	// Typed loosely (upper case, spaces), the right code opens this sign-in's enrolment only.
	en, err := f.svc.RedeemEnrolmentCode(ctx, user, req, " "+strings.ToUpper(strings.ReplaceAll(plain, "-", " "))+" ", "Acme", Meta{})
	if err != nil {
		t.Fatalf("RedeemEnrolmentCode with the right code: %v", err)
	}
	if th, _ := f.st.Throttle(ctx, throttle.OTPUserKey(user.ID)); th.Failures != 0 {
		t.Errorf("the right code left %d failures counted", th.Failures)
	}
	if again, err := f.svc.Enrolment(ctx, user, req, "Acme", Meta{}); err != nil || again.Secret != en.Secret {
		t.Fatalf("Enrolment after the code = %v; want the same secret", err)
	}
	if _, err := f.svc.Enrolment(ctx, user, f.signIn(t, user), "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeRequired) {
		t.Fatalf("another sign-in without the code = %v, want ErrEnrolmentCodeRequired", err)
	}
	key, _ := b32.DecodeString(en.Secret)
	if _, err := f.svc.ConfirmEnrolment(ctx, user, req, mustCode(t, key, f.clk.Now()), Meta{}); err != nil {
		t.Fatalf("ConfirmEnrolment: %v", err)
	}
	if _, err := f.st.EnrolmentCodeByUser(ctx, user.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the enrolment code outlived the enrolment: %v", err)
	}
	if got := f.actions(t); got[AuditEnrolmentCodeRefused] != 4 || got[AuditEnrolmentCodeAccepted] != 1 {
		t.Errorf("audit actions = %v", got)
	}
}

func TestEnrolmentCodeExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "bob@example.com")
	plain, rec, err := f.svc.NewEnrolmentCode(user, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.ResetMFA(ctx, user.ID, &rec, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", TargetID: user.ID}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(EnrolmentCodeTTL)
	req := f.req(t, user)
	if _, err := f.svc.Enrolment(ctx, user, req, "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeExpired) {
		t.Fatalf("Enrolment with an expired code outstanding = %v, want ErrEnrolmentCodeExpired", err)
	}
	if _, err := f.svc.RedeemEnrolmentCode(ctx, user, req, plain, "Acme", Meta{}); !errors.Is(err, ErrEnrolmentCodeExpired) {
		t.Fatalf("RedeemEnrolmentCode after 72 h = %v, want ErrEnrolmentCodeExpired", err)
	}
	// A new reset hands out a new code that works.
	plain2, rec2, _ := f.svc.NewEnrolmentCode(user, "cli")
	if err := f.st.ResetMFA(ctx, user.ID, &rec2, storage.AuditEvent{TenantID: f.tenant.ID, Action: "mfa.reset", TargetID: user.ID}); err != nil {
		t.Fatal(err)
	}
	req = f.signIn(t, user) // the reset ended the sign-in in flight: the user signs in again
	if _, err := f.svc.RedeemEnrolmentCode(ctx, user, req, plain, "Acme", Meta{}); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("the replaced code = %v, want ErrInvalidCode", err)
	}
	f.clk.Advance(time.Minute)
	if _, err := f.svc.RedeemEnrolmentCode(ctx, user, req, plain2, "Acme", Meta{}); err != nil {
		t.Fatalf("the new code: %v", err)
	}
}
