package templates

import "time"

// KeyPage is the data for page "key": the user's passkey or security key as the second factor.
type KeyPage struct {
	Base
	AuthRequestID, Email, Error string
	Options                     string // the options of navigator.credentials.get, JSON (read by webauthn.js)
	CodeURL                     string // the TOTP code instead ("" when the user has no authenticator app or it does not count)
}

// KeyEnrolPage is the data for page "key_enrol": add a passkey or security key.
type KeyEnrolPage struct {
	Base
	AuthRequestID, Email, Error string
	Options                     string // the options of navigator.credentials.create, JSON (read by webauthn.js)
	AppURL                      string // enrol an authenticator app instead ("" when that is not a way)
}

// WebAuthnScript is the one script of the sign-in pages, served same-origin (CSP script-src 'self' on
// the pages that use it only).
const WebAuthnScript = "/login/static/webauthn.js"

// KeyRow is one passkey or security key on the account page.
type KeyRow struct {
	ID, Name   string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	Synced     bool // a passkey that syncs between devices (backup eligible)
}
