// Package login is the sign-in UI (Echo): password, TOTP code, recovery code, TOTP enrolment and
// sign-out. It records each proven factor on the auth request; whether the request is done is always
// computed by the provider from those facts and the tenant's policy, never set here.
package login

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
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

// Handler serves the login UI. Its fields are its dependencies.
type Handler struct {
	Store     *storage.Store
	MFA       *mfa.Service
	Passwords *throttle.Limiter        // password guessing, per user
	Addresses *throttle.AddressLimiter // password spraying, per client address
	Hasher    *secret.Hasher           // bounded argon2id; nil hashes without bounds
	Templates *templates.Templates
	Static    http.FileSystem
	CSRFKey   *secret.KeyedHash // CSRF tokens are keyed hashes of the sign-in or session a form acts on

	// Evaluate is the provider's verdict on an auth request: done, amr, acr (op.Storage.Evaluate).
	Evaluate func(ctx context.Context, a storage.AuthRequest) (done bool, amr []string, acr string, err error)
	// Callback returns the provider's callback URL for a done request.
	Callback func(r *http.Request, authRequestID string) string
	// VerifyHint checks an id_token_hint at end_session and returns its subject and tenant.
	VerifyHint func(r *http.Request, hint string) (subject, tenant string, err error)
	// AuthError sends an OAuth error to the app (prompt=none outcomes).
	AuthError func(w http.ResponseWriter, r *http.Request, a storage.AuthRequest, err error)

	Events Events // metrics of sign-in steps; optional

	Now        func() time.Time
	Log        *slog.Logger
	Secure     bool          // cookies get Secure (the issuer is https)
	SessionTTL time.Duration // SSO session lifetime
	Issuer     string        // shown as the authenticator's issuer when the tenant has no name
}

// Events receives what happened in sign-ins, for metrics.
type Events interface {
	SignInStep(factor, outcome string) // factor: pwd, otp, rec, session; outcome: accepted, refused, replayed, busy
	Enrolled()
	Lockout(kind string) // pwd or otp
}

type noEvents struct{}

func (noEvents) SignInStep(string, string) {}
func (noEvents) Enrolled()                 {}
func (noEvents) Lockout(string)            {}

func (h *Handler) events() Events {
	if h.Events == nil {
		return noEvents{}
	}
	return h.Events
}

// Register lists every route of the login UI on g (mounted at /login).
func (h *Handler) Register(g *echo.Group) {
	g.Use(middleware.BodyLimit("64K"), SecurityHeaders, h.CSRF(h.csrfBinding))
	g.GET("/", h.start)
	g.POST("/password", h.password)
	g.GET("/otp", h.otpPage)
	g.POST("/otp", h.otp)
	g.GET("/recovery", h.recoveryPage)
	g.POST("/recovery", h.recovery)
	g.GET("/enrol", h.enrolPage)
	g.POST("/enrol", h.enrol)
	g.POST("/enrol-code", h.enrolCode)
	g.GET("/logout", h.logoutPage)
	g.POST("/logout", h.logout)
	g.GET("/logged-out", h.loggedOut)
	g.GET("/static/*", echo.WrapHandler(http.StripPrefix("/login/static/", http.FileServer(h.Static))))
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

func isStatic(p string) bool { return len(p) > 14 && p[:14] == "/login/static/" }

// PageError is an error that a person sees as a page.
type PageError struct {
	Status           int
	Heading, Message string
	Err              error
}

func (e *PageError) Error() string {
	if e.Err != nil {
		return e.Heading + ": " + e.Err.Error()
	}
	return e.Heading
}

func (e *PageError) Unwrap() error { return e.Err }

// ErrorHandler renders errors of the login and admin pages as readable pages; it is the echo
// HTTPErrorHandler (STYLE rule 11). JSON routes under /api/ get problem details.
func ErrorHandler(t *templates.Templates, log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, heading, message := http.StatusInternalServerError, "Something went wrong", "Please try again in a moment."
		var pe *PageError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &pe):
			status, heading, message = pe.Status, pe.Heading, pe.Message
		case errors.As(err, &he):
			status = he.Code
			heading = http.StatusText(he.Code)
			message = ""
			if m, ok := he.Message.(string); ok && status < 500 {
				message = m
			}
			if status == http.StatusRequestEntityTooLarge {
				message = "The form you sent is too large."
			}
		}
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "path", c.Request().URL.Path, "err", err)
		} else {
			log.InfoContext(c.Request().Context(), "request refused", "path", c.Request().URL.Path, "status", status, "err", err)
		}
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			c.Response().Header().Set("Content-Type", "application/problem+json")
			c.Response().WriteHeader(status)
			_ = json.NewEncoder(c.Response()).Encode(map[string]any{"type": "about:blank", "title": heading, "status": status, "detail": message})
			return
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
		c.Response().WriteHeader(status)
		data := templates.ErrorPage{Base: templates.Base{Title: heading}, Status: status, Heading: heading, Message: message}
		if rerr := t.Render(c.Response(), "error", data); rerr != nil {
			log.ErrorContext(c.Request().Context(), "render error page", "err", rerr)
		}
	}
}

func (h *Handler) render(c echo.Context, status int, name string, data any) error {
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	return h.Templates.Render(c.Response(), name, data)
}

func csrfToken(c echo.Context) string { return CSRFToken(c) }
