package login

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/templates"
)

// Sign-out: a confirmation page (anyone can link to it), the form that ends the browser's SSO session,
// and the page after.

// endSessionParams are the parameters of an RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0 §2) that the confirmation carries, so that after it the provider can still send the browser back
// to the app's registered post_logout_redirect_uri with its state.
var endSessionParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"}

// maxEndSessionParam bounds each carried parameter (an ID token hint is the longest).
const maxEndSessionParam = 8 << 10

func carried(form url.Values) url.Values {
	out := url.Values{}
	for _, k := range endSessionParams {
		if v := form.Get(k); v != "" && len(v) <= maxEndSessionParam {
			out.Set(k, v)
		}
	}
	return out
}

// logoutConfirmURL is the sign-out confirmation for an end_session request that may not end the
// session by itself (no valid hint of the signed-in user).
func logoutConfirmURL(form url.Values) string {
	if q := carried(form); len(q) > 0 {
		return "/login/logout?" + q.Encode()
	}
	return "/login/logout"
}

func (h *Handler) logoutPage(c echo.Context) error {
	if err := h.ensureBinding(c); err != nil {
		return err
	}
	fields := map[string]string{}
	for k, v := range carried(c.QueryParams()) {
		fields[k] = v[0]
	}
	return h.render(c, http.StatusOK, "confirm", templates.ConfirmPage{Base: templates.Base{Title: "Sign out", CSRFToken: CSRFToken(c)},
		Heading: "Sign out?", Message: "You will be signed out of every app that uses this sign-in.", Action: "/login/logout",
		ConfirmLabel: "Sign out", CancelURL: "/login/logged-out", Fields: fields})
}

// logout ends the browser's session. An app's logout request that the user confirmed goes back to the
// provider's end_session, which now finds no session and returns to the app's registered
// post_logout_redirect_uri (or to the signed-out page).
func (h *Handler) logout(c echo.Context) error {
	if err := h.EndBrowserSession(c.Response(), c.Request()); err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	if q := carried(form); q.Get("post_logout_redirect_uri") != "" {
		return c.Redirect(http.StatusSeeOther, "/end_session?"+q.Encode())
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
