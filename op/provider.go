package op

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
)

// Config configures the provider.
type Config struct {
	Issuer        string
	CryptoKey     [32]byte // encrypts codes and refresh tokens; identical on every instance
	AllowInsecure bool     // http:// issuer (dev and tests)
	LoginPath     string   // where the login UI lives, e.g. "/login/"
	Log           *slog.Logger
	// Route, if set, is told the pattern of the endpoint that served each request ("" when none did),
	// for the metrics' route label (telemetry.SetRoute).
	Route func(ctx context.Context, pattern string)
}

// Provider is the mounted provider: Handler serves every OIDC endpoint, OP is the library's provider
// that the login UI needs for the callback URL and for error redirects.
type Provider struct {
	OP      *oidcop.Provider
	Handler http.Handler
	Storage *Storage

	h *handler
}

// New builds the provider over st.
func New(cfg Config, st *Storage) (*Provider, error) {
	route := cfg.Route
	if route == nil {
		route = func(context.Context, string) {}
	}
	opts := []oidcop.Option{
		oidcop.WithCrypto(st.Crypto),
		oidcop.WithHttpInterceptors(noStore, reportRoute(route)),
		oidcop.WithCORSOptions(&cors.Options{
			AllowOriginVaryRequestFunc: func(r *http.Request, origin string) (bool, []string) {
				if origin == "" { // not a cross-origin request: no need to read every client
					return false, nil
				}
				return clientOriginAllowed(r.Context(), st.Store, origin), nil
			},
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowedHeaders:   []string{"Authorization", "Content-Type"},
			AllowCredentials: false,
		}),
	}
	if cfg.AllowInsecure {
		opts = append(opts, oidcop.WithAllowInsecure())
	}
	p, err := oidcop.NewProvider(&oidcop.Config{
		CryptoKey:                cfg.CryptoKey,
		DefaultLogoutRedirectURI: strings.TrimSuffix(cfg.LoginPath, "/") + "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedClaims: []string{"sub", "aud", "iss", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
			"azp", "email", "email_verified", "name", "tenant"},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, clientreg.AdminScope},
	}, st, oidcop.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("create provider: %w", err)
	}
	h := &handler{op: p, st: st, route: route, once: singleValued(p)}
	h.userinfoCORS = cors.New(*p.CORSOptions()).Handler(http.HandlerFunc(h.userinfo)) // as the library's routes
	return &Provider{OP: p, Handler: h, Storage: st, h: h}, nil
}

// noStore keeps token, userinfo and discovery answers out of caches (RFC 6749 §5.1).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// handler serves our discovery document, carries the claims parameter of /authorize, and leaves the
// rest to the library.
type handler struct {
	op    *oidcop.Provider
	st    *Storage
	route func(ctx context.Context, pattern string) // see Config.Route
	once  map[string][]string                       // per endpoint, the parameters a request carries at most once (params.go)

	mu        sync.Mutex
	discovery cachedDoc // the discovery document as last served

	userinfoCORS http.Handler // h.userinfo behind the library's CORS handling (userinfo.go)
	tokens       tokenCache   // access tokens whose signature verified (userinfo.go)
}

