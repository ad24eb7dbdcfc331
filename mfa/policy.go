package mfa

import (
	"slices"
	"strings"
)

// Authentication context class references that Portcullis issues in the acr claim.
const (
	ACRPassword = "urn:portcullis:acr:pwd"
	ACRMFA      = "urn:portcullis:acr:mfa"
	// ACRPHR is phishing-resistant multi-factor: a passkey or security key. It is above ACRMFA and meets
	// any request for the MFA level.
	ACRPHR = "urn:portcullis:acr:phr"
	// ACRPAPEMultiFactor is the OpenID PAPE multi-factor policy, which some clients send in acr_values.
	ACRPAPEMultiFactor = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)

// RFC 8176 authentication method reference values.
const (
	AMRPassword    = "pwd"
	AMROTP         = "otp"
	AMRKBA         = "kba" // knowledge-based: we report a recovery code as kba, not otp (it is not time-based)
	AMRMFA         = "mfa"
	AMRHardwareKey = "hwk"  // proof of possession of a hardware-secured key (WebAuthn)
	AMRUser        = "user" // user presence and verification by the authenticator (PIN or biometric)
)

// Required reports whether a sign-in needs the second factor: the tenant's policy demands it, or the
// client asked for the MFA level (acr_values or an essential acr claim).
func Required(tenantEnabled, requestDemands bool) bool { return tenantEnabled || requestDemands }

// Satisfied reports whether the proven factors meet the requirement: a first factor always (the password,
// or a passkey that verified the user), and a TOTP code, a recovery code or a key when the second factor
// is required. A passkey with user verification is both factors (possession and the device's PIN or
// biometric).
func Satisfied(required bool, factors []string) bool {
	if !HasFirstFactor(factors) {
		return false
	}
	return !required || HasSecondFactor(factors)
}

// HasFirstFactor reports whether the factors identify the user: a password, or a passkey with user verification.
func HasFirstFactor(factors []string) bool {
	return slices.Contains(factors, FactorPassword) || passkeyVerified(factors)
}

func passkeyVerified(factors []string) bool {
	return slices.Contains(factors, FactorHardwareKey) && slices.Contains(factors, FactorUserVerified)
}

// HasSecondFactor reports whether the factors include a second factor (a TOTP or a recovery code, or a
// passkey or security key).
func HasSecondFactor(factors []string) bool {
	return slices.Contains(factors, FactorOTP) || slices.Contains(factors, FactorRecoveryCode) ||
		slices.Contains(factors, FactorHardwareKey)
}

// AMR returns the RFC 8176 amr values for the proven factors, in a fixed order:
// ["pwd"], ["pwd","otp","mfa"] after a TOTP code, ["pwd","kba","mfa"] after a recovery code,
// ["pwd","hwk","mfa"] after a security key (["pwd","hwk","user","mfa"] when it verified the user), and
// ["hwk","user","mfa"] for a passwordless passkey sign-in.
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
	if slices.Contains(factors, FactorHardwareKey) {
		out = append(out, AMRHardwareKey)
		if slices.Contains(factors, FactorUserVerified) {
			out = append(out, AMRUser)
		}
	}
	if len(out) >= 2 {
		out = append(out, AMRMFA)
	}
	return out
}

// ACR returns the acr value earned by the proven factors: ACRPHR with a key as a second factor (or a
// passkey that verified the user), ACRMFA with a password and another second factor, ACRPassword with a
// password only, and "" with no first factor.
func ACR(factors []string) string {
	switch {
	case Satisfied(true, factors) && slices.Contains(factors, FactorHardwareKey):
		return ACRPHR
	case Satisfied(true, factors):
		return ACRMFA
	case Satisfied(false, factors):
		return ACRPassword
	default:
		return ""
	}
}

// ACRValues lists the acr values Portcullis supports, for acr_values_supported in discovery, from the
// lowest level to the highest.
func ACRValues() []string { return []string{ACRPassword, ACRMFA, ACRPHR} }

// DemandsMFA reports whether the requested acr values ask for multi-factor authentication (phr included).
func DemandsMFA(acrValues []string) bool {
	return slices.Contains(acrValues, ACRMFA) || slices.Contains(acrValues, ACRPAPEMultiFactor) || DemandsPHR(acrValues)
}

// DemandsPHR reports whether the requested acr values ask for phishing-resistant authentication.
func DemandsPHR(acrValues []string) bool { return slices.Contains(acrValues, ACRPHR) }

// LeastACR returns the least demanding of values that Portcullis can earn, as one of ACRValues() (the
// PAPE multi-factor policy reads as ACRMFA), and false when it can earn none of them. An essential acr
// claim (OIDC Core §5.5.1.1) asks for one of its values: this is the level the sign-in must reach (a
// higher level meets it).
func LeastACR(values []string) (string, bool) {
	levels := ACRValues() // in ascending order
	least := len(levels)
	for _, v := range values {
		if v == ACRPAPEMultiFactor {
			v = ACRMFA
		}
		if i := slices.Index(levels, v); i >= 0 && i < least {
			least = i
		}
	}
	if least == len(levels) {
		return "", false
	}
	return levels[least], true
}

// RecoveryCodesText is the text file a user downloads with their recovery codes.
func RecoveryCodesText(account, issuer string, codes []string) string {
	return "Recovery codes for " + account + " (" + issuer + ")\nEach code works once.\n\n" + strings.Join(codes, "\n") + "\n"
}
