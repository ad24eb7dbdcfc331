package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/tenantadmin"
)

// The account page's passkeys and security keys: list, rename, remove. Removing needs a fresh sign-in
// with the second factor, and never takes the user's last second factor while the tenant's policy
// requires one (under a phishing-resistant-only policy, the last key).

func (h *Handler) keyRows(c echo.Context, userID string) ([]templates.KeyRow, error) {
	creds, err := h.Store.CredentialsByUser(h.ctx(c), userID)
	if err != nil {
		return nil, err
	}
	rows := make([]templates.KeyRow, 0, len(creds))
	for _, k := range creds {
		r := templates.KeyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, Synced: k.BackupEligible}
		if !k.LastUsedAt.IsZero() {
			at := k.LastUsedAt
			r.LastUsedAt = &at
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (h *Handler) renameKey(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || len(name) > 64 {
		return pageErr(http.StatusBadRequest, "A key's name must be 1 to 64 characters.")
	}
	err := h.Store.RenameCredential(h.ctx(c), actorOf(c).id, c.Param("key"), name)
	if errors.Is(err, storage.ErrNotFound) {
		return pageErr(http.StatusNotFound, "You have no such key.")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountURL+"#keys")
}

func (h *Handler) removeKey(c echo.Context) error {
	if !h.fresh(c) {
		return pageErr(http.StatusForbidden, "Sign in again with your second factor to remove a key.")
	}
	ctx := h.ctx(c)
	a := actorOf(c)
	creds, err := h.Store.CredentialsByUser(ctx, a.id)
	if err != nil {
		return err
	}
	id := c.Param("key")
	var name string
	for _, k := range creds {
		if k.ID == id {
			name = k.Name
		}
	}
	if name == "" {
		return pageErr(http.StatusNotFound, "You have no such key.")
	}
	if a.tenant.MFAEnabled && len(creds) == 1 {
		state, err := h.MFA.Status(ctx, a.id)
		if err != nil {
			return err
		}
		phrOnly := mfa.Demand{TenantMFA: true, Methods: a.tenant.MFAMethods}.PhishingResistant()
		if phrOnly || state != mfa.StateActive {
			return pageErr(http.StatusConflict, "This is your last second factor, and your organisation requires one. Add another key (or an authenticator app) first.")
		}
	}
	ev := storage.AuditEvent{TenantID: a.tenant.ID, ActorID: a.id, TargetID: a.id, Action: mfa.AuditKeyRemoved, Address: c.RealIP(),
		CreatedAt: h.Now(), Detail: map[string]any{"credential": id, "name": name}}
	// Sessions signed in with a key end: the removed key may be the one they used (lost or stolen).
	if err := h.Store.DeleteCredential(ctx, a.id, id, mfa.FactorHardwareKey, mfa.AMRHardwareKey, ev); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, accountURL+"#keys")
}

// setMethodsForm sets the second factors the tenant's policy allows (the settings page's checkboxes).
func (h *Handler) setMethodsForm(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return pageErr(http.StatusBadRequest, "The form was not complete. Go back and try again.")
	}
	if _, _, err := h.Admin.SetMFAMethods(h.ctx(c), h.actor(c), actorOf(c).tenant.ID, form["methods"]); err != nil {
		if errors.Is(err, tenantadmin.ErrInvalid) {
			return pageErr(http.StatusBadRequest, "Choose at least one second factor.")
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, settingsURL+"?flash=methods")
}
