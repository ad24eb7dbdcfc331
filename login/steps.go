package login

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
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

const (
	msgBadCredentials   = "The email or password is not right."
	msgBadCode          = "That code didn't work. Enter the newest code from your app; if it keeps failing, check that your phone's clock is set automatically."
	msgBadRecovery      = "That recovery code didn't work. Each code works once."
	msgBadEnrolmentCode = "That enrolment code is not right. Use the code your administrator gave you when they reset your two-factor authentication."
)

// start is where the provider sends the browser (LoginURL). It binds the request to this browser,
// uses a live SSO session when prompt and max_age allow, and otherwise asks for email and password.
func (h *Handler) start(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.QueryParam("authRequestID")
	if id == "" || len(id) > 64 {
		return errExpired
	}
	a, err := h.Store.AuthRequestByID(ctx, id)
	if err != nil || !h.Now().Before(a.ExpiresAt) || a.ConsumedAt != nil || a.CodeHash != "" {
		return errExpired
	}
	// A new binding value at every visit: a login cookie that the browser brought along (perhaps planted
	// by someone who also holds it) is replaced, and the browser's other sign-ins move with it.
	hash, err := h.rebind(c)
	if err != nil {
		return err
	}
	if err := h.Store.BindAuthRequest(ctx, id, hash); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return errOtherBrowser
		}
		return err
	}
	f, err := h.load(c, false)
	if err != nil {
		return err
	}
	promptNone := slices.Contains(f.req.Prompt, oidc.PromptNone)
	forceLogin := slices.Contains(f.req.Prompt, oidc.PromptLogin)
	s, ok := h.session(c, f.req.TenantID)
	if ok && f.req.HintSubject != "" && f.req.HintSubject != s.UserID {
		// The app named another user (id_token_hint) than the one signed in here: the session does not
		// answer for them (OIDC Core §3.1.2.2). prompt=none gets login_required; otherwise sign in again.
		ok = false
	}
	if ok && !forceLogin && h.withinMaxAge(f.req, s) {
		// Carry the session's factors over; the provider decides whether they still suffice.
		if f.req.UserID == "" {
			if err := h.Store.RecordLogin(ctx, f.req, s.UserID, s.Factors, s.AuthTime); err != nil {
				return errExpired
			}
			f.req.UserID, f.req.Factors, f.req.AuthTime = s.UserID, s.Factors, s.AuthTime
		}
		if f.req.UserID == s.UserID {
			done, _, _, err := h.Evaluate(ctx, f.req)
			if err != nil {
				return err
			}
			if done {
				h.events().SignInStep("session", "accepted")
				return c.Redirect(http.StatusSeeOther, h.Callback(c.Request(), f.req.ID))
			}
			if promptNone { // signed in, but the second factor is missing
				h.AuthError(c.Response(), c.Request(), f.req, oidc.ErrInteractionRequired().WithDescription("the second factor is required"))
				return nil
			}
			return c.Redirect(http.StatusSeeOther, h.nextStep(c, f))
		}
	}
	if promptNone {
		h.AuthError(c.Response(), c.Request(), f.req, oidc.ErrLoginRequired())
		return nil
	}
	return h.render(c, http.StatusOK, "login", templates.LoginPage{Base: h.base(f, c, "Sign in"), AuthRequestID: f.req.ID,
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
		return h.render(c, http.StatusBadRequest, "login", page)
	}
	// The address alone refuses a sign-in only while it is spraying (many distinct accounts failing from
	// it), and then only for a short delay; failures of a few accounts never shut out a whole office.
	addrKey := throttle.PasswordAddrKey(c.RealIP())
	if err := h.Addresses.Check(ctx, addrKey); err != nil {
		return h.locked(c, f, err, false)
	}
	u, uerr := h.Store.UserByEmail(ctx, f.req.TenantID, email)
	if uerr == nil {
		if err := h.Passwords.Check(ctx, throttle.PasswordUserKey(u.ID)); err != nil {
			return h.locked(c, f, err, false)
		}
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
		h.events().SignInStep("pwd", "refused")
		if err := h.Addresses.Fail(ctx, addrKey, throttle.Account(f.req.TenantID, email)); err != nil {
			return err
		}
		if uerr == nil {
			if _, err := h.Passwords.Fail(ctx, throttle.PasswordUserKey(u.ID)); err != nil && !isLocked(err) {
				return err
			} else if err != nil {
				h.events().Lockout("pwd")
			}
			h.audit(c, f, u.ID, "login.password_refused")
		}
		page.Error = msgBadCredentials
		return h.render(c, http.StatusUnauthorized, "login", page)
	}
	if err := h.Passwords.Reset(ctx, throttle.PasswordUserKey(u.ID)); err != nil {
		return err
	}
	if err := h.recordLogin(c, f, u.ID, []string{mfa.FactorPassword}, h.Now()); err != nil {
		return err
	}
	h.audit(c, f, u.ID, "login.password_accepted")
	h.events().SignInStep("pwd", "accepted")
	return h.advance(c, f)
}

