package login

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/templates"
)

// Sign-out: a confirmation page (anyone can link to it), the form that ends the browser's SSO session,
// and the page after.

func (h *Handler) logoutPage(c echo.Context) error {
	if err := h.ensureBinding(c); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "confirm", templates.ConfirmPage{Base: templates.Base{Title: "Sign out", CSRFToken: CSRFToken(c)},
		Heading: "Sign out?", Message: "You will be signed out of every app that uses this sign-in.", Action: "/login/logout",
		ConfirmLabel: "Sign out", CancelURL: "/login/logged-out"})
}

func (h *Handler) logout(c echo.Context) error {
	if err := h.EndBrowserSession(c.Response(), c.Request()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login/logged-out")
}

func (h *Handler) loggedOut(c echo.Context) error {
	if _, ok := h.BrowserSession(c.Request()); ok {
		return h.logoutPage(c)
	}
	return h.render(c, http.StatusOK, "logged_out", templates.InfoPage{Base: templates.Base{Title: "Signed out"},
		Heading: "You are signed out", Message: "You can close this window."})
}

// EndBrowserSession deletes this browser's SSO session and clears its cookie.
func (h *Handler) EndBrowserSession(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(CookieName(SessionCookie, h.Secure)); err == nil && ck.Value != "" && len(ck.Value) <= 64 {
		if err := h.Store.DeleteSession(r.Context(), secret.TokenHash(ck.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, h.cookie(SessionCookie, "", -1))
	return nil
}
