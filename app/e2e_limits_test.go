package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// Malformed and oversized token requests are refused with a 4xx and an OAuth error, never a 500.
func TestMalformedTokenRequests(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		basic := func(body string) *http.Request {
			req, err := http.NewRequest(http.MethodPost, o.env.URL+tokenPath, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(o.client.ID, o.secret)
			return req
		}
		big := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "pad": {strings.Repeat("a", 70<<10)}}.Encode()
		for _, tc := range []struct {
			name       string
			req        *http.Request
			wantStatus []int
			wantError  string // "" when the body need not be an OAuth error
		}{
			{"body over 64 KiB", basic(big), []int{http.StatusRequestEntityTooLarge, http.StatusBadRequest}, ""},
			{"garbage grant_type", basic("grant_type=password%00x&code=1"), []int{http.StatusBadRequest}, "unsupported_grant_type"},
			{"password grant", basic("grant_type=password&username=a&password=b"), []int{http.StatusBadRequest}, "unsupported_grant_type"},
			{"device code grant", basic("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x"), []int{http.StatusBadRequest}, "unsupported_grant_type"},
			{"jwt-bearer grant", basic("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z"), []int{http.StatusBadRequest}, "unsupported_grant_type"},
			{"missing grant_type", basic("code=1"), []int{http.StatusBadRequest}, "invalid_request"},
			{"missing code", basic("grant_type=authorization_code&redirect_uri=" + url.QueryEscape(o.client.RedirectURIs[0])), []int{http.StatusBadRequest}, "invalid_request"},
			{"missing refresh_token", basic("grant_type=refresh_token"), []int{http.StatusBadRequest}, "invalid_request"},
			{"broken form encoding", basic("grant_type=authorization_code&code=%zz"), []int{http.StatusBadRequest}, ""},
			{"JSON body", func() *http.Request {
				r := basic(`{"grant_type":"authorization_code","code":"x"}`)
				r.Header.Set("Content-Type", "application/json")
				return r
			}(), []int{http.StatusBadRequest}, "invalid_request"},
			{"GET", func() *http.Request {
				r, _ := http.NewRequest(http.MethodGet, o.env.URL+tokenPath+"?grant_type=authorization_code&code=x", nil)
				return r
			}(), []int{http.StatusMethodNotAllowed, http.StatusBadRequest}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, tc.req)
				ok := false
				for _, s := range tc.wantStatus {
					ok = ok || r.Status == s
				}
				if !ok || (tc.wantError != "" && r.OAuthError() != tc.wantError) {
					t.Errorf("got %d %.200s, want %v %s", r.Status, r.Body, tc.wantStatus, tc.wantError)
				}
			})
		}
	})
}

// Login POSTs are limited to 64 KiB; a larger form gets the 413 page.
func TestLoginBodyTooLarge(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		b := o.env.NewBrowser()
		p := b.Get(o.rp.Start().URL)
		p = b.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": strings.Repeat("x", 70<<10)})
		if p.Status != http.StatusRequestEntityTooLarge || p.Redirect != nil {
			t.Fatalf("oversized login: %d redirect %v", p.Status, p.Redirect)
		}
		if !strings.Contains(p.Header.Get("Content-Type"), "text/html") || !strings.Contains(p.Body, "too large") {
			t.Errorf("413 is not the error page: %s\n%s", p.Header.Get("Content-Type"), p.Body)
		}
	})
}

// A wrong password, an unknown email, a disabled user and a member of another tenant all get the
// same answer.
func TestLoginRefusalsLookAlike(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		other := o.env.Tenant("Other Co")
		o.env.User(other.ID, "olga@other.test", pw, storage.RoleMember)
		dis := o.env.User(o.ten.ID, "dave@acme.test", pw, storage.RoleMember)
		if _, err := st.UpdateUser(t.Context(), dis.ID, func(u *storage.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatalf("disable user: %v", err)
		}
		var want string
		for _, tc := range []struct {
			name, email, password string
		}{
			{"wrong password", o.user.Email, "wrong password"},
			{"unknown email", "nobody@acme.test", pw},
			{"member of another tenant", "olga@other.test", pw},
			{"disabled user", "dave@acme.test", pw},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := o.env.NewBrowser()
				p := b.Submit(b.Get(o.rp.Start().URL), "/login/password", map[string]string{"email": tc.email, "password": tc.password})
				if p.Status != http.StatusUnauthorized || p.Redirect != nil {
					t.Fatalf("status %d redirect %v, want 401 and the form", p.Status, p.Redirect)
				}
				msg := p.Find("form-error", "")
				if msg == "" || !isLoginForm(&apptest.Page{Status: 200, Body: p.Body}) {
					t.Fatalf("no error message or no form:\n%s", p.Body)
				}
				if want == "" {
					want = msg
				} else if msg != want {
					t.Errorf("message %q, want the same as for a wrong password %q", msg, want)
				}
			})
		}
	})
}
