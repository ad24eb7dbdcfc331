// Package app is the composition root: it loads configuration and wires storage, the provider, the
// login UI and the admin API into one http.Handler. Tests build the whole server in-process through it.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/admin"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/login"
	"github.com/portcullis/portcullis/mail"
	"github.com/portcullis/portcullis/mfa"
	"github.com/portcullis/portcullis/op"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/telemetry"
	"github.com/portcullis/portcullis/templates"
	"github.com/portcullis/portcullis/tenantadmin"
	"github.com/portcullis/portcullis/throttle"
)

// App is a wired Portcullis server.
type App struct {
	Config   Config
	Store    *storage.Store
	Log      *slog.Logger
	Handler  http.Handler
	Keys     *op.Keys
	Provider *op.Provider
	MFA      *mfa.Service
	Hasher   *secret.Hasher // bounded argon2id, shared by the login UI and the admin API
	Admin    *tenantadmin.Service
	Metrics  *telemetry.Metrics
	Now      func() time.Time
	Mail     *mail.Worker       // sends the outbox; nil without an SMTP server (app/mail.go)
	LinkHash *secret.KeyedHash  // emailed link tokens are stored by this keyed hash
	SMTPTLS  *tls.Config        // TLS configuration for the SMTP server; nil: system roots
	Accounts *lifecycle.Service // password resets, invitations and notifications by email
}

// Options are the process-level inputs that tests pin.
type Options struct {
	Now     func() time.Time // default time.Now
	Log     *slog.Logger     // default: discard
	Store   *storage.Store   // an already open (and migrated) store; default: open cfg.Database
	SMTPTLS *tls.Config      // trust for the SMTP server's certificate (tests); default: system roots
}

// New opens (or takes) the database, migrates it, and wires every part.
func New(ctx context.Context, cfg Config, o Options) (*App, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &App{Config: cfg, Log: o.Log, Now: o.Now, Store: o.Store, Metrics: telemetry.NewMetrics(), SMTPTLS: o.SMTPTLS}
	if a.Store == nil {
		st, err := OpenStore(ctx, cfg, o.Log)
		if err != nil {
			return nil, err
		}
		a.Store = st
	}
	master, err := masterKey(cfg)
	if err != nil {
		a.Store.Close()
		return nil, err
	}
	if err := a.wireMail(master); err != nil {
		a.Store.Close()
		return nil, err
	}
	if err := a.wire(ctx, master); err != nil {
		a.Store.Close()
		return nil, err
	}
	return a, nil
}

// OpenStore opens the configured database and applies pending migrations.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*storage.Store, error) {
	st, err := storage.Open(ctx, cfg.Database, storage.Options{MaxOpenConns: cfg.DatabaseMaxConns}, log)
	if err != nil {
		return nil, err
	}
	n, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if n > 0 {
		log.InfoContext(ctx, "database migrated", "migrations", n, "dialect", st.Dialect())
	}
	return st, nil
}

// masterKey is the configured secret key; in dev mode without one it is generated once and kept
// beside the SQLite database, so restarts keep tokens and sealed secrets readable.
func masterKey(cfg Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		return cfg.secretKeyBytes()
	}
	if !cfg.Dev {
		return nil, errors.New("secret_key is required outside dev mode")
	}
	dir, ok := sqliteDir(cfg)
	if !ok {
		return nil, errors.New("secret_key is required with PostgreSQL (dev mode keeps a generated key only beside a SQLite file)")
	}
	path := filepath.Join(dir, "portcullis.secret")
	if b, err := os.ReadFile(path); err == nil {
		c := cfg
		c.SecretKey = string(b)
		return c.secretKeyBytes()
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keep dev secret key: %w", err)
	}
	return key, nil
}

