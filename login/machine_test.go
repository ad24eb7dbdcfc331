package login

import (
	"fmt"
	"testing"

	"github.com/portcullis/portcullis/mfa"
)

// TestNext walks every combination the state machine sees: signed in or not, the factors proven (in this
// sign-in or carried over from a session), the tenant's policy, the request's demand for MFA, and the
// user's standing with the second factor.
func TestNext(t *testing.T) {
	pwd, otp, rec := mfa.FactorPassword, mfa.FactorOTP, mfa.FactorRecoveryCode
	factorSets := [][]string{nil, {pwd}, {pwd, otp}, {pwd, rec}, {otp}}
	standings := []mfa.Standing{{}, {Enrolled: true}, {EnrolmentCodeRequired: true}, {EnrolmentCodeRequired: true, EnrolmentCodeExpired: true}}
	for _, signedIn := range []bool{false, true} {
		for _, factors := range factorSets {
			for _, tenant := range []bool{false, true} {
				for _, request := range []bool{false, true} {
					for _, st := range standings {
						for _, fresh := range []bool{false, true} {
							name := fmt.Sprintf("signedIn=%v factors=%v tenant=%v request=%v standing=%+v fresh=%v", signedIn, factors, tenant, request, st, fresh)
							got := Next(State{SignedIn: signedIn, Verdict: mfa.Decide(factors, tenant, request), Standing: st, Fresh: fresh})
							if want := wantStep(signedIn, factors, tenant || request, st, fresh); got != want {
								t.Errorf("%s: Next = %v, want %v", name, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// wantStep spells the rule out the long way.
func wantStep(signedIn bool, factors []string, required bool, st mfa.Standing, fresh bool) Step {
	has := map[string]bool{}
	for _, f := range factors {
		has[f] = true
	}
	if !signedIn || !has[mfa.FactorPassword] {
		return StepPassword
	}
	if !required || has[mfa.FactorOTP] || has[mfa.FactorRecoveryCode] {
		return StepDone
	}
	if st.Enrolled {
		return StepCode
	}
	if st.EnrolmentCodeRequired {
		return StepEnrolCode
	}
	if !fresh { // a new authenticator app only on a password proven in this sign-in
		return StepPassword
	}
	return StepEnrol
}

func TestStepURL(t *testing.T) {
	for step, want := range map[Step]string{StepPassword: "/login/?authRequestID=a%2Fb", StepEnrolCode: "/login/enrol-code?authRequestID=a%2Fb",
		StepEnrol: "/login/enrol?authRequestID=a%2Fb", StepCode: "/login/otp?authRequestID=a%2Fb"} {
		if got := stepURL(step, "a/b"); got != want {
			t.Errorf("stepURL(%v) = %q, want %q", step, got, want)
		}
	}
}
