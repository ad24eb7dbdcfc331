package op

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/mfa"
)

// Discovery and the key set, served from memory, and the CORS origins of registered clients.

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
