package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/storage"
)

// Client authentication at the token, introspection and revocation endpoints, and the challenges
// of their error answers.

// clientAuthFailed reports whether the request's client authentication fails: HTTP Basic, else
// client_id and client_secret in the body, as the library reads them. A public client may send its
// client_id alone, unless mustAuthenticate (introspection is for confidential clients, so there no
// client_id at all fails too). Requests without a client_id elsewhere, or with a client assertion, are
// left to the library, and so are database faults.
func (h *handler) clientAuthFailed(r *http.Request, mustAuthenticate bool) bool {
	if err := r.ParseForm(); err != nil {
		return false // not reached: the handler refused the malformed form before (refuseForm)
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
	if sec == "" { // no secret (some libraries send a public client's id as HTTP Basic "id:")
		c, err := h.st.clientByID(ctx, id)
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