// busy answers 503 with Retry-After when no password hash could start in time (secret.ErrBusy);
// nothing is counted against the user or the address.
func (h *Handler) busy(c echo.Context, err error) error {
	h.events().SignInStep("pwd", "busy")
	c.Response().Header().Set("Retry-After", "1")
	return &PageError{Status: http.StatusServiceUnavailable, Heading: "Too many sign-ins at once",
		Message: "Please try again in a moment.", Err: err}
}

func isLocked(err error) bool {
	var le *throttle.LockedError
	return errors.As(err, &le)
}

// locked shows when to try again. A lockout of the second step also ends the pending sign-in, so the
// password must be entered again (a stolen password alone can't keep guessing codes).
func (h *Handler) locked(c echo.Context, f *flow, err error, endSignIn bool) error {
	var le *throttle.LockedError
	if !errors.As(err, &le) {
		return err
	}
	if endSignIn && le.Lockout {
		h.events().Lockout("otp")
		if derr := h.Store.DeleteAuthRequest(c.Request().Context(), f.req.ID); derr != nil {
			return derr
		}
	}
	wait := time.Until(le.Until)
	if h.Now != nil {
		wait = le.Until.Sub(h.Now())
	}
	retry := "a moment"
	switch {
	case wait > time.Minute:
		retry = fmt.Sprintf("%d minutes", int(wait.Round(time.Minute)/time.Minute))
	case wait > time.Second:
		retry = fmt.Sprintf("%d seconds", int(wait.Round(time.Second)/time.Second))
	}
	c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
	return h.render(c, http.StatusTooManyRequests, "locked", templates.LockedPage{Base: h.base(f, c, "Too many attempts"),
		Until: le.Until, RetryIn: retry})
}

func (h *Handler) audit(c echo.Context, f *flow, userID, action string) {
	ev := storage.AuditEvent{TenantID: f.req.TenantID, ActorID: userID, TargetID: userID, Action: action,
		Address: c.RealIP(), Detail: map[string]any{"client_id": f.client.ID}}
	if err := h.Store.AddAudit(c.Request().Context(), ev); err != nil {
		h.Log.ErrorContext(c.Request().Context(), "audit", "action", action, "err", err)
	}
}

// needsSecondFactor loads the flow for a second-factor page: password proven, not yet done.
func (h *Handler) secondFactorFlow(c echo.Context) (*flow, bool, error) {
	f, err := h.load(c, true)
	if err != nil {
		return nil, false, err
	}
	done, _, _, err := h.Evaluate(c.Request().Context(), f.req)
	if err != nil {
		return nil, false, err
	}
	return f, done, nil
}

func (h *Handler) otpPage(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	if next := h.nextStep(c, f); !strings.HasPrefix(next, "/login/otp") {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return h.render(c, http.StatusOK, "otp", templates.CodePage{Base: h.base(f, c, "Two-factor authentication"),
		AuthRequestID: f.req.ID, Email: f.user.Email})
}

func (h *Handler) otp(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	err = h.MFA.Verify(c.Request().Context(), f.user, c.FormValue("code"), h.meta(c, f))
	if err != nil {
		if errors.Is(err, mfa.ErrNotEnrolled) { // reset meanwhile, or never enrolled: enrolment is next
			return c.Redirect(http.StatusSeeOther, h.nextStep(c, f))
		}
		if isLocked(err) {
			return h.locked(c, f, err, true)
		}
		if errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, mfa.ErrReplay) {
			outcome := "refused"
			if errors.Is(err, mfa.ErrReplay) {
				outcome = "replayed"
			}
			h.events().SignInStep("otp", outcome)
			return h.render(c, http.StatusUnauthorized, "otp", templates.CodePage{Base: h.base(f, c, "Two-factor authentication"),
				AuthRequestID: f.req.ID, Email: f.user.Email, Error: msgBadCode})
		}
		return err
	}
	h.events().SignInStep("otp", "accepted")
	return h.recordSecondFactor(c, f, mfa.FactorOTP)
}

