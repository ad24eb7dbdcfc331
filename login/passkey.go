package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// Passkeys and security keys (WebAuthn): the key as the second factor (StepKey), adding a key
// (StepAddKey: at enrolment instead of an authenticator app, or when phishing resistance is demanded),
// and the passwordless passkey sign-in from the sign-in page. Each ceremony's challenge is begun when its
// page is shown and is bound to the sign-in (which is bound to this browser); the browser's answer comes
// back in the form field "credential".

// Keys is the part of the WebAuthn service the login UI uses; *mfa.Keys implements it. A nil Keys means
// WebAuthn is off (an IP-address issuer): no passkey buttons.
type Keys interface {
	HasKey(ctx context.Context, userID string) (bool, error)
	BeginRegistration(ctx context.Context, user storage.User, authRequestID string) ([]byte, error)
	FinishRegistration(ctx context.Context, user storage.User, authRequestID, name string, body []byte, meta mfa.Meta) (storage.WebAuthnCredential, error)
	BeginLogin(ctx context.Context, user storage.User, authRequestID string) ([]byte, error)
	FinishLogin(ctx context.Context, user storage.User, authRequestID string, body []byte, meta mfa.Meta) (mfa.Assertion, error)
	BeginPasskey(ctx context.Context, tenantID, authRequestID string) ([]byte, error)
	FinishPasskey(ctx context.Context, tenantID, authRequestID string, body []byte, meta mfa.Meta) (mfa.Assertion, error)
}

const (
	msgBadKey     = "Your passkey or security key could not be used. Try again."
	msgBadPasskey = "That passkey could not sign you in here. Try again, or sign in with your email and password."
	maxCredential = 16 << 10
)

// cspWithScript is the page policy of the pages that run webauthn.js: SecurityHeaders' policy with
// script-src 'self' instead of 'none'.
const cspWithScript = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// demand is what the sign-in f must prove.
func demand(f *flow) mfa.Demand {
	return mfa.Demand{TenantMFA: f.tenant.MFAEnabled, Methods: f.tenant.MFAMethods, RequestMFA: f.req.RequireMFA,
		RequestPHR: mfa.DemandsPHR(f.req.ACRValues)}
}

// keyStanding adds the user's keys to st. Where this server cannot use keys (WebAuthn is off: the issuer
// is not a domain name) a user's key still counts as theirs: the key step then says it cannot be used
// here (showKey), instead of the password alone enrolling an authenticator app in its place.
func (h *Handler) keyStanding(ctx context.Context, f *flow, st *mfa.Standing) error {
	if h.Keys == nil {
		creds, err := h.Store.CredentialsByUser(ctx, f.req.UserID)
		st.HasKey = len(creds) > 0
		return err
	}
	st.KeysOn = true
	has, err := h.Keys.HasKey(ctx, f.req.UserID)
	st.HasKey = has
	return err
}

func (h *Handler) renderScript(c echo.Context, status int, name string, data any) error {
	c.Response().Header().Set("Content-Security-Policy", cspWithScript)
	return h.render(c, status, name, data)
}

// keyNamed reports whether a passkey or security key named the user of sign-in a without verifying
// them: possession is proven, the password is not yet.
func keyNamed(a storage.AuthRequest) bool {
	return a.UserID != "" && slices.Contains(a.Factors, mfa.FactorHardwareKey) && !mfa.HasFirstFactor(a.Factors)
}

// passwordPage asks the user whom a key named (keyNamed) for their password; any other sign-in goes
// to the sign-in page.
func (h *Handler) passwordPage(c echo.Context) error {
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	if !keyNamed(f.req) {
		return c.Redirect(http.StatusSeeOther, stepURL(StepPassword, f.req.ID))
	}
	return h.renderLogin(c, f, http.StatusOK, templates.LoginPage{Base: h.base(f, c, "Sign in"), AuthRequestID: f.req.ID})
}

// renderLogin shows the sign-in page, with the passkey sign-in when WebAuthn is on; when a key named
// the user, only their password is asked.
func (h *Handler) renderLogin(c echo.Context, f *flow, status int, page templates.LoginPage) error {
	if keyNamed(f.req) {
		u, err := h.Store.UserByID(c.Request().Context(), f.req.UserID)
		if err != nil {
			return errOutOfOrder
		}
		page.KeyAccepted, page.Email = true, u.Email
		return h.render(c, status, "login", page)
	}
	if h.Keys == nil {
		return h.render(c, status, "login", page)
	}
	opts, err := h.Keys.BeginPasskey(c.Request().Context(), f.req.TenantID, f.req.ID)
	if err != nil {
		return err
	}
	page.Passkey = string(opts)
	return h.renderScript(c, status, "login", page)
}

func credentialField(c echo.Context) []byte {
	v := c.FormValue("credential")
	if len(v) > maxCredential {
		return nil
	}
	return []byte(v)
}

// passkey signs in with a passkey alone: the key names the user. With user verification it is both
// factors; without, it is possession only and the state machine asks for the password (StepPassword
// with the user known, see passwordPage). The state machine (and the provider) decide what is enough.
func (h *Handler) passkey(c echo.Context) error {
	if h.Keys == nil {
		return echo.ErrNotFound
	}
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	a, err := h.Keys.FinishPasskey(c.Request().Context(), f.req.TenantID, f.req.ID, credentialField(c), h.meta(c, f))
	if isLocked(err) {
		return h.locked(c, f, err, false)
	}
	if err != nil {
		if !isRefusal(err) {
			return err
		}
		h.events().SignInStep(mfa.FactorHardwareKey, "refused")
		h.Log.InfoContext(c.Request().Context(), "passkey refused", "err", err)
		return h.renderLogin(c, f, http.StatusUnauthorized, templates.LoginPage{Base: h.base(f, c, "Sign in"), AuthRequestID: f.req.ID, Error: msgBadPasskey})
	}
	if err := h.recordLogin(c, f, a.User.ID, a.Factors(), h.Now(), storage.Proof{CredentialID: a.Credential.ID}); err != nil {
		return err
	}
	f.user = a.User
	h.events().SignInStep(mfa.FactorHardwareKey, "accepted")
	return h.proceed(c, f)
}

