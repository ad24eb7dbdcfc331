package login

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// Accounts is the account lifecycle by email that the login UI uses; *lifecycle.Service implements it.
type Accounts interface {
	RequestReset(ctx context.Context, tenant storage.Tenant, email string, by lifecycle.Actor) error
	ResetLink(ctx context.Context, token string) (storage.User, storage.Tenant, error)
	CompleteReset(ctx context.Context, token, password string, by lifecycle.Actor) (storage.User, error)
}

// forgotMinDuration is how long the answer to a reset request takes at least, whether or not the
// address has an account (the outbox write happens only for one that has).
const forgotMinDuration = 400 * time.Millisecond

var (
	errLinkInvalid = &PageError{Status: http.StatusGone, Heading: "This link is no longer valid",
		Message: "Links in our emails work once and for a limited time. Ask for a new one from the sign-in page."}
	errResetHeld = &PageError{Status: http.StatusForbidden, Heading: "Ask your administrator to reset your password",
		Message: "Your two-factor authentication was reset and is not set up again yet. Until it is, only your administrator can reset your password: ask them to send you a reset email."}
)

// forgotPage is "Forgot password?" of a sign-in: the email form.
func (h *Handler) forgotPage(c echo.Context) error {
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "forgot", templates.ForgotPage{Base: h.base(f, c, "Reset your password"), AuthRequestID: f.req.ID,
		Email: f.req.LoginHint})
}

// forgot answers alike, with the same status, page and timing, whether or not the address has an
// account; the mail (if any) goes through the outbox, never inline. Requests per client address count
// on the spraying limiter (distinct addresses asked about within a sliding window).
func (h *Handler) forgot(c echo.Context) error {
	start := time.Now()
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	if email == "" || len(email) > 320 || !strings.Contains(email, "@") {
		return h.render(c, http.StatusBadRequest, "forgot", templates.ForgotPage{Base: h.base(f, c, "Reset your password"),
			AuthRequestID: f.req.ID, Email: email, Error: "Enter your email address."})
	}
	addrKey := throttle.ResetAddrKey(c.RealIP())
	if err := h.Addresses.Check(ctx, addrKey); err != nil {
		return h.locked(c, f, err, false)
	}
	if err := h.Addresses.Fail(ctx, addrKey, throttle.Account(f.req.TenantID, email)); err != nil {
		return err
	}
	if err := h.Accounts.RequestReset(ctx, f.tenant, email, lifecycle.Actor{Address: c.RealIP()}); err != nil {
		h.Log.ErrorContext(ctx, "request password reset", "err", err)
	}
	if wait := forgotMinDuration - time.Since(start); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	return h.render(c, http.StatusOK, "logged_out", templates.InfoPage{Base: h.base(f, c, "Check your email"),
		Heading: "Check your email", Message: "If " + email + " has an account here, it gets a link to choose a new password within a few minutes. The link works once, for a limited time."})
}

// resetPage shows the new-password form of a reset link. Opening the link spends nothing.
func (h *Handler) resetPage(c echo.Context) error {
	token := c.QueryParam("token")
	u, t, err := h.Accounts.ResetLink(c.Request().Context(), token)
	if err != nil {
		return h.linkError(c, err)
	}
	return h.render(c, http.StatusOK, "new_password", h.resetData(c, t, u, token, ""))
}

func (h *Handler) resetData(c echo.Context, t storage.Tenant, u storage.User, token, msg string) templates.NewPasswordPage {
	return templates.NewPasswordPage{Base: templates.Base{Title: "Choose a new password", TenantName: t.Name, CSRFToken: h.linkCSRFToken(c, token)},
		Heading: "Choose a new password", Submit: "Set the new password", Action: "/login/reset", Token: token, Email: u.Email, Error: msg}
}

// reset sets the new password of the link's user. It acts on that user only: a browser where someone
// else is signed in keeps that session. It does not sign anyone in: the user signs in again with the
// new password and, when the tenant's policy is on, the second factor.
func (h *Handler) reset(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.FormValue("token")
	u, t, err := h.Accounts.ResetLink(ctx, token)
	if err != nil {
		return h.linkError(c, err)
	}
	pw := c.FormValue("password")
	if pw != c.FormValue("password_confirm") {
		return h.render(c, http.StatusBadRequest, "new_password", h.resetData(c, t, u, token, "The two passwords are not the same."))
	}
	if _, err := h.Accounts.CompleteReset(ctx, token, pw, lifecycle.Actor{Address: c.RealIP()}); err != nil {
		var pe *pwpolicy.Error
		if errors.As(err, &pe) {
			return h.render(c, http.StatusBadRequest, "new_password", h.resetData(c, t, u, token, pe.Reason))
		}
		return h.linkError(c, err)
	}
	if err := h.Passwords.Reset(ctx, throttle.PasswordUserKey(u.ID)); err != nil {
		h.Log.ErrorContext(ctx, "reset password throttle", "err", err)
	}
	return h.render(c, http.StatusOK, "logged_out", templates.InfoPage{Base: templates.Base{Title: "Password changed", TenantName: t.Name},
		Heading: "Your password is changed", Message: "You were signed out everywhere. Go back to the app and sign in with your new password."})
}

func (h *Handler) linkError(c echo.Context, err error) error {
	if errors.Is(err, lifecycle.ErrResetHeld) {
		h.Log.InfoContext(c.Request().Context(), "emailed link refused", "err", err)
		return errResetHeld
	}
	if errors.Is(err, lifecycle.ErrLinkInvalid) {
		h.Log.InfoContext(c.Request().Context(), "emailed link refused", "err", err)
		return errLinkInvalid
	}
	return err
}

// linkPageToken is the link token of a request to a page an emailed link opens (its query, or the
// form's field on a post), or "" for any other page.
func linkPageToken(c echo.Context) string {
	p := c.Request().URL.Path
	if p != "/login/reset" && p != "/login/invite" {
		return ""
	}
	t := c.QueryParam("token")
	if t == "" && c.Request().Method == http.MethodPost {
		t = c.FormValue("token")
	}
	if len(t) > 128 {
		return ""
	}
	return t
}

// linkBinding is the CSRF binding of the forms of an emailed link's page: the link's token, which only
// the mail's reader has (the page may open in a browser with no sign-in or session at all), and this
// browser's secret; "" (no token is valid) without either. The link alone is not enough: whoever holds
// a link (their own invitation) could read its form's token in their browser and have another browser
// post it, which would sign that browser in as them (login CSRF).
func linkBinding(token, browser string) string {
	if token == "" || browser == "" {
		return ""
	}
	return "link\x00" + token + "\x00" + browser
}

// linkCSRFToken is the CSRF token of the form of link token's page, for this browser. A browser
// without a secret (a link opened in a browser that never signed in here) gets one in this response,
// and the token is of that secret.
func (h *Handler) linkCSRFToken(c echo.Context, token string) string {
	return h.CSRFKey.Sum(csrfMessage(linkBinding(token, h.browserSecretOrNew(c))))
}
