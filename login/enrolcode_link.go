package login

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// enrolCodeCookie carries the enrolment code of an emailed MFA-reset link to the enrolment-code page
// of the next sign-in in this browser, which shows it filled in: following the link and signing in
// needs no typing of the code. The code still works only for its own user (mfa redeems it against the
// signed-in user's stored hash) and once.
const enrolCodeCookie = "portcullis_enrol_code"

// enrolCodeLink is where the reset notification's link lands: it keeps the code for an hour and sends
// the browser to sign in (through the account page).
func (h *Handler) enrolCodeLink(c echo.Context) error {
	code := c.QueryParam("code")
	if code == "" || len(code) > 64 {
		return errLinkInvalid
	}
	c.SetCookie(h.cookie(enrolCodeCookie, code, time.Hour))
	return c.Redirect(http.StatusSeeOther, accountPath)
}

// linkedEnrolCode is the code an emailed link left in this browser, or "".
func (h *Handler) linkedEnrolCode(c echo.Context) string {
	ck, err := c.Cookie(CookieName(enrolCodeCookie, h.Secure))
	if err != nil || len(ck.Value) > 64 {
		return ""
	}
	return ck.Value
}
