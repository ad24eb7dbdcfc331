package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// PasswordChanger is the user's own password change (*lifecycle.Service).
type PasswordChanger interface {
	ChangePassword(ctx context.Context, u storage.User, current, password, keepSession string, by lifecycle.Actor) error
}

// passwordFreshFor is how recent the sign-in must be to change the password.
const passwordFreshFor = 15 * time.Minute

// passwordRecent reports whether this browser signed in (with whatever the policy demands) within
// passwordFreshFor.
func (h *Handler) passwordRecent(c echo.Context) bool {
	s, ok := c.Get(sessionKey).(storage.Session)
	return ok && h.Now().Sub(s.AuthTime) <= passwordFreshFor
}

func (h *Handler) passwordReauthURL(c echo.Context) string {
	return "/admin/signin?" + url.Values{"tenant": {actorOf(c).tenant.Slug}, "next": {"account"}, "reauth": {"1"}}.Encode()
}

// changePassword is the "Change password" form of the account page: current and new password, a
// sign-in within the last 15 minutes; the user's other sessions end and their tokens are revoked.
func (h *Handler) changePassword(c echo.Context) error {
	if !h.passwordRecent(c) {
		return pageErr(http.StatusForbidden, "For your security, sign in again before changing your password.")
	}
	ctx := h.ctx(c)
	u, err := h.Store.UserByID(ctx, actorOf(c).id)
	if err != nil {
		return err
	}
	pw := c.FormValue("new_password")
	if pw != c.FormValue("new_password_confirm") {
		return h.renderAccountWith(c, "The two new passwords are not the same.", "")
	}
	s, _ := c.Get(sessionKey).(storage.Session)
	err = h.Passwords.ChangePassword(ctx, u, c.FormValue("current_password"), pw, s.ID, lifecycle.Actor{ID: u.ID, Address: c.RealIP()})
	var pe *pwpolicy.Error
	switch {
	case errors.As(err, &pe):
		return h.renderAccountWith(c, pe.Reason, "")
	case errors.Is(err, lifecycle.ErrWrongPassword):
		return h.renderAccountWith(c, "Your current password is not right.", "")
	case errors.Is(err, secret.ErrBusy):
		c.Response().Header().Set("Retry-After", "1")
		return pageErr(http.StatusServiceUnavailable, "Too many sign-ins at once. Try again in a moment.")
	case isThrottled(err):
		le, _ := throttle.IsLocked(err)
		if le.Busy {
			c.Response().Header().Set("Retry-After", "1")
			return pageErr(http.StatusServiceUnavailable, "Your password is being checked already. Try again in a moment.")
		}
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(le.Until.Sub(h.Now()).Seconds()+0.5))))
		return pageErr(http.StatusTooManyRequests, "Too many wrong passwords. Try again later.")
	case err != nil:
		return err
	}
	return h.renderAccountWith(c, "", "Your password is changed. You were signed out everywhere else.")
}

func (h *Handler) renderAccountWith(c echo.Context, pwError, pwFlash string) error {
	return h.renderAccountFull(c, nil, pwError, pwFlash)
}

// passwordSection fills the "Change password" section of the account page.
func (h *Handler) passwordSection(c echo.Context, p *templates.AccountPage, pwError, pwFlash string) {
	p.PasswordError, p.PasswordFlash = pwError, pwFlash
	if !h.passwordRecent(c) {
		p.PasswordReauthURL = h.passwordReauthURL(c)
	}
}

func isThrottled(err error) bool { _, ok := throttle.IsLocked(err); return ok }
