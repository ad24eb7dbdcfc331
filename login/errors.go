package login

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// PageError is an error that a person sees as a page.
type PageError struct {
	Status           int
	Heading, Message string
	Err              error
}

func (e *PageError) Error() string {
	if e.Err != nil {
		return e.Heading + ": " + e.Err.Error()
	}
	return e.Heading
}

func (e *PageError) Unwrap() error { return e.Err }

var (
	errExpired = &PageError{Status: http.StatusBadRequest, Heading: "This sign-in has expired",
		Message: "Go back to the app you came from and sign in again."}
	errOtherBrowser = &PageError{Status: http.StatusForbidden, Heading: "This sign-in belongs to another browser",
		Message: "For your security a sign-in must be finished in the browser that started it. Go back to the app and sign in again."}
	errOutOfOrder = &PageError{Status: http.StatusBadRequest, Heading: "Please sign in first",
		Message: "This step needs your email and password first. Go back to the app and sign in again."}
	errEnrolmentCodeExpired = &PageError{Status: http.StatusForbidden, Heading: "Your enrolment code has expired",
		Message: "Ask your administrator to reset your two-factor authentication again; they will give you a new code."}
)

const (
	msgBadCredentials   = "The email or password is not right."
	msgBadCode          = "That code didn't work. Enter the newest code from your app; if it keeps failing, check that your phone's clock is set automatically."
	msgBadRecovery      = "That recovery code didn't work. Each code works once."
	msgBadEnrolmentCode = "That enrolment code is not right. Use the code your administrator gave you when they reset your two-factor authentication."
)

// ErrorHandler renders errors of the pages (sign-in and account settings) as readable pages; it is the
// echo HTTPErrorHandler of the page routes (STYLE rule 11). The admin API renders its own problems.
func ErrorHandler(t *templates.Templates, log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, heading, message := http.StatusInternalServerError, "Something went wrong", "Please try again in a moment."
		var pe *PageError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &pe):
			status, heading, message = pe.Status, pe.Heading, pe.Message
		case errors.As(err, &he):
			status = he.Code
			heading = http.StatusText(he.Code)
			message = ""
			if m, ok := he.Message.(string); ok && status < 500 {
				message = m
			}
			if status == http.StatusRequestEntityTooLarge {
				message = "The form you sent is too large."
			}
		}
		if status >= 500 && status != http.StatusServiceUnavailable {
			log.ErrorContext(c.Request().Context(), "request failed", "path", c.Request().URL.Path, "err", err)
		} else {
			log.InfoContext(c.Request().Context(), "request refused", "path", c.Request().URL.Path, "status", status, "err", err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
		c.Response().WriteHeader(status)
		data := templates.ErrorPage{Base: templates.Base{Title: heading}, Status: status, Heading: heading, Message: message}
		if rerr := t.Render(c.Response(), "error", data); rerr != nil {
			log.ErrorContext(c.Request().Context(), "render error page", "err", rerr)
		}
	}
}

// busy answers 503 with Retry-After when no password hash could start in time (secret.ErrBusy);
// nothing is counted against the user or the address.
func (h *Handler) busy(c echo.Context, err error) error {
	h.events().SignInStep(mfa.FactorPassword, "busy")
	c.Response().Header().Set("Retry-After", "1")
	return &PageError{Status: http.StatusServiceUnavailable, Heading: "Too many sign-ins at once",
		Message: "Please try again in a moment.", Err: err}
}

func isLocked(err error) bool {
	var le *throttle.LockedError
	return errors.As(err, &le)
}

// locked shows when to try again. A lockout of the second step also ends the pending sign-in, so the
// password must be entered again (a stolen password alone can't keep guessing codes).
func (h *Handler) locked(c echo.Context, f *flow, err error, endSignIn bool) error {
	var le *throttle.LockedError
	if !errors.As(err, &le) {
		return err
	}
	if endSignIn && le.Lockout {
		h.events().Lockout(mfa.FactorOTP)
		if derr := h.Store.DeleteAuthRequest(c.Request().Context(), f.req.ID); derr != nil {
			return derr
		}
	}
	wait := le.Until.Sub(h.Now())
	retry := "a moment"
	switch {
	case wait > time.Minute:
		retry = fmt.Sprintf("%d minutes", int(wait.Round(time.Minute)/time.Minute))
	case wait > time.Second:
		retry = fmt.Sprintf("%d seconds", int(wait.Round(time.Second)/time.Second))
	}
	c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
	return h.render(c, http.StatusTooManyRequests, "locked", templates.LockedPage{Base: h.base(f, c, "Too many attempts"),
		Until: le.Until, RetryIn: retry})
}
