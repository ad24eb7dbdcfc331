package mfa

import "slices"

// Factors a sign-in can prove, as recorded on auth requests and sessions. This package is the only
// home of these words and of the amr values they map to; everyone else asks Decide.
const (
	FactorPassword     = "pwd"
	FactorOTP          = "otp"
	FactorRecoveryCode = "rec"
)

// Verdict is the answer to "which factors does this sign-in, token or session prove, and is that
// enough for this tenant's policy and this request's acr?".
type Verdict struct {
	Satisfied bool     // the password and every factor the policy and the request demand are proven
	Required  bool     // the second factor is required (tenant policy or the request's acr)
	AMR       []string // RFC 8176 values for the proven factors
	ACR       string   // the level the proven factors earn ("" without a password)
}

// SecondFactorMissing reports whether the password is proven but a required second factor is not.
func (v Verdict) SecondFactorMissing() bool { return v.Required && !v.Satisfied && v.ACR != "" }

// Decide judges factors against the tenant's policy (tenantMFA) and the request's demand for the MFA
// level (requestMFA). The provider's Done(), the refresh grant, the admin API's bearer check and the
// account pages all decide through it.
func Decide(factors []string, tenantMFA, requestMFA bool) Verdict {
	required := Required(tenantMFA, requestMFA)
	return Verdict{Satisfied: Satisfied(required, factors), Required: required, AMR: AMR(factors), ACR: ACR(factors)}
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
