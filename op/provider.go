package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/mfa"
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
	h := &handler{op: p, st: st, route: route}
	return &Provider{OP: p, Handler: h, Storage: st}, nil
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

	mu        sync.Mutex
	discovery cachedDoc // the discovery document as last served
}

// cachedDoc is a serialised document and what it was built from.
type cachedDoc struct {
	issuer, keys string // the issuer and the key set version
	body         []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.route(r.Context(), "") // nothing matched, until the library's router (or a case below) says what did
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
		if err := r.ParseForm(); err == nil {
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
		// The code grant authenticates the client after it spent the code (a failed exchange burns it)
		// and answers invalid_client itself; the other grants are checked here.
		if r.FormValue("grant_type") != string(oidc.GrantTypeCode) && h.clientAuthFailed(r, false) {
			invalidClient(w, r)
			return
		}
	case h.op.IntrospectionEndpoint().Relative(), h.op.RevocationEndpoint().Relative():
		w = &challengeWriter{ResponseWriter: w, challenge: `Basic realm="` + h.op.IssuerFromRequest(r) + `"`}
		// The library answers a failed client authentication with unauthorized_client (and plain text
		// at introspection); RFC 6749 §5.2 and RFC 7662 §2.3 want 401 invalid_client.
		introspection := r.URL.Path == h.op.IntrospectionEndpoint().Relative()
		if h.clientAuthFailed(r, introspection) {
			invalidClient(w, r)
			return
		}
		// Discovery offers client_secret_post at introspection, where the library reads only HTTP
		// Basic: credentials that just passed in the body are handed on as Basic.
		if _, _, basic := r.BasicAuth(); introspection && !basic && r.Form.Get("client_secret") != "" {
			r.SetBasicAuth(url.QueryEscape(r.Form.Get("client_id")), url.QueryEscape(r.Form.Get("client_secret")))
		}
	case h.op.UserinfoEndpoint().Relative():
		cw := &challengeWriter{ResponseWriter: w, bearer: true, challenge: `Bearer realm="` + h.op.IssuerFromRequest(r) + `"`}
		if r.Header.Get("Authorization") != "" || (r.ParseForm() == nil && r.Form.Get("access_token") != "") {
			cw.challenge += `, error="invalid_token"`
			cw.invalid = true
		}
		w = cw
	}
	h.op.ServeHTTP(w, r)
}

// clientAuthFailed reports whether the request's client authentication fails: HTTP Basic, else
// client_id and client_secret in the body, as the library reads them. A public client may send its
// client_id alone, unless mustAuthenticate (introspection is for confidential clients, so there no
// client_id at all fails too). Requests without a client_id elsewhere, or with a client assertion, are
// left to the library, and so are database faults.
func (h *handler) clientAuthFailed(r *http.Request, mustAuthenticate bool) bool {
	if err := r.ParseForm(); err != nil {
		return false // the library answers the malformed body
	}
	id, sec, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		sec, err2 = url.QueryUnescape(sec)
		if err1 != nil || err2 != nil {
			return true
		}
	} else {
		if r.Form.Get("client_assertion") != "" || r.Form.Get("client_assertion_type") != "" {
			return false
		}
		id, sec = r.Form.Get("client_id"), r.Form.Get("client_secret")
		if id == "" {
			return mustAuthenticate
		}
	}
	ctx := r.Context()
	if !basic && sec == "" {
		c, err := h.st.Store.ClientByID(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return true
		case err != nil:
			return false
		}
		return mustAuthenticate || !c.Public
	}
	err := h.st.AuthorizeClientIDSecret(ctx, id, sec)
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
		return false
	}
	return err != nil
}

// invalidClient answers a failed client authentication: 401 invalid_client (the challengeWriter adds
// WWW-Authenticate), not cached.
func invalidClient(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	oidcop.RequestError(w, r, oidc.ErrInvalidClient().WithDescription("client authentication failed"), nil)
}

// loopbackRedirectAllowed applies RFC 8252 §7.3 to a public client's loopback redirect URI: it must
// equal a registered one but for the port. Anything else (other clients, other URIs) is left to the
// library's exact match.
func (h *handler) loopbackRedirectAllowed(ctx context.Context, clientID, redirectURI string) bool {
	if clientID == "" || redirectURI == "" {
		return true
	}
	if _, loopback := oidcop.HTTPLoopbackOrLocalhost(redirectURI); !loopback {
		return true
	}
	c, err := h.st.Store.ClientByID(ctx, clientID)
	if err != nil || !c.Public {
		return true
	}
	return loopbackRedirectMatches(c.RedirectURIs, redirectURI)
}

