package login

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
)

// flow is one sign-in (auth request) with what its pages need to know, read once per request.
type flow struct {
	req      storage.AuthRequest
	tenant   storage.Tenant
	client   storage.Client
	user     storage.User // zero until the password step
	standing mfa.Standing // set by at when the second factor is missing: the user's standing as read
}

func (h *Handler) base(f *flow, c echo.Context, title string) templates.Base {
	return templates.Base{Title: title, TenantName: f.tenant.Name, AppName: f.client.Name, CSRFToken: h.signInToken(c, f)}
}

func (h *Handler) meta(c echo.Context, f *flow) mfa.Meta {
	return mfa.Meta{Address: c.RealIP(), ClientID: f.client.ID}
}

func (h *Handler) issuerName(f *flow) string {
	if f.tenant.Name != "" {
		return f.tenant.Name
	}
	return h.Issuer
}

// load reads the sign-in named by the authRequestID parameter, which must be live and bound to this
// browser's login cookie: every step of a sign-in comes from one browser. With needUser, the password
// must have been proven (or carried over from a session) by a user who is still allowed in.
func (h *Handler) load(c echo.Context, needUser bool) (*flow, error) {
	id := c.QueryParam("authRequestID")
	if id == "" {
		id = c.FormValue("authRequestID")
	}
	if id == "" || len(id) > 64 {
		return nil, errExpired
	}
	ctx := c.Request().Context()
	a, t, cl, err := h.Store.SignIn(ctx, id) // the request with its tenant and client, in one query
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errExpired // also a request whose client is gone
		}
		return nil, err
	}
	if !h.live(a) {
		return nil, errExpired
	}
	if a.BrowserHash == "" || !h.boundHere(c, a) {
		return nil, errOtherBrowser
	}
	f := &flow{req: a, tenant: t, client: cl}
	if needUser {
		if a.UserID == "" || !mfa.HasFirstFactor(a.Factors) {
			return nil, errOutOfOrder
		}
		if f.user, err = h.Store.UserByID(ctx, a.UserID); err != nil || f.user.Disabled || f.user.TenantID != a.TenantID {
			return nil, errOutOfOrder
		}
	}
	return f, nil
}

// live reports whether a sign-in can still take steps: not expired, no code issued, not consumed.
func (h *Handler) live(a storage.AuthRequest) bool {
	return h.Now().Before(a.ExpiresAt) && a.ConsumedAt == nil && a.CodeHash == ""
}

func (h *Handler) boundHere(c echo.Context, a storage.AuthRequest) bool {
	v := h.loginBinding(c)
	return v != "" && secret.TokenHash(v) == a.BrowserHash
}

// loginBinding returns this browser's sign-in binding (the login cookie's value), or "".
func (h *Handler) loginBinding(c echo.Context) string { return h.tokenCookie(c, LoginCookie) }

// tokenCookie returns the random token in cookie name (one this server minted: 32–64 characters), or
// the one set in this response, or "".
func (h *Handler) tokenCookie(c echo.Context, name string) string {
	if v, ok := c.Get(name).(string); ok {
		return v
	}
	ck, err := c.Cookie(CookieName(name, h.Secure))
	if err != nil || len(ck.Value) < 32 || len(ck.Value) > 64 {
		return ""
	}
	c.Set(name, ck.Value)
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
	c.Set(csrfContextKey, h.CSRFKey.Sum(csrfMessage(h.browserBinding(c))))
	return nil
}

// recordLogin records who signs in and the factors proven so far, after moving the sign-in to a new
// binding of this browser (see rebind), and keeps f in step with what it wrote. proof names what the
// step verified: the record is refused (errExpired) if a password reset, an MFA reset, a removed key or
// the like changed it since (storage.Proof).
func (h *Handler) recordLogin(c echo.Context, f *flow, userID string, factors []string, authTime time.Time, proof storage.Proof) error {
	old := h.loginBinding(c)
	if old == "" {
		return errExpired // a step of a sign-in is bound to this browser's binding
	}
	v := secret.RandomToken(32)
	prev := f.req
	prev.BrowserHash = secret.TokenHash(old)
	err := h.Store.RebindAndRecordLogin(c.Request().Context(), prev, secret.TokenHash(v), userID, factors, authTime, proof)
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		return err
	}
	c.SetCookie(h.cookie(LoginCookie, v, 0)) // the browser's other sign-ins moved to it, whatever the outcome
	c.Set(LoginCookie, v)
	f.req.BrowserHash = secret.TokenHash(v)
	if err != nil {
		return errExpired
	}
	f.req.UserID, f.req.Factors, f.req.AuthTime = userID, factors, authTime
	return nil
}

// readSession is the one reader of the browser's SSO session: a live session of a user who still
// exists, is not disabled and belongs to the session's tenant. The sign-in pages and (through
// BrowserSession) the account pages read it here.
func (h *Handler) readSession(r *http.Request) (storage.Session, storage.User, bool) {
	ck, err := r.Cookie(CookieName(SessionCookie, h.Secure))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return storage.Session{}, storage.User{}, false
	}
	s, err := h.Store.SessionByID(r.Context(), secret.TokenHash(ck.Value))
	if err != nil || !h.Now().Before(s.ExpiresAt) {
		return storage.Session{}, storage.User{}, false
	}
	u, err := h.Store.UserByID(r.Context(), s.UserID)
	if err != nil || u.Disabled || u.TenantID != s.TenantID {
		return storage.Session{}, storage.User{}, false
	}
	return s, u, true
}

// BrowserSession returns the browser's SSO session, with every check of readSession.
func (h *Handler) BrowserSession(r *http.Request) (storage.Session, bool) {
	s, _, ok := h.readSession(r)
	return s, ok
}

// startSession creates the SSO session for the factors recorded on the request, under a new id
// (no fixation), and ends the browser's previous session. The session is stored only while the
// request still records them: a change that ended the user's sign-ins in flight (a password or MFA
// reset) after this sign-in recorded its factors ends it here too (errExpired).
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
	if err := h.Store.CreateSignInSession(ctx, f.req.ID, s); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errExpired
		}
		return err
	}
	c.SetCookie(h.cookie(SessionCookie, v, h.SessionTTL))
	return nil
}