func (h *Handler) recordSecondFactor(c echo.Context, f *flow, factor string) error {
	if err := h.recordLogin(c, f, f.req.UserID, withFactor(f.req.Factors, factor), h.Now()); err != nil {
		return err
	}
	return h.advance(c, f)
}

func (h *Handler) recoveryPage(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	return h.render(c, http.StatusOK, "recovery", templates.RecoveryPage{Base: h.base(f, c, "Use a recovery code"),
		AuthRequestID: f.req.ID, Email: f.user.Email})
}

func (h *Handler) recovery(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	err = h.MFA.UseRecoveryCode(c.Request().Context(), f.user, c.FormValue("code"), h.meta(c, f))
	if err != nil {
		if isLocked(err) {
			return h.locked(c, f, err, true)
		}
		if errors.Is(err, mfa.ErrInvalidCode) {
			h.events().SignInStep("rec", "refused")
			return h.render(c, http.StatusUnauthorized, "recovery", templates.RecoveryPage{Base: h.base(f, c, "Use a recovery code"),
				AuthRequestID: f.req.ID, Email: f.user.Email, Error: msgBadRecovery})
		}
		return err
	}
	h.events().SignInStep("rec", "accepted")
	return h.recordSecondFactor(c, f, mfa.FactorRecoveryCode)
}

func (h *Handler) issuerName(f *flow) string {
	if f.tenant.Name != "" {
		return f.tenant.Name
	}
	return h.Issuer
}

func (h *Handler) enrolPage(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	return h.showEnrolment(c, f, http.StatusOK, "")
}

// showEnrolment shows this sign-in's secret to scan: the same one at every visit and after a wrong code,
// and never one that another sign-in of the user was shown. After an admin's reset it asks for the
// enrolment code first, and shows no secret until that code was given in this sign-in.
func (h *Handler) showEnrolment(c echo.Context, f *flow, status int, msg string) error {
	e, err := h.MFA.Enrolment(c.Request().Context(), f.user, f.req.ID, h.issuerName(f), h.meta(c, f))
	switch {
	case errors.Is(err, mfa.ErrEnrolmentCodeRequired):
		return h.render(c, http.StatusOK, "enrol_code", templates.EnrolCodePage{Base: h.base(f, c, "Enter your enrolment code"),
			AuthRequestID: f.req.ID, Email: f.user.Email})
	case errors.Is(err, mfa.ErrEnrolmentCodeExpired):
		return errEnrolmentCodeExpired
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return c.Redirect(http.StatusSeeOther, "/login/otp?authRequestID="+url.QueryEscape(f.req.ID))
	case errors.Is(err, mfa.ErrNoPendingEnrolment):
		return errExpired
	case err != nil:
		return err
	}
	return h.render(c, status, "enrol", templates.EnrolPage{Base: h.base(f, c, "Set up two-factor authentication"),
		AuthRequestID: f.req.ID, Email: f.user.Email, Error: msg, Issuer: e.Issuer, Secret: e.SecretGrouped,
		QRDataURI:  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		OTPAuthURI: template.URL(e.URI)})
}

var errEnrolmentCodeExpired = &PageError{Status: http.StatusForbidden, Heading: "Your enrolment code has expired",
	Message: "Ask your administrator to reset your two-factor authentication again; they will give you a new code."}

