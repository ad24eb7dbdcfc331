package app_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

func prompt(v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("prompt", v) }

func maxAge(s int) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("max_age", strconv.Itoa(s)) }

// isLoginForm reports whether the page asks for email and password.
func isLoginForm(p *apptest.Page) bool {
	for _, f := range p.Forms() {
		if f.Action == "/login/password" {
			return p.Status == http.StatusOK && p.Redirect == nil
		}
	}
	return false
}

// prompt=none never shows a page: without a usable session the app gets login_required, with its state.
func TestPromptNoneWithoutSession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		other := o.env.Tenant("Other")
		otherClient, otherSecret := o.env.Client(other.ID, apptest.ClientOptions{})
		otherRP := o.env.RP(otherClient, otherSecret)
		for _, tc := range []struct {
			name    string
			session bool
			rp      *apptest.RP
			opts    []oauth2.AuthCodeOption
		}{
			{"no session", false, o.rp, nil},
			{"session older than max_age", true, o.rp, []oauth2.AuthCodeOption{maxAge(0)}},
			{"session in another tenant", true, otherRP, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := o.env.NewBrowser()
				if tc.session {
					o.signIn(t, o.rp, b)
					o.env.Clock.Advance(2 * time.Second)
				}
				a := tc.rp.Start(append(tc.opts, prompt("none"))...)
				p := b.Get(a.URL)
				if apptest.AppError(p) != "login_required" || p.Redirect.Query().Get("state") != a.State {
					t.Fatalf("prompt=none: %d redirect %v, want login_required with the state", p.Status, p.Redirect)
				}
			})
		}
		t.Run("a session does not cross tenants", func(t *testing.T) {
			b := o.env.NewBrowser()
			o.signIn(t, o.rp, b)
			if p := b.Get(otherRP.Start().URL); !isLoginForm(p) {
				t.Fatalf("another tenant's client: %d redirect %v, want the login form", p.Status, p.Redirect)
			}
		})
	})
}

// prompt=login and max_age make a signed-in person sign in again; the new ID token's auth_time is the
// new sign-in.
func TestReauthentication(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		for _, tc := range []struct {
			name      string
			age       time.Duration // how old the session is
			opts      []oauth2.AuthCodeOption
			wantLogin bool
		}{
			{"no constraint: single sign-on", 0, nil, false},
			{"prompt=login", 0, []oauth2.AuthCodeOption{prompt("login")}, true},
			{"max_age=0", 0, []oauth2.AuthCodeOption{maxAge(0)}, true},
			{"max_age smaller than the session's age", 10 * time.Minute, []oauth2.AuthCodeOption{maxAge(300)}, true},
			{"max_age larger than the session's age", 2 * time.Minute, []oauth2.AuthCodeOption{maxAge(300)}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := o.env.NewBrowser()
				a0, tok0 := o.signIn(t, o.rp, b)
				first := o.rp.IDToken(tok0, a0.Nonce)
				o.env.Clock.Advance(tc.age + 2*time.Second)

				a := o.rp.Start(tc.opts...)
				p := b.Get(a.URL)
				if isLoginForm(p) != tc.wantLogin {
					t.Fatalf("login form shown: %t, want %t (status %d, redirect %v)", isLoginForm(p), tc.wantLogin, p.Status, p.Redirect)
				}
				if tc.wantLogin {
					p = b.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": pw})
				}
				tok, err := o.rp.Exchange(a.Code(t, p), a)
				if err != nil {
					t.Fatal(err)
				}
				c := o.rp.IDToken(tok, a.Nonce)
				now := o.env.Clock.Now().Unix()
				switch {
				case c.AuthTime == 0:
					t.Error("no auth_time")
				case tc.wantLogin && (c.AuthTime <= first.AuthTime || c.AuthTime < now-5):
					t.Errorf("auth_time %d is not the new sign-in (first %d, now %d)", c.AuthTime, first.AuthTime, now)
				case !tc.wantLogin && c.AuthTime != first.AuthTime:
					t.Errorf("single sign-on changed auth_time: %d, first %d", c.AuthTime, first.AuthTime)
				}
			})
		}
	})
}

