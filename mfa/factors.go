package mfa

import "slices"

// Factors a sign-in can prove, as recorded on auth requests and sessions. This package is the only
// home of these words and of the amr values they map to; everyone else asks Decide.
const (
	FactorPassword     = "pwd"
	FactorOTP          = "otp"
	FactorRecoveryCode = "rec"
	FactorHardwareKey  = "hwk"  // a WebAuthn assertion: a passkey or security key (possession, phishing-resistant)
	FactorUserVerified = "user" // ... in which the authenticator verified the user (PIN or biometric)
)

// Second-factor methods a tenant's policy can allow.
const (
	MethodTOTP     = "totp"     // an authenticator app (and its recovery codes)
	MethodWebAuthn = "webauthn" // a passkey or security key
)

// AllMethods are the methods a policy allows by default.
func AllMethods() []string { return []string{MethodTOTP, MethodWebAuthn} }

// Demand is what a sign-in must prove: the tenant's policy (on or off, and the second factors it
// allows) and what the request's acr asks for.
type Demand struct {
	TenantMFA  bool
	Methods    []string // the second factors the tenant allows; empty means all
	RequestMFA bool     // acr_values (or an essential acr claim) asks for the MFA level
	RequestPHR bool     // ... or for the phishing-resistant level
}

// PhishingResistant reports whether only a passkey or security key meets d.
func (d Demand) PhishingResistant() bool {
	return d.RequestPHR || (d.TenantMFA && len(d.Methods) > 0 && !slices.Contains(d.Methods, MethodTOTP))
}

// Verdict is the answer to "which factors does this sign-in, token or session prove, and is that
// enough for this tenant's policy and this request's acr?".
type Verdict struct {
	Satisfied bool     // the password and every factor the policy and the request demand are proven
	Required  bool     // the second factor is required (tenant policy or the request's acr)
	AMR       []string // RFC 8176 values for the proven factors
	ACR       string   // the level the proven factors earn ("" without a password)
	// PhishingResistant: only a passkey or security key meets the demand (the tenant allows nothing
	// else, or the request asks for the phr level).
	PhishingResistant bool
	// TOTPAllowed: a TOTP (or recovery) code can meet the demand: the tenant allows TOTP and nothing
	// asks for phishing resistance.
	TOTPAllowed bool
}

// SecondFactorMissing reports whether the password is proven but a required second factor is not.
func (v Verdict) SecondFactorMissing() bool { return v.Required && !v.Satisfied && v.ACR != "" }

// Decide judges factors against the tenant's policy (tenantMFA) and the request's demand for the MFA
// level (requestMFA). The provider's Done(), the refresh grant, the admin API's bearer check and the
// account pages all decide through it.
func Decide(factors []string, tenantMFA, requestMFA bool) Verdict {
	return DecideFor(factors, Demand{TenantMFA: tenantMFA, RequestMFA: requestMFA})
}

// DecideFor is Decide with the whole demand: the tenant's allowed methods and a phr request. A passkey
// with user verification is a whole multi-factor sign-in on its own; when only phishing-resistant
// factors count, a TOTP or recovery code does not satisfy.
func DecideFor(factors []string, d Demand) Verdict {
	required := Required(d.TenantMFA, d.RequestMFA || d.RequestPHR)
	phr := d.PhishingResistant()
	ok := Satisfied(required, factors)
	if ok && phr {
		ok = slices.Contains(factors, FactorHardwareKey)
	}
	totp := !phr && (len(d.Methods) == 0 || slices.Contains(d.Methods, MethodTOTP))
	return Verdict{Satisfied: ok, Required: required, AMR: AMR(factors), ACR: ACR(factors), PhishingResistant: phr, TOTPAllowed: totp}
}

// FactorsFromAMR maps the amr values of a token back to the factors they stand for, so that a token
// is judged by the same rule as the sign-in that issued it.
func FactorsFromAMR(amr []string) []string {
	var f []string
	for _, v := range amr {
		switch v {
		case AMRPassword:
			f = append(f, FactorPassword)
		case AMROTP:
			f = append(f, FactorOTP)
		case AMRKBA:
			f = append(f, FactorRecoveryCode)
		case AMRHardwareKey:
			f = append(f, FactorHardwareKey)
		case AMRUser:
			f = append(f, FactorUserVerified)
		}
	}
	return f
}

// WithFactor returns factors with f added once.
func WithFactor(factors []string, f string) []string {
	if slices.Contains(factors, f) {
		return factors
	}
	return append(slices.Clone(factors), f)
}
