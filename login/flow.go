package login

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// flow is one auth request with what the pages need to know about it.
type flow struct {
	req    storage.AuthRequest
	tenant storage.Tenant
	client storage.Client
	user   storage.User // zero until the password step
}

var (
	errExpired = &PageError{Status: http.StatusBadRequest, Heading: "This sign-in has expired",
		Message: "Go back to the app you came from and sign in again."}
	errOtherBrowser = &PageError{Status: http.StatusForbidden, Heading: "This sign-in belongs to another browser",
		Message: "For your security a sign-in must be finished in the browser that started it. Go back to the app and sign in again."}
	errOutOfOrder = &PageError{Status: http.StatusBadRequest, Heading: "Please sign in first",
		Message: "This step needs your email and password first. Go back to the app and sign in again."}
)

func (h *Handler) base(f *flow, c echo.Context, title string) templates.Base {
	return templates.Base{Title: title, TenantName: f.tenant.Name, AppName: f.client.Name, CSRFToken: csrfToken(c)}
}

// load reads the auth request named by the authRequestID parameter. Unless binding is false, the
// request must be bound to this browser's login cookie: every step of a login comes from one browser.
func (h *Handler) load(c echo.Context, needUser bool) (*flow, error) {
	id := c.QueryParam("authRequestID")
	if id == "" {
		id = c.FormValue("authRequestID")
	}
	if id == "" || len(id) > 64 {
		return nil, errExpired
	}
	ctx := c.Request().Context()
	a, err := h.Store.AuthRequestByID(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errExpired
		}
		return nil, err
	}
	if !h.Now().Before(a.ExpiresAt) || a.ConsumedAt != nil || a.CodeHash != "" {
		return nil, errExpired
	}
	if a.BrowserHash == "" || !h.boundHere(c, a) {
		return nil, errOtherBrowser
	}
	f := &flow{req: a}
	if f.tenant, err = h.Store.TenantByID(ctx, a.TenantID); err != nil {
		return nil, err
	}
	if f.client, err = h.Store.ClientByID(ctx, a.ClientID); err != nil {
		return nil, errExpired
	}
	if needUser {
		if a.UserID == "" || !slices.Contains(a.Factors, mfa.FactorPassword) {
			return nil, errOutOfOrder
		}
		if f.user, err = h.Store.UserByID(ctx, a.UserID); err != nil || f.user.Disabled {
			return nil, errOutOfOrder
		}
	}
	return f, nil
}

func (h *Handler) boundHere(c echo.Context, a storage.AuthRequest) bool {
	v := h.loginBinding(c)
	return v != "" && secret.TokenHash(v) == a.BrowserHash
}

// loginBinding returns this browser's sign-in binding (the login cookie's value), or "".
func (h *Handler) loginBinding(c echo.Context) string {
	if v, ok := c.Get(LoginCookie).(string); ok {
		return v
	}
	ck, err := c.Cookie(CookieName(LoginCookie, h.Secure))
	if err != nil || len(ck.Value) < 32 || len(ck.Value) > 64 {
		return ""
	}
	c.Set(LoginCookie, ck.Value)
	return ck.Value
}

// rebind mints a new sign-in binding for this browser and moves every sign-in of the browser's old
// binding to it: the binding is always the server's own value, never one the browser brought along, and
// after each step only the browser that took it holds the binding that the next step (and the
// provider's callback) needs. It returns the hash of the new binding.
func (h *Handler) rebind(c echo.Context) (string, error) {
	old := h.loginBinding(c)
	v := secret.RandomToken(32)
	if old != "" {
		if err := h.Store.RebindBrowser(c.Request().Context(), secret.TokenHash(old), secret.TokenHash(v)); err != nil {
			return "", err
		}
	}
	c.SetCookie(h.cookie(LoginCookie, v, 0))
	c.Set(LoginCookie, v)
	return secret.TokenHash(v), nil
}

