package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Client authentication at the token, introspection and revocation endpoints, and the challenges
// of their error answers.

// clientAuthResult is what our check of a request's client authentication found.
type clientAuthResult int

const (
	clientAuthPassed clientAuthResult = iota // it passed, or it is left to the library
	clientAuthFailed                         // answer invalid_client
	clientAuthBusy                           // its argon2id verification found no slot: answer 503
)

// clientAuth checks the request's client authentication: HTTP Basic, else client_id and client_secret
// in the body, as the library reads them. A public client may send its client_id alone, unless
// mustAuthenticate (introspection is for confidential clients, so there no client_id at all fails
// too). Requests without a client_id elsewhere, or with a client assertion, are left to the library,
// and so are database faults.
func (h *handler) clientAuth(r *http.Request, mustAuthenticate bool) clientAuthResult {
	if err := r.ParseForm(); err != nil {
		return clientAuthPassed // not reached: the handler refused the malformed form before (refuseForm)
	}
	id, sec, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		sec, err2 = url.QueryUnescape(sec)
		if err1 != nil || err2 != nil {
			return clientAuthFailed
		}
	} else {
		if r.Form.Get("client_assertion") != "" || r.Form.Get("client_assertion_type") != "" {
			return clientAuthPassed
		}
		id, sec = r.Form.Get("client_id"), r.Form.Get("client_secret")
		if id == "" {
			return failedIf(mustAuthenticate)
		}
	}
	ctx := r.Context()
	if sec == "" { // no secret (some libraries send a public client's id as HTTP Basic "id:")
		c, err := h.st.clientByID(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return clientAuthFailed
		case err != nil:
			return clientAuthPassed
		}
		return failedIf(mustAuthenticate || !c.Public)
	}
	err := h.st.AuthorizeClientIDSecret(ctx, id, sec)
	var oe *oidc.Error
	switch {
	case errors.Is(err, secret.ErrBusy):
		return clientAuthBusy
	case errors.As(err, &oe) && oe.ErrorType == oidc.ServerError:
		return clientAuthPassed
	}
	return failedIf(err != nil)
}

func failedIf(failed bool) clientAuthResult {
	if failed {
		return clientAuthFailed
	}
	return clientAuthPassed
}

// answerClientAuth answers a client authentication that did not pass, and reports whether it did.
func answerClientAuth(w http.ResponseWriter, r *http.Request, res clientAuthResult) bool {
	switch res {
	case clientAuthFailed:
		invalidClient(w, r)
	case clientAuthBusy:
		busy(w)
	default:
		return false
	}
	return true
}

// busy answers a request whose client authentication could not run now: 503 with Retry-After and
// temporarily_unavailable (RFC 6749 §4.1.2.1's code for the same condition), not cached.
func busy(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Retry-After", "1")
	httphelper.MarshalJSONWithStatus(w, &oidc.Error{ErrorType: "temporarily_unavailable",
		Description: "too many client authentications at once; try again"}, http.StatusServiceUnavailable)
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

// challengeWriter adds the authentication challenge that the library leaves out of its 401 answers
// where clients authenticate (RFC 6749 §5.2).
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (cw *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && cw.Header().Get("WWW-Authenticate") == "" {
		cw.Header().Set("WWW-Authenticate", cw.challenge)
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *challengeWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
