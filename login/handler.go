// Package login is the sign-in UI (Echo): password, TOTP code, recovery code, enrolment code, TOTP
// enrolment and sign-out. One state machine (machine.go) decides what comes next in a sign-in; each
// page is one handler that ends by asking it. It records each proven factor on the auth request; whether
// the request is done is decided by mfa.Decide, the rule the provider applies again when it issues the
// code. It depends on mfa, secret, storage records, templates and throttle; never on op or admin (they
// meet through functions that app passes in).
package login

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/throttle"
)

// Store is the part of the storage the login UI uses; *storage.Store implements it.
type Store interface {
	AuthRequestBinding(ctx context.Context, id string) (string, error) // the request's browser hash
	// SignIn reads the auth request with its tenant and client, in one query.
	SignIn(ctx context.Context, id string) (storage.AuthRequest, storage.Tenant, storage.Client, error)
	BindAuthRequestFresh(ctx context.Context, id, browserHash string) (bool, error)
	RebindBrowser(ctx context.Context, oldHash, newHash string) error
	RecordLogin(ctx context.Context, prev storage.AuthRequest, userID string, factors []string, authTime time.Time, proof storage.Proof) error
	RebindAndRecordLogin(ctx context.Context, prev storage.AuthRequest, newHash, userID string, factors []string, authTime time.Time,
		proof storage.Proof) error
	DeleteAuthRequest(ctx context.Context, id string) error
	TenantByID(ctx context.Context, id string) (storage.Tenant, error)
	ClientByID(ctx context.Context, id string) (storage.Client, error)
	UserByID(ctx context.Context, id string) (storage.User, error)
	UserByEmail(ctx context.Context, tenantID, email string) (storage.User, error)
	SessionByID(ctx context.Context, id string) (storage.Session, error)
	CreateSession(ctx context.Context, s storage.Session) error
	CreateSignInSession(ctx context.Context, authRequestID string, s storage.Session) error
	DeleteSession(ctx context.Context, id string) error
	AddAudit(ctx context.Context, ev storage.AuditEvent) error
	// The user's passkeys and security keys, read where WebAuthn is off (keyStanding).
	CredentialsByUser(ctx context.Context, userID string) ([]storage.WebAuthnCredential, error)
}

// SecondFactor is the part of the mfa service the login UI uses; *mfa.Service implements it.
type SecondFactor interface {
	Standing(ctx context.Context, userID, authRequestID string) (mfa.Standing, error)
	VerifyWith(ctx context.Context, user storage.User, read *storage.Authenticator, code string, meta mfa.Meta) error
	UseRecoveryCode(ctx context.Context, user storage.User, code string, meta mfa.Meta) error
	Enrolment(ctx context.Context, user storage.User, authRequestID, issuer string, meta mfa.Meta) (mfa.Enrolment, error)
	RedeemEnrolmentCode(ctx context.Context, user storage.User, authRequestID, code, issuer string, meta mfa.Meta) (mfa.Enrolment, error)
	ConfirmSignInEnrolment(ctx context.Context, user storage.User, authRequestID, code string, meta mfa.Meta) ([]string, storage.Authenticator, error)
}

// Handler serves the login UI. Its fields are its dependencies.
type Handler struct {
	Store     Store
	MFA       SecondFactor
	Passwords *throttle.Limiter        // password guessing, per user
	Addresses *throttle.AddressLimiter // password spraying, per client address
	Hasher    *secret.Hasher           // bounded argon2id; nil hashes without bounds
	Templates *templates.Templates
	Static    http.FileSystem
	CSRFKey   *secret.KeyedHash // CSRF tokens are keyed hashes of the sign-in or session a form acts on

	// Callback returns the provider's callback URL for a done request.
	Callback func(r *http.Request, authRequestID string) string
	// VerifyHint checks an id_token_hint at end_session and returns its subject and tenant.
	VerifyHint func(r *http.Request, hint string) (subject, tenant string, err error)
	// AuthError sends an OAuth error to the app (prompt=none outcomes).
	AuthError func(w http.ResponseWriter, r *http.Request, a storage.AuthRequest, err error)

	Events      Events      // metrics of sign-in steps; optional
	Accounts    Accounts    // password resets by email (forgot.go)
	Invitations Invitations // invitations by email (invite.go)

	Keys Keys // passkeys and security keys; nil when WebAuthn is off

	Now        func() time.Time
	Log        *slog.Logger
	Secure     bool          // cookies get Secure (the issuer is https)
	SessionTTL time.Duration // SSO session lifetime
	Issuer     string        // shown as the authenticator's issuer when the tenant has no name
}

// Events receives what happened in sign-ins, for metrics.
type Events interface {
	SignInStep(factor, outcome string) // factor: an mfa factor, "session" or "enrolment_code"; outcome: accepted, refused, replayed, busy
	Enrolled()
	Lockout(kind string) // an mfa factor: pwd or otp
}

// Labels of sign-in steps that are not factors.
const (
	stepSession       = "session"
	stepEnrolmentCode = "enrolment_code"
)

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

// Register lists every route of the login UI on g (mounted at /login): one handler per page and form.
func (h *Handler) Register(g *echo.Group) {
	g.Use(middleware.BodyLimit("64K"), SecurityHeaders, h.CSRF(h.csrfBinding))
	g.GET("/", h.start)
	g.GET("/password", h.passwordPage)
	g.POST("/password", h.password)
	g.GET("/otp", h.otpPage)
	g.POST("/otp", h.otp)
	g.GET("/recovery", h.recoveryPage)
	g.POST("/recovery", h.recovery)
	g.GET("/enrol-code", h.enrolCodePage)
	g.GET("/enrol-code/link", h.enrolCodeLink)
	g.POST("/enrol-code", h.enrolCode)
	g.GET("/enrol", h.enrolPage)
	g.POST("/enrol", h.enrol)
	g.GET("/key", h.keyPage)
	g.POST("/key", h.key)
	g.GET("/key-enrol", h.keyEnrolPage)
	g.POST("/key-enrol", h.keyEnrol)
	g.POST("/passkey", h.passkey)
	g.GET("/forgot", h.forgotPage)
	g.POST("/forgot", h.forgot)
	g.GET("/reset", h.resetPage)
	g.POST("/reset", h.reset)
	g.GET("/invite", h.invitePage)
	g.POST("/invite", h.invite)
	g.GET("/logout", h.logoutPage)
	g.POST("/logout", h.logout)
	g.GET("/logged-out", h.loggedOut)
	g.GET("/static/*", echo.WrapHandler(http.StripPrefix("/login/static/", http.FileServer(h.Static))))
}

func (h *Handler) render(c echo.Context, status int, name string, data any) error {
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	return h.Templates.Render(c.Response(), name, data)
}

func (h *Handler) audit(c echo.Context, f *flow, userID, action string) {
	ev := storage.AuditEvent{TenantID: f.req.TenantID, ActorID: userID, TargetID: userID, Action: action,
		Address: c.RealIP(), Detail: map[string]any{"client_id": f.client.ID}}
	if err := h.Store.AddAudit(c.Request().Context(), ev); err != nil {
		h.Log.ErrorContext(c.Request().Context(), "audit", "action", action, "err", err)
	}
}
