// Package mfa owns the second factor: the factor vocabulary and the one decision of whether the
// factors a sign-in, token or session proves satisfy the tenant's policy and the request's acr; TOTP
// secrets (sealed at rest), enrolment, the otpauth URI and its QR code, code verification with a replay
// guard and throttling, and recovery codes.
//
// It reads and writes through the small Store interface it declares (met by *storage.Store) and uses
// secret and throttle. It must not import op, login, admin, app or telemetry, nor anything of HTTP: the
// provider, the login UI and the admin surface ask it; it never calls them.
package mfa
