package login

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// The enrolment steps: the enrolment code an admin's reset handed out (when there is one), then a new
// TOTP secret to scan, confirmed with a code; the recovery codes are the answer to the confirmation.

func (h *Handler) enrolCodePage(c echo.Context) error {
	f, err := h.at(c, StepEnrolCode)
	if f == nil {
		return err
	}
	st, err := h.MFA.Standing(c.Request().Context(), f.user.ID, f.req.ID)
	if err != nil {
		return err
	}
	if st.EnrolmentCodeExpired {
		return errEnrolmentCodeExpired
	}
	return h.render(c, http.StatusOK, "enrol_code", h.enrolCodeForm(c, f, ""))
}

func (h *Handler) enrolCodeForm(c echo.Context, f *flow, msg string) templates.EnrolCodePage {
	return templates.EnrolCodePage{Base: h.base(f, c, "Enter your enrolment code"), AuthRequestID: f.req.ID, Email: f.user.Email, Error: msg,
		Code: h.linkedEnrolCode(c)} // enrolcode_link.go
}

// enrolCode takes the enrolment code that an admin's reset handed out, and then shows this sign-in's
// secret to scan.
func (h *Handler) enrolCode(c echo.Context) error {
	f, err := h.at(c, StepEnrolCode)
	if f == nil {
		return err
	}
	_, err = h.MFA.RedeemEnrolmentCode(c.Request().Context(), f.user, f.req.ID, c.FormValue("enrolment_code"), h.issuerName(f), h.meta(c, f))
	switch {
	case isLocked(err):
		return h.locked(c, f, err, true)
	case errors.Is(err, mfa.ErrInvalidCode):
		h.events().SignInStep(stepEnrolmentCode, "refused")
		return h.render(c, http.StatusUnauthorized, "enrol_code", h.enrolCodeForm(c, f, msgBadEnrolmentCode))
	case errors.Is(err, mfa.ErrEnrolmentCodeExpired):
		return errEnrolmentCodeExpired
	case err != nil && !errors.Is(err, mfa.ErrAlreadyEnrolled):
		return err
	}
	h.events().SignInStep(stepEnrolmentCode, "accepted")
	return h.proceed(c, f)
}

func (h *Handler) enrolPage(c echo.Context) error {
	f, err := h.at(c, StepEnrol)
	if f == nil {
		return err
	}
	return h.showEnrolment(c, f, http.StatusOK, "")
}

// showEnrolment shows this sign-in's secret to scan: the same one at every visit and after a wrong code,
// and never one that another sign-in of the user was shown.
func (h *Handler) showEnrolment(c echo.Context, f *flow, status int, msg string) error {
	e, err := h.MFA.Enrolment(c.Request().Context(), f.user, f.req.ID, h.issuerName(f), h.meta(c, f))
	switch {
	case errors.Is(err, mfa.ErrEnrolmentCodeRequired), errors.Is(err, mfa.ErrEnrolmentCodeExpired), errors.Is(err, mfa.ErrAlreadyEnrolled):
		return h.proceed(c, f) // a reset or another enrolment changed the user's standing a moment ago
	case errors.Is(err, mfa.ErrNoPendingEnrolment):
		return errExpired
	case err != nil:
		return err
	}
	page := templates.EnrolPage{Base: h.base(f, c, "Set up two-factor authentication"),
		TOTPKey:       templates.NewTOTPKey(e.SecretGrouped, e.Issuer, e.QRPNG, e.URI),
		AuthRequestID: f.req.ID, Email: f.user.Email, Error: msg}
	if st, err := h.state(c.Request().Context(), f); err == nil && st.Allows(StepAddKey) {
		page.KeyURL = stepURL(StepAddKey, f.req.ID)
	}
	return h.render(c, status, "enrol", page)
}

func (h *Handler) enrol(c echo.Context) error {
	f, err := h.at(c, StepEnrol)
	if f == nil {
		return err
	}
	codes, app, err := h.MFA.ConfirmSignInEnrolment(c.Request().Context(), f.user, f.req.ID, c.FormValue("code"), h.meta(c, f))
	switch {
	case isLocked(err):
		return h.locked(c, f, err, true)
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrNoPendingEnrolment):
		return h.showEnrolment(c, f, http.StatusUnauthorized, msgBadCode)
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return h.proceed(c, f)
	case err != nil:
		return err
	}
	h.events().Enrolled()
	h.events().SignInStep(mfa.FactorOTP, "accepted")
	proof := storage.Proof{AuthenticatorID: app.ID} // the app just enrolled, still the user's
	if err := h.recordLogin(c, f, f.req.UserID, mfa.WithFactor(f.req.Factors, mfa.FactorOTP), h.Now(), proof); err != nil {
		return err
	}
	step, err := h.next(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if step != StepDone {
		return h.goTo(c, f, step)
	}
	// Done: the recovery codes are shown once, with the way on to the app.
	if err := h.startSession(c, f); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "recovery_codes", templates.RecoveryCodesPage{Base: h.base(f, c, "Save your recovery codes"),
		Codes:       codes,
		DownloadURI: templates.TextDownload(mfa.RecoveryCodesText(f.user.Email, h.issuerName(f), codes)),
		ContinueURL: h.Callback(c.Request(), f.req.ID)})
}
