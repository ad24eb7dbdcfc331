package login

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/secret"
)

// Cookie names. Under https they get the __Host- prefix (CookieName): such a cookie is Secure, has no
// Domain and the path /, so neither a sibling subdomain nor a plain-http network attacker can plant it.
// Plain http (dev on localhost) keeps the bare names; there the binding and CSRF rules still hold,
// but a planted cookie cannot be ruled out.
const (
	LoginCookie   = "portcullis_login"   // binds an auth request to the browser that started it
	SessionCookie = "portcullis_session" // the SSO session
	BrowserCookie = "portcullis_browser" // binds the sign-in pages' CSRF tokens to the browser (browserSecret)
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
// the server minted: the SSO session for the account pages; for the sign-in pages, the sign-in (auth
// request, which must also be bound to this browser's login cookie) together with this browser's own
// secret (browserSecret); for the pages of an emailed link, the link together with that secret. A
// token can be neither made up nor planted with a cookie, and one taken from another browser, sign-in
// or link is worth nothing. binding returns what this request acts on ("" when
// nothing); on a page (GET) the middleware puts the page's token in the context (CSRFToken reads it).
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

// csrfBinding is the CSRF binding of the login UI's forms. An emailed link's page binds to the link
// and to this browser's secret (linkBinding, forgot.go). The sign-out pages bind to the session, or to
// the browser's login binding; never to a sign-in, whatever their query says. Every other page
// continues the sign-in (auth request) that its authRequestID names, and binds to it and to this
// browser's secret (signInBinding).
//
// A sign-in page's token is not put in the context here: the middleware runs before the handler has
// checked that the sign-in is bound to this browser, so the page gets its token from base, which only
// a handler holding the loaded sign-in calls (signInToken). A form's post is checked here, and its
// handler checks the binding again when it loads the sign-in. Likewise a link page gets its token from
// its handler, once the link is found valid (linkCSRFToken), and its post is checked here.
func (h *Handler) csrfBinding(c echo.Context) string {
	if t := linkPageToken(c); t != "" { // an emailed link's page (forgot.go)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return "" // the page's token comes from its handler (linkCSRFToken)
		}
		return linkBinding(t, h.browserSecret(c))
	}
	if p := c.Request().URL.Path; p == "/login/logout" || p == "/login/logged-out" {
		return h.browserBinding(c)
	}
	id := c.QueryParam("authRequestID")
	if id == "" && c.Request().Method == http.MethodPost {
		id = c.FormValue("authRequestID")
	}
	if id != "" && len(id) <= 64 {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return "" // the page's token comes from base (signInToken)
		}
		return signInBinding(id, h.browserSecret(c))
	}
	return h.browserBinding(c)
}

// browserBinding is the binding of a form outside a sign-in (sign-out): the SSO session, or else the
// browser's login binding.
func (h *Handler) browserBinding(c echo.Context) string {
	if s := h.SessionBinding(c); s != "" {
		return s
	}
	if b := h.loginBinding(c); b != "" {
		return "browser\x00" + b
	}
	return ""
}

// signInBinding binds a sign-in form to the sign-in id and to the browser's secret; "" (no token is
// valid) without a secret.
func signInBinding(id, browser string) string {
	if id == "" || browser == "" {
		return ""
	}
	return "signin\x00" + id + "\x00" + browser
}

// signInToken is the CSRF token of the forms of sign-in f, for this browser. f was loaded for this
// request, so it is bound to this browser's login cookie: a page never hands out the token of another
// browser's sign-in, and the token it hands out is bound to this browser's secret besides, so that
// even a page that did could not help another browser forge this one's forms. A browser without a
// secret (the first page of its first sign-in, or one that arrived before there were secrets) gets
// one in this response, and the token is of that secret.
func (h *Handler) signInToken(c echo.Context, f *flow) string {
	return h.CSRFKey.Sum(csrfMessage(signInBinding(f.req.ID, h.browserSecretOrNew(c))))
}

// browserSecret returns this browser's secret (the browser cookie's value, or the one minted in this
// response), or "". It binds the CSRF tokens of the sign-in pages to the browser. Unlike the login
// binding it is not renewed at each step: a form of one sign-in, rendered before a step of another
// sign-in in another tab renewed the binding, still posts. The server mints it (newBrowserSecret), and
// mints a new one when a browser starts a sign-in with no sign-in binding at all (start).
func (h *Handler) browserSecret(c echo.Context) string { return h.tokenCookie(c, BrowserCookie) }

// browserSecretOrNew is this browser's secret, given to it in this response if it has none: the secret a
// page's form token is bound to.
func (h *Handler) browserSecretOrNew(c echo.Context) string {
	if s := h.browserSecret(c); s != "" {
		return s
	}
	return h.newBrowserSecret(c)
}

// newBrowserSecret gives this browser a new secret, in this response.
func (h *Handler) newBrowserSecret(c echo.Context) string {
	v := secret.RandomToken(32)
	c.SetCookie(h.cookie(BrowserCookie, v, 0))
	c.Set(BrowserCookie, v)
	return v
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