// enrolCode takes the enrolment code that an admin's reset handed out, and then shows this sign-in's
// secret to scan.
func (h *Handler) enrolCode(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	_, err = h.MFA.RedeemEnrolmentCode(c.Request().Context(), f.user, f.req.ID, c.FormValue("enrolment_code"), h.issuerName(f), h.meta(c, f))
	switch {
	case isLocked(err):
		return h.locked(c, f, err, true)
	case errors.Is(err, mfa.ErrInvalidCode):
		h.events().SignInStep("enrolment_code", "refused")
		return h.render(c, http.StatusUnauthorized, "enrol_code", templates.EnrolCodePage{Base: h.base(f, c, "Enter your enrolment code"),
			AuthRequestID: f.req.ID, Email: f.user.Email, Error: msgBadEnrolmentCode})
	case errors.Is(err, mfa.ErrEnrolmentCodeExpired):
		return errEnrolmentCodeExpired
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return c.Redirect(http.StatusSeeOther, "/login/otp?authRequestID="+url.QueryEscape(f.req.ID))
	case err != nil:
		return err
	}
	h.events().SignInStep("enrolment_code", "accepted")
	return c.Redirect(http.StatusSeeOther, "/login/enrol?authRequestID="+url.QueryEscape(f.req.ID))
}

func (h *Handler) enrol(c echo.Context) error {
	f, done, err := h.secondFactorFlow(c)
	if err != nil {
		return err
	}
	if done {
		return h.advance(c, f)
	}
	ctx := c.Request().Context()
	codes, err := h.MFA.ConfirmEnrolment(ctx, f.user, f.req.ID, c.FormValue("code"), h.meta(c, f))
	if err != nil {
		if isLocked(err) {
			return h.locked(c, f, err, true)
		}
		if errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, mfa.ErrNoPendingEnrolment) {
			return h.showEnrolment(c, f, http.StatusUnauthorized, msgBadCode)
		}
		if errors.Is(err, mfa.ErrAlreadyEnrolled) {
			return c.Redirect(http.StatusSeeOther, "/login/otp?authRequestID="+url.QueryEscape(f.req.ID))
		}
		return err
	}
	h.events().Enrolled()
	h.events().SignInStep("otp", "accepted")
	if err := h.recordLogin(c, f, f.req.UserID, withFactor(f.req.Factors, mfa.FactorOTP), h.Now()); err != nil {
		return err
	}
	a, err := h.Store.AuthRequestByID(ctx, f.req.ID)
	if err != nil {
		return errExpired
	}
	f.req = a
	done, _, _, err = h.Evaluate(ctx, a)
	if err != nil {
		return err
	}
	if !done {
		return c.Redirect(http.StatusSeeOther, h.nextStep(c, f))
	}
	if err := h.startSession(c, f); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "recovery_codes", templates.RecoveryCodesPage{Base: h.base(f, c, "Save your recovery codes"),
		Codes:       codes,
		DownloadURI: templates.TextDownload(mfa.RecoveryCodesText(f.user.Email, h.issuerName(f), codes)),
		ContinueURL: h.Callback(c.Request(), f.req.ID)})
}

func (h *Handler) logoutPage(c echo.Context) error {
	if err := h.ensureBinding(c); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "confirm", templates.ConfirmPage{Base: templates.Base{Title: "Sign out", CSRFToken: csrfToken(c)},
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
	if _, ok := h.anySession(c); ok {
		return h.logoutPage(c)
	}
	return h.render(c, http.StatusOK, "logged_out", templates.InfoPage{Base: templates.Base{Title: "Signed out"},
		Heading: "You are signed out", Message: "You can close this window."})
}

func (h *Handler) anySession(c echo.Context) (storage.Session, bool) {
	return h.BrowserSession(c.Request())
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
				http.Redirect(w, r, "/login/logout", http.StatusSeeOther)
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
			http.Redirect(w, r, "/login/logout", http.StatusSeeOther)
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

// BrowserSession returns the live SSO session named by the request's session cookie.
func (h *Handler) BrowserSession(r *http.Request) (storage.Session, bool) {
	ck, err := r.Cookie(CookieName(SessionCookie, h.Secure))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return storage.Session{}, false
	}
	s, err := h.Store.SessionByID(r.Context(), secret.TokenHash(ck.Value))
	return s, err == nil && h.Now().Before(s.ExpiresAt)
}

// CallbackGuard wraps the provider's callback: it issues a code only to the browser the request is
// bound to, so an auth request id that leaked (logs, referrers) is worth nothing elsewhere.
func (h *Handler) CallbackGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		a, err := h.Store.AuthRequestByID(r.Context(), id)
		ck, cerr := r.Cookie(CookieName(LoginCookie, h.Secure))
		if err != nil || cerr != nil || a.BrowserHash == "" || secret.TokenHash(ck.Value) != a.BrowserHash {
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
