package op

import (
	"errors"
	"net/http"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"
)

// The parameters of a request, read once and read alike. Our pre-checks (and the login UI's guards in
// front of the provider) read a parameter's first value, the library's decoder (zitadel/schema) its
// last; and a form that does not parse (a ';' in the query, "%zz") returns an error from the first
// ParseForm only: the library's own ParseForm then succeeds with whatever could be read. So every
// endpoint whose request we read before the library does refuses, with invalid_request, a request
// whose form does not parse or that repeats a single-valued parameter (RFC 6749 §3.1: "Request and
// response parameters MUST NOT be included more than once"). Parameters that may repeat (RFC 8707
// resource) are not listed and stay allowed.

// clientAuthParams are the client authentication parameters of the token, introspection and
// revocation endpoints (RFC 6749 §2.3.1, RFC 7523 §2.2).
var clientAuthParams = []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"}

// singleValued lists, per endpoint (path relative to the issuer), the parameters that may appear at
// most once: every parameter the library decodes there, and the ones we read.
func singleValued(p *oidcop.Provider) map[string][]string {
	authorize := p.AuthorizationEndpoint().Relative()
	return map[string][]string{
		authorize: {"scope", "response_type", "client_id", "redirect_uri", "state", "nonce", "response_mode",
			"display", "prompt", "max_age", "ui_locales", "claims_locales", "id_token_hint", "login_hint",
			"acr_values", "code_challenge", "code_challenge_method", "request", "request_uri", "registration",
			"claims"},
		authorize + "/callback": {"id"},
		p.TokenEndpoint().Relative(): append([]string{"grant_type", "code", "redirect_uri", "code_verifier",
			"refresh_token", "scope"}, clientAuthParams...),
		p.IntrospectionEndpoint().Relative(): append([]string{"token", "token_type_hint"}, clientAuthParams...),
		p.RevocationEndpoint().Relative():    append([]string{"token", "token_type_hint"}, clientAuthParams...),
		p.EndSessionEndpoint().Relative(): {"id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri",
			"state", "ui_locales"},
	}
}

// formProblem parses r's form (query and body) and reports why it cannot be used, with the status to
// answer: 413 for a body over the limit (http.MaxBytesHandler), 400 for a form that does not parse or
// repeats one of once. It must be the first to parse the form: a later ParseForm no longer reports
// the error.
func formProblem(r *http.Request, once []string) (int, *oidc.Error) {
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, oidc.ErrInvalidRequest().WithDescription("the request body is too large")
		}
		return http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the request's parameters cannot be parsed")
	}
	for _, name := range once {
		if len(r.Form[name]) > 1 {
			return http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the parameter %s appears more than once", name)
		}
	}
	return 0, nil
}

// refuseForm answers a request of an endpoint in h.once whose form cannot be used (formProblem), and
// reports whether it did. /authorize and its callback answer plain text, never a redirect: the redirect
// URI is not known to be safe (the login UI's AuthorizeErrors shows it as a page, as the library's
// answer to an unregistered redirect URI); the other endpoints answer an OAuth error body.
func (h *handler) refuseForm(w http.ResponseWriter, r *http.Request) bool {
	once, ok := h.once[r.URL.Path]
	if !ok {
		return false
	}
	status, e := formProblem(r, once)
	if e == nil {
		return false
	}
	h.route(r.Context(), r.URL.Path)
	switch r.URL.Path {
	case h.op.AuthorizationEndpoint().Relative(), h.op.AuthorizationEndpoint().Relative() + "/callback":
		http.Error(w, e.Error(), status) // "ErrorType=invalid_request Description=...", as the library's own
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		httphelper.MarshalJSONWithStatus(w, e, status)
	}
	return true
}

// Precheck puts the provider's parameter rules (formProblem) in front of next, for a handler that reads
// a provider endpoint's request before the provider does: the login UI's end_session and callback
// guards. Requests to other paths pass unchanged.
func (p *Provider) Precheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.h.refuseForm(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}
