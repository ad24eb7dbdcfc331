package mfa

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/storage"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		name            string
		tenant, request bool
		want            bool
	}{
		{name: "off", want: false},
		{name: "tenant policy", tenant: true, want: true},
		{name: "request demands", request: true, want: true},
		{name: "both", tenant: true, request: true, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Required(tc.tenant, tc.request); got != tc.want {
				t.Errorf("Required(%v, %v) = %v, want %v", tc.tenant, tc.request, got, tc.want)
			}
		})
	}
}

func TestFactorPolicy(t *testing.T) {
	pwd, otp, rec := FactorPassword, FactorOTP, FactorRecoveryCode
	tests := []struct {
		name         string
		factors      []string
		wantOptional bool // Satisfied(false, ...)
		wantRequired bool // Satisfied(true, ...)
		wantAMR      []string
		wantACR      string
	}{
		{name: "nothing", factors: nil, wantAMR: nil, wantACR: ""},
		{name: "otp without password", factors: []string{otp}, wantAMR: []string{"otp"}, wantACR: ""},
		{name: "recovery without password", factors: []string{rec}, wantAMR: []string{"kba"}, wantACR: ""},
		{name: "password", factors: []string{pwd}, wantOptional: true, wantAMR: []string{"pwd"}, wantACR: ACRPassword},
		{name: "password and otp", factors: []string{pwd, otp}, wantOptional: true, wantRequired: true,
			wantAMR: []string{"pwd", "otp", "mfa"}, wantACR: ACRMFA},
		{name: "otp then password", factors: []string{otp, pwd}, wantOptional: true, wantRequired: true,
			wantAMR: []string{"pwd", "otp", "mfa"}, wantACR: ACRMFA},
		{name: "password and recovery code", factors: []string{pwd, rec}, wantOptional: true, wantRequired: true,
			wantAMR: []string{"pwd", "kba", "mfa"}, wantACR: ACRMFA},
		{name: "duplicates", factors: []string{pwd, pwd, otp, otp}, wantOptional: true, wantRequired: true,
			wantAMR: []string{"pwd", "otp", "mfa"}, wantACR: ACRMFA},
		{name: "password and key", factors: []string{pwd, FactorHardwareKey}, wantOptional: true, wantRequired: true,
			wantAMR: []string{"pwd", "hwk", "mfa"}, wantACR: ACRPHR},
		{name: "password and key with user verification", factors: []string{pwd, FactorHardwareKey, FactorUserVerified}, wantOptional: true,
			wantRequired: true, wantAMR: []string{"pwd", "hwk", "user", "mfa"}, wantACR: ACRPHR},
		{name: "passkey with user verification", factors: []string{FactorHardwareKey, FactorUserVerified}, wantOptional: true,
			wantRequired: true, wantAMR: []string{"hwk", "user", "mfa"}, wantACR: ACRPHR},
		{name: "key without password or user verification", factors: []string{FactorHardwareKey}, wantAMR: []string{"hwk"}, wantACR: ""},
		{name: "unknown factor ignored", factors: []string{pwd, "swk"}, wantOptional: true, wantAMR: []string{"pwd"}, wantACR: ACRPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Satisfied(false, tc.factors); got != tc.wantOptional {
				t.Errorf("Satisfied(false) = %v, want %v", got, tc.wantOptional)
			}
			if got := Satisfied(true, tc.factors); got != tc.wantRequired {
				t.Errorf("Satisfied(true) = %v, want %v", got, tc.wantRequired)
			}
			if got := AMR(tc.factors); !slices.Equal(got, tc.wantAMR) {
				t.Errorf("AMR = %q, want %q", got, tc.wantAMR)
			}
			if got := ACR(tc.factors); got != tc.wantACR {
				t.Errorf("ACR = %q, want %q", got, tc.wantACR)
			}
		})
	}
}

