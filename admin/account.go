package admin

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

const accountURL = "/admin/account"

// freshFor is how recent a sign-in with the second factor must be to regenerate recovery codes.
const freshFor = 10 * time.Minute

// account is a user's own security page: MFA state and recovery codes left.
func (h *Handler) account(c echo.Context) error {
	v := accountView{}
	if c.QueryParam("flash") == "key-added" {
		v.keyFlash = keyAddedFlash
	}
	return h.renderAccountView(c, v)
}

func (h *Handler) renderAccount(c echo.Context, newCodes []string) error {
	return h.renderAccountFull(c, newCodes, "", "")
}

// renderAccountFull renders the account page; pwError and pwFlash are the password section's.
func (h *Handler) renderAccountFull(c echo.Context, newCodes []string, pwError, pwFlash string) error {
	return h.renderAccountView(c, accountView{newCodes: newCodes, pwError: pwError, pwFlash: pwFlash})
}

// accountView is what one answer of the account page adds to the user's state: new recovery codes,
// the password and key sections' messages, and the status (200 if zero).
type accountView struct {
	newCodes                             []string
	pwError, pwFlash, keyError, keyFlash string
	appError, appFlash                   string
	status                               int
}

func (h *Handler) renderAccountView(c echo.Context, v accountView) error {
	ctx := h.ctx(c)
	a := actorOf(c)
	state, err := h.MFA.Status(ctx, a.id)
	if err != nil {
		return err
	}
	left, err := h.MFA.RecoveryCodesLeft(ctx, a.id)
	if err != nil {
		return err
	}
	p := templates.AccountPage{Base: h.base(c, "Security"), Email: a.email, MFAState: state, RecoveryCodesLeft: left, NewCodes: v.newCodes,
		KeyError: v.keyError, KeyFlash: v.keyFlash}
	if au, err := h.Store.AuthenticatorByUser(ctx, a.id); err == nil && au.ConfirmedAt != nil {
		p.EnrolledAt = au.ConfirmedAt
		name := au.EnrolledClientID
		if cl, err := h.Store.ClientByID(ctx, au.EnrolledClientID); err == nil {
			name = cl.Name
		}
		p.EnrolledFrom = enrolledFrom(name, au.EnrolledAddress, nil)
	}
	if p.Keys, err = h.keyRows(c, a.id); err != nil {
		return err
	}
	if !h.fresh(c) {
		p.ReauthURL = h.freshURL(a)
	}
	if err := h.keySection(c, &p); err != nil { // account_keys_add.go
		return err
	}
	if err := h.appSection(c, &p, v); err != nil { // account_app.go
		return err
	}
	if len(v.newCodes) > 0 {
		p.DownloadURI = templates.TextDownload(mfa.RecoveryCodesText(a.email, a.tenant.Name, v.newCodes))
		if v.appFlash == "" { // a new app's codes: its own message says so
			p.Flash = "New recovery codes were made. Your old codes no longer work."
		}
	}
	h.passwordSection(c, &p, v.pwError, v.pwFlash) // account_password.go
	return h.renderStatus(c, v.status, "account", p)
}

// fresh reports whether this browser signed in with the second factor within freshFor.
func (h *Handler) fresh(c echo.Context) bool {
	s, ok := c.Get(sessionKey).(storage.Session)
	return ok && mfa.HasSecondFactor(s.Factors) &&
		h.Now().Sub(s.AuthTime) <= freshFor
}

// regenerateCodes replaces the user's recovery codes, after a fresh sign-in with the second factor.
func (h *Handler) regenerateCodes(c echo.Context) error {
	if !h.fresh(c) {
		return pageErr(http.StatusForbidden, "Sign in again with your authenticator app to generate new recovery codes.")
	}
	a := actorOf(c)
	u, err := h.Store.UserByID(h.ctx(c), a.id)
	if err != nil {
		return err
	}
	codes, err := h.MFA.RegenerateRecoveryCodes(h.ctx(c), u, mfa.Meta{Address: c.RealIP()})
	if err != nil {
		return err
	}
	return h.renderAccount(c, codes)
}
