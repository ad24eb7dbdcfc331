package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
)

// Endpoint paths (the discovery document is checked in TestDiscoveryDocument).
const (
	tokenPath      = "/oauth/token"
	introspectPath = "/oauth/introspect"
	userinfoPath   = "/userinfo"
	revokePath     = "/revoke"
	endSessionPath = "/end_session"
	authorizePath  = "/authorize"
	keysPath       = "/keys"
)

// oidcEnv is one tenant with a member and a confidential client, the common start of the protocol tests.
type oidcEnv struct {
	env    *apptest.Env
	ten    storage.Tenant
	user   storage.User
	client storage.Client
	secret string
	rp     *apptest.RP
}

func newOIDCEnv(t *testing.T, st *storage.Store, scopes ...string) *oidcEnv {
	t.Helper()
	env := apptest.New(t, st)
	ten := env.Tenant("Acme")
	u := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	return &oidcEnv{env: env, ten: ten, user: u, client: c, secret: sec, rp: env.RP(c, sec, scopes...)}
}

// signIn runs a password sign-in for o.user through rp in b and redeems the code.
func (o *oidcEnv) signIn(t *testing.T, rp *apptest.RP, b *apptest.Browser, opts ...oauth2.AuthCodeOption) (*apptest.Attempt, *oauth2.Token) {
	t.Helper()
	a, code := rp.SignIn(b, o.user.Email, pw, opts...)
	tok, err := rp.Exchange(code, a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return a, tok
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body as a JSON object.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not a JSON object (%d): %q", r.Status, r.Body)
	}
	return m
}

// OAuthError is the "error" member of a JSON error body ("" if there is none).
func (r response) OAuthError() string {
	var m struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.Body), &m)
	return m.Error
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	r, err := send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r
}

// send is do for goroutines, which must not stop the test.
func send(req *http.Request) (response, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, err
}

// postForm posts form to base+path, with HTTP Basic client authentication when user is not empty.
func postForm(t *testing.T, base, path string, form url.Values, user, pass string) response {
	t.Helper()
	return do(t, formRequest(base+path, form, user, pass))
}

func formRequest(u string, form url.Values, user, pass string) *http.Request {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return req
}

func get(t *testing.T, u string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

// userinfo calls the userinfo endpoint with the access token.
func userinfo(t *testing.T, env *apptest.Env, accessToken string) response {
	t.Helper()
	return get(t, env.URL+userinfoPath, http.Header{"Authorization": {"Bearer " + accessToken}})
}

// introspect asks whether token is active, authenticating as the client.
func introspect(t *testing.T, env *apptest.Env, clientID, secret, token string) map[string]any {
	t.Helper()
	r := postForm(t, env.URL, introspectPath, url.Values{"token": {token}}, clientID, secret)
	if r.Status != http.StatusOK {
		t.Fatalf("introspection: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// revoke revokes token (RFC 7009), authenticating as the client.
func revoke(t *testing.T, env *apptest.Env, clientID, secret, token, hint string) response {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return postForm(t, env.URL, revokePath, form, clientID, secret)
}

// retrieveError returns the OAuth error code and HTTP status of a failed oauth2 call.
func retrieveError(t *testing.T, err error) (string, int) {
	t.Helper()
	if err == nil {
		t.Fatal("the token request succeeded, want an error")
	}
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("error %T %v, want *oauth2.RetrieveError", err, err)
	}
	return re.ErrorCode, re.Response.StatusCode
}

// wantBearerInvalid checks a 401 with a Bearer challenge naming invalid_token (RFC 6750 §3).
func wantBearerInvalid(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401 (%s)", what, r.Status, r.Body)
	}
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge with error=\"invalid_token\"", what, ch)
	}
}

func active(m map[string]any) bool { b, _ := m["active"].(bool); return b }
