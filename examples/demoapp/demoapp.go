// Package demoapp is a small web app that signs its users in with Portcullis, the way any app would:
// a confidential OpenID Connect client on golang.org/x/oauth2 and github.com/coreos/go-oidc/v3, with
// the authorization code flow, state, nonce and PKCE (S256), ID token verification against the
// provider's keys, and RP-initiated logout. Its pages show who signed in and how (the amr and acr
// claims), which makes the tenant's MFA policy visible.
//
// It is an example, not a template for production: sessions live in the process's memory (see
// sessionStore), so it runs as one instance and forgets everyone when it restarts.
package demoapp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ACRMFA is the acr value an app sends (acr_values) to demand MFA for a sign-in.
const ACRMFA = "urn:portcullis:acr:mfa"

// Cookie names. The app may share a host with the provider (the browser ignores ports for cookies), so
// they must not collide with the provider's.
const (
	sessionCookie = "demoapp_session"
	loginCookie   = "demoapp_login"
)

// How long a started sign-in and a signed-in session last.
const (
	loginTTL   = 10 * time.Minute
	sessionTTL = 8 * time.Hour
)

// Config configures the demo app.
type Config struct {
	Issuer        string // the provider's issuer URL (discovery is at Issuer/.well-known/openid-configuration)
	ClientID      string
	ClientSecret  string
	RedirectURL   string // this app's /callback, as registered with the provider
	PostLogoutURL string // where the provider sends the browser after logout, as registered
	// HTTPClient makes the app's own requests to the provider (discovery, keys, token); nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Log receives the errors users see only a summary of; nil discards them.
	Log *slog.Logger
	// Now is the clock for sessions; nil means time.Now.
	Now func() time.Time
}

func (c Config) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"issuer", c.Issuer}, {"client id", c.ClientID},
		{"client secret", c.ClientSecret}, {"redirect URL", c.RedirectURL}, {"post-logout URL", c.PostLogoutURL}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	for _, f := range []struct{ name, value string }{{"redirect URL", c.RedirectURL}, {"post-logout URL", c.PostLogoutURL}} {
		if f.value == "" {
			continue
		}
		if u, err := url.Parse(f.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute http(s) URL", f.name, f.value))
		}
	}
	return errors.Join(errs...)
}

// app is the demo app's handler state.
type app struct {
	cfg        Config
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	endSession string // the provider's end_session_endpoint ("" if it has none)
	httpCtx    func(context.Context) context.Context
	store      *sessionStore
	pages      *template.Template
	secure     bool // cookies get the Secure flag (the app is served over https)
	csp        string
	log        *slog.Logger
}

// New discovers the provider at cfg.Issuer and returns the app's handler. The provider must be
// reachable: New fails if discovery does.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("demoapp: config: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	httpCtx := func(ctx context.Context) context.Context { return gooidc.ClientContext(ctx, cfg.HTTPClient) }
	// The provider keeps the client from this context for fetching its keys later.
	provider, err := gooidc.NewProvider(httpCtx(ctx), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("demoapp: discover the provider at %s (is it running?): %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("demoapp: read the discovery document: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("demoapp: %w", err)
	}
	a := &app{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}},
		verifier:   provider.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		endSession: meta.EndSession,
		httpCtx:    httpCtx,
		store:      newSessionStore(cfg.Now),
		pages:      pages,
		secure:     strings.HasPrefix(cfg.RedirectURL, "https://"),
		log:        cfg.Log,
	}
	// The logout form's redirect goes on to the provider, and Chromium checks form-action on redirects.
	formAction := "'self'"
	if u, err := url.Parse(meta.EndSession); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	a.csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action " + formAction

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /logout", a.logout)
	return a.headers(mux), nil
}

func (a *app) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", a.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the callback URL carries the code
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// home shows the landing page, or who is signed in and how.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	data := pageData{Title: "Demo App", Issuer: a.cfg.Issuer}
	if s, ok := a.session(r); ok {
		data.User = userView(s)
		data.CSRF = s.CSRF
	} else if r.URL.Query().Get("state") == logoutState {
		data.Notice = "You are signed out of the demo app and of Portcullis."
	}
	a.render(w, http.StatusOK, data)
}

// login starts the authorization code flow. /login?mfa=1 asks the provider for an MFA sign-in.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	p := pendingLogin{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		RequireMFA: r.URL.Query().Get("mfa") == "1"}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)}
	if p.RequireMFA {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", ACRMFA))
	}
	key, err := a.store.putLogin(p)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, failure{Heading: "The demo app is busy",
			Message: "Too many sign-ins are in progress. Try again in a few minutes."}, err)
		return
	}
	a.setCookie(w, loginCookie, key, loginTTL)
	http.Redirect(w, r, a.oauth.AuthCodeURL(p.State, opts...), http.StatusFound)
}

