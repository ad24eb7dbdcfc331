package mfa

import (
	"slices"
	"testing"
)

func TestDecideForMethodsAndPHR(t *testing.T) {
	pwd, otp, rec, hwk, uv := FactorPassword, FactorOTP, FactorRecoveryCode, FactorHardwareKey, FactorUserVerified
	tests := []struct {
		name    string
		factors []string
		demand  Demand
		want    bool
		wantPHR bool
	}{
		{"totp under default methods", []string{pwd, otp}, Demand{TenantMFA: true}, true, false},
		{"key under default methods", []string{pwd, hwk}, Demand{TenantMFA: true}, true, false},
		{"passkey alone under the policy", []string{hwk, uv}, Demand{TenantMFA: true}, true, false},
		{"passkey without user verification is not a sign-in", []string{hwk}, Demand{}, false, false},
		{"totp under phishing-resistant only", []string{pwd, otp}, Demand{TenantMFA: true, Methods: []string{MethodWebAuthn}}, false, true},
		{"recovery code under phishing-resistant only", []string{pwd, rec}, Demand{TenantMFA: true, Methods: []string{MethodWebAuthn}}, false, true},
		{"key under phishing-resistant only", []string{pwd, otp, hwk}, Demand{TenantMFA: true, Methods: []string{MethodWebAuthn}}, true, true},
		{"phishing-resistant only is moot while the policy is off", []string{pwd}, Demand{Methods: []string{MethodWebAuthn}}, true, false},
		{"phr request refuses totp", []string{pwd, otp}, Demand{RequestPHR: true}, false, true},
		{"phr request takes a key", []string{pwd, hwk}, Demand{RequestPHR: true}, true, true},
		{"mfa request takes a key", []string{pwd, hwk}, Demand{RequestMFA: true}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := DecideFor(tc.factors, tc.demand)
			if v.Satisfied != tc.want || v.PhishingResistant != tc.wantPHR {
				t.Errorf("DecideFor(%q, %+v) = %+v, want satisfied %v phr %v", tc.factors, tc.demand, v, tc.want, tc.wantPHR)
			}
		})
	}
	if !DemandsMFA([]string{ACRPHR}) || !DemandsPHR([]string{ACRPHR}) || DemandsPHR([]string{ACRMFA}) {
		t.Error("a phr request demands mfa and phr; an mfa request does not demand phr")
	}
	if got := FactorsFromAMR([]string{"pwd", "hwk", "user", "mfa"}); !slices.Equal(got, []string{pwd, hwk, uv}) {
		t.Errorf("FactorsFromAMR = %q", got)
	}
}
