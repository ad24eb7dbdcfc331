package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/pwpolicy"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// Invitations is the part of the account lifecycle the invitation pages use.
type Invitations interface {
	InvitationLink(ctx context.Context, token string) (storage.User, storage.Tenant, error)
	AcceptInvitation(ctx context.Context, token, password string, by lifecycle.Actor) (storage.User, error)
}

// accountPath is where an accepted invitation lands: the account page, which sends the browser
// through the sign-in (and so the enrolment, when the tenant's policy is on) when the session's
// factors do not satisfy the policy.
const accountPath = "/admin/account"

// invitePage shows the choose-a-password form of an invitation link. Opening it spends nothing.
func (h *Handler) invitePage(c echo.Context) error {
	token := c.QueryParam("token")
	u, t, err := h.Invitations.InvitationLink(c.Request().Context(), token)
	if err != nil {
		return h.linkError(c, err)
	}
	return h.render(c, http.StatusOK, "new_password", h.inviteData(c, t, u, token, ""))
}

func (h *Handler) inviteData(c echo.Context, t storage.Tenant, u storage.User, token, msg string) templates.NewPasswordPage {
	return templates.NewPasswordPage{Base: templates.Base{Title: "Welcome", TenantName: t.Name, CSRFToken: h.linkCSRFToken(c, token)},
		Heading: "Welcome to " + t.Name + ": choose your password", Submit: "Set my password", Action: "/login/invite",
		Token: token, Email: u.Email, Error: msg}
}

// invite accepts the invitation: the link's user gets the password, and the browser a session with
// the password factor, from which the account page sends it through the rest of the sign-in (the
// enrolment when the policy is on). A browser where another user is signed in keeps that user: the
// password is set, and the page says to sign out first.
func (h *Handler) invite(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.FormValue("token")
	u, t, err := h.Invitations.InvitationLink(ctx, token)
	if err != nil {
		return h.linkError(c, err)
	}
	pw := c.FormValue("password")
	if pw != c.FormValue("password_confirm") {
		return h.render(c, http.StatusBadRequest, "new_password", h.inviteData(c, t, u, token, "The two passwords are not the same."))
	}
	invited := u
	if u, err = h.Invitations.AcceptInvitation(ctx, token, pw, lifecycle.Actor{Address: c.RealIP()}); err != nil {
		var pe *pwpolicy.Error
		if errors.As(err, &pe) { // the page again, for the invited user (AcceptInvitation returned none)
			return h.render(c, http.StatusBadRequest, "new_password", h.inviteData(c, t, invited, token, pe.Reason))
		}
		if errors.Is(err, secret.ErrBusy) {
			return h.busy(c, err)
		}
		return h.linkError(c, err)
	}
	if s, _, ok := h.readSession(c.Request()); ok && s.UserID != u.ID {
		return h.render(c, http.StatusOK, "logged_out", templates.InfoPage{Base: templates.Base{Title: "Password set", TenantName: t.Name},
			Heading: "Your password is set", Message: "Someone else is signed in in this browser. Sign out, then sign in as " + u.Email + "."})
	}
	now := h.Now().UTC()
	v := secret.RandomToken(32)
	if err := h.Store.CreateSession(ctx, storage.Session{ID: secret.TokenHash(v), TenantID: u.TenantID, UserID: u.ID,
		Factors: []string{mfa.FactorPassword}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(h.SessionTTL)}); err != nil {
		return err
	}
	c.SetCookie(h.cookie(SessionCookie, v, h.SessionTTL))
	return c.Redirect(http.StatusSeeOther, accountPath)
}
