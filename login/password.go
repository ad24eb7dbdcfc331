package login

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// start is where the provider sends the browser (LoginURL). It binds the request to this browser,
// uses a live SSO session when prompt, max_age and id_token_hint allow, and otherwise asks for email
// and password.
func (h *Handler) start(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.QueryParam("authRequestID")
	if id == "" || len(id) > 64 {
		return errExpired
	}
	a, t, cl, err := h.Store.SignIn(ctx, id)
	if err != nil || !h.live(a) {
		return errExpired
	}
	// A new binding value at every visit: a login cookie that the browser brought along (perhaps planted
	// by someone who also holds it) is replaced, and the browser's other sign-ins move with it. A browser
	// that brought none has no sign-in whose forms its secret protects: it gets a new secret too
	// (the secret of a browser that brought one stays, so that its other tabs' forms still post).
	bound := h.loginBinding(c) != ""
	hash, err := h.rebind(c)
	if err != nil {
		return err
	}
	if !bound {
		h.newBrowserSecret(c)
	}
	fresh, err := h.Store.BindAuthRequestFresh(ctx, id, hash)
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errOtherBrowser
		}
		return err
	}
	var f *flow
	if fresh { // bound by this call: the request is as read above, with this binding
		a.BrowserHash = hash
		f = &flow{req: a, tenant: t, client: cl}
	} else if f, err = h.load(c, false); err != nil { // bound before: read it again, as it is now
		return err
	}
	promptNone := slices.Contains(f.req.Prompt, oidc.PromptNone)
	forceLogin := slices.Contains(f.req.Prompt, oidc.PromptLogin)
	s, u, ok := h.readSession(c.Request())
	if ok && (s.TenantID != f.req.TenantID || (f.req.HintSubject != "" && f.req.HintSubject != s.UserID)) {
		// Another tenant's session, or the app named another user (id_token_hint) than the one signed in
		// here: the session does not answer for them (OIDC Core §3.1.2.2). prompt=none gets
		// login_required; otherwise sign in again.
		ok = false
	}
	if ok && !forceLogin && h.withinMaxAge(f.req, s) {
		// Carry the session's factors over; the state machine (and the provider) decide whether they
		// still suffice.
		if f.req.UserID == "" {
			// On condition that the session is still there: a reset that ends it ends this sign-in too.
			if err := h.Store.RecordLogin(ctx, f.req, s.UserID, s.Factors, s.AuthTime, storage.Proof{SessionID: s.ID}); err != nil {
				return errExpired
			}
			f.req.UserID, f.req.Factors, f.req.AuthTime = s.UserID, s.Factors, s.AuthTime
		}
		if f.req.UserID == s.UserID {
			f.user = u
			step, err := h.next(ctx, f)
			if err != nil {
				return err
			}
			switch {
			case step == StepDone: // the session stays as it is
				h.events().SignInStep(stepSession, "accepted")
				return c.Redirect(http.StatusSeeOther, h.Callback(c.Request(), f.req.ID))
			case promptNone: // signed in, but the second factor is missing
				h.AuthError(c.Response(), c.Request(), f.req, oidc.ErrInteractionRequired().WithDescription("the second factor is required"))
				return nil
			case step != StepPassword || keyNamed(f.req):
				return h.goTo(c, f, step)
			}
			// The session's factors would add a key: the password again, in this sign-in (below).
		}
	}
	if promptNone {
		h.AuthError(c.Response(), c.Request(), f.req, oidc.ErrLoginRequired())
		return nil
	}
	return h.renderLogin(c, f, http.StatusOK, templates.LoginPage{Base: h.base(f, c, "Sign in"), AuthRequestID: f.req.ID,
		Email: f.req.LoginHint})
}

// withinMaxAge: max_age asks for a sign-in no older than that many seconds (OIDC Core §3.1.2.1).
func (h *Handler) withinMaxAge(a storage.AuthRequest, s storage.Session) bool {
	if a.MaxAge == nil {
		return true
	}
	return h.Now().Sub(s.AuthTime) <= time.Duration(*a.MaxAge)*time.Second
}

