package demoapp_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/examples/demoapp"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

const pw = "correct horse battery"

// world is a running Portcullis with a tenant, a member, and the demo app registered as its client.
type world struct {
	env    *apptest.Env
	tenant storage.Tenant
	member storage.User
	demo   *httptest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := apptest.New(t, storagetest.NewSQLite(t))
	ten := env.Tenant("Acme Inc")
	member := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	demo := httptest.NewUnstartedServer(nil)
	demoURL := "http://" + demo.Listener.Addr().String()
	c, sec := env.Client(ten.ID, apptest.ClientOptions{Redirect: demoURL + "/callback", PostLogout: demoURL + "/"})
	h, err := demoapp.New(context.Background(), demoapp.Config{Issuer: env.URL, ClientID: c.ID, ClientSecret: sec,
		RedirectURL: demoURL + "/callback", PostLogoutURL: demoURL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	demo.Config.Handler = h
	demo.Start()
	t.Cleanup(demo.Close)
	return &world{env: env, tenant: ten, member: member, demo: demo}
}

// browser follows every redirect (between the demo app and Portcullis) and keeps cookies, recording
// the URLs it went through.
type browser struct {
	t      *testing.T
	client *http.Client
	hops   []*url.URL
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.hops = append(b.hops, req.URL)
		return nil
	}}
	return b
}

func (b *browser) do(req *http.Request) *apptest.Page {
	b.t.Helper()
	b.hops = nil
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &apptest.Page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (b *browser) get(u string) *apptest.Page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// submit posts the form with action on p, with values over its own fields.
func (b *browser) submit(p *apptest.Page, action string, values map[string]string) *apptest.Page {
	b.t.Helper()
	f := p.Form(b.t, action)
	for k, v := range values {
		f.Fields.Set(k, v)
	}
	u, _ := p.URL.Parse(f.Action)
	req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(f.Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn runs a password sign-in from the demo app's landing page and returns the page it ends on.
func (w *world) signIn(t *testing.T, b *browser, path string) *apptest.Page {
	t.Helper()
	p := b.get(w.demo.URL + path)
	if p.URL.Path != "/login/" || p.URL.Host != w.env.Host() {
		t.Fatalf("%s led to %s (%d), want Portcullis's sign-in page", path, p.URL, p.Status)
	}
	return b.submit(p, "/login/password", map[string]string{"email": w.member.Email, "password": pw})
}

// claim reads the JSON held by the element with id on the demo app's page.
func claim(t *testing.T, p *apptest.Page, id string) any {
	t.Helper()
	el := p.Find(id, "")
	i, j := strings.Index(el, ">"), strings.LastIndex(el, "<")
	if el == "" || i < 0 || j <= i {
		t.Fatalf("no element #%s on %s (%d):\n%s", id, p.URL, p.Status, p.Body)
	}
	var v any
	text := html.UnescapeString(el[i+1 : j])
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("#%s holds %q: %v", id, text, err)
	}
	return v
}

func TestSignInShowsHowTheUserSignedIn(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)

	p := b.get(w.demo.URL + "/")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign in with Portcullis") || !strings.Contains(p.Body, `href="/login?mfa=1"`) {
		t.Fatalf("landing page: %d\n%s", p.Status, p.Body)
	}
	p = w.signIn(t, b, "/login")
	if p.URL.String() != w.demo.URL+"/" || p.Status != http.StatusOK {
		t.Fatalf("after the password: %s (%d)\n%s", p.URL, p.Status, p.Body)
	}
	if amr := claim(t, p, "amr"); !slices.Equal(toStrings(amr), []string{"pwd"}) {
		t.Errorf("amr = %v, want [pwd]", amr)
	}
	if acr := claim(t, p, "acr"); acr != "urn:portcullis:acr:pwd" {
		t.Errorf("acr = %v", acr)
	}
	for _, want := range []string{"Test member", w.member.Email, w.tenant.ID, `id="method">password</span>`, "ID token claims", "auth_time"} {
		if !strings.Contains(html.UnescapeString(p.Body), want) {
			t.Errorf("signed-in page lacks %q", want)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// start requests /login without following the redirect, returning the authorization URL.
func (b *browser) start(t *testing.T, u string) (*http.Response, *url.URL) {
	t.Helper()
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("GET %s: %d without a Location", u, resp.StatusCode)
	}
	return resp, loc
}

func TestLoginRequest(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name    string
		path    string
		wantACR string
	}{
		{name: "plain", path: "/login"},
		{name: "require MFA", path: "/login?mfa=1", wantACR: demoapp.ACRMFA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, loc := newBrowser(t).start(t, w.demo.URL+tc.path)
			if resp.StatusCode != http.StatusFound || loc.Scheme+"://"+loc.Host != w.env.URL || loc.Path != "/authorize" {
				t.Fatalf("%s: %d to %s", tc.path, resp.StatusCode, loc)
			}
			q := loc.Query()
			want := map[string]string{"response_type": "code", "redirect_uri": w.demo.URL + "/callback",
				"code_challenge_method": "S256", "acr_values": tc.wantACR}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if q.Get("client_id") == "" {
				t.Error("no client_id")
			}
			for _, k := range []string{"state", "nonce", "code_challenge"} {
				if len(q.Get(k)) < 22 { // at least 128 bits
					t.Errorf("%s = %q, want a random value", k, q.Get(k))
				}
			}
			if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
				t.Errorf("scope %q lacks openid", q.Get("scope"))
			}
			var ck *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "demoapp_login" {
					ck = c
				}
			}
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge <= 0 || ck.MaxAge > 600 {
				t.Errorf("login cookie %+v, want HttpOnly, SameSite=Lax, short-lived", ck)
			}
			if strings.Contains(ck.String(), q.Get("state")) {
				t.Errorf("the cookie carries the state itself; it should be a random key")
			}
		})
	}
}