func isRefusal(err error) bool {
	for _, e := range []error{mfa.ErrNoChallenge, mfa.ErrKeyRefused, mfa.ErrUnknownKey, mfa.ErrSignCountBackward,
		mfa.ErrUserDisabled} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (h *Handler) keyPage(c echo.Context) error {
	f, err := h.at(c, StepKey)
	if f == nil {
		return err
	}
	return h.showKey(c, f, http.StatusOK, "")
}

func (h *Handler) showKey(c echo.Context, f *flow, status int, msg string) error {
	ctx := c.Request().Context()
	if h.Keys == nil { // the user's key cannot be used here (keyStanding): their code, if it may count
		if s, err := h.state(ctx, f); err == nil && s.Allows(StepCode) {
			return c.Redirect(http.StatusSeeOther, stepURL(StepCode, f.req.ID))
		}
		return errKeysOff
	}
	opts, err := h.Keys.BeginLogin(ctx, f.user, f.req.ID)
	if errors.Is(err, mfa.ErrUnknownKey) { // removed a moment ago
		return h.proceed(c, f)
	}
	if err != nil {
		return err
	}
	page := templates.KeyPage{Base: h.base(f, c, "Use your passkey or security key"), AuthRequestID: f.req.ID, Email: f.user.Email,
		Error: msg, Options: string(opts)}
	if s, err := h.state(ctx, f); err == nil && s.Allows(StepCode) {
		page.CodeURL = stepURL(StepCode, f.req.ID)
	}
	return h.renderScript(c, status, "key", page)
}

// key takes the key's answer as the second factor.
func (h *Handler) key(c echo.Context) error {
	f, err := h.at(c, StepKey)
	if f == nil {
		return err
	}
	if h.Keys == nil {
		return errKeysOff
	}
	a, err := h.Keys.FinishLogin(c.Request().Context(), f.user, f.req.ID, credentialField(c), h.meta(c, f))
	switch {
	case errors.Is(err, mfa.ErrUserDisabled):
		return errOutOfOrder
	case isLocked(err):
		return h.locked(c, f, err, true)
	case isRefusal(err):
		h.events().SignInStep(mfa.FactorHardwareKey, "refused")
		return h.showKey(c, f, http.StatusUnauthorized, msgBadKey)
	case err != nil:
		return err
	}
	h.events().SignInStep(mfa.FactorHardwareKey, "accepted")
	factors := f.req.Factors
	for _, x := range a.Factors() {
		factors = mfa.WithFactor(factors, x)
	}
	if err := h.recordLogin(c, f, f.req.UserID, factors, h.Now(), storage.Proof{CredentialID: a.Credential.ID}); err != nil {
		return err
	}
	return h.proceed(c, f)
}

func (h *Handler) keyEnrolPage(c echo.Context) error {
	f, err := h.at(c, StepAddKey)
	if f == nil {
		return err
	}
	return h.showKeyEnrol(c, f, http.StatusOK, "")
}

func (h *Handler) showKeyEnrol(c echo.Context, f *flow, status int, msg string) error {
	if h.Keys == nil {
		return errKeysOff
	}
	ctx := c.Request().Context()
	opts, err := h.Keys.BeginRegistration(ctx, f.user, f.req.ID)
	if err != nil {
		return err
	}
	page := templates.KeyEnrolPage{Base: h.base(f, c, "Add a passkey or security key"), AuthRequestID: f.req.ID, Email: f.user.Email,
		Error: msg, Options: string(opts)}
	if s, err := h.state(ctx, f); err == nil && Next(s) == StepEnrol {
		page.AppURL = stepURL(StepEnrol, f.req.ID)
	}
	return h.renderScript(c, status, "key_enrol", page)
}

// keyEnrol adds the key whose answer the browser sent; registering it proves it, like the first code
// of an authenticator app.
func (h *Handler) keyEnrol(c echo.Context) error {
	f, err := h.at(c, StepAddKey)
	if f == nil {
		return err
	}
	if h.Keys == nil {
		return errKeysOff
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if len(name) > 64 {
		name = name[:64]
	}
	cred, err := h.Keys.FinishRegistration(c.Request().Context(), f.user, f.req.ID, name, credentialField(c), h.meta(c, f))
	switch {
	case errors.Is(err, mfa.ErrUserDisabled):
		return errOutOfOrder
	case isRefusal(err):
		return h.showKeyEnrol(c, f, http.StatusUnauthorized, "No passkey or security key was added. Try again.")
	case err != nil:
		return err
	}
	h.events().Enrolled()
	factors := mfa.WithFactor(f.req.Factors, mfa.FactorHardwareKey)
	if cred.UserVerified {
		factors = mfa.WithFactor(factors, mfa.FactorUserVerified)
	}
	if err := h.recordLogin(c, f, f.req.UserID, factors, h.Now(), storage.Proof{CredentialID: cred.ID}); err != nil {
		return err
	}
	return h.proceed(c, f)
}

var errKeysOff = &PageError{Status: http.StatusNotFound, Heading: "Passkeys are not available here",
	Message: "This server cannot use passkeys or security keys. Ask your administrator."}
