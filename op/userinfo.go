package op

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portcullis/portcullis/storage"
)

// The userinfo endpoint (OpenID Connect Core §5.3, RFC 6750) is served here rather than by the library:
// the library verifies the access token's signature on every call (most of the endpoint's CPU) and
// answers a dead token with 403 and a plain-text body. Here a token's signature is verified once and
// remembered by the token's hash until the token expires; everything that decides access (revocation,
// expiry, the user being there and enabled) is read from the database on every call, in one query, so a
// revocation or a disabled user counts at once on every instance.

// userinfo serves /userinfo; h.userinfoCORS wraps it in the library's CORS handling.
func (h *handler) userinfo(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	realm := `Bearer realm="` + h.op.IssuerFromRequest(r) + `"`
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		hd.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token, err := bearerToken(r)
	switch {
	case err != nil:
		hd.Set("WWW-Authenticate", realm+`, error="invalid_request"`)
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case token == "":
		// RFC 6750 §3.1: a request without any credentials gets a challenge without an error code.
		hd.Set("WWW-Authenticate", realm)
		http.Error(w, "access token missing", http.StatusUnauthorized)
		return
	}
	ctx := r.Context()
	now := h.st.Now()
	claims, err := h.tokens.verify(ctx, h.st.Keys, token, h.op.IssuerFromRequest(r), now)
	if err != nil {
		if !errors.Is(err, errInvalidToken) {
			slog.ErrorContext(ctx, "userinfo: verify access token", "err", err)
			writeOAuthError(w, http.StatusInternalServerError, "server_error", "the token could not be checked")
			return
		}
		invalidToken(w, realm)
		return
	}
	// One read of the token row and its user, every call: revocation, expiry and a disabled or deleted
	// user count at once.
	at, u, err := h.st.Store.AccessTokenWithUser(ctx, claims.jti)
	switch {
	case errors.Is(err, storage.ErrNotFound): // unknown, a service token (no user) or a deleted user
		invalidToken(w, realm)
		return
	case err != nil:
		slog.ErrorContext(ctx, "userinfo: read access token", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "the token could not be checked")
		return
	case at.Subject != claims.sub || at.RevokedAt != nil || !now.Before(at.ExpiresAt) || u.Disabled:
		invalidToken(w, realm)
		return
	}
	body, err := json.Marshal(userinfoClaimsOf(u, at.Scopes))
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)+1))
	_, _ = w.Write(append(body, '\n'))
}

// userinfoClaims are the claims userinfo releases, as userinfoOf puts them into the ID token (the
// fields in the order of their names, as the library's encoding of oidc.UserInfo had them).
type userinfoClaims struct {
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	Subject       string `json:"sub"`
	Tenant        string `json:"tenant"`
}

func userinfoClaimsOf(u storage.User, scopes []string) userinfoClaims {
	c := userinfoClaims{Subject: u.ID, Tenant: u.TenantID}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeEmail:
			c.Email, c.EmailVerified = u.Email, u.EmailVerified
		case oidc.ScopeProfile:
			c.Name = u.Name
		}
	}
	return c
}

// bearerToken finds the access token of a request: the Authorization header (RFC 6750 §2.1), or the
// access_token parameter of a form body or the query (§2.2, §2.3); "" when there is none. More than
// one is an error (§2), and so is a malformed request.
func bearerToken(r *http.Request) (string, error) {
	var token string
	// Another scheme is no Bearer credential at all (§3.1: answered like a request without any).
	if scheme, t, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		if token = strings.TrimSpace(t); token == "" {
			return "", errors.New("the Bearer token is empty")
		}
	}
	if r.URL.RawQuery == "" && r.Method == http.MethodGet {
		return token, nil // nothing more to read
	}
	if err := r.ParseForm(); err != nil {
		return "", errors.New("the request body is malformed")
	}
	if vs := r.Form["access_token"]; len(vs) > 0 {
		if token != "" || len(vs) > 1 {
			return "", errors.New("more than one access token in the request")
		}
		token = vs[0]
	}
	return token, nil
}

func invalidToken(w http.ResponseWriter, realm string) {
	w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
	writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var errInvalidToken = errors.New("invalid access token")

// verifiedToken is what a verified access token says, remembered by the hash of the token.
type verifiedToken struct {
	jti, sub, iss, kid string
	exp                time.Time
}

// tokenCache remembers access tokens whose signature verified, until they expire. It holds no
// decision about access: revocation, expiry and the user are read from the database on every call,
// and the signing key must still be published. It is bounded; when full it forgets expired tokens,
// then half of the rest.
type tokenCache struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]verifiedToken
	max int
}

const maxVerifiedTokens = 10000

// verify checks one of our JWT access tokens: a compact JWS signed with a published key of its
// algorithm (RS256 or ES256), issued by issuer, with subject and id, not expired at now. Errors other
// than errInvalidToken are faults (the keys could not be read).
func (c *tokenCache) verify(ctx context.Context, keys *Keys, token, issuer string, now time.Time) (verifiedToken, error) {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	v, hit := c.m[sum]
	c.mu.Unlock()
	if !hit {
		var err error
		if v, err = verifyAccessToken(ctx, keys, token); err != nil {
			return verifiedToken{}, err
		}
		c.remember(sum, v, now)
	} else if _, _, published, err := keys.PublicKey(ctx, v.kid); err != nil {
		return verifiedToken{}, err
	} else if !published {
		return verifiedToken{}, errInvalidToken
	}
	if v.iss != issuer || !now.Before(v.exp) {
		return verifiedToken{}, errInvalidToken
	}
	return v, nil
}

func (c *tokenCache) remember(sum [sha256.Size]byte, v verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.max
	if limit == 0 {
		limit = maxVerifiedTokens
	}
	if c.m == nil {
		c.m = map[[sha256.Size]byte]verifiedToken{}
	}
	if len(c.m) >= limit {
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // map order is random: this forgets an arbitrary half
			if len(c.m) < limit/2 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[sum] = v
}

// verifyAccessToken checks the signature of token against the published key its header names and
// reads its claims.
func verifyAccessToken(ctx context.Context, keys *Keys, token string) (verifiedToken, error) {
	jws, err := jose.ParseSignedCompact(token, supportedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return verifiedToken{}, errInvalidToken
	}
	h := jws.Signatures[0].Header
	key, alg, ok, err := keys.PublicKey(ctx, h.KeyID)
	if err != nil {
		return verifiedToken{}, err
	}
	if !ok || h.KeyID == "" || string(alg) != h.Algorithm {
		return verifiedToken{}, errInvalidToken
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return verifiedToken{}, errInvalidToken
	}
	var claims struct {
		Issuer  string `json:"iss"`
		Subject string `json:"sub"`
		ID      string `json:"jti"`
		Expiry  int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Subject == "" || claims.ID == "" || claims.Expiry == 0 {
		return verifiedToken{}, errInvalidToken
	}
	return verifiedToken{jti: claims.ID, sub: claims.Subject, iss: claims.Issuer, kid: h.KeyID,
		exp: time.Unix(claims.Expiry, 0)}, nil
}
