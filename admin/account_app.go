package admin

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// Setting up an authenticator app (a user with a key but no app) or replacing it (a new phone) on the
// account page itself: "Set up" / "Replace" begins a secret bound to this browser's SSO session, the
// page shows it (QR code, otpauth link, key as text) with a code field, and the code from the new app
// confirms it. Both need a fresh sign-in that proved a second factor, as for removing a key; a user
// without any second factor goes through a sign-in that enrols one instead (SetupAppURL). The rules
// (the code, the throttle, the replay guard, the enrolment code, the one transaction) are mfa's.

const appURL = accountURL + "#app"

const (
	msgAppReauth   = "For your security, sign in again with your second factor before setting up an authenticator app."
	msgAppBadCode  = "That code didn't work. Enter the newest code from your new app; if it keeps failing, check that your phone's clock is set automatically."
	msgAppLocked   = "Too many wrong codes. Wait a few minutes, then try again."
	msgAppEnrolRst = "Your administrator reset your second factor: sign in again with the enrolment code they gave you to set up an app."
	msgAppChanged  = "Your authenticator app changed in the meantime (another browser). Start again."
	msgAppNoSecret = "There is no new app being set up in this browser any more. Start again."
)

// appOffer says what the account page offers for the authenticator app: "setup" (a key, no app),
// "replace" (an app), or "" (no second factor at all: a sign-in enrols one, SetupAppURL; or the tenant
// allows keys only, where an app would not count).
func appOffer(a actor, state string, keys int) string {
	if (mfa.Demand{TenantMFA: a.tenant.MFAEnabled, Methods: a.tenant.MFAMethods}).PhishingResistant() {
		return ""
	}
	switch {
	case state == mfa.StateActive:
		return "replace"
	case keys > 0:
		return "setup"
	}
	return ""
}

// appIssuer is the name the authenticator app shows for the account, as at the sign-in's enrolment.
func (h *Handler) appIssuer(a actor) string {
	if a.tenant.Name != "" {
		return a.tenant.Name
	}
	return h.Issuer
}

// appSection fills the page's authenticator app part: the offer, the sign-in again link, or this
// session's pending secret to scan.
func (h *Handler) appSection(c echo.Context, p *templates.AccountPage, v accountView) error {
	a := actorOf(c)
	p.AppAction = appOffer(a, p.MFAState, len(p.Keys))
	p.AppError, p.AppFlash = v.appError, v.appFlash
	if p.AppAction == "" {
		return nil
	}
	if !h.fresh(c) {
		p.AppReauthURL = h.freshURL(a)
		return nil
	}
	s, _ := c.Get(sessionKey).(storage.Session)
	en, err := h.MFA.AccountEnrolment(h.ctx(c), storage.User{ID: a.id, TenantID: a.tenant.ID, Email: a.email}, s.ID, h.appIssuer(a))
	if errors.Is(err, mfa.ErrNoPendingEnrolment) {
		return nil // the button that begins one
	}
	if err != nil {
		return err
	}
	p.App = templates.NewTOTPKey(en.SecretGrouped, en.Issuer, en.QRPNG, en.URI)
	return nil
}

// appGate loads the user and checks that this session may set up or replace the app now; it answers
// the refusal page itself (ok false) when not.
func (h *Handler) appGate(c echo.Context) (storage.User, storage.Session, bool, error) {
	ctx := h.ctx(c)
	a := actorOf(c)
	s, _ := c.Get(sessionKey).(storage.Session)
	state, err := h.MFA.Status(ctx, a.id)
	if err != nil {
		return storage.User{}, s, false, err
	}
	creds, err := h.Store.CredentialsByUser(ctx, a.id)
	if err != nil {
		return storage.User{}, s, false, err
	}
	if appOffer(a, state, len(creds)) == "" {
		return storage.User{}, s, false, pageErr(http.StatusConflict, "Set up your second factor through a sign-in: use the button on your account page.")
	}
	if !h.fresh(c) {
		return storage.User{}, s, false, h.renderAccountView(c, accountView{status: http.StatusForbidden, appError: msgAppReauth})
	}
	u, err := h.Store.UserByID(ctx, a.id)
	if err != nil {
		return storage.User{}, s, false, err
	}
	return u, s, true, nil
}

// beginApp makes this session's new secret (or keeps the one it has) and shows it.
func (h *Handler) beginApp(c echo.Context) error {
	u, s, ok, err := h.appGate(c)
	if !ok {
		return err
	}
	_, err = h.MFA.BeginAccountEnrolment(h.ctx(c), u, s.ID, h.appIssuer(actorOf(c)), mfa.Meta{Address: c.RealIP()})
	if msg, status := appRefusal(err); status != 0 {
		return h.renderAccountView(c, accountView{status: status, appError: msg})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appURL)
}

// confirmApp takes the code from the new app: right, the new app replaces the old (if any) and the new
// recovery codes are shown once; wrong, the page says so and nothing changes.
func (h *Handler) confirmApp(c echo.Context) error {
	u, s, ok, err := h.appGate(c)
	if !ok {
		return err
	}
	codes, err := h.MFA.ConfirmAccountEnrolment(h.ctx(c), u, s.ID, c.FormValue("code"), mfa.Meta{Address: c.RealIP()})
	if msg, status := appRefusal(err); status != 0 {
		return h.renderAccountView(c, accountView{status: status, appError: msg})
	}
	if err != nil {
		return err
	}
	return h.renderAccountView(c, accountView{newCodes: codes,
		appFlash: "Your new authenticator app is set up. Codes from any earlier app, and your old recovery codes, no longer work."})
}

// cancelApp drops this session's pending secret.
func (h *Handler) cancelApp(c echo.Context) error {
	s, _ := c.Get(sessionKey).(storage.Session)
	if err := h.MFA.CancelAccountEnrolment(h.ctx(c), s.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, appURL)
}

// appRefusal maps mfa's refusals to the page's message and status (0: not a refusal).
func appRefusal(err error) (string, int) {
	if _, ok := throttle.IsLocked(err); ok {
		return msgAppLocked, http.StatusTooManyRequests
	}
	switch {
	case err == nil:
		return "", 0
	case errors.Is(err, mfa.ErrInvalidCode):
		return msgAppBadCode, http.StatusUnauthorized
	case errors.Is(err, mfa.ErrNoPendingEnrolment):
		return msgAppNoSecret, http.StatusBadRequest
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return msgAppChanged, http.StatusConflict
	case errors.Is(err, mfa.ErrEnrolmentCodeRequired), errors.Is(err, mfa.ErrEnrolmentCodeExpired):
		return msgAppEnrolRst, http.StatusForbidden
	case errors.Is(err, mfa.ErrUserDisabled):
		return "Your account is disabled.", http.StatusForbidden
	}
	return "", 0
}