// RP-initiated logout ends the SSO session and returns to a registered post-logout URI with the state;
// an unregistered URI is never redirected to.
func TestRPInitiatedLogout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		postLogout := o.client.PostLogoutURIs[0]
		for _, tc := range []struct {
			name         string
			uri          string
			wantRedirect string // "" for an error page
		}{
			{"registered post_logout_redirect_uri", postLogout, postLogout},
			{"unregistered post_logout_redirect_uri", "https://evil.example/bye", ""},
			{"registered URI with extra path", postLogout + "/x", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := o.env.NewBrowser()
				_, tok := o.signIn(t, o.rp, b)
				q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {tc.uri},
					"state": {"bye-1"}}
				p := b.Get(o.env.URL + endSessionPath + "?" + q.Encode())
				if tc.wantRedirect == "" {
					if p.Redirect != nil || p.Status != http.StatusBadRequest {
						t.Fatalf("unregistered URI: %d redirect %v", p.Status, p.Redirect)
					}
					return
				}
				if p.Redirect == nil || p.Redirect.Scheme+"://"+p.Redirect.Host+p.Redirect.Path != tc.wantRedirect ||
					p.Redirect.Query().Get("state") != "bye-1" {
					t.Fatalf("logout: %d redirect %v, want %s with the state", p.Status, p.Redirect, tc.wantRedirect)
				}
				a := o.rp.Start(prompt("none"))
				if p := b.Get(a.URL); apptest.AppError(p) != "login_required" {
					t.Errorf("after logout prompt=none: %d redirect %v, want login_required", p.Status, p.Redirect)
				}
			})
		}
		t.Run("without post_logout_redirect_uri", func(t *testing.T) {
			b := o.env.NewBrowser()
			_, tok := o.signIn(t, o.rp, b)
			p := b.Get(o.env.URL + endSessionPath + "?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}.Encode())
			if p.Status != http.StatusOK || p.URL.Path != "/login/logged-out" {
				t.Fatalf("logout without a URI: %d at %s", p.Status, p.URL)
			}
			if p := b.Get(o.rp.Start(prompt("none")).URL); apptest.AppError(p) != "login_required" {
				t.Errorf("after logout prompt=none: %v", p.Redirect)
			}
		})
	})
}

// Without a valid id_token_hint, end_session does not sign the browser out by itself (anyone could
// link to it): the user is asked to confirm.
func TestEndSessionWithoutHintAsks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		for _, q := range []url.Values{{}, {"id_token_hint": {"not.a.jwt"}}} {
			b := o.env.NewBrowser()
			o.signIn(t, o.rp, b)
			b.Get(o.env.URL + endSessionPath + "?" + q.Encode())
			a := o.rp.Start()
			if p := b.Get(a.URL); p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
				t.Fatalf("end_session with %v signed the browser out without asking (%d %s)", q, p.Status, p.URL)
			}
		}
		b := o.env.NewBrowser()
		o.signIn(t, o.rp, b)
		p := b.Get(o.env.URL + endSessionPath)
		if p.URL.Path != "/login/logout" {
			t.Fatalf("end_session without a hint went to %s, want the sign-out confirmation", p.URL)
		}
		b.Submit(p, "/login/logout", nil)
		if p := b.Get(o.rp.Start(prompt("none")).URL); apptest.AppError(p) != "login_required" {
			t.Errorf("after confirming the sign-out prompt=none: %v", p.Redirect)
		}
	})
}

// An app's logout request without an id_token_hint asks the user first; after the confirmation the
// browser still goes back to the app's registered post_logout_redirect_uri with its state (and never
// to an unregistered one).
func TestEndSessionConfirmationReturnsToApp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		postLogout := o.client.PostLogoutURIs[0]
		for _, tc := range []struct {
			uri, want string
		}{{postLogout, postLogout}, {"https://evil.example/bye", ""}} {
			b := o.env.NewBrowser()
			o.signIn(t, o.rp, b)
			q := url.Values{"client_id": {o.client.ID}, "post_logout_redirect_uri": {tc.uri}, "state": {"bye-2"}}
			p := b.Get(o.env.URL + endSessionPath + "?" + q.Encode())
			if p.URL.Path != "/login/logout" {
				t.Fatalf("end_session without a hint went to %s, want the sign-out confirmation", p.URL)
			}
			p = b.Submit(p, "/login/logout", nil)
			if tc.want == "" {
				if p.Redirect != nil && p.Redirect.Host == "evil.example" {
					t.Fatalf("confirmed sign-out redirected to an unregistered URI %v", p.Redirect)
				}
			} else if p.Redirect == nil || p.Redirect.Scheme+"://"+p.Redirect.Host+p.Redirect.Path != tc.want ||
				p.Redirect.Query().Get("state") != "bye-2" {
				t.Fatalf("confirmed sign-out: %d at %s redirect %v, want %s with the state", p.Status, p.URL, p.Redirect, tc.want)
			}
			if p := b.Get(o.rp.Start(prompt("none")).URL); apptest.AppError(p) != "login_required" {
				t.Errorf("after the confirmed sign-out prompt=none: %v", p.Redirect)
			}
		}
	})
}
