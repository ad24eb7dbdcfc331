package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/admin"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

const adminScope = "portcullis:admin"

// ---- helpers -------------------------------------------------------------------------------------

// apiCall sends one admin API request; body "" sends none. Content-Type is application/json when there
// is a body, unless contentType says otherwise ("-" sends none).
type apiCall struct {
	Method, Path, Token, Body, ContentType string
	Chunked                                bool // send the body without Content-Length
	Header                                 http.Header
}

func (c apiCall) request(base string) (*http.Request, error) {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
		if c.Chunked {
			body = struct{ io.Reader }{body} // unknown length: chunked transfer
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), c.Method, base+c.Path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case c.ContentType == "-":
	case c.ContentType != "":
		req.Header.Set("Content-Type", c.ContentType)
	case c.Body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	return req, nil
}

func callAPI(t *testing.T, env *apptest.Env, c apiCall) response {
	t.Helper()
	req, err := c.request(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// callAPIAsync is callAPI for goroutines: it reports errors instead of failing the test.
func callAPIAsync(env *apptest.Env, c apiCall) (response, error) {
	req, err := c.request(env.URL)
	if err != nil {
		return response{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, err
}

func tenantPath(ref, rest string) string { return "/api/v1/tenants/" + ref + rest }

// wantProblem checks an RFC 9457 problem answer with the status.
func wantProblem(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d (%s)", what, r.Status, status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.Status != status || p.Title == "" || p.Type == "" {
		t.Errorf("%s: problem body %q", what, r.Body)
	}
}

// dbState is what the admin API can change in a tenant.
type dbState struct {
	Policy   bool
	PolicyAt time.Time
	PolicyBy string
	Users    []storage.User
	Auths    map[string]storage.Authenticator
	Clients  []storage.Client
	Audit    int
}

func snapshot(t *testing.T, st *storage.Store, tenantID string) dbState {
	t.Helper()
	ctx := context.Background()
	ten, err := st.TenantByID(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx, tenantID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	auths, err := st.AuthenticatorsByUsers(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := st.ListClients(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListAudit(ctx, tenantID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return dbState{Policy: ten.MFAEnabled, PolicyAt: ten.MFAUpdatedAt, PolicyBy: ten.MFAUpdatedBy, Users: users, Auths: auths,
		Clients: clients, Audit: len(evs)}
}

func wantUnchanged(t *testing.T, what string, before, after dbState) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	var diff []string
	bv, av := reflect.ValueOf(before), reflect.ValueOf(after)
	for i := range bv.NumField() {
		if !reflect.DeepEqual(bv.Field(i).Interface(), av.Field(i).Interface()) {
			diff = append(diff, bv.Type().Field(i).Name)
		}
	}
	t.Errorf("%s changed the database: %v (audit events %d → %d)", what, diff, before.Audit, after.Audit)
}

func auditEvents(t *testing.T, st *storage.Store, tenantID, action string) []storage.AuditEvent {
	t.Helper()
	evs, err := st.ListAudit(context.Background(), tenantID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(evs, func(e storage.AuditEvent) bool { return action != "" && e.Action != action })
}

// passwordToken signs in through rp in b with the password (and nothing else) and redeems the code.
func passwordToken(t *testing.T, rp *apptest.RP, b *apptest.Browser, email string) *oauth2.Token {
	t.Helper()
	a, code := rp.SignIn(b, email, pw)
	tok, err := rp.Exchange(code, a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// enrolToken signs in for the first time under the policy in b (password, enrolment, recovery codes)
// and redeems the code; b keeps an SSO session with both factors.
func enrolToken(t *testing.T, env *apptest.Env, rp *apptest.RP, b *apptest.Browser, email string) ([]byte, *oauth2.Token) {
	t.Helper()
	a := rp.Start()
	p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": email, "password": pw})
	if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
		t.Fatalf("after the password: %s (%d), want the enrolment page", p.URL, p.Status)
	}
	secret := apptest.EnrolmentSecret(t, p)
	p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
	if p.Status != 200 {
		t.Fatalf("after confirming the enrolment: %d %s", p.Status, p.URL)
	}
	p = b.Get(continueURL(t, p))
	tok, err := rp.Exchange(a.Code(t, p), a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return secret, tok
}

// ssoToken runs an authorization in b that completes from its SSO session alone.
func ssoToken(t *testing.T, rp *apptest.RP, b *apptest.Browser) *oauth2.Token {
	t.Helper()
	a := rp.Start()
	tok, err := rp.Exchange(a.Code(t, b.Get(a.URL)), a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func serviceToken(t *testing.T, rp *apptest.RP, c storage.Client, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: rp.Provider.Endpoint().TokenURL, Scopes: []string{adminScope}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	return tok.AccessToken
}

// forge flips one character in the middle of the JWT's signature.
func forge(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[2]) < 8 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	sig := []byte(parts[2])
	i := len(sig) / 2
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	parts[2] = string(sig)
	return strings.Join(parts, ".")
}

// adminEnv is a tenant with an admin, two members, an app client and admin/non-admin service clients.
type adminEnv struct {
	env         *apptest.Env
	st          *storage.Store
	ten         storage.Tenant
	admin       storage.User
	ann, bob    storage.User
	client      storage.Client
	secret      string
	rp          *apptest.RP // asks for portcullis:admin
	svc, plain  storage.Client
	svcSecret   string
	plainSecret string
}

func newAdminEnv(t *testing.T, st *storage.Store) *adminEnv {
	t.Helper()
	env := apptest.New(t, st)
	ten := env.Tenant("Acme")
	e := &adminEnv{env: env, st: st, ten: ten}
	e.admin = env.User(ten.ID, "boss@acme.test", pw, storage.RoleAdmin)
	e.ann = env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	e.bob = env.User(ten.ID, "bob@acme.test", pw, storage.RoleMember)
	e.client, e.secret = env.Client(ten.ID, apptest.ClientOptions{Admin: true}) // the tenant's admin console
	e.rp = env.RP(e.client, e.secret, "openid", "email", adminScope)
	e.svc, e.svcSecret = env.Client(ten.ID, apptest.ClientOptions{Grants: []string{"client_credentials"}, Admin: true})
	e.plain, e.plainSecret = env.Client(ten.ID, apptest.ClientOptions{Grants: []string{"client_credentials"}})
	return e
}

func (e *adminEnv) call(t *testing.T, method, rest, token, body string) response {
	t.Helper()
	return callAPI(t, e.env, apiCall{Method: method, Path: tenantPath(e.ten.Slug, rest), Token: token, Body: body})
}

// ---- authorization matrix ------------------------------------------------------------------------

// apiRoute is one admin API route with a request that would change something (or read something).
type apiRoute struct {
	method, path string // path as echo registers it, for the coverage check
	// build returns the path after the tenant and the body; ok says whether this is for a caller
	// that should succeed (so that it can target something made for it).
	build func(t *testing.T, ok bool) (rest, body string)
	want  int // status for an admin
}

func (e *adminEnv) routes(t *testing.T) []apiRoute {
	victim, _ := e.env.Client(e.ten.ID, apptest.ClientOptions{})
	victimInvitation := e.invite(t, "victim-invitation@acme.test")
	n := 0
	uniq := func() int { n++; return n }
	return []apiRoute{
		{"GET", "/tenants/:tenant/mfa-policy", func(*testing.T, bool) (string, string) { return "/mfa-policy", "" }, 200},
		{"PUT", "/tenants/:tenant/mfa-policy", func(_ *testing.T, ok bool) (string, string) {
			if ok {
				return "/mfa-policy", `{"enabled":true}` // the policy stays on for the other callers
			}
			return "/mfa-policy", `{"enabled":false}`
		}, 200},
		{"GET", "/tenants/:tenant/users", func(*testing.T, bool) (string, string) { return "/users", "" }, 200},
		{"POST", "/tenants/:tenant/users", func(*testing.T, bool) (string, string) {
			return "/users", fmt.Sprintf(`{"email":"new%d@acme.test","password":"long enough password","role":"admin"}`, uniq())
		}, 201},
		{"PATCH", "/tenants/:tenant/users/:user", func(_ *testing.T, ok bool) (string, string) {
			if ok {
				return "/users/" + e.bob.ID, fmt.Sprintf(`{"name":"Bob %d"}`, uniq())
			}
			return "/users/" + e.bob.ID, `{"role":"admin","disabled":true}`
		}, 200},
		{"DELETE", "/tenants/:tenant/users/:user/mfa", func(*testing.T, bool) (string, string) { return "/users/" + e.bob.ID + "/mfa", "" }, 200},
		{"GET", "/tenants/:tenant/clients", func(*testing.T, bool) (string, string) { return "/clients", "" }, 200},
		{"POST", "/tenants/:tenant/clients", func(*testing.T, bool) (string, string) {
			return "/clients", fmt.Sprintf(`{"name":"svc %d","grants":["client_credentials"],"admin":true}`, uniq())
		}, 201},
		{"DELETE", "/tenants/:tenant/clients/:client", func(t *testing.T, ok bool) (string, string) {
			if ok {
				c, _ := e.env.Client(e.ten.ID, apptest.ClientOptions{})
				return "/clients/" + c.ID, ""
			}
			return "/clients/" + victim.ID, ""
		}, 204},
		{"GET", "/tenants/:tenant/audit-events", func(*testing.T, bool) (string, string) { return "/audit-events", "" }, 200},
		{"DELETE", "/tenants/:tenant/users/:user", func(_ *testing.T, ok bool) (string, string) {
			if ok {
				return "/users/" + e.env.User(e.ten.ID, fmt.Sprintf("gone%d@acme.test", uniq()), pw, storage.RoleMember).ID, ""
			}
			return "/users/" + e.bob.ID, ""
		}, 204},
		{"POST", "/tenants/:tenant/users/:user/password-reset", func(*testing.T, bool) (string, string) {
			return "/users/" + e.bob.ID + "/password-reset", "{}"
		}, 202},
		{"GET", "/tenants/:tenant/invitations", func(*testing.T, bool) (string, string) { return "/invitations", "" }, 200},
		{"POST", "/tenants/:tenant/invitations/:invitation/resend", func(t *testing.T, ok bool) (string, string) {
			if ok {
				return "/invitations/" + e.invite(t, fmt.Sprintf("inv%d@acme.test", uniq())) + "/resend", "{}"
			}
			return "/invitations/" + victimInvitation + "/resend", "{}"
		}, 200},
		{"DELETE", "/tenants/:tenant/invitations/:invitation", func(t *testing.T, ok bool) (string, string) {
			if ok {
				return "/invitations/" + e.invite(t, fmt.Sprintf("inv%d@acme.test", uniq())), ""
			}
			return "/invitations/" + victimInvitation, ""
		}, 204},
	}
}

// invite invites email to e's tenant (as the CLI would) and returns the invitation's id.
func (e *adminEnv) invite(t *testing.T, email string) string {
	t.Helper()
	inv, err := e.env.App.Admin.Invite(context.Background(), tenantadmin.Actor{ID: "test"}, e.ten, email, "", storage.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Link.ID
}

// The matrix covers every route RegisterAPI registers behind the bearer check.
func checkRouteCoverage(t *testing.T, routes []apiRoute) {
	t.Helper()
	e := echo.New()
	(&admin.Handler{}).RegisterAPI(e.Group("/api/v1"))
	var registered, covered []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, "/api/v1/tenants/") {
			continue
		}
		registered = append(registered, r.Method+" "+r.Path)
	}
	for _, r := range routes {
		covered = append(covered, r.method+" /api/v1"+r.path)
	}
	sort.Strings(registered)
	sort.Strings(covered)
	if !slices.Equal(slices.Compact(registered), covered) {
		t.Fatalf("the matrix covers %v\nbut the API registers %v", covered, registered)
	}
}

func TestAdminAPIAuthorizationMatrix(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		ctx := context.Background()

		// Tokens taken while the policy is off: the admin with the password only, a member who
		// asked for the admin scope.
		pwdOnly := passwordToken(t, e.rp, env.NewBrowser(), e.admin.Email).AccessToken
		member := passwordToken(t, e.rp, env.NewBrowser(), e.ann.Email).AccessToken

		// Another tenant with its own admin and admin service client.
		other := env.Tenant("Other")
		env.User(other.ID, "root@other.test", pw, storage.RoleAdmin)
		oc, osec := env.Client(other.ID, apptest.ClientOptions{Admin: true})
		orp := env.RP(oc, osec, "openid", adminScope)
		otherAdmin := passwordToken(t, orp, env.NewBrowser(), "root@other.test").AccessToken
		osvc, osvcSecret := env.Client(other.ID, apptest.ClientOptions{Grants: []string{"client_credentials"}, Admin: true})
		otherService := serviceToken(t, orp, osvc, osvcSecret)

		// The policy goes on; the admin enrols and gets an admin token with the second factor, then
		// (by SSO) one without the admin scope and one that is revoked.
		env.SetMFA(e.ten.ID, true)
		b := env.NewBrowser()
		_, tok := enrolToken(t, env, e.rp, b, e.admin.Email)
		adminTok := tok.AccessToken
		normal := ssoToken(t, env.RP(e.client, e.secret), b).AccessToken
		revoked := ssoToken(t, e.rp, b).AccessToken
		if r := revoke(t, env, e.client.ID, e.secret, revoked, "access_token"); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		service := serviceToken(t, e.rp, e.svc, e.svcSecret)
		plainService := serviceToken(t, e.rp, e.plain, e.plainSecret)

		routes := e.routes(t)
		checkRouteCoverage(t, routes)

		type caller struct {
			name   string
			token  string
			ref    string // tenant ref; default e.ten.Slug
			status int    // 0: the route's success status
			header http.Header
			error  string // the error named in the WWW-Authenticate challenge, if any
		}
		callers := []caller{
			{name: "no token", status: 401},
			{name: "Basic credentials", status: 401, header: http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}}},
			{name: "malformed token", token: "not-a-jwt", status: 401, error: "invalid_token"},
			{name: "forged signature", token: forge(t, adminTok), status: 401, error: "invalid_token"},
			{name: "revoked", token: revoked, status: 401, error: "invalid_token"},
			{name: "no admin audience (normal scopes)", token: normal, status: 403, error: "insufficient_scope"},
			{name: "member who asked for portcullis:admin", token: member, status: 403, error: "insufficient_scope"},
			{name: "admin of another tenant", token: otherAdmin, status: 403},
			{name: "admin service client of another tenant", token: otherService, status: 403},
			{name: "service client not marked admin", token: plainService, status: 403, error: "insufficient_scope"},
			{name: "password-only admin while the policy is on", token: pwdOnly, status: 403, error: "insufficient_user_authentication"},
			{name: "admin, unknown tenant", token: adminTok, ref: "no-such-tenant", status: 404},
			{name: "service admin, unknown tenant", token: service, ref: "no-such-tenant", status: 404},
			{name: "admin with the second factor", token: adminTok},
			{name: "admin by tenant id", token: adminTok, ref: e.ten.ID},
			{name: "admin service client", token: service},
			{name: "admin, lower-case scheme", header: http.Header{"Authorization": {"bearer " + adminTok}}},
		}
		run := func(t *testing.T, c caller) {
			for _, r := range routes {
				ok := c.status == 0
				rest, body := r.build(t, ok)
				ref := c.ref
				if ref == "" {
					ref = e.ten.Slug
				}
				what := fmt.Sprintf("%s %s%s as %s", r.method, ref, rest, c.name)
				before := snapshot(t, st, e.ten.ID)
				resp := callAPI(t, env, apiCall{Method: r.method, Path: tenantPath(ref, rest), Token: c.token, Body: body, Header: c.header})
				if ok {
					if resp.Status != r.want {
						t.Errorf("%s: status %d, want %d (%s)", what, resp.Status, r.want, resp.Body)
					}
					continue
				}
				wantProblem(t, what, resp, c.status)
				ch := resp.Header.Get("WWW-Authenticate")
				if c.status == 401 && !strings.HasPrefix(ch, "Bearer ") {
					t.Errorf("%s: WWW-Authenticate %q", what, ch)
				}
				if c.error != "" && !strings.Contains(ch, `error="`+c.error+`"`) {
					t.Errorf("%s: WWW-Authenticate %q, want error=%q", what, ch, c.error)
				}
				wantUnchanged(t, what, before, snapshot(t, st, e.ten.ID))
			}
		}
		for _, c := range callers {
			t.Run(c.name, func(t *testing.T) { run(t, c) })
		}
		// The access token TTL is 15 minutes; the database check uses the server's clock.
		env.Clock.Advance(16 * time.Minute)
		t.Run("expired", func(t *testing.T) {
			run(t, caller{name: "expired admin token", token: adminTok, status: 401, error: "invalid_token"})
		})
		t.Run("expired service", func(t *testing.T) {
			run(t, caller{name: "expired service token", token: service, status: 401, error: "invalid_token"})
		})

		if ten, _ := st.TenantByID(ctx, e.ten.ID); !ten.MFAEnabled {
			t.Error("the policy went off")
		}
	})
}

// The API's own errors (a problem document) for routes and methods it does not have, and the spec.
func TestAdminAPIOpenAPIServed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		r := get(t, env.URL+"/api/v1/openapi.json", nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		if v, _ := r.JSON(t)["openapi"].(string); !strings.HasPrefix(v, "3.") {
			t.Errorf("openapi = %q", v)
		}
		wantProblem(t, "unknown API path", get(t, env.URL+"/api/v1/nothing-here", nil), 404)
	})
}

// ---- bad input -----------------------------------------------------------------------------------

func TestAdminAPIBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		big := strings.Repeat("x", 70<<10)
		type bad struct {
			name, body, contentType string
			chunked                 bool
			want                    int
		}
		common := func(valid, bigField string) []bad {
			trimmed := strings.TrimSuffix(valid, "}")
			return []bad{
				{name: "malformed JSON", body: trimmed, want: 400},
				{name: "not an object", body: `[` + valid + `]`, want: 400},
				{name: "null", body: `null`, want: 400},
				{name: "empty body", body: ``, contentType: "application/json", want: 400},
				{name: "unknown field", body: trimmed + `,"surprise":1}`, want: 400},
				{name: "trailing object", body: valid + ` {}`, want: 400},
				{name: "trailing garbage", body: valid + `x`, want: 400},
				{name: "over 64 KiB", body: trimmed + `,"` + bigField + `":"` + big + `"}`, want: 413},
				{name: "over 64 KiB, chunked", body: trimmed + `,"` + bigField + `":"` + big + `"}`, chunked: true, want: 413},
				{name: "text/plain", body: valid, contentType: "text/plain", want: 415},
				{name: "form", body: valid, contentType: "application/x-www-form-urlencoded", want: 415},
				{name: "no content type", body: valid, contentType: "-", want: 415},
			}
		}
		for _, route := range []struct {
			method, rest, valid, bigField string
			extra                         []bad
		}{
			{"PUT", "/mfa-policy", `{"enabled":true}`, "enabled", []bad{
				{name: "wrong type", body: `{"enabled":"yes"}`, want: 400},
				{name: "wrong type (number)", body: `{"enabled":1}`, want: 400},
				{name: "missing required", body: `{}`, want: 400},
				{name: "null value", body: `{"enabled":null}`, want: 400},
				{name: "unknown method", body: `{"enabled":true,"methods":["sms"]}`, want: 400},
				{name: "no method", body: `{"enabled":true,"methods":[]}`, want: 400},
				{name: "methods of the wrong type", body: `{"enabled":true,"methods":"totp"}`, want: 400},
			}},
			{"POST", "/users", `{"email":"new@acme.test","password":"long enough password","role":"member"}`, "name", []bad{
				{name: "wrong type", body: `{"email":"new@acme.test","password":12345678901}`, want: 400},
				{name: "missing required", body: `{"email":"new@acme.test"}`, want: 400},
				{name: "bad email", body: `{"email":"not-an-address","password":"long enough password"}`, want: 400},
				{name: "email with a display name", body: `{"email":"New <new@acme.test>","password":"long enough password"}`, want: 400},
				{name: "short password", body: `{"email":"new@acme.test","password":"short"}`, want: 400},
				{name: "bad role", body: `{"email":"new@acme.test","password":"long enough password","role":"owner"}`, want: 400},
				{name: "name too long", body: `{"email":"new@acme.test","password":"long enough password","name":"` + strings.Repeat("n", 201) + `"}`, want: 400},
				{name: "existing email", body: `{"email":"ann@acme.test","password":"long enough password"}`, want: 409},
				{name: "existing email in capitals", body: `{"email":"ANN@acme.test","password":"long enough password"}`, want: 409},
			}},
			{"PATCH", "/users/" + e.bob.ID, `{"role":"admin"}`, "name", []bad{
				{name: "wrong type", body: `{"disabled":"yes"}`, want: 400},
				{name: "wrong type (role)", body: `{"role":1}`, want: 400},
				{name: "missing required (nothing to change)", body: `{}`, want: 400},
				{name: "bad role", body: `{"role":"owner"}`, want: 400},
				{name: "name too long", body: `{"name":"` + strings.Repeat("n", 201) + `"}`, want: 400},
			}},
			{"POST", "/clients", `{"name":"app","redirect_uris":["https://app.example/cb"]}`, "name", []bad{
				{name: "wrong type", body: `{"name":"app","redirect_uris":"https://app.example/cb"}`, want: 400},
				{name: "wrong type (public)", body: `{"name":"app","public":"no","redirect_uris":["https://app.example/cb"]}`, want: 400},
				{name: "missing required", body: `{"redirect_uris":["https://app.example/cb"]}`, want: 400},
				{name: "http redirect URI on a non-loopback host", body: `{"name":"app","redirect_uris":["http://app.example/cb"]}`, want: 400},
				{name: "redirect URI with a fragment", body: `{"name":"app","redirect_uris":["https://app.example/cb#x"]}`, want: 400},
				{name: "relative redirect URI", body: `{"name":"app","redirect_uris":["/cb"]}`, want: 400},
				{name: "public and admin", body: `{"name":"app","public":true,"admin":true,"grants":["client_credentials"]}`, want: 400},
				{name: "public admin console", body: `{"name":"app","public":true,"admin":true,"redirect_uris":["https://app.example/cb"]}`, want: 400},
				{name: "unknown grant", body: `{"name":"app","grants":["password"]}`, want: 400},
				{name: "no redirect URI for the code flow", body: `{"name":"app"}`, want: 400},
				{name: "unsupported id token alg", body: `{"name":"app","redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":"HS256"}`, want: 400},
			}},
		} {
			for _, c := range append(common(route.valid, route.bigField), route.extra...) {
				what := route.method + " " + route.rest + ": " + c.name
				before := snapshot(t, st, e.ten.ID)
				r := callAPI(t, e.env, apiCall{Method: route.method, Path: tenantPath(e.ten.Slug, route.rest), Token: token,
					Body: c.body, ContentType: c.contentType, Chunked: c.chunked})
				wantProblem(t, what, r, c.want)
				wantUnchanged(t, what, before, snapshot(t, st, e.ten.ID))
			}
			// The valid body is accepted (so the refusals above were about the input).
			r := callAPI(t, e.env, apiCall{Method: route.method, Path: tenantPath(e.ten.Slug, route.rest), Token: token, Body: route.valid,
				ContentType: "application/json; charset=utf-8"})
			if r.Status/100 != 2 {
				t.Errorf("%s %s with a valid body: %d %s", route.method, route.rest, r.Status, r.Body)
			}
		}
		// Paging parameters are checked too.
		for _, q := range []string{"?limit=0", "?limit=201", "?limit=x", "?offset=-1"} {
			for _, rest := range []string{"/users", "/audit-events"} {
				wantProblem(t, "GET "+rest+q, e.call(t, "GET", rest+q, token, ""), 400)
			}
		}
		// Unknown targets are 404 problems and change nothing.
		before := snapshot(t, st, e.ten.ID)
		wantProblem(t, "PATCH unknown user", e.call(t, "PATCH", "/users/nobody", token, `{"role":"admin"}`), 404)
		wantProblem(t, "DELETE unknown user's mfa", e.call(t, "DELETE", "/users/nobody/mfa", token, ""), 404)
		wantProblem(t, "DELETE unknown client", e.call(t, "DELETE", "/clients/nothing", token, ""), 404)
		// Another tenant's user and client are unknown here.
		other := e.env.Tenant("Other")
		ou := e.env.User(other.ID, "x@other.test", pw, storage.RoleMember)
		oc, _ := e.env.Client(other.ID, apptest.ClientOptions{})
		wantProblem(t, "PATCH another tenant's user", e.call(t, "PATCH", "/users/"+ou.ID, token, `{"disabled":true}`), 404)
		wantProblem(t, "DELETE another tenant's user's mfa", e.call(t, "DELETE", "/users/"+ou.ID+"/mfa", token, ""), 404)
		wantProblem(t, "DELETE another tenant's client", e.call(t, "DELETE", "/clients/"+oc.ID, token, ""), 404)
		wantUnchanged(t, "requests for unknown targets", before, snapshot(t, st, e.ten.ID))
		if u, _ := st.UserByID(context.Background(), ou.ID); u.Disabled {
			t.Error("another tenant's user was disabled")
		}
		if _, err := st.ClientByID(context.Background(), oc.ID); err != nil {
			t.Errorf("another tenant's client: %v", err)
		}
	})
}

