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
		if a.UserID == "" || !slices.Contains(a.Factors, storage.FactorPassword) {
			return nil, errOutOfOrder
		}
		if f.user, err = h.Store.UserByID(ctx, a.UserID); err != nil || f.user.Disabled {
			return nil, errOutOfOrder
		}
	}
	return f, nil
}

func (h *Handler) boundHere(c echo.Context, a storage.AuthRequest) bool {
	v, ok := c.Get(LoginCookie).(string)
	if !ok {
		ck, err := c.Cookie(LoginCookie)
		if err != nil {
			return false
		}
		v = ck.Value
	}
	return v != "" && secret.TokenHash(v) == a.BrowserHash
}

// loginCookie returns this browser's login cookie value, setting a new one if it has none.
func (h *Handler) loginCookie(c echo.Context) string {
	if v, ok := c.Get(LoginCookie).(string); ok {
		return v
	}
	v := ""
	if ck, err := c.Cookie(LoginCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		v = ck.Value
	} else {
		v = secret.RandomToken(32)
		c.SetCookie(h.cookie(LoginCookie, v, 0))
	}
	c.Set(LoginCookie, v)
	return v
}

func (h *Handler) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.Secure, SameSite: http.SameSiteLaxMode}
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
	ck, err := c.Cookie(SessionCookie)
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
	if old, err := c.Cookie(SessionCookie); err == nil && old.Value != "" && len(old.Value) <= 64 {
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
