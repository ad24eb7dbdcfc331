// Package apptest runs a whole Portcullis server in-process for end-to-end tests: real storage (SQLite
// or PostgreSQL through storagetest), real HTTP, and a cookie-keeping browser that fills in the login
// forms the way a person would.
package apptest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Clock is an adjustable clock: real time plus an offset that tests move forward.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the current (shifted) time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Env is one running server.
type Env struct {
	T      testing.TB
	App    *app.App
	Store  *storage.Store
	Server *httptest.Server
	URL    string // the issuer
	Clock  *Clock
}

// New starts a server on st. edit may change the configuration before wiring.
func New(t testing.TB, st *storage.Store, edit ...func(*app.Config)) *Env {
	t.Helper()
	return NewLogged(t, st, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), edit...)
}

// NewLogged is New with the server's logger given (to inspect what it logs).
func NewLogged(t testing.TB, st *storage.Store, log *slog.Logger, edit ...func(*app.Config)) *Env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	cfg := app.Defaults()
	cfg.Issuer = issuer
	cfg.Dev = false
	cfg.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // fixed: two instances must share it
	cfg.Database = "(store given)"
	for _, f := range edit {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := &Clock{}
	a, err := app.New(context.Background(), cfg, app.Options{Now: clock.Now, Store: st, Log: log})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{T: t, App: a, Store: st, Server: srv, URL: issuer, Clock: clock}
}

// Second starts another instance on the same database (and the same secret key), as a load balancer
// would see it.
func (e *Env) Second(edit ...func(*app.Config)) *Env {
	e.T.Helper()
	return New(e.T, e.Store, edit...)
}

// Tenant creates a tenant.
func (e *Env) Tenant(name string) storage.Tenant {
	e.T.Helper()
	t, err := e.Store.CreateTenant(context.Background(), storage.Tenant{Slug: storage.NewID()[:12], Name: name})
	if err != nil {
		e.T.Fatalf("create tenant: %v", err)
	}
	return t
}

// User creates a user with the password.
func (e *Env) User(tenantID, email, password, role string) storage.User {
	e.T.Helper()
	hash, err := secret.HashPassword(password)
	if err != nil {
		e.T.Fatal(err)
	}
	u, err := e.Store.CreateUser(context.Background(), storage.User{TenantID: tenantID, Email: email, Name: "Test " + role,
		PasswordHash: hash, Role: role, EmailVerified: true})
	if err != nil {
		e.T.Fatalf("create user: %v", err)
	}
	return u
}

// ClientOptions describe a client to register.
type ClientOptions struct {
	Public      bool
	Grants      []string // default authorization_code + refresh_token
	Redirect    string   // default http://127.0.0.1:1/callback (nothing listens: the browser stops there)
	PostLogout  string
	Admin       bool
	ExtraScopes []string
	IDTokenAlg  string // id_token_signed_response_alg; "" for the server's default
}

// Client registers a client and returns it with its secret ("" for public clients).
func (e *Env) Client(tenantID string, o ClientOptions) (storage.Client, string) {
	e.T.Helper()
	if o.Grants == nil {
		o.Grants = []string{clientreg.GrantAuthorizationCode, clientreg.GrantRefreshToken}
	}
	if o.Redirect == "" {
		o.Redirect = "http://127.0.0.1:1/callback"
	}
	if o.PostLogout == "" {
		o.PostLogout = "http://127.0.0.1:1/signed-out"
	}
	c := storage.Client{TenantID: tenantID, Name: "Test App", Public: o.Public, RedirectURIs: []string{o.Redirect},
		PostLogoutURIs: []string{o.PostLogout}, Grants: o.Grants, Admin: o.Admin, Scopes: o.ExtraScopes,
		IDTokenAlg: o.IDTokenAlg}
	sec := ""
	if !o.Public {
		sec = secret.RandomToken(24)
		c.SecretHash = secret.HashClientSecret(sec)
	}
	c, err := e.Store.CreateClient(context.Background(), c)
	if err != nil {
		e.T.Fatalf("create client: %v", err)
	}
	return c, sec
}

// SetMFA turns a tenant's policy on or off.
func (e *Env) SetMFA(tenantID string, on bool) {
	e.T.Helper()
	if _, _, err := e.Store.SetMFAPolicy(context.Background(), tenantID, on, storage.AuditEvent{ActorID: "test", Action: "mfa.policy_changed"}); err != nil {
		e.T.Fatalf("set mfa: %v", err)
	}
}

// Host is the issuer's host:port.
func (e *Env) Host() string {
	u, _ := url.Parse(e.URL)
	return u.Host
}