// password checks email and password. Unknown email, wrong password and disabled user answer alike
// and take the same time (one argon2id verification each).
func (h *Handler) password(c echo.Context) error {
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	pw := c.FormValue("password")
	page := templates.LoginPage{Base: h.base(f, c, "Sign in"), AuthRequestID: f.req.ID, Email: email}
	if email == "" || pw == "" || len(email) > 320 || len(pw) > 1024 {
		page.Error = "Enter your email and password."
		return h.renderLogin(c, f, http.StatusBadRequest, page)
	}
	// The address alone refuses a sign-in only while it is spraying (many distinct accounts failing from
	// it), and then only for a short delay; failures of a few accounts never shut out a whole office.
	addrKey := throttle.PasswordAddrKey(c.RealIP())
	if err := h.Addresses.Check(ctx, addrKey); err != nil {
		return h.locked(c, f, err, false)
	}
	u, uerr := h.Store.UserByEmail(ctx, f.req.TenantID, email)
	// The attempt is reserved on the user's counter before the password is compared: passwords sent at
	// once, to any instance, are compared no more often than one after the other would be (the others
	// answer 503, or 429 once a failure locked the user). One that compared nothing (hashing busy) is
	// taken back.
	var att *throttle.Attempt
	if uerr == nil {
		if att, err = h.Passwords.Begin(ctx, throttle.PasswordUserKey(u.ID)); err != nil {
			if le, ok := throttle.IsLocked(err); ok && le.Busy {
				return h.busy(c, err) // as many of the user's passwords as may be are being verified
			}
			return h.locked(c, f, err, false)
		}
		defer att.ReleaseLogged(ctx, h.Log)
	}
	ok := false
	if uerr == nil {
		ok, err = h.Hasher.Verify(ctx, u.PasswordHash, pw)
		if errors.Is(err, secret.ErrBusy) {
			return h.busy(c, err)
		}
		if err != nil {
			h.Log.ErrorContext(ctx, "verify password", "user", u.ID, "err", err)
			ok = false
		}
	} else if err := h.Hasher.DummyVerify(ctx, pw); err != nil {
		return h.busy(c, err)
	}
	if !ok || u.Disabled {
		h.events().SignInStep(mfa.FactorPassword, "refused")
		var ferr error
		if uerr == nil {
			if ferr = att.Fail(ctx); isLocked(ferr) {
				h.events().Lockout(mfa.FactorPassword)
				ferr = nil
			}
		}
		if err := h.Addresses.Fail(ctx, addrKey, throttle.Account(f.req.TenantID, email)); err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
		if uerr == nil {
			h.audit(c, f, u.ID, "login.password_refused")
		}
		page.Error = msgBadCredentials
		return h.renderLogin(c, f, http.StatusUnauthorized, page)
	}
	// The failures counted before this attempt began are cleared; one counted while this password was
	// being verified stays (it may be someone else's guess).
	if err := att.Succeed(ctx); err != nil {
		return err
	}
	// The password joins a key that named this same user in this sign-in (a key without user
	// verification); for anyone else it starts the sign-in afresh.
	factors := []string{mfa.FactorPassword}
	if keyNamed(f.req) && f.req.UserID == u.ID {
		factors = mfa.WithFactor(f.req.Factors, mfa.FactorPassword)
	}
	// On condition that the password verified is still the user's (and the user not disabled): a reset
	// that committed while it was being verified refuses the record.
	if err := h.recordLogin(c, f, u.ID, factors, h.Now(), storage.Proof{PasswordHash: u.PasswordHash}); err != nil {
		return err
	}
	f.user = u
	h.audit(c, f, u.ID, "login.password_accepted")
	h.events().SignInStep(mfa.FactorPassword, "accepted")
	return h.proceed(c, f)
}