// challengeWriter adds the authentication challenge that the library leaves out of its 401 answers:
// Basic where clients authenticate (RFC 6749 §5.2), Bearer at userinfo (RFC 6750 §3). At userinfo a
// token that was sent but is dead (the library answers 401, or 403 once storage refuses it: revoked,
// expired, user disabled) becomes 401 invalid_token.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
	bearer    bool // userinfo
	invalid   bool // a token was sent
	replaced  bool // the library's body is dropped
}

func (cw *challengeWriter) WriteHeader(code int) {
	switch {
	case cw.bearer && cw.invalid && (code == http.StatusUnauthorized || code == http.StatusForbidden):
		h := cw.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "application/json")
		h.Set("WWW-Authenticate", cw.challenge)
		cw.replaced = true
		cw.ResponseWriter.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(cw.ResponseWriter, `{"error":"invalid_token","error_description":"the access token is invalid, expired or revoked"}`)
		return
	case code == http.StatusUnauthorized && cw.Header().Get("WWW-Authenticate") == "":
		cw.Header().Set("WWW-Authenticate", cw.challenge)
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *challengeWriter) Write(b []byte) (int, error) {
	if cw.replaced {
		return len(b), nil
	}
	return cw.ResponseWriter.Write(b)
}

func (cw *challengeWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

func (h *handler) keys(w http.ResponseWriter, r *http.Request) {
	body, _, err := h.st.Keys.JWKS(r.Context())
	if err != nil {
		slog.ErrorContext(r.Context(), "serve key set", "err", err)
		http.Error(w, "key set unavailable", http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, body)
}

func writeJSONBytes(w http.ResponseWriter, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// serveDiscovery serves the discovery document from memory; it is built again when the issuer or the
// published keys (their algorithms) change.
func (h *handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	issuer := h.op.IssuerFromRequest(r)
	_, version, err := h.st.Keys.JWKS(r.Context())
	if err != nil {
		slog.ErrorContext(r.Context(), "serve discovery", "err", err)
		http.Error(w, "discovery unavailable", http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	d := h.discovery
	h.mu.Unlock()
	if d.body == nil || d.issuer != issuer || d.keys != version {
		body, err := json.Marshal(h.discoveryDoc(r))
		if err != nil {
			slog.ErrorContext(r.Context(), "serve discovery", "err", err)
			http.Error(w, "discovery unavailable", http.StatusInternalServerError)
			return
		}
		d = cachedDoc{issuer: issuer, keys: version, body: append(body, '\n')}
		h.mu.Lock()
		h.discovery = d
		h.mu.Unlock()
	}
	writeJSONBytes(w, d.body)
}

// discoveryDoc advertises exactly what works: the library's defaults list implicit, id_token and
// jwt-bearer (#924), which we do not offer, and omit acr_values_supported.
func (h *handler) discoveryDoc(r *http.Request) *oidc.DiscoveryConfiguration {
	ctx := oidcop.ContextWithIssuer(r.Context(), h.op.IssuerFromRequest(r))
	d := oidcop.CreateDiscoveryConfig(ctx, h.op, h.st)
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFormPost)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.RevocationEndpointAuthSigningAlgValuesSupported = nil
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	d.RequestObjectSigningAlgValuesSupported = nil
	d.RequestParameterSupported = false
	d.RequestURIParameterSupported = false
	d.DeviceAuthorizationEndpoint = ""
	d.ACRValuesSupported = mfa.ACRValues()
	d.ClaimsParameterSupported = true // honoured for an essential acr claim
	d.SubjectTypesSupported = []string{"public"}
	return d
}

// clientOriginAllowed admits CORS only from the origins of registered redirect URIs.
func clientOriginAllowed(ctx context.Context, st Store, origin string) bool {
	clients, err := st.ListClients(ctx, "")
	if err != nil {
		return false
	}
	for _, c := range clients {
		for _, u := range c.RedirectURIs {
			if pu, err := url.Parse(u); err == nil && pu.Scheme+"://"+pu.Host == origin {
				return true
			}
		}
	}
	return false
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
