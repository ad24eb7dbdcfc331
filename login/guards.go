package login

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/templates"
)

// Guards around the provider's endpoints: the callback issues a code only to the browser that took the
// sign-in's last step, end_session signs out silently only for the session's own user, and /authorize
// errors that must not go back to the app become a page.

// EndSession wraps the provider's end_session endpoint: the provider checks the app's
// post_logout_redirect_uri and redirects; the browser's session ends here, where the cookie is seen.
// Only a request with a valid id_token_hint of the session's own user (subject and tenant) ends it
// silently; without one, or with another user's (anyone could link to it with their own ID token),
// the user is asked to confirm on our sign-out page.
func (h *Handler) EndSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed request", http.StatusBadRequest)
			return
		}
		hint := r.Form.Get("id_token_hint")
		if hint == "" {
			if _, ok := h.BrowserSession(r); ok {
				http.Redirect(w, r, logoutConfirmURL(r.Form), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r) // nothing to end: the provider redirects (or refuses) as usual
			return
		}
		sub, tenant, err := h.VerifyHint(r, hint)
		if err != nil {
			next.ServeHTTP(w, r) // the provider answers the bad hint; the session stays
			return
		}
		s, ok := h.BrowserSession(r)
		if !ok {
			next.ServeHTTP(w, r) // nothing to end here
			return
		}
		if s.UserID != sub || s.TenantID != tenant {
			http.Redirect(w, r, logoutConfirmURL(r.Form), http.StatusSeeOther)
			return
		}
		if err := h.EndBrowserSession(w, r); err != nil {
			h.Log.ErrorContext(r.Context(), "end session", "err", err)
			http.Error(w, "could not end the session", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CallbackGuard wraps the provider's callback: it issues a code only to the browser the request is
// bound to, so an auth request id that leaked (logs, referrers) is worth nothing elsewhere.
func (h *Handler) CallbackGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		bound, err := h.Store.AuthRequestBinding(r.Context(), id)
		ck, cerr := r.Cookie(CookieName(LoginCookie, h.Secure))
		if err != nil || cerr != nil || bound == "" || secret.TokenHash(ck.Value) != bound {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusForbidden)
			_ = h.Templates.Render(w, "error", templates.ErrorPage{Base: templates.Base{Title: errOtherBrowser.Heading},
				Status: http.StatusForbidden, Heading: errOtherBrowser.Heading, Message: errOtherBrowser.Message})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AuthorizeErrors wraps the provider's /authorize: when the provider must not redirect (unknown
// client, unregistered redirect URI) it answers plain text; a person gets our error page instead,
// with the provider's one-line reason.
func (h *Handler) AuthorizeErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew := &authorizeErrorWriter{ResponseWriter: w}
		next.ServeHTTP(ew, r)
		if !ew.replaced {
			return
		}
		detail := ew.body.String()
		if i := strings.Index(detail, "Description="); i >= 0 { // "ErrorType=... Description=... Parent=..."
			detail = detail[i+len("Description="):]
			if j := strings.Index(detail, " Parent="); j >= 0 {
				detail = detail[:j]
			}
		}
		detail = strings.TrimSpace(strings.ReplaceAll(detail, "\n", " "))
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; frame-ancestors 'none'")
		w.WriteHeader(ew.status)
		_ = h.Templates.Render(w, "error", templates.ErrorPage{Base: templates.Base{Title: "This sign-in link is not valid"},
			Status: ew.status, Heading: "This sign-in link is not valid",
			Message: "The app that sent you here asked for something this server does not allow, so nothing was sent back to it. " +
				"Please tell the app's owner. Reason: " + detail})
	})
}

// authorizeErrorWriter holds back a plain-text error answer so that it can be replaced by a page.
type authorizeErrorWriter struct {
	http.ResponseWriter
	replaced bool
	status   int
	body     strings.Builder
}

func (w *authorizeErrorWriter) WriteHeader(status int) {
	if status >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.replaced, w.status = true, status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *authorizeErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		if w.body.Len() < 1024 {
			w.body.Write(b)
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *authorizeErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