// ---- happy paths ---------------------------------------------------------------------------------

type policyOut struct {
	Enabled   bool       `json:"enabled"`
	UpdatedAt *time.Time `json:"updated_at"`
	UpdatedBy string     `json:"updated_by"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("decode %T from %d %q: %v", v, r.Status, r.Body, err)
	}
	return v
}

type userOut struct {
	ID, Email, Name, Role, MFA string
	Disabled                   bool
	EnrolledAt                 *time.Time `json:"mfa_enrolled_at"`
}

type pageOf[T any] struct {
	Items      []T  `json:"items"`
	NextOffset *int `json:"next_offset"`
}

func TestAdminAPIPolicyIdempotent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		r := e.call(t, "GET", "/mfa-policy", token, "")
		if p := decode[policyOut](t, r); r.Status != 200 || p.Enabled || p.UpdatedAt != nil {
			t.Fatalf("initial policy: %d %s", r.Status, r.Body)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		for i := range 2 {
			r := e.call(t, "PUT", "/mfa-policy", token, `{"enabled":true}`)
			p := decode[policyOut](t, r)
			if r.Status != 200 || !p.Enabled || p.UpdatedBy != e.svc.ID || p.UpdatedAt == nil {
				t.Fatalf("PUT true #%d: %d %s", i+1, r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		}
		if p := decode[policyOut](t, e.call(t, "GET", "/mfa-policy", token, "")); !p.Enabled {
			t.Fatal("after two PUTs true the policy is off")
		}
		evs := auditEvents(t, st, e.ten.ID, "mfa.policy_changed")
		if len(evs) != 2 {
			t.Fatalf("%d policy events, want 2", len(evs))
		}
		// Newest first: true→true, then false→true.
		for i, want := range []map[string]any{{"old": true, "new": true}, {"old": false, "new": true}} {
			if evs[i].Detail["old"] != want["old"] || evs[i].Detail["new"] != want["new"] || evs[i].ActorID != e.svc.ID || evs[i].TargetID != e.ten.ID {
				t.Errorf("event %d: actor %s target %s detail %v, want %v", i, evs[i].ActorID, evs[i].TargetID, evs[i].Detail, want)
			}
		}
		for i := range 2 {
			if r := e.call(t, "PUT", "/mfa-policy", token, `{"enabled":false}`); r.Status != 200 || decode[policyOut](t, r).Enabled {
				t.Fatalf("PUT false #%d: %d %s", i+1, r.Status, r.Body)
			}
		}
		if n := len(auditEvents(t, st, e.ten.ID, "mfa.policy_changed")); n != 4 {
			t.Errorf("%d policy events, want 4", n)
		}
		if ten, _ := st.TenantByID(context.Background(), e.ten.ID); ten.MFAEnabled {
			t.Error("the policy is still on")
		}
	})
}

func TestAdminAPIUsersAndMFAReset(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		ctx := context.Background()
		env.SetMFA(e.ten.ID, true)

		// The admin enrols with the admin scope; ann enrols through the app; bob only reaches the
		// enrolment page (pending).
		adminBrowser := env.NewBrowser()
		_, tok := enrolToken(t, env, e.rp, adminBrowser, e.admin.Email)
		token := tok.AccessToken
		annBrowser := env.NewBrowser()
		appRP := env.RP(e.client, e.secret)
		_, annTok := enrolToken(t, env, appRP, annBrowser, e.ann.Email)
		bp := env.NewBrowser()
		if p := bp.Submit(bp.Get(appRP.Start().URL), "/login/password", map[string]string{"email": e.bob.Email, "password": pw}); !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("bob went to %s", p.URL)
		}
		carol := env.User(e.ten.ID, "carol@acme.test", pw, storage.RoleMember)

		r := e.call(t, "GET", "/users", token, "")
		if r.Status != 200 {
			t.Fatalf("GET users: %d %s", r.Status, r.Body)
		}
		users := decode[pageOf[userOut]](t, r)
		state := map[string]string{}
		for _, u := range users.Items {
			state[u.Email] = u.MFA
			if u.MFA == "active" && u.EnrolledAt == nil {
				t.Errorf("%s is active without an enrolment time", u.Email)
			}
		}
		want := map[string]string{e.admin.Email: "active", e.ann.Email: "active", e.bob.Email: "pending", carol.Email: "none"}
		if !reflect.DeepEqual(state, want) || users.NextOffset != nil {
			t.Errorf("users' MFA %v next %v, want %v", state, users.NextOffset, want)
		}
		// Paging.
		p1 := decode[pageOf[userOut]](t, e.call(t, "GET", "/users?limit=3", token, ""))
		if len(p1.Items) != 3 || p1.NextOffset == nil || *p1.NextOffset != 3 {
			t.Fatalf("page 1: %+v", p1)
		}
		p2 := decode[pageOf[userOut]](t, e.call(t, "GET", "/users?limit=3&offset=3", token, ""))
		if len(p2.Items) != 1 || p2.NextOffset != nil || p2.Items[0].ID == p1.Items[0].ID {
			t.Fatalf("page 2: %+v", p2)
		}

		// Reset ann: her authenticator, SSO session and tokens are gone.
		r = e.call(t, "DELETE", "/users/"+e.ann.ID+"/mfa", token, "")
		if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		reset := decode[struct {
			UserID        string    `json:"user_id"`
			EnrolmentCode string    `json:"enrolment_code"`
			ExpiresAt     time.Time `json:"expires_at"`
		}](t, r)
		if reset.UserID != e.ann.ID || len(reset.EnrolmentCode) != 19 || reset.ExpiresAt.Sub(env.Clock.Now().Add(72*time.Hour)).Abs() > time.Minute {
			t.Fatalf("reset answer: %+v", reset)
		}
		if _, err := st.AuthenticatorByUser(ctx, e.ann.ID); err == nil {
			t.Error("ann's authenticator survived the reset")
		}
		if codes, _ := st.UnusedRecoveryCodes(ctx, e.ann.ID); len(codes) != 0 {
			t.Errorf("%d recovery codes survived the reset", len(codes))
		}
		wantBearerInvalid(t, "ann's token after the reset", userinfo(t, env, annTok.AccessToken))
		if m := introspect(t, env, e.client.ID, e.secret, annTok.AccessToken); active(m) {
			t.Error("ann's access token is still active")
		}
		if annTok.RefreshToken != "" {
			if _, err := appRP.OAuth.TokenSource(ctx, &oauth2.Token{RefreshToken: annTok.RefreshToken}).Token(); err == nil {
				t.Error("ann's refresh token still works")
			}
		}
		// Her browser's SSO session is gone: the same browser sees the sign-in form, and after the
		// password she enrols again.
		a := appRP.Start()
		p := annBrowser.Get(a.URL)
		if p.Redirect != nil || !strings.HasPrefix(p.URL.Path, "/login") || len(p.Forms()) == 0 {
			t.Fatalf("ann's browser after the reset: %d %s %v", p.Status, p.URL, p.Redirect)
		}
		p = annBrowser.Submit(p, "/login/password", map[string]string{"email": e.ann.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") || !strings.Contains(p.Body, "enrolment code") || strings.Contains(p.Body, "otpauth://") {
			t.Fatalf("ann after the reset went to %s, want the enrolment code page without a secret", p.URL)
		}
		p = annBrowser.Submit(p, "/login/enrol-code", map[string]string{"enrolment_code": reset.EnrolmentCode})
		if p.Status != 200 || !strings.Contains(p.Body, "otpauth://") {
			t.Fatalf("ann with the enrolment code: %d %s, want the secret to scan", p.Status, p.URL)
		}
		if evs := auditEvents(t, st, e.ten.ID, "mfa.reset"); len(evs) != 1 || evs[0].TargetID != e.ann.ID || evs[0].ActorID != e.admin.ID {
			t.Errorf("reset events %+v", evs)
		}
		// The admin's own token is untouched.
		if r := e.call(t, "GET", "/users", token, ""); r.Status != 200 {
			t.Errorf("admin after resetting ann: %d", r.Status)
		}
	})
}

func TestAdminAPICreateAndPatchUsers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env := e.env
		ctx := context.Background()
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		appRP := env.RP(e.client, e.secret)

		r := e.call(t, "POST", "/users", token, `{"email":"dan@acme.test","name":"Dan","password":"`+pw+`"}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		dan := decode[userOut](t, r)
		if dan.ID == "" || dan.Role != storage.RoleMember || dan.MFA != "none" || strings.Contains(r.Body, "password") {
			t.Errorf("created %s", r.Body)
		}
		// Dan signs in.
		danBrowser := env.NewBrowser()
		danTok := passwordToken(t, appRP, danBrowser, "dan@acme.test")
		if c := appRP.IDToken(danTok, ""); c.Subject != dan.ID {
			t.Errorf("dan signed in as %q", c.Subject)
		}
		if evs := auditEvents(t, st, e.ten.ID, "user.created"); len(evs) != 1 || evs[0].TargetID != dan.ID {
			t.Errorf("user.created events %+v", evs)
		}
		// Duplicate.
		wantProblem(t, "duplicate", e.call(t, "POST", "/users", token, `{"email":"dan@acme.test","password":"`+pw+`"}`), 409)

		// Role: member → admin; dan now gets the admin scope.
		r = e.call(t, "PATCH", "/users/"+dan.ID, token, `{"role":"admin"}`)
		if r.Status != 200 || decode[userOut](t, r).Role != storage.RoleAdmin {
			t.Fatalf("patch role: %d %s", r.Status, r.Body)
		}
		danAdmin := passwordToken(t, e.rp, env.NewBrowser(), "dan@acme.test").AccessToken
		if r := e.call(t, "GET", "/mfa-policy", danAdmin, ""); r.Status != 200 {
			t.Errorf("dan as admin: %d %s", r.Status, r.Body)
		}
		// Back to member: the admin token stops working at once.
		if r := e.call(t, "PATCH", "/users/"+dan.ID, token, `{"role":"member"}`); r.Status != 200 {
			t.Fatalf("patch role back: %d", r.Status)
		}
		wantProblem(t, "demoted admin", e.call(t, "GET", "/mfa-policy", danAdmin, ""), 403)
		// The tenant's last active admin can be neither demoted nor disabled.
		for _, body := range []string{`{"role":"member"}`, `{"disabled":true}`} {
			wantProblem(t, "last admin "+body, e.call(t, "PATCH", "/users/"+e.admin.ID, token, body), 409)
		}
		if u, err := st.UserByID(context.Background(), e.admin.ID); err != nil || u.Role != storage.RoleAdmin || u.Disabled {
			t.Errorf("the last admin was changed: %+v %v", u, err)
		}

		// Disabled: tokens revoked, the SSO session ends, and signing in fails.
		r = e.call(t, "PATCH", "/users/"+dan.ID, token, `{"disabled":true}`)
		if r.Status != 200 || !decode[userOut](t, r).Disabled {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		wantBearerInvalid(t, "disabled user's token", userinfo(t, env, danTok.AccessToken))
		a := appRP.Start()
		p := danBrowser.Get(a.URL)
		if p.Redirect != nil {
			t.Fatalf("a disabled user's SSO session still signs in: %v", p.Redirect)
		}
		p = danBrowser.Submit(p, "/login/password", map[string]string{"email": "dan@acme.test", "password": pw})
		if p.Redirect != nil && p.Redirect.Query().Get("code") != "" {
			t.Fatal("a disabled user signed in")
		}
		evs := auditEvents(t, st, e.ten.ID, "user.updated")
		if len(evs) != 3 {
			t.Fatalf("%d user.updated events", len(evs))
		}
		if old, _ := evs[0].Detail["old"].(map[string]any); old["disabled"] != false {
			t.Errorf("disable event %v", evs[0].Detail)
		}
		if nw, _ := evs[0].Detail["new"].(map[string]any); nw["disabled"] != true {
			t.Errorf("disable event %v", evs[0].Detail)
		}
		// Enabled again: dan signs in.
		if r := e.call(t, "PATCH", "/users/"+dan.ID, token, `{"disabled":false}`); r.Status != 200 {
			t.Fatalf("enable: %d", r.Status)
		}
		passwordToken(t, appRP, env.NewBrowser(), "dan@acme.test")
		if u, _ := st.UserByID(ctx, dan.ID); u.Name != "Dan" || u.Role != storage.RoleMember || u.Disabled {
			t.Errorf("dan at the end: %+v", u)
		}
	})
}

