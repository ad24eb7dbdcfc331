package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/lifecycle"
)

// invitationJSON is an open invitation (never its link's token: that is only in the mail).
type invitationJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func invitationOut(inv lifecycle.Invitation) invitationJSON {
	return invitationJSON{ID: inv.Link.ID, UserID: inv.User.ID, Email: inv.User.Email, Role: inv.User.Role,
		CreatedAt: inv.Link.CreatedAt, ExpiresAt: inv.Link.ExpiresAt}
}

// inviteUser is POST /users with "invite": true: the user is created without a password and gets a
// link by email to choose one.
func (h *Handler) inviteUser(c echo.Context, email, name, role string) error {
	inv, err := h.Admin.Invite(h.ctx(c), h.actor(c), actorOf(c).tenant, email, name, role)
	if err != nil {
		return fail(c, err)
	}
	return writeJSON(c, http.StatusCreated, struct {
		userJSON
		Invitation invitationJSON `json:"invitation"`
	}{userOut(inv.User, nil), invitationOut(inv)})
}

func (h *Handler) listInvitations(c echo.Context) error {
	invs, err := h.Admin.Invitations(h.ctx(c), actorOf(c).tenant.ID)
	if err != nil {
		return fail(c, err)
	}
	out := make([]invitationJSON, len(invs))
	for i, inv := range invs {
		out[i] = invitationOut(inv)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"invitations": out})
}

func (h *Handler) resendInvitation(c echo.Context) error {
	if err := bind(c, &struct{}{}); err != nil {
		return fail(c, err)
	}
	inv, err := h.Admin.ResendInvitation(h.ctx(c), h.actor(c), actorOf(c).tenant, c.Param("invitation"))
	if err != nil {
		return failInvitation(c, err)
	}
	return writeJSON(c, http.StatusOK, invitationOut(inv))
}

func (h *Handler) revokeInvitation(c echo.Context) error {
	if err := h.Admin.RevokeInvitation(h.ctx(c), h.actor(c), actorOf(c).tenant, c.Param("invitation")); err != nil {
		return failInvitation(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func failInvitation(c echo.Context, err error) error {
	if errors.Is(err, lifecycle.ErrAccepted) {
		return problem(c, http.StatusConflict, "Conflict", err.Error())
	}
	return fail(c, err)
}

// sendReset is POST /users/{user}/password-reset: a reset link goes to the user by email (202: it is
// in the outbox).
func (h *Handler) sendReset(c echo.Context) error {
	if err := bind(c, &struct{}{}); err != nil {
		return fail(c, err)
	}
	if err := h.Admin.SendReset(h.ctx(c), h.actor(c), actorOf(c).tenant, c.Param("user")); err != nil {
		return fail(c, err)
	}
	return c.NoContent(http.StatusAccepted)
}

// deleteUser is DELETE /users/{user}; the tenant's last active admin stays (409).
func (h *Handler) deleteUser(c echo.Context) error {
	if err := h.Admin.DeleteUser(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, c.Param("user")); err != nil {
		return fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}
