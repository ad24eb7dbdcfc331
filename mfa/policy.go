package mfa

import (
	"slices"
	"strings"
)

// Authentication context class references that Portcullis issues in the acr claim.
const (
	ACRPassword = "urn:portcullis:acr:pwd"
	ACRMFA      = "urn:portcullis:acr:mfa"
	// ACRPAPEMultiFactor is the OpenID PAPE multi-factor policy, which some clients send in acr_values.
	ACRPAPEMultiFactor = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)

// RFC 8176 authentication method reference values.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"
	AMRKBA      = "kba" // knowledge-based: we report a recovery code as kba, not otp (it is not time-based)
	AMRMFA      = "mfa"
)

// Required reports whether a sign-in needs the second factor: the tenant's policy demands it, or the
// client asked for the MFA level (acr_values or an essential acr claim).
func Required(tenantEnabled, requestDemands bool) bool { return tenantEnabled || requestDemands }

// Satisfied reports whether the proven factors meet the requirement: a password always, and a TOTP code
// or a recovery code when the second factor is required.
func Satisfied(required bool, factors []string) bool {
	if !slices.Contains(factors, FactorPassword) {
		return false
	}
	return !required || HasSecondFactor(factors)
}

// HasSecondFactor reports whether the factors include a second factor (a TOTP or a recovery code).
func HasSecondFactor(factors []string) bool {
	return slices.Contains(factors, FactorOTP) || slices.Contains(factors, FactorRecoveryCode)
}

// AMR returns the RFC 8176 amr values for the proven factors, in a fixed order:
// ["pwd"], ["pwd","otp","mfa"] after a TOTP code, ["pwd","kba","mfa"] after a recovery code.
// It returns nil when no factor is proven.
func AMR(factors []string) []string {
	var out []string
	if slices.Contains(factors, FactorPassword) {
		out = append(out, AMRPassword)
	}
	if slices.Contains(factors, FactorOTP) {
		out = append(out, AMROTP)
	}
	if slices.Contains(factors, FactorRecoveryCode) {
		out = append(out, AMRKBA)
	}
	if len(out) >= 2 {
		out = append(out, AMRMFA)
	}
	return out
}

// ACR returns the acr value earned by the proven factors: ACRMFA with a password and a second factor,
// ACRPassword with a password only, and "" with no password.
func ACR(factors []string) string {
	switch {
	case Satisfied(true, factors):
		return ACRMFA
	case Satisfied(false, factors):
		return ACRPassword
	default:
		return ""
	}
}

// ACRValues lists the acr values Portcullis supports, for acr_values_supported in discovery.
func ACRValues() []string { return []string{ACRPassword, ACRMFA} }

// DemandsMFA reports whether the requested acr values ask for multi-factor authentication.
func DemandsMFA(acrValues []string) bool {
	return slices.Contains(acrValues, ACRMFA) || slices.Contains(acrValues, ACRPAPEMultiFactor)
}

// RecoveryCodesText is the text file a user downloads with their recovery codes.
func RecoveryCodesText(account, issuer string, codes []string) string {
	return "Recovery codes for " + account + " (" + issuer + ")\nEach code works once.\n\n" + strings.Join(codes, "\n") + "\n"
}