func TestAdminAPIClients(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		type clientOut struct {
			ID, Name, Secret string
			Admin, Public    bool
			Grants           []string
		}
		r := e.call(t, "POST", "/clients", token, `{"name":"Reports","grants":["client_credentials"],"admin":true}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		created := decode[clientOut](t, r)
		if created.ID == "" || len(created.Secret) < 32 || !created.Admin {
			t.Fatalf("created %s", r.Body)
		}
		pub := decode[clientOut](t, e.call(t, "POST", "/clients", token, `{"name":"SPA","public":true,"redirect_uris":["http://127.0.0.1:8080/cb"]}`))
		if pub.ID == "" || pub.Secret != "" || !pub.Public {
			t.Errorf("public client %+v", pub)
		}
		// The secret works, once shown: the new admin client administers.
		newTok := serviceToken(t, e.rp, storage.Client{ID: created.ID}, created.Secret)
		if r := e.call(t, "GET", "/mfa-policy", newTok, ""); r.Status != 200 {
			t.Errorf("new admin client: %d %s", r.Status, r.Body)
		}
		// The list shows it without any secret.
		r = e.call(t, "GET", "/clients", token, "")
		if r.Status != 200 || strings.Contains(r.Body, created.Secret) || strings.Contains(r.Body, `"secret"`) {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		list := decode[pageOf[clientOut]](t, r)
		var ids []string
		for _, c := range list.Items {
			ids = append(ids, c.ID)
		}
		if !slices.Contains(ids, created.ID) || !slices.Contains(ids, pub.ID) || !slices.Contains(ids, e.svc.ID) {
			t.Errorf("list %v", ids)
		}
		// Delete: gone from the list, its tokens no longer administer, a second delete is 404.
		if r := e.call(t, "DELETE", "/clients/"+created.ID, token, ""); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if strings.Contains(e.call(t, "GET", "/clients", token, "").Body, created.ID) {
			t.Error("the deleted client is still listed")
		}
		if r := e.call(t, "GET", "/mfa-policy", newTok, ""); r.Status/100 == 2 {
			t.Error("a deleted client's token still administers")
		}
		wantProblem(t, "second delete", e.call(t, "DELETE", "/clients/"+created.ID, token, ""), 404)
		if n := len(auditEvents(t, st, e.ten.ID, "client.created")); n != 2 {
			t.Errorf("%d client.created events", n)
		}
		if evs := auditEvents(t, st, e.ten.ID, "client.deleted"); len(evs) != 1 || evs[0].TargetID != created.ID {
			t.Errorf("client.deleted events %+v", evs)
		}
	})
}

func TestAdminAPIAuditEventsPaged(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		for i := range 5 {
			e.env.Clock.Advance(time.Second) // distinct times
			if r := e.call(t, "PUT", "/mfa-policy", token, fmt.Sprintf(`{"enabled":%t}`, i%2 == 0)); r.Status != 200 {
				t.Fatalf("PUT: %d", r.Status)
			}
		}
		type ev struct {
			ID, Actor, Action, Target string
			At                        time.Time
			Detail                    map[string]any
		}
		var all []ev
		offset := 0
		for range 10 {
			r := e.call(t, "GET", fmt.Sprintf("/audit-events?limit=2&offset=%d", offset), token, "")
			if r.Status != 200 {
				t.Fatalf("audit page: %d %s", r.Status, r.Body)
			}
			pg := decode[pageOf[ev]](t, r)
			if len(pg.Items) > 2 {
				t.Fatalf("page of %d", len(pg.Items))
			}
			all = append(all, pg.Items...)
			if pg.NextOffset == nil {
				break
			}
			offset = *pg.NextOffset
		}
		if len(all) != 5 {
			t.Fatalf("%d events through the pages, want 5", len(all))
		}
		for i, x := range all {
			if x.Action != "mfa.policy_changed" || x.Actor != e.svc.ID || x.ID == "" {
				t.Errorf("event %d: %+v", i, x)
			}
			if i > 0 && x.At.After(all[i-1].At) {
				t.Errorf("event %d is newer than event %d", i, i-1)
			}
			// Newest first: the last PUT (i=4, true) comes first.
			if want := (4-i)%2 == 0; x.Detail["new"] != want {
				t.Errorf("event %d: new %v, want %v", i, x.Detail["new"], want)
			}
		}
	})
}

// A change made on one instance takes effect at the next authorization on another.
func TestAdminAPIPolicyAcrossInstances(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		env2 := e.env.Second()
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		rp2 := env2.RP(e.client, e.secret)
		signIn := func() *apptest.Page {
			t.Helper()
			b := env2.NewBrowser()
			return b.Submit(b.Get(rp2.Start().URL), "/login/password", map[string]string{"email": e.ann.Email, "password": pw})
		}
		if p := signIn(); p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
			t.Fatalf("policy off: sign-in on the second instance: %d %s", p.Status, p.URL)
		}
		put := func(on bool) {
			t.Helper()
			if r := e.call(t, "PUT", "/mfa-policy", token, fmt.Sprintf(`{"enabled":%t}`, on)); r.Status != 200 {
				t.Fatalf("PUT %t: %d", on, r.Status)
			}
		}
		put(true)
		b := env2.NewBrowser()
		a := rp2.Start()
		p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": e.ann.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("policy on: the second instance went to %s", p.URL)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, env2.Clock.Now())})
		b.Get(continueURL(t, p))

		put(false)
		if p := signIn(); p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
			t.Fatalf("policy off again: %d %s", p.Status, p.URL)
		}
		put(true)
		if p := signIn(); !strings.HasPrefix(p.URL.Path, "/login/otp") {
			t.Fatalf("policy on again: the second instance went to %s, want the code page", p.URL)
		}
	})
}

// Concurrent PUTs: the final state is the one the last audit event records, and every PUT has its event.
func TestAdminAPIConcurrentPolicyChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		for round := range 3 {
			before := len(auditEvents(t, st, e.ten.ID, "mfa.policy_changed"))
			start := make(chan struct{})
			var wg sync.WaitGroup
			results := make([]response, 8)
			errs := make([]error, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = callAPIAsync(e.env, apiCall{Method: "PUT", Path: tenantPath(e.ten.Slug, "/mfa-policy"), Token: token,
						Body: fmt.Sprintf(`{"enabled":%t}`, i%2 == 0)})
				}()
			}
			close(start)
			wg.Wait()
			for i := range 8 {
				if errs[i] != nil || results[i].Status != 200 {
					t.Fatalf("round %d, PUT %d: %v %d %s", round, i, errs[i], results[i].Status, results[i].Body)
				}
				if got := decode[policyOut](t, results[i]).Enabled; got != (i%2 == 0) {
					t.Errorf("round %d, PUT %d answered enabled=%t", round, i, got)
				}
			}
			evs := auditEvents(t, st, e.ten.ID, "mfa.policy_changed")
			if len(evs)-before != 8 {
				t.Fatalf("round %d: %d new audit events, want 8", round, len(evs)-before)
			}
			p := decode[policyOut](t, e.call(t, "GET", "/mfa-policy", token, ""))
			if evs[0].Detail["new"] != p.Enabled {
				t.Errorf("round %d: policy %t, the last audit event says %v", round, p.Enabled, evs[0].Detail["new"])
			}
			if p.UpdatedAt == nil || !p.UpdatedAt.Equal(evs[0].CreatedAt) {
				t.Errorf("round %d: policy updated at %v, last event at %v", round, p.UpdatedAt, evs[0].CreatedAt)
			}
			// The events form one chain: each one's old value is the previous one's new value.
			for i := len(evs) - 2; i >= 0; i-- {
				if evs[i].Detail["old"] != evs[i+1].Detail["new"] {
					t.Errorf("round %d: event %d old=%v but the one before it set %v", round, i, evs[i].Detail["old"], evs[i+1].Detail["new"])
				}
			}
		}
	})
}
