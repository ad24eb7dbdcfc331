package templates

import (
	"encoding/base64"
	"html/template"
	"time"
)

// Base is embedded in every page's data.
type Base struct {
	Title      string // page title, also <title> as "Title · Portcullis"
	TenantName string // the organisation being signed in to (may be empty)
	AppName    string // the app (OIDC client) asking (may be empty)
	CSRFToken  string // put in every POST form as <input type="hidden" name="_csrf" value="...">
}

// LoginPage is the data for page "login".
type LoginPage struct {
	Base
	AuthRequestID, Email, Error string
	Passkey                     string // the options of a passwordless passkey sign-in, JSON; "" when WebAuthn is off
	// KeyAccepted: a passkey or security key that did not verify its user named them; only their
	// password is asked (Email is theirs and cannot be changed here).
	KeyAccepted bool
}

// ForgotPage is the data for page "forgot": the email form of a forgotten password.
type ForgotPage struct {
	Base
	AuthRequestID, Email, Error string
}

// NewPasswordPage is the data for page "new_password": choosing a password from an emailed link
// (reset or invitation). Action is the form's target; Token is the link's.
type NewPasswordPage struct {
	Base
	Heading, Submit, Action, Token, Email, Error string
}

// CodePage is the data for page "otp".
type CodePage struct {
	Base
	AuthRequestID, Email, Error string
}

// RecoveryPage is the data for page "recovery".
type RecoveryPage struct {
	Base
	AuthRequestID, Email, Error string
}

// TOTPKey is an authenticator app's new key as the pages show it (partial "totp-key"): the QR code, the
// otpauth link and the key as text.
type TOTPKey struct {
	QRDataURI  template.URL // data:image/png;base64,...
	Secret     string       // base32 secret, grouped in 4s
	OTPAuthURI template.URL // otpauth://totp/...
	Issuer     string       // the name the app shows
}

// NewTOTPKey is the key shown for a secret (grouped in 4s), with its QR code (PNG) and otpauth URI.
func NewTOTPKey(secretGrouped, issuer string, qrPNG []byte, uri string) TOTPKey {
	return TOTPKey{QRDataURI: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(qrPNG)),
		Secret: secretGrouped, OTPAuthURI: template.URL(uri), Issuer: issuer}
}

// EnrolPage is the data for page "enrol".
type EnrolPage struct {
	Base
	TOTPKey
	AuthRequestID, Email, Error string
	KeyURL                      string // add a passkey or security key instead ("" when WebAuthn is off)
}

// EnrolCodePage is the data for page "enrol_code": the enrolment code an admin's reset handed out.
type EnrolCodePage struct {
	Base
	AuthRequestID, Email, Error string
	Code                        string // filled in from the reset notification's link, if the browser followed one
}

// ResetDonePage is the data for page "reset_done": the enrolment code of an MFA reset, shown once.
type ResetDonePage struct {
	Base
	Email, Code string
	ExpiresAt   time.Time
}

// RecoveryCodesPage is the data for page "recovery_codes".
type RecoveryCodesPage struct {
	Base
	Codes       []string
	DownloadURI template.URL // data:text/plain;... for the download link
	ContinueURL string
}

// ErrorPage is the data for page "error".
type ErrorPage struct {
	Base
	Status                    int
	Heading, Message, BackURL string
}

// LockedPage is the data for page "locked".
type LockedPage struct {
	Base
	Until      time.Time
	RetryIn    string // e.g. "15 minutes"
	RestartURL string
}

// InfoPage is the data for page "logged_out".
type InfoPage struct {
	Base
	Heading, Message string
}

// ConfirmPage is the data for page "confirm": a POST form to Action carrying
// Fields as hidden inputs.
type ConfirmPage struct {
	Base
	Heading, Message, Action, ConfirmLabel, CancelURL string
	Danger                                            bool
	Fields                                            map[string]string
}

// SettingsPage is the data for page "settings", the tenant admin's security settings.
type SettingsPage struct {
	Base
	TenantRef    string
	MFAEnabled   bool
	MFAUpdatedAt time.Time
	MFAUpdatedBy string
	Users        []UserRow
	Events       []EventRow
	Flash        string
	AdminEmail   string
	// The second factors the policy allows.
	AllowTOTP, AllowWebAuthn bool
}

// UserRow is one row of the users table on the settings page. MFAState is
// "none", "pending" or "active".
type UserRow struct {
	ID, Email, Name, Role, MFAState string
	Disabled                        bool
	EnrolledAt, LastUsed            *time.Time
	EnrolledFrom                    string // the app and address of the enrolment, e.g. "Demo App · 192.0.2.7"
	Keys                            int    // passkeys and security keys
}

// EventRow is one row of the recent-activity table on the settings page.
type EventRow struct {
	At                                     time.Time
	Actor, Action, Target, Address, Detail string
}

// AccountPage is the data for page "account", a user's own security page.
type AccountPage struct {
	Base
	Email, MFAState   string
	EnrolledAt        *time.Time
	EnrolledFrom      string // the app and address of the enrolment
	RecoveryCodesLeft int
	NewCodes          []string
	DownloadURI       template.URL
	Flash             string
	ReauthURL         string // set when generating codes needs a fresh sign-in with the second factor first
	Keys              []KeyRow
	SetupAppURL       string // a user without a second factor: set one up through a sign-in that demands it

	// Adding a passkey or security key (the "Passkeys and security keys" section, shown when KeysOn).
	KeysOn             bool   // WebAuthn works on this server
	AddKeyOptions      string // this session's registration ceremony (JSON for webauthn.js): it may add a key now
	AddKeyReauthURL    string // set when adding a key needs a sign-in again first
	AddKeyNeedsFactor  bool   // ... with the second factor (else a recent password is enough)
	AddKeyCodeURL      string // an admin's reset left an enrolment code: adding goes through a sign-in that asks for it
	KeyFlash, KeyError string

	// Setting up (a key, no app) or replacing (an app) the authenticator app on the page itself.
	AppAction          string  // "setup" or "replace"; "" when the page offers neither
	AppReauthURL       string  // set when it needs a sign-in again with the second factor first
	App                TOTPKey // this session's pending secret (App.Secret "" when none is pending)
	AppError, AppFlash string

	// The "Change password" section.
	PasswordReauthURL string // set when changing the password needs a sign-in within the last 15 minutes first
	PasswordError     string
	PasswordFlash     string
}

// TextDownload makes a data: URL of a plain-text file, for a download link that needs no request.
func TextDownload(text string) template.URL {
	return template.URL("data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(text)))
}