// callback ends the flow: it checks state, redeems the code, verifies the ID token and its nonce, and
// starts a session.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p pendingLogin
	ok := false
	if ck, err := r.Cookie(loginCookie); err == nil {
		p, ok = a.store.takeLogin(ck.Value)
	}
	a.setCookie(w, loginCookie, "", -1)
	if !ok {
		a.fail(w, r, http.StatusBadRequest, failure{Heading: "This sign-in has expired",
			Message: "The sign-in took too long, or was started in another browser or tab. Start again."}, nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		a.fail(w, r, http.StatusBadRequest, failure{Heading: "This sign-in cannot be trusted",
			Message: "The answer from the sign-in page does not belong to the sign-in this browser started. Start again."}, nil)
		return
	}
	if e := q.Get("error"); e != "" {
		a.fail(w, r, http.StatusBadRequest, providerFailure(e, q.Get("error_description")), nil)
		return
	}
	code := q.Get("code")
	if code == "" {
		a.fail(w, r, http.StatusBadRequest, failure{Heading: "Sign-in did not complete",
			Message: "Portcullis sent the browser back without a code. Start again."}, nil)
		return
	}
	ctx := a.httpCtx(r.Context())
	tok, err := a.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, failure{Heading: "Sign-in did not complete",
			Message: "Portcullis did not accept the code from this sign-in. Start again."}, fmt.Errorf("exchange code: %w", err))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		a.fail(w, r, http.StatusBadGateway, failure{Heading: "Sign-in did not complete",
			Message: "Portcullis answered without an ID token."}, errors.New("no id_token in the token response"))
		return
	}
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, failure{Heading: "Sign-in did not complete",
			Message: "The ID token from Portcullis did not verify."}, fmt.Errorf("verify id token: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		a.fail(w, r, http.StatusBadRequest, failure{Heading: "This sign-in cannot be trusted",
			Message: "The ID token was not issued for the sign-in this browser started. Start again."}, errors.New("id token nonce mismatch"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		a.fail(w, r, http.StatusBadGateway, failure{Heading: "Sign-in did not complete",
			Message: "The ID token from Portcullis could not be read."}, fmt.Errorf("id token claims: %w", err))
		return
	}
	if acr, _ := claims["acr"].(string); p.RequireMFA && acr != ACRMFA {
		a.fail(w, r, http.StatusForbidden, failure{Heading: "MFA was not confirmed",
			Message: "This sign-in asked for two-factor authentication, but the ID token says it was not used (acr " + fmt.Sprintf("%q", acr) + ")."}, nil)
		return
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		a.store.deleteSession(ck.Value) // a new sign-in gets a new session id
	}
	key, err := a.store.putSession(session{Claims: claims, RawIDToken: raw, CSRF: randomToken()})
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, failure{Heading: "The demo app is busy",
			Message: "Too many people are signed in. Try again later."}, err)
		return
	}
	a.setCookie(w, sessionCookie, key, sessionTTL)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logoutState comes back from the provider after logout, so the landing page can say so.
const logoutState = "signed-out"

// logout ends the local session and sends the browser to the provider's end_session_endpoint.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(r)
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
		a.fail(w, r, http.StatusForbidden, failure{Heading: "Sign-out was not confirmed",
			Message: "The sign-out form was stale. Go back to the demo app and sign out again."}, nil)
		return
	}
	a.store.deleteSession(s.key)
	a.setCookie(w, sessionCookie, "", -1)
	if a.endSession == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u, err := url.Parse(a.endSession)
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, failure{Heading: "Signed out of the demo app only",
			Message: "Portcullis's sign-out address is not valid."}, fmt.Errorf("end_session_endpoint: %w", err))
		return
	}
	q := u.Query()
	q.Set("id_token_hint", s.RawIDToken)
	q.Set("post_logout_redirect_uri", a.cfg.PostLogoutURL)
	q.Set("client_id", a.cfg.ClientID)
	q.Set("state", logoutState)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (a *app) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return a.store.session(ck.Value)
}

func (a *app) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode}
	if ttl < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(ttl / time.Second)
	}
	http.SetCookie(w, ck)
}

// failure is what an error page says.
type failure struct {
	Heading, Message string
	Code             string // the OAuth error code, when the provider sent one
	Detail           string // the provider's error_description
}

// providerFailure explains an error the provider returned to the callback.
func providerFailure(code, description string) failure {
	f := failure{Heading: "Sign-in did not complete", Code: code, Detail: description}
	switch code {
	case "access_denied":
		f.Message = "Portcullis did not allow this sign-in. You may have cancelled it, or your account may not have access to this app."
	case "login_required", "interaction_required", "consent_required":
		f.Message = "Portcullis needs you to sign in again before it lets you into this app."
	case "temporarily_unavailable", "server_error":
		f.Message = "Portcullis could not finish the sign-in just now. Try again in a moment."
	default:
		f.Message = "Portcullis refused the sign-in request."
	}
	return f
}

func (a *app) fail(w http.ResponseWriter, r *http.Request, status int, f failure, err error) {
	if err != nil {
		a.log.ErrorContext(r.Context(), "demo app sign-in failed", "path", r.URL.Path, "err", err)
	}
	a.render(w, status, pageData{Title: f.Heading + " · Demo App", Issuer: a.cfg.Issuer, Failure: &f})
}

func (a *app) render(w http.ResponseWriter, status int, data pageData) {
	var b strings.Builder
	if err := a.pages.ExecuteTemplate(&b, "page", data); err != nil {
		a.log.Error("render demo app page", "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// signInMethod says in words how the user signed in, from the amr claim (RFC 8176 values as
// Portcullis uses them: pwd, otp for an authenticator code, kba for a recovery code).
func signInMethod(amr []string) string {
	var parts []string
	if slices.Contains(amr, "pwd") {
		parts = append(parts, "password")
	}
	switch {
	case slices.Contains(amr, "otp"):
		parts = append(parts, "authenticator code")
	case slices.Contains(amr, "kba"):
		parts = append(parts, "recovery code")
	}
	if len(parts) == 0 {
		if len(amr) == 0 {
			return "unknown (the ID token has no amr claim)"
		}
		return strings.Join(amr, " + ")
	}
	return strings.Join(parts, " + ")
}

// stringList reads a JSON array of strings from a decoded claim.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
