package login

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// The code step: a TOTP code from the user's authenticator app, or one of their recovery codes.

func (h *Handler) otpPage(c echo.Context) error {
	f, err := h.at(c, StepCode)
	if f == nil {
		return err
	}
	return h.render(c, http.StatusOK, "otp", h.codePage(c, f, ""))
}

func (h *Handler) codePage(c echo.Context, f *flow, msg string) templates.CodePage {
	return templates.CodePage{Base: h.base(f, c, "Two-factor authentication"), AuthRequestID: f.req.ID, Email: f.user.Email, Error: msg}
}

func (h *Handler) otp(c echo.Context) error {
	f, err := h.at(c, StepCode)
	if f == nil {
		return err
	}
	var read *storage.Authenticator
	if f.standing.Enrolled { // always, on the code step (State.Allows)
		read = &f.standing.Authenticator
	}
	err = h.MFA.VerifyWith(c.Request().Context(), f.user, read, c.FormValue("code"), h.meta(c, f))
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled): // reset a moment ago: the state machine knows where to go
		return h.proceed(c, f)
	case isLocked(err):
		return h.locked(c, f, err, true)
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrReplay):
		outcome := "refused"
		if errors.Is(err, mfa.ErrReplay) {
			outcome = "replayed"
		}
		h.events().SignInStep(mfa.FactorOTP, outcome)
		return h.render(c, http.StatusUnauthorized, "otp", h.codePage(c, f, msgBadCode))
	case err != nil:
		return err
	}
	h.events().SignInStep(mfa.FactorOTP, "accepted")
	return h.recordSecondFactor(c, f, mfa.FactorOTP)
}

// recordSecondFactor records a code or recovery code of the user's authenticator app, on condition that
// the app is still theirs (not replaced or reset since the code step read it).
func (h *Handler) recordSecondFactor(c echo.Context, f *flow, factor string) error {
	proof := storage.Proof{AuthenticatorID: f.standing.Authenticator.ID}
	if err := h.recordLogin(c, f, f.req.UserID, mfa.WithFactor(f.req.Factors, factor), h.Now(), proof); err != nil {
		return err
	}
	return h.proceed(c, f)
}

func (h *Handler) recoveryPage(c echo.Context) error {
	f, err := h.at(c, StepCode)
	if f == nil {
		return err
	}
	return h.render(c, http.StatusOK, "recovery", h.recoveryForm(c, f, ""))
}

func (h *Handler) recoveryForm(c echo.Context, f *flow, msg string) templates.RecoveryPage {
	return templates.RecoveryPage{Base: h.base(f, c, "Use a recovery code"), AuthRequestID: f.req.ID, Email: f.user.Email, Error: msg}
}

func (h *Handler) recovery(c echo.Context) error {
	f, err := h.at(c, StepCode)
	if f == nil {
		return err
	}
	err = h.MFA.UseRecoveryCode(c.Request().Context(), f.user, c.FormValue("code"), h.meta(c, f))
	switch {
	case isLocked(err):
		return h.locked(c, f, err, true)
	case errors.Is(err, mfa.ErrInvalidCode):
		h.events().SignInStep(mfa.FactorRecoveryCode, "refused")
		return h.render(c, http.StatusUnauthorized, "recovery", h.recoveryForm(c, f, msgBadRecovery))
	case err != nil:
		return err
	}
	h.events().SignInStep(mfa.FactorRecoveryCode, "accepted")
	return h.recordSecondFactor(c, f, mfa.FactorRecoveryCode)
}