func TestRequireMFASignIn(t *testing.T) {
	w := newWorld(t) // the tenant's policy is off: the app asks for MFA itself
	b := newBrowser(t)
	p := w.signIn(t, b, "/login?mfa=1")
	if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
		t.Fatalf("with acr_values=mfa the password led to %s, want the enrolment page", p.URL)
	}
	key := apptest.EnrolmentSecret(t, p)
	p = b.submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, key, w.env.Clock.Now())})
	i := strings.Index(p.Body, "/authorize/callback?id=")
	if i < 0 {
		t.Fatalf("no continue link after enrolment (%d %s):\n%s", p.Status, p.URL, p.Body)
	}
	j := strings.IndexAny(p.Body[i:], `"'`)
	cont, _ := p.URL.Parse(strings.ReplaceAll(p.Body[i:i+j], "&amp;", "&"))
	p = b.get(cont.String())
	if p.URL.String() != w.demo.URL+"/" {
		t.Fatalf("continue led to %s (%d):\n%s", p.URL, p.Status, p.Body)
	}
	if amr := toStrings(claim(t, p, "amr")); !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("amr = %v", amr)
	}
	if acr := claim(t, p, "acr"); acr != demoapp.ACRMFA {
		t.Errorf("acr = %v", acr)
	}
	if !strings.Contains(html.UnescapeString(p.Body), `id="method">password + authenticator code</span>`) {
		t.Errorf("the page does not say the user signed in with password + authenticator code")
	}
}

func TestLogoutEndsTheSessionAtTheProvider(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t)
	p := w.signIn(t, b, "/login")
	signedIn := p

	// A stale form (wrong token) signs nobody out.
	if q := b.submit(signedIn, "/logout", map[string]string{"csrf": "forged"}); q.Status != http.StatusForbidden {
		t.Fatalf("logout with a forged token: %d", q.Status)
	}
	if q := b.get(w.demo.URL + "/"); !strings.Contains(q.Body, `id="amr"`) {
		t.Fatalf("the forged logout ended the session")
	}

	p = b.submit(signedIn, "/logout", nil)
	var end *url.URL
	for _, h := range b.hops {
		if h.Host == w.env.Host() && h.Path == "/end_session" {
			end = h
		}
	}
	if end == nil {
		t.Fatalf("logout did not go through the provider's end_session_endpoint; hops %v", b.hops)
	}
	q := end.Query()
	if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != w.demo.URL+"/" {
		t.Errorf("end_session query %v", q)
	}
	if p.URL.Host != w.demo.Listener.Addr().String() || p.URL.Path != "/" || p.Status != http.StatusOK {
		t.Fatalf("after logout: %s (%d)", p.URL, p.Status)
	}
	if !strings.Contains(p.Body, "Sign in with Portcullis") || !strings.Contains(p.Body, `id="notice"`) || strings.Contains(p.Body, `id="amr"`) {
		t.Errorf("after logout the landing page should say the user is signed out:\n%s", p.Body)
	}
	// The provider's session ended too: signing in again asks for the password.
	if p = b.get(w.demo.URL + "/login"); p.URL.Host != w.env.Host() || p.URL.Path != "/login/" {
		t.Fatalf("after logout /login led to %s, want Portcullis's sign-in page", p.URL)
	}
}

func TestCallbackFailures(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name       string
		query      func(state string) url.Values
		noCookie   bool
		wantStatus int
		want       []string
	}{
		{
			name: "provider denies",
			query: func(state string) url.Values {
				return url.Values{"error": {"access_denied"}, "error_description": {"the user said no"}, "state": {state}}
			},
			wantStatus: http.StatusBadRequest,
			want:       []string{"Sign-in did not complete", `id="error-code">access_denied<`, "the user said no", "did not allow"},
		},
		{
			name:       "wrong state",
			query:      func(string) url.Values { return url.Values{"code": {"abc"}, "state": {"not-the-state"}} },
			wantStatus: http.StatusBadRequest,
			want:       []string{"cannot be trusted"},
		},
		{
			name:       "no sign-in started",
			query:      func(state string) url.Values { return url.Values{"code": {"abc"}, "state": {state}} },
			noCookie:   true,
			wantStatus: http.StatusBadRequest,
			want:       []string{"expired"},
		},
		{
			name:       "forged code",
			query:      func(state string) url.Values { return url.Values{"code": {"forged"}, "state": {state}} },
			wantStatus: http.StatusBadGateway,
			want:       []string{"did not accept the code"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			_, loc := b.start(t, w.demo.URL+"/login")
			if tc.noCookie {
				b = newBrowser(t)
			}
			p := b.get(w.demo.URL + "/callback?" + tc.query(loc.Query().Get("state")).Encode())
			if p.Status != tc.wantStatus {
				t.Errorf("status %d, want %d", p.Status, tc.wantStatus)
			}
			for _, s := range tc.want {
				if !strings.Contains(html.UnescapeString(p.Body), s) {
					t.Errorf("page lacks %q:\n%s", s, p.Body)
				}
			}
			if strings.Contains(p.Body, `id="amr"`) {
				t.Errorf("a failed callback signed the user in")
			}
		})
	}
}
