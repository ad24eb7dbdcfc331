package login

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/mfa"
)

// TestNextWithKeys covers the key steps: a key is offered first, a TOTP user under a phishing-resistant
// demand proves the code and then adds a key, and a passkey with user verification is a whole sign-in.
func TestNextWithKeys(t *testing.T) {
	pwd, otp, hwk, uv := mfa.FactorPassword, mfa.FactorOTP, mfa.FactorHardwareKey, mfa.FactorUserVerified
	policy := mfa.Demand{TenantMFA: true}
	phrOnly := mfa.Demand{TenantMFA: true, Methods: []string{mfa.MethodWebAuthn}}
	keys := mfa.Standing{KeysOn: true}
	tests := []struct {
		name     string
		factors  []string
		demand   mfa.Demand
		standing mfa.Standing
		want     Step
		allows   []Step // pages besides want that the state allows
	}{
		{"key user after the password", []string{pwd}, policy, mfa.Standing{KeysOn: true, HasKey: true}, StepKey, nil},
		{"key and app user after the password", []string{pwd}, policy, mfa.Standing{KeysOn: true, HasKey: true, Enrolled: true}, StepKey, []Step{StepCode}},
		{"key and app user under phr only", []string{pwd}, phrOnly, mfa.Standing{KeysOn: true, HasKey: true, Enrolled: true}, StepKey, nil},
		{"password and key", []string{pwd, hwk}, policy, mfa.Standing{KeysOn: true, HasKey: true}, StepDone, nil},
		{"passkey with user verification", []string{hwk, uv}, policy, mfa.Standing{}, StepDone, nil},
		{"key without user verification: the password", []string{hwk}, policy, mfa.Standing{}, StepPassword, nil},
		{"key without user verification, no policy: the password", []string{hwk}, mfa.Demand{}, mfa.Standing{}, StepPassword, nil},
		{"key without user verification, then the password", []string{hwk, pwd}, phrOnly, mfa.Standing{}, StepDone, nil},
		{"new user chooses app or key", []string{pwd}, policy, keys, StepEnrol, []Step{StepAddKey}},
		{"new user without webauthn", []string{pwd}, policy, mfa.Standing{}, StepEnrol, nil},
		{"totp user under phr only: the code first", []string{pwd}, phrOnly, mfa.Standing{KeysOn: true, Enrolled: true}, StepCode, nil},
		{"totp user under phr only after the code: add a key", []string{pwd, otp}, phrOnly, mfa.Standing{KeysOn: true, Enrolled: true}, StepAddKey, nil},
		{"new user under phr only: add a key", []string{pwd}, phrOnly, keys, StepAddKey, nil},
		{"phr step-up of a totp sign-in", []string{pwd, otp}, mfa.Demand{RequestMFA: true, RequestPHR: true}, mfa.Standing{KeysOn: true, Enrolled: true}, StepAddKey, nil},
		{"reset user gives the enrolment code first", []string{pwd}, policy, mfa.Standing{KeysOn: true, EnrolmentCodeRequired: true}, StepEnrolCode, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := State{SignedIn: true, Verdict: mfa.DecideFor(tc.factors, tc.demand), Standing: tc.standing, Proven: mfa.HasSecondFactor(tc.factors), Fresh: true}
			if got := Next(s); got != tc.want {
				t.Fatalf("Next = %v, want %v", got, tc.want)
			}
			for _, p := range []Step{StepPassword, StepEnrolCode, StepEnrol, StepCode, StepDone, StepKey, StepAddKey} {
				want := p == tc.want
				for _, a := range tc.allows {
					want = want || p == a
				}
				if got := s.Allows(p); got != want {
					t.Errorf("Allows(%v) = %v, want %v", p, got, want)
				}
			}
		})
	}
}

// TestNextOnSessionFactors: factors carried over from an SSO session (not Fresh) add no second factor: a
// TOTP user proves the code again first, a user without a second factor the password, before a key or an
// authenticator app is added (both outlive the session: a stolen session cookie must not enrol one).
func TestNextOnSessionFactors(t *testing.T) {
	pwd, otp := mfa.FactorPassword, mfa.FactorOTP
	phrOnly := mfa.Demand{TenantMFA: true, Methods: []string{mfa.MethodWebAuthn}}
	phrRequest := mfa.Demand{RequestMFA: true, RequestPHR: true}
	tests := []struct {
		name     string
		factors  []string
		demand   mfa.Demand
		standing mfa.Standing
		want     Step
	}{
		{"totp session, phr request: the code", []string{pwd, otp}, phrRequest, mfa.Standing{KeysOn: true, Enrolled: true}, StepCode},
		{"totp session, phr only: the code", []string{pwd, otp}, phrOnly, mfa.Standing{KeysOn: true, Enrolled: true}, StepCode},
		{"password session, phr request: the password", []string{pwd}, phrRequest, mfa.Standing{KeysOn: true}, StepPassword},
		{"password session, phr only: the password", []string{pwd}, phrOnly, mfa.Standing{KeysOn: true}, StepPassword},
		{"password session, policy: the password, then the app", []string{pwd}, mfa.Demand{TenantMFA: true}, mfa.Standing{KeysOn: true}, StepPassword},
		{"key user's password session: the key", []string{pwd}, phrOnly, mfa.Standing{KeysOn: true, HasKey: true}, StepKey},
		{"satisfying session: done", []string{pwd, otp}, mfa.Demand{TenantMFA: true}, mfa.Standing{}, StepDone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := State{SignedIn: true, Verdict: mfa.DecideFor(tc.factors, tc.demand), Standing: tc.standing}
			if got := Next(s); got != tc.want {
				t.Fatalf("Next = %v, want %v", got, tc.want)
			}
			if s.Allows(StepAddKey) {
				t.Errorf("a key may be added on the session's factors")
			}
		})
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		authTime time.Time
		want     bool
	}{
		{"proven in the sign-in", now.Add(time.Second), true},
		{"proven as it began", now, true},
		{"another instance's clock a little behind", now.Add(-30 * time.Second), true},
		{"a session's older sign-in", now.Add(-2 * time.Hour), false},
		{"nothing proven", time.Time{}, false},
	} {
		if got := fresh(tc.authTime, now); got != tc.want {
			t.Errorf("%s: fresh = %v, want %v", tc.name, got, tc.want)
		}
	}
}