func (a *App) wire(ctx context.Context, master []byte) error {
	cfg := a.Config
	totpSealer, err := secret.NewSealer(master, "totp")
	if err != nil {
		return err
	}
	recoveryHash, err := secret.NewKeyedHash(master, "recovery-codes")
	if err != nil {
		return err
	}
	enrolmentHash, err := secret.NewKeyedHash(master, "enrolment-codes")
	if err != nil {
		return err
	}
	cryptoKey, err := hkdf.Key(sha256.New, master, nil, "portcullis/oidc-crypto", 32)
	if err != nil {
		return err
	}
	if a.Keys, err = newKeys(master, a.Store, a.Now); err != nil {
		return err
	}
	alg, err := op.ParseAlgorithm(cfg.SigningAlgorithm)
	if err != nil {
		return err
	}
	a.Keys.Default = alg
	if err := a.Keys.Ensure(ctx); err != nil {
		return err
	}
	tpl, err := templates.Load(templates.FS)
	if err != nil {
		return err
	}
	static, err := templates.Static(templates.FS)
	if err != nil {
		return err
	}
	var ck [32]byte
	copy(ck[:], cryptoKey)
	tokenCrypto, err := op.NewTokenCrypto(ck)
	if err != nil {
		return err
	}
	a.Hasher = secret.NewHasher(secret.HasherOptions{})
	st := &op.Storage{
		Store: a.Store, Keys: a.Keys, Crypto: tokenCrypto, Now: a.Now, Log: a.Log, Hasher: a.Hasher,
		LoginURL:      func(id string) string { return "/login/?authRequestID=" + id },
		AdminAudience: strings.TrimSuffix(cfg.Issuer, "/") + "/api", OnToken: a.Metrics.TokenIssued,
		AuthRequestTTL: op.DefaultAuthRequestTTL, CodeTTL: op.DefaultCodeTTL,
		AccessTTL: cfg.AccessTokenTTL.Duration, RefreshTTL: cfg.RefreshTokenTTL.Duration, IDTokenTTL: cfg.IDTokenTTL.Duration,
	}
	a.Provider, err = op.New(op.Config{Issuer: cfg.Issuer, CryptoKey: ck, AllowInsecure: strings.HasPrefix(cfg.Issuer, "http://"),
		LoginPath: "/login/", Log: a.Log, Route: telemetry.SetRoute}, st)
	if err != nil {
		return err
	}
	a.MFA = &mfa.Service{Store: a.Store, Sealer: totpSealer, RecoveryHash: recoveryHash, EnrolmentHash: enrolmentHash, Now: a.Now, Rand: rand.Reader, Log: a.Log,
		Limiter: &throttle.Limiter{Store: a.Store, Policy: throttle.OTPPolicy(), Now: a.Now}}
	a.wireAccounts()
	a.Admin = &tenantadmin.Service{Store: tenantadmin.FromStorage(a.Store), Enrolment: a.MFA, Hasher: a.Hasher, Now: a.Now,
		Accounts: a.Accounts, Passwords: a.Accounts.Passwords, Issuer: cfg.Issuer}
	secure := strings.HasPrefix(cfg.Issuer, "https://")
	csrfKey, err := secret.NewKeyedHash(master, "csrf")
	if err != nil {
		return err
	}
	webKeys, err := newWebAuthn(cfg, a.Store, a.Now, a.Log)
	if err != nil {
		return err
	}
	lh := &login.Handler{
		Store: a.Store, MFA: a.MFA, Templates: tpl, Static: http.FS(static), CSRFKey: csrfKey, Hasher: a.Hasher,
		Passwords: a.Accounts.Guesses, // one counter per user for the sign-in and the account page
		Addresses: &throttle.AddressLimiter{Store: a.Store, Policy: cfg.Throttle.AddressPolicy(), Now: a.Now},
		Callback:  a.Provider.CallbackURL, AuthError: a.Provider.AuthError,
		VerifyHint: a.Provider.VerifyIDTokenHint,
		Events:     a.Metrics, Accounts: a.Accounts, Invitations: a.Accounts, Now: a.Now, Log: a.Log, Secure: secure, SessionTTL: cfg.SessionTTL.Duration, Issuer: "Portcullis",
	}
	if webKeys != nil {
		webKeys.Limiter = a.MFA.Limiter
		lh.Keys = webKeys
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// One error path per surface: problem documents for the API, pages for everything else.
	pages, api := login.ErrorHandler(tpl, a.Log), admin.APIErrorHandler(a.Log)
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			api(err, c)
			return
		}
		pages(err, c)
	}
	e.Use(echoRoutes(e)) // the metrics' route label
	e.IPExtractor = echo.ExtractIPDirect()
	if cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	lh.Register(e.Group("/login"))
	ah := &admin.Handler{Store: a.Store, MFA: a.MFA, Admin: a.Admin, Passwords: a.Accounts, Templates: tpl, VerifyToken: a.Provider.VerifyAccessToken,
		Audience: st.AdminAudience, Issuer: cfg.Issuer, Now: a.Now, Log: a.Log,
		CSRF: lh.CSRF(lh.SessionBinding), PageHeaders: login.SecurityHeaders, BrowserSession: lh.BrowserSession, ScriptCSP: login.ScriptCSP}
	if webKeys != nil {
		ah.Keys = webKeys // the account page adds keys
	}
	ah.RegisterAPI(e.Group("/api/v1"))
	ah.RegisterPages(e.Group("/admin"))

	mux := http.NewServeMux()
	mux.Handle("/login/", e)
	mux.Handle("/admin/", e)
	mux.Handle("/admin", e)
	mux.Handle("/api/", e)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", a.ready)
	// The provider's bodies are limited to 64 KiB, also where the login UI's guards read the request
	// first (end_session parses the form): the limit is outside them. Where a guard reads the request,
	// the provider's parameter rules (a form that parses, single-valued parameters once) come before
	// it, so that the guard and the library read the same request.
	limit := func(h http.Handler) http.Handler { return http.MaxBytesHandler(h, 64<<10) }
	provider := a.Provider.Handler
	mux.Handle("/authorize", limit(lh.AuthorizeErrors(provider)))
	mux.Handle("/authorize/callback", limit(a.Provider.Precheck(lh.CallbackGuard(provider))))
	mux.Handle("/end_session", limit(a.Provider.Precheck(lh.EndSession(provider))))
	mux.Handle("/", limit(provider))
	a.Handler = telemetry.Middleware(a.Log, a.Metrics, mux)
	return nil
}