func TestDemandsMFA(t *testing.T) {
	tests := []struct {
		name string
		acr  []string
		want bool
	}{
		{name: "none", acr: nil, want: false},
		{name: "password level", acr: []string{ACRPassword}, want: false},
		{name: "mfa", acr: []string{ACRMFA}, want: true},
		{name: "pape multi-factor", acr: []string{"http://schemas.openid.net/pape/policies/2007/06/multi-factor"}, want: true},
		{name: "among others", acr: []string{"urn:other", ACRMFA}, want: true},
		{name: "unknown", acr: []string{"urn:other", "0"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DemandsMFA(tc.acr); got != tc.want {
				t.Errorf("DemandsMFA(%q) = %v, want %v", tc.acr, got, tc.want)
			}
		})
	}
	if got := ACRValues(); !slices.Equal(got, []string{ACRPassword, ACRMFA, ACRPHR}) {
		t.Errorf("ACRValues = %q", got)
	}
}

func TestLeastACR(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{name: "none", values: nil, ok: false},
		{name: "unknown only", values: []string{"urn:other", "0"}, ok: false},
		{name: "phr", values: []string{ACRPHR}, want: ACRPHR, ok: true},
		{name: "mfa or phr", values: []string{ACRPHR, ACRMFA}, want: ACRMFA, ok: true},
		{name: "pape multi-factor", values: []string{ACRPHR, ACRPAPEMultiFactor}, want: ACRMFA, ok: true},
		{name: "password or more", values: []string{ACRMFA, ACRPassword}, want: ACRPassword, ok: true},
		{name: "unknown among them", values: []string{"urn:other", ACRPHR}, want: ACRPHR, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := LeastACR(tc.values); got != tc.want || ok != tc.ok {
				t.Errorf("LeastACR(%q) = %q, %v, want %q, %v", tc.values, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestState(t *testing.T) {
	tests := []struct {
		name string
		a    storage.Authenticator
		err  error
		want string
	}{
		{name: "not found", err: storage.ErrNotFound, want: "none"},
		{name: "zero", want: "none"},
		{name: "pending", a: storage.Authenticator{State: storage.AuthenticatorPending}, want: "pending"},
		{name: "active", a: storage.Authenticator{State: storage.AuthenticatorActive}, want: "active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := State(tc.a, tc.err); got != tc.want {
				t.Errorf("State = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecide covers every combination of tenant policy, the request's demand for MFA and the factors
// a sign-in, token or session can carry.
func TestDecide(t *testing.T) {
	pwd, otp, rec := FactorPassword, FactorOTP, FactorRecoveryCode
	factorSets := map[string][]string{
		"none": nil, "pwd": {pwd}, "otp": {otp}, "pwd+otp": {pwd, otp}, "pwd+rec": {pwd, rec}, "rec": {rec}, "pwd+unknown": {pwd, "swk"},
	}
	for name, factors := range factorSets {
		for _, tenant := range []bool{false, true} {
			for _, request := range []bool{false, true} {
				v := Decide(factors, tenant, request)
				hasPwd := slices.Contains(factors, pwd)
				second := slices.Contains(factors, otp) || slices.Contains(factors, rec)
				wantRequired := tenant || request
				wantSatisfied := hasPwd && (!wantRequired || second)
				if v.Satisfied != wantSatisfied || v.Required != wantRequired {
					t.Errorf("%s tenant=%v request=%v: %+v, want satisfied %v required %v", name, tenant, request, v, wantSatisfied, wantRequired)
				}
				if v.SecondFactorMissing() != (hasPwd && wantRequired && !second) {
					t.Errorf("%s tenant=%v request=%v: SecondFactorMissing = %v", name, tenant, request, v.SecondFactorMissing())
				}
				if !slices.Equal(v.AMR, AMR(factors)) || v.ACR != ACR(factors) {
					t.Errorf("%s: amr %v acr %q", name, v.AMR, v.ACR)
				}
			}
		}
	}
}

func TestFactorsFromAMR(t *testing.T) {
	for _, factors := range [][]string{{FactorPassword}, {FactorPassword, FactorOTP}, {FactorPassword, FactorRecoveryCode}} {
		if got := FactorsFromAMR(AMR(factors)); !slices.Equal(got, factors) {
			t.Errorf("FactorsFromAMR(AMR(%v)) = %v", factors, got)
		}
	}
	if got := FactorsFromAMR([]string{"mfa", "swk", "sms"}); got != nil {
		t.Errorf("unknown amr values gave factors %v", got)
	}
}