// cachedDoc is a serialised document and what it was built from.
type cachedDoc struct {
	issuer, keys string // the issuer and the key set version
	body         []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.route(r.Context(), "") // nothing matched, until the library's router (or a case below) says what did
	switch r.URL.Path {
	case h.op.TokenEndpoint().Relative(), h.op.IntrospectionEndpoint().Relative(), h.op.RevocationEndpoint().Relative(),
		h.op.AuthorizationEndpoint().Relative(),               // /authorize: the library's validation, then CreateAuthRequest
		h.op.AuthorizationEndpoint().Relative() + "/callback": // the callback: read with the auth request
		r = r.WithContext(withClientMemo(r.Context())) // the client is read once per request (clientmemo.go)
	}
	// Where we read the request before the library, both must read the same one (params.go).
	if h.refuseForm(w, r) {
		return
	}
	switch r.URL.Path {
	case oidc.DiscoveryEndpoint:
		h.route(r.Context(), oidc.DiscoveryEndpoint)
		h.serveDiscovery(w, r)
		return
	case h.op.KeysEndpoint().Relative():
		// Served from memory: the key set is serialised once per set of keys. Cross-origin requests
		// go through the library's CORS handling.
		if r.Method == http.MethodGet && r.Header.Get("Origin") == "" {
			h.route(r.Context(), r.URL.Path)
			h.keys(w, r)
			return
		}
	case "/device_authorization":
		http.NotFound(w, r) // the library mounts it; we do not offer the device flow
		return
	case h.op.AuthorizationEndpoint().Relative():
		if v := r.Form.Get("claims"); v != "" {
			r = r.WithContext(withClaimsParam(r.Context(), v))
		}
		// Any response type but code is validated by the library as code (client, redirect URI), so
		// that CreateAuthRequest can send unsupported_response_type to the app (RFC 6749 §4.1.2.1).
		// Left alone, the library answers implicit requests to an http redirect URI with an error page.
		switch v := r.Form.Get("response_type"); v {
		case string(oidc.ResponseTypeCode):
		case "": // likewise: without one the library refuses an http redirect URI with a page
			r.Form.Set("response_type", string(oidc.ResponseTypeCode))
			r = r.WithContext(withMissingResponseType(r.Context()))
		default:
			r.Form.Set("response_type", string(oidc.ResponseTypeCode))
			r = r.WithContext(withUnsupportedResponseType(r.Context(), v))
		}
		// The library lets a loopback redirect URI of a public client differ from the registered one
		// in scheme and host too; only the port may (RFC 8252 §7.3). Refused like any unregistered
		// redirect URI: no redirect.
		if !h.loopbackRedirectAllowed(r.Context(), r.Form.Get("client_id"), r.Form.Get("redirect_uri")) {
			oidcop.AuthRequestError(w, r, nil, oidc.ErrInvalidRequestRedirectURI().WithDescription(
				"The requested redirect_uri is missing in the client configuration."), h.op)
			return
		}
	case h.op.TokenEndpoint().Relative():
		// The library always serves the jwt-bearer grant (and token exchange, device code once storage
		// has them); we offer only what discovery lists.
		switch r.FormValue("grant_type") { // as the library reads it
		case "", string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken), string(oidc.GrantTypeClientCredentials):
		default:
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
			oidcop.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("the grant type is not supported"), nil)
			return
		}
		w = &challengeWriter{ResponseWriter: w, challenge: `Basic realm="` + h.op.IssuerFromRequest(r) + `"`}
		if r.Form.Get("grant_type") == string(oidc.GrantTypeRefreshToken) {
			h.st.readRefreshGrant(r.Context(), r.Form.Get("refresh_token")) // the token and its client, one query
		}
		// The code grant authenticates the client after it spent the code (a failed exchange burns it)
		// and answers invalid_client itself; the other grants are checked here. A check that cannot run
		// now (a legacy secret's argon2id verification found no slot) is answered 503 for every grant,
		// before the code is spent; its verdict otherwise serves the library's check (clientmemo.go).
		res := h.clientAuth(r, false)
		if r.FormValue("grant_type") == string(oidc.GrantTypeCode) && res == clientAuthFailed {
			res = clientAuthPassed
		}
		if answerClientAuth(w, r, res) {
			return
		}
	case h.op.IntrospectionEndpoint().Relative(), h.op.RevocationEndpoint().Relative():
		w = &challengeWriter{ResponseWriter: w, challenge: `Basic realm="` + h.op.IssuerFromRequest(r) + `"`}
		// The library answers a failed client authentication with unauthorized_client (and plain text
		// at introspection); RFC 6749 §5.2 and RFC 7662 §2.3 want 401 invalid_client.
		introspection := r.URL.Path == h.op.IntrospectionEndpoint().Relative()
		if answerClientAuth(w, r, h.clientAuth(r, introspection)) {
			return
		}
		// Discovery offers client_secret_post at introspection, where the library reads only HTTP
		// Basic: credentials that just passed in the body are handed on as Basic.
		if _, _, basic := r.BasicAuth(); introspection && !basic && r.Form.Get("client_secret") != "" {
			r.SetBasicAuth(url.QueryEscape(r.Form.Get("client_id")), url.QueryEscape(r.Form.Get("client_secret")))
		}
	case h.op.UserinfoEndpoint().Relative():
		h.route(r.Context(), r.URL.Path)
		h.userinfoCORS.ServeHTTP(w, r)
		return
	}
	h.op.ServeHTTP(w, r)
}

// Defaults for token lifetimes.
const (
	DefaultAuthRequestTTL = 15 * time.Minute
	DefaultCodeTTL        = time.Minute
	DefaultAccessTTL      = 15 * time.Minute
	DefaultRefreshTTL     = 30 * 24 * time.Hour
	DefaultIDTokenTTL     = time.Hour
)

// AuthError ends a login by sending an OAuth error (login_required, interaction_required,
// access_denied) to the app's registered redirect URI.
func (p *Provider) AuthError(w http.ResponseWriter, r *http.Request, a storage.AuthRequest, err error) {
	oidcop.AuthRequestError(w, r, &authRequest{AuthRequest: a}, err, p.OP)
}

// CallbackURL is where the login UI sends the browser once the request is done.
func (p *Provider) CallbackURL(r *http.Request, id string) string {
	return oidcop.AuthCallbackURL(p.OP)(oidcop.ContextWithIssuer(r.Context(), p.OP.IssuerFromRequest(r)), id)
}

// VerifyAccessToken checks one of our JWT access tokens: signature against the published keys, issuer
// and expiry. Audience, scope and revocation are the caller's to check.
func (p *Provider) VerifyAccessToken(r *http.Request, token string) (*oidc.AccessTokenClaims, error) {
	ctx := oidcop.ContextWithIssuer(r.Context(), p.OP.IssuerFromRequest(r))
	return oidcop.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.OP.AccessTokenVerifier(ctx))
}

// VerifyIDTokenHint checks an id_token_hint issued by us (signature and issuer; an expired one is
// accepted, as at end_session) and returns its subject and tenant.
func (p *Provider) VerifyIDTokenHint(r *http.Request, hint string) (subject, tenant string, err error) {
	ctx := oidcop.ContextWithIssuer(r.Context(), p.OP.IssuerFromRequest(r))
	claims, err := oidcop.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.OP.IDTokenHintVerifier(ctx))
	var expired oidcop.IDTokenHintExpiredError
	if err != nil && !errors.As(err, &expired) {
		return "", "", err
	}
	tenant, _ = claims.Claims["tenant"].(string)
	return claims.Subject, tenant, nil
}