// ready answers 200 when the database answers and its schema is current.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	if pending, err := a.Store.MigrationsPending(ctx); err != nil || pending {
		http.Error(w, "migrations pending", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Close releases the database.
func (a *App) Close() error { return a.Store.Close() }

// MetricsHandler serves the Prometheus metrics. It is not part of Handler: Serve puts it on its own
// listener (metrics_listen), never on the main address.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	return mux
}

// Serve listens on cfg.Listen (and, when set, cfg.MetricsListen for /metrics) until ctx ends, then
// shuts down gracefully: in-flight requests finish. It also sweeps expired rows every few minutes.
// ready, if not nil, gets the main listener's address; the metrics listener's is logged.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	srv := &http.Server{Addr: a.Config.Listen, Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	if a.Config.MetricsListen != "" {
		mln, err := listen(ctx, a.Config.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		msrv := &http.Server{Handler: a.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		servers = append(servers, msrv)
		a.Log.Info("metrics listening", "addr", mln.Addr().String(), "path", "/metrics")
		go func() { errc <- msrv.Serve(mln) }()
	}
	ln, err := listen(ctx, a.Config.Listen)
	if err != nil {
		a.shutdown(servers[1:])
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	go a.sweep(ctx)
	go a.sendMail(ctx)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		a.shutdown(servers)
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	return a.shutdown(servers)
}

// shutdown stops the servers gracefully, each within 20 s.
func (a *App) shutdown(servers []*http.Server) error {
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (a *App) sweep(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.Store.Sweep(ctx, a.Now())
			if err != nil {
				a.Log.ErrorContext(ctx, "sweep expired rows", "err", err)
			} else if n > 0 {
				a.Log.InfoContext(ctx, "swept expired rows", "rows", n)
			}
		}
	}
}
