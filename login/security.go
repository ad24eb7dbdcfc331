package login

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookie names. Under https they get the __Host- prefix (CookieName): such a cookie is Secure, has no
// Domain and the path /, so neither a sibling subdomain nor a plain-http network attacker can plant it.
// Plain http (dev on localhost) keeps the bare names; there the binding and CSRF rules still hold,
// but a planted cookie cannot be ruled out.
const (
	LoginCookie   = "portcullis_login"   // binds an auth request to the browser that started it
	SessionCookie = "portcullis_session" // the SSO session
)

// CookieName is the name a cookie has on the wire.
func CookieName(base string, secure bool) string {
	if secure {
		return "__Host-" + base
	}
	return base
}

func (h *Handler) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: CookieName(name, h.Secure), Value: value, Path: "/", HttpOnly: true, Secure: h.Secure, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge.Seconds())
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	}
	return ck
}

// CSRF checks the token of every state-changing form. A token is a MAC of what the form acts on, which
// the server minted: the SSO session for the account pages, the sign-in (auth request, which must also
// be bound to this browser's cookie) for the sign-in pages. A token can be neither made up nor planted
// with a cookie, and one taken from another browser or sign-in is worth nothing. binding returns what
// this request acts on ("" when nothing); the middleware puts the page's token in the context
// (CSRFToken reads it).
func (h *Handler) CSRF(binding func(c echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			b := binding(c)
			if b != "" {
				c.Set(csrfContextKey, h.CSRFKey.Sum(csrfMessage(b)))
			}
			switch c.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			if sent := c.FormValue("_csrf"); b == "" || sent == "" || len(sent) > 128 || !h.CSRFKey.Equal(sent, csrfMessage(b)) {
				return &PageError{Status: http.StatusForbidden, Heading: "This form has expired",
					Message: "Go back, reload the page and try again.", Err: errors.New("csrf token missing or not this browser's")}
			}
			return next(c)
		}
	}
}

// SessionBinding is the CSRF binding of the account pages: the browser's SSO session cookie.
func (h *Handler) SessionBinding(c echo.Context) string {
	ck, err := c.Cookie(CookieName(SessionCookie, h.Secure))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return ""
	}
	return "session\x00" + ck.Value
}

// csrfBinding is the CSRF binding of the sign-in pages: the sign-in (auth request) the form continues;
// the handlers check that it is bound to this browser. It does not change when the browser's binding
// is renewed at each step, so a sign-in open in two tabs keeps working. The sign-out form (no sign-in)
// binds to the session, or to the browser's binding.
func (h *Handler) csrfBinding(c echo.Context) string {
	if l := linkBinding(c); l != "" { // an emailed link's page (forgot.go)
		return l
	}
	id := c.QueryParam("authRequestID")
	if id == "" && c.Request().Method == http.MethodPost {
		id = c.FormValue("authRequestID")
	}
	if id != "" && len(id) <= 64 {
		return "signin\x00" + id
	}
	if s := h.SessionBinding(c); s != "" {
		return s
	}
	if b := h.loginBinding(c); b != "" {
		return "browser\x00" + b
	}
	return ""
}

const csrfContextKey = "csrf"

func csrfMessage(binding string) string { return "csrf\x00" + binding }

// CSRFToken is the CSRF token for the forms of the page being rendered.
func CSRFToken(c echo.Context) string {
	t, _ := c.Get(csrfContextKey).(string)
	return t
}

// SecurityHeaders sets the page policy: no framing, no foreign content, no caching of forms.
func SecurityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		// No form-action: browsers apply it to the redirects after a POST, and a finished sign-in
		// redirects to the app's origin (found by the headless Chromium tests).
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "+
			"frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		if c.Request().URL.Path != "" && !isStatic(c.Request().URL.Path) {
			hd.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// ScriptCSP is the page policy of a page that runs webauthn.js outside the login UI (the account
// page's "Add a passkey or security key"): SecurityHeaders' policy with same-origin script only.
const ScriptCSP = cspWithScript

func isStatic(p string) bool { return len(p) > 14 && p[:14] == "/login/static/" }