// ensureBinding gives a browser without a sign-in binding one, for pages with a form outside a sign-in
// (sign-out).
func (h *Handler) ensureBinding(c echo.Context) error {
	if h.loginBinding(c) != "" {
		return nil
	}
	if _, err := h.rebind(c); err != nil {
		return err
	}
	c.Set(csrfContextKey, h.CSRFKey.Sum(csrfMessage(h.csrfBinding(c))))
	return nil
}

// recordLogin records who signs in and the factors proven so far, after moving the sign-in to a new
// binding of this browser (see rebind).
func (h *Handler) recordLogin(c echo.Context, f *flow, userID string, factors []string, authTime time.Time) error {
	hash, err := h.rebind(c)
	if err != nil {
		return err
	}
	f.req.BrowserHash = hash
	if err := h.Store.RecordLogin(c.Request().Context(), f.req, userID, factors, authTime); err != nil {
		return errExpired
	}
	f.req.UserID, f.req.Factors, f.req.AuthTime = userID, factors, authTime
	return nil
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

// session returns the browser's live SSO session for the tenant, if any.
func (h *Handler) session(c echo.Context, tenantID string) (storage.Session, bool) {
	ck, err := c.Cookie(CookieName(SessionCookie, h.Secure))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return storage.Session{}, false
	}
	s, err := h.Store.SessionByID(c.Request().Context(), secret.TokenHash(ck.Value))
	if err != nil || !h.Now().Before(s.ExpiresAt) || s.TenantID != tenantID {
		return storage.Session{}, false
	}
	u, err := h.Store.UserByID(c.Request().Context(), s.UserID)
	if err != nil || u.Disabled || u.TenantID != tenantID {
		return storage.Session{}, false
	}
	return s, true
}

// advance decides what comes after a factor was recorded: the app (done), the code page, or enrolment.
func (h *Handler) advance(c echo.Context, f *flow) error {
	ctx := c.Request().Context()
	a, err := h.Store.AuthRequestByID(ctx, f.req.ID)
	if err != nil {
		return errExpired
	}
	f.req = a
	done, _, _, err := h.Evaluate(ctx, a)
	if err != nil {
		return err
	}
	if done {
		if err := h.startSession(c, f); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, h.Callback(c.Request(), a.ID))
	}
	return c.Redirect(http.StatusSeeOther, h.nextStep(c, f))
}

// nextStep is the URL of the second-factor page this user needs: code if enrolled, else enrolment.
func (h *Handler) nextStep(c echo.Context, f *flow) string {
	q := "?authRequestID=" + url.QueryEscape(f.req.ID)
	auth, err := h.Store.AuthenticatorByUser(c.Request().Context(), f.req.UserID)
	if err == nil && auth.State == storage.AuthenticatorActive {
		return "/login/otp" + q
	}
	return "/login/enrol" + q
}

// startSession creates the SSO session for the factors recorded on the request, under a new id
// (no fixation), and ends the browser's previous session.
func (h *Handler) startSession(c echo.Context, f *flow) error {
	ctx := c.Request().Context()
	if old, err := c.Cookie(CookieName(SessionCookie, h.Secure)); err == nil && old.Value != "" && len(old.Value) <= 64 {
		if err := h.Store.DeleteSession(ctx, secret.TokenHash(old.Value)); err != nil {
			return err
		}
	}
	v := secret.RandomToken(32)
	now := h.Now().UTC()
	s := storage.Session{ID: secret.TokenHash(v), TenantID: f.req.TenantID, UserID: f.req.UserID, Factors: f.req.Factors,
		AuthTime: f.req.AuthTime, CreatedAt: now, ExpiresAt: now.Add(h.SessionTTL)}
	if err := h.Store.CreateSession(ctx, s); err != nil {
		return err
	}
	c.SetCookie(h.cookie(SessionCookie, v, h.SessionTTL))
	return nil
}

func withFactor(factors []string, f string) []string {
	if slices.Contains(factors, f) {
		return factors
	}
	return append(slices.Clone(factors), f)
}

func (h *Handler) meta(c echo.Context, f *flow) mfa.Meta {
	return mfa.Meta{Address: c.RealIP(), ClientID: f.client.ID}
}
