package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/tenantadmin"
)

// inviteForm is "Invite user" on the settings page: the person gets a link by email to choose their
// password.
func (h *Handler) inviteForm(c echo.Context) error {
	email := storage.NormalizeEmail(c.FormValue("email"))
	role := c.FormValue("role")
	_, err := h.Admin.Invite(h.ctx(c), h.actor(c), actorOf(c).tenant, email, strings.TrimSpace(c.FormValue("name")), role)
	var inv *tenantadmin.InvalidError
	switch {
	case errors.As(err, &inv):
		return pageErr(http.StatusBadRequest, "The invitation was not sent: "+inv.Detail+".")
	case errors.Is(err, storage.ErrAlreadyExists):
		return pageErr(http.StatusConflict, "There is already a user with that email address.")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, settingsURL+"?flash=invited#users")
}

// sendResetForm is "Send reset email" of a user on the settings page.
func (h *Handler) sendResetForm(c echo.Context) error {
	if err := h.Admin.SendReset(h.ctx(c), h.actor(c), actorOf(c).tenant, c.Param("user")); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return pageErr(http.StatusNotFound, "There is no such user in your organisation.")
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, settingsURL+"?flash=reset-sent#users")
}

func (h *Handler) confirmDelete(c echo.Context) error {
	u, err := h.tenantUser(c)
	if err != nil {
		return pageErr(http.StatusNotFound, "There is no such user in your organisation.")
	}
	return h.render(c, "confirm", templates.ConfirmPage{Base: h.base(c, "Delete user"), Heading: "Delete " + u.Email + "?",
		Message:      "Their account, authenticator and recovery codes are removed, they are signed out everywhere and every token they hold is revoked. This cannot be undone.",
		Action:       "/admin/settings/users/" + url.PathEscape(u.ID) + "/delete",
		ConfirmLabel: "Delete user", Danger: true, CancelURL: settingsURL})
}

// deleteForm deletes a user; the tenant's last active admin stays.
func (h *Handler) deleteForm(c echo.Context) error {
	err := h.Admin.DeleteUser(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, c.Param("user"))
	switch {
	case errors.Is(err, tenantadmin.ErrLastAdmin):
		return pageErr(http.StatusConflict, "This is the last active admin of your organisation: make someone else an admin first.")
	case errors.Is(err, storage.ErrNotFound):
		return pageErr(http.StatusNotFound, "There is no such user in your organisation.")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, settingsURL+"?flash=deleted#users")
}
