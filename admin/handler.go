// Package admin is the tenant admin surface: a JSON API under /api/v1 (bearer tokens issued by this
// provider) and the account-settings pages under /admin (the browser's SSO session). Only admins of a
// tenant may change it, and every change goes through the tenant-admin service (tenantadmin), which
// writes it with its audit event in one transaction. It must not import op or login: what it needs of
// them (token verification, the browser's session, CSRF) app passes in as functions.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/tenantadmin"
)

// Handler serves the admin API and pages. Its fields are its dependencies.
type Handler struct {
	Store     Store
	MFA       *mfa.Service
	Admin     *tenantadmin.Service // every change of the tenant goes through it
	Passwords PasswordChanger      // the user's own password change (account_password.go)
	Keys      AccountKeys          // adding a passkey or security key on the account page; nil: WebAuthn is off
	ScriptCSP string               // the page policy of a page that runs webauthn.js (script-src 'self')
	Templates *templates.Templates
	// VerifyToken checks signature, issuer and expiry of one of our access tokens.
	VerifyToken func(r *http.Request, token string) (*oidc.AccessTokenClaims, error)
	Audience    string // the admin API's audience
	Issuer      string
	Now         func() time.Time
	Log         *slog.Logger
	// Pages: the login UI's CSRF, page headers and reading of the browser's SSO session.
	CSRF           echo.MiddlewareFunc
	PageHeaders    echo.MiddlewareFunc
	BrowserSession func(r *http.Request) (storage.Session, bool)
}

// RegisterAPI lists the JSON API routes (mounted at /api/v1).
func (h *Handler) RegisterAPI(g *echo.Group) {
	g.Use(h.problems, middleware.BodyLimit("64K"), noStore)
	g.GET("/openapi.json", h.openAPI)
	t := g.Group("/tenants/:tenant", h.bearer)
	t.GET("/mfa-policy", h.getPolicy)
	t.PUT("/mfa-policy", h.putPolicy)
	t.GET("/users", h.listUsers)
	t.POST("/users", h.createUser)
	t.PATCH("/users/:user", h.patchUser)
	t.DELETE("/users/:user/mfa", h.resetMFA)
	t.DELETE("/users/:user", h.deleteUser)
	t.POST("/users/:user/password-reset", h.sendReset)
	t.GET("/invitations", h.listInvitations)
	t.POST("/invitations/:invitation/resend", h.resendInvitation)
	t.DELETE("/invitations/:invitation", h.revokeInvitation)
	t.GET("/clients", h.listClients)
	t.POST("/clients", h.createClient)
	t.DELETE("/clients/:client", h.deleteClient)
	t.GET("/audit-events", h.listAudit)
}

// RegisterPages lists the account-settings pages (mounted at /admin).
func (h *Handler) RegisterPages(g *echo.Group) {
	g.Use(middleware.BodyLimit("64K"), h.PageHeaders, h.CSRF)
	g.GET("", h.home)
	g.GET("/", h.home)
	g.GET("/signin", h.signin)
	g.GET("/callback", h.callback)
	acc := g.Group("/account", h.userSession)
	acc.GET("", h.account)
	acc.POST("/recovery-codes", h.regenerateCodes)
	acc.POST("/keys/add", h.addKey)
	acc.POST("/app", h.beginApp)
	acc.POST("/app/confirm", h.confirmApp)
	acc.POST("/app/cancel", h.cancelApp)
	acc.POST("/keys/:key/rename", h.renameKey)
	acc.POST("/keys/:key/remove", h.removeKey)
	acc.POST("/password", h.changePassword)
	s := g.Group("/settings", h.session)
	s.GET("", h.home)
	s.GET("/security", h.settings)
	s.GET("/security/mfa/confirm", h.confirmPolicy, h.requireRecent)
	s.POST("/security/mfa", h.setPolicyForm, h.requireRecent)
	s.POST("/security/mfa/methods", h.setMethodsForm, h.requireRecent)
	s.GET("/users/:user/reset-mfa/confirm", h.confirmReset, h.requireRecent)
	s.POST("/users/:user/reset-mfa", h.resetMFAForm, h.requireRecent)
	s.POST("/users/invite", h.inviteForm)
	s.POST("/users/:user/send-reset", h.sendResetForm)
	s.GET("/users/:user/delete/confirm", h.confirmDelete, h.requireRecent)
	s.POST("/users/:user/delete", h.deleteForm, h.requireRecent)
}

// problems answers the API's own errors (unknown paths, the body limit, failures) as RFC 9457
// problem documents, like the handlers' refusals.
func (h *Handler) problems(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code < 500 {
			detail, _ := he.Message.(string)
			return problem(c, he.Code, http.StatusText(he.Code), detail)
		}
		if h.Log != nil {
			h.Log.ErrorContext(c.Request().Context(), "admin API request failed", "path", c.Request().URL.Path, "err", err)
		}
		return problem(c, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError), "")
	}
}

func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// actor is who is calling, after authentication.
type actor struct {
	id      string // user or client id
	email   string // for users
	tenant  storage.Tenant
	service bool
}

const actorKey = "portcullis.admin.actor"

func actorOf(c echo.Context) actor { a, _ := c.Get(actorKey).(actor); return a }

// actor is who calls, as the tenant-admin service audits it.
func (h *Handler) actor(c echo.Context) tenantadmin.Actor {
	a := actorOf(c)
	return tenantadmin.Actor{ID: a.id, Email: a.email, Address: c.RealIP()}
}

func (h *Handler) ctx(c echo.Context) context.Context { return c.Request().Context() }
