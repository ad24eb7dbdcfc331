package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The callback hit again for a request that already has a code (a reload, a double click) sends the
// app a plain invalid_request with its state, nothing of our internals, and leaves the first code
// working; after the code was redeemed it answers the same.
func TestCallbackHitTwice(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		b := o.env.NewBrowser()
		a := o.rp.Start()
		p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": o.user.Email, "password": pw})
		code := a.Code(t, p)
		callback := p.URL.String()
		if p.URL.Path != "/authorize/callback" {
			t.Fatalf("the code came from %s, want the callback", p.URL.Path)
		}
		again := func(what string) {
			t.Helper()
			p := b.Get(callback)
			if p.Redirect == nil {
				t.Fatalf("%s: %d, want a redirect to the app:\n%s", what, p.Status, p.Body)
			}
			q := p.Redirect.Query()
			if q.Get("error") != "invalid_request" || q.Get("state") != a.State || q.Get("code") != "" {
				t.Errorf("%s: the app got %v, want invalid_request with the state", what, q)
			}
			for _, leak := range []string{"conflict", "save auth code", "server_error"} {
				if strings.Contains(p.Redirect.String(), strings.ReplaceAll(leak, " ", "+")) || strings.Contains(q.Get("error_description"), leak) {
					t.Errorf("%s: the app was told %q", what, q.Get("error_description"))
				}
			}
		}
		again("second hit")
		tok, err := o.rp.Exchange(code, a)
		if err != nil {
			t.Fatalf("the first code after a second hit: %v", err)
		}
		o.rp.IDToken(tok, a.Nonce)
		again("hit after the code was redeemed")
	})
}

// A request without response_type, from a known client to a registered redirect URI, is refused at
// the app with invalid_request and the state (RFC 6749 §4.1.2.1), not with a page.
func TestAuthorizeMissingResponseType(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		for _, c := range []storage.Client{o.client, public} {
			for _, rt := range []url.Values{{}, {"response_type": {""}}} {
				q := url.Values{"client_id": {c.ID}, "redirect_uri": {c.RedirectURIs[0]}, "scope": {"openid"}, "state": {"st-3"},
					"nonce": {"n"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
				for k, v := range rt {
					q[k] = v
				}
				p := o.env.NewBrowser().Get(o.env.URL + authorizePath + "?" + q.Encode())
				if p.Redirect == nil || !strings.HasPrefix(p.Redirect.String(), c.RedirectURIs[0]+"?") {
					t.Fatalf("public=%t %v: %d redirect %v, want the error sent to the app", c.Public, rt, p.Status, p.Redirect)
				}
				if got := p.Redirect.Query(); got.Get("error") != "invalid_request" || got.Get("state") != "st-3" {
					t.Errorf("public=%t %v: the app got %v, want invalid_request with the state", c.Public, rt, got)
				}
			}
		}
	})
}

// Wrong client credentials at the token, introspection and revocation endpoints answer 401
// invalid_client with a Basic challenge (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.1), whatever the
// grant and however the credentials were sent.
func TestClientAuthenticationFailures(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		svc, svcSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{Grants: []string{clientreg.GrantClientCredentials}})
		type creds struct {
			name       string
			basic      [2]string // id, secret for HTTP Basic
			form       url.Values
			introspect bool // only where the caller must authenticate
		}
		credentials := []creds{
			{name: "Basic, wrong secret", basic: [2]string{o.client.ID, "wrong"}},
			{name: "Basic, unknown client", basic: [2]string{"no-such-client", "x"}},
			{name: "Basic, public client with a secret", basic: [2]string{public.ID, "x"}},
			{name: "form, wrong secret", form: url.Values{"client_id": {o.client.ID}, "client_secret": {"wrong"}}},
			{name: "form, unknown client", form: url.Values{"client_id": {"no-such-client"}, "client_secret": {"x"}}},
			{name: "form, unknown client without a secret", form: url.Values{"client_id": {"no-such-client"}}},
			{name: "form, confidential client without its secret", form: url.Values{"client_id": {o.client.ID}}},
			{name: "form, public client (cannot authenticate)", form: url.Values{"client_id": {public.ID}}, introspect: true},
			{name: "nothing", form: url.Values{}, introspect: true},
		}
		endpoints := []struct {
			name, path string
			params     url.Values
			introspect bool
		}{
			{"refresh grant", tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, false},
			{"client_credentials grant", tokenPath, url.Values{"grant_type": {"client_credentials"}}, false},
			{"introspection", introspectPath, url.Values{"token": {tok.AccessToken}}, true},
			{"revocation", revokePath, url.Values{"token": {tok.RefreshToken}}, false},
		}
		for _, ep := range endpoints {
			for _, c := range credentials {
				if c.introspect && !ep.introspect {
					continue
				}
				t.Run(ep.name+"/"+c.name, func(t *testing.T) {
					form := url.Values{}
					for k, v := range ep.params {
						form[k] = v
					}
					for k, v := range c.form {
						form[k] = v
					}
					r := postForm(t, o.env.URL, ep.path, form, c.basic[0], c.basic[1])
					if r.Status != http.StatusUnauthorized || r.OAuthError() != "invalid_client" {
						t.Errorf("got %d %q, want 401 invalid_client", r.Status, r.Body)
					}
					if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Basic") {
						t.Errorf("WWW-Authenticate %q, want a Basic challenge", ch)
					}
					if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("Content-Type %q, want JSON", ct)
					}
					if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
						t.Errorf("Cache-Control %q", cc)
					}
				})
			}
		}
		// None of the refusals spent or revoked anything: the right credentials still work.
		if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); !active(m) {
			t.Errorf("the access token is no longer active: %v", m)
		}
		if m := introspect(t, o.env, svc.ID, svcSecret, tok.RefreshToken); !active(m) {
			t.Errorf("the refresh token is no longer active: %v", m)
		}
		r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"client_credentials"}}, svc.ID, svcSecret)
		if r.Status != http.StatusOK {
			t.Errorf("client_credentials with the right secret: %d %s", r.Status, r.Body)
		}
		// Discovery advertises client_secret_post for introspection; the library reads only HTTP Basic.
		r = postForm(t, o.env.URL, introspectPath, url.Values{"token": {tok.AccessToken}, "client_id": {o.client.ID},
			"client_secret": {o.secret}}, "", "")
		if r.Status != http.StatusOK || !active(r.JSON(t)) {
			t.Errorf("introspection with client_secret_post: %d %s", r.Status, r.Body)
		}
		r = postForm(t, o.env.URL, revokePath, url.Values{"token": {"no-such-token"}, "client_id": {public.ID}}, "", "")
		if r.Status != http.StatusOK {
			t.Errorf("a public client revoking by client_id alone: %d %s", r.Status, r.Body)
		}
		if _, err := o.rp.OAuth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("refresh with the right secret: %v", err)
		}
	})
}

// A public (native) client's loopback redirect URI may differ from the registered one only in its
// port (RFC 8252 §7.3): not in scheme, host, path, query or user info.
func TestLoopbackRedirectURIs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native?app=1"})
		for _, tc := range []struct {
			uri string
			ok  bool
		}{
			{"http://127.0.0.1:1/native?app=1", true},
			{"http://127.0.0.1:51234/native?app=1", true},
			{"http://127.0.0.1/native?app=1", true},
			{"https://127.0.0.1:51234/native?app=1", false},
			{"http://localhost:51234/native?app=1", false},
			{"http://[::1]:51234/native?app=1", false},
			{"http://127.0.0.2:51234/native?app=1", false},
			{"http://user@127.0.0.1:51234/native?app=1", false},
			{"http://127.0.0.1:51234/native?app=2", false},
			{"http://127.0.0.1:51234/native/x?app=1", false},
		} {
			t.Run(tc.uri, func(t *testing.T) {
				rp := o.env.RP(public, "")
				rp.OAuth.RedirectURL = tc.uri
				b := o.env.NewBrowser()
				a := rp.Start()
				p := b.Get(a.URL)
				if !tc.ok {
					if p.Redirect != nil || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "redirect_uri") {
						t.Fatalf("got %d redirect %v, want the error page and no redirect", p.Status, p.Redirect)
					}
					return
				}
				p = b.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": pw})
				if p.Redirect == nil || p.Redirect.Scheme+"://"+p.Redirect.Host+p.Redirect.Path != strings.TrimSuffix(tc.uri, "?app=1") {
					t.Fatalf("redirect %v, want %s", p.Redirect, tc.uri)
				}
				if _, err := rp.Exchange(a.Code(t, p), a); err != nil {
					t.Fatalf("exchange: %v", err)
				}
			})
		}
	})
}

// The admin API refuses JSON that is not valid UTF-8 (raw bytes or escaped lone surrogates), which
// encoding/json would store as U+FFFD; a valid escaped pair and a literal backslash-u are kept.
func TestAdminAPIRefusesInvalidUTF8(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		e := newAdminEnv(t, st)
		token := serviceToken(t, e.rp, e.svc, e.svcSecret)
		path := "/users/" + e.bob.ID
		for _, body := range []string{
			"{\"name\":\"Bob \xff\"}",
			"{\"name\":\"Bob \xc3\"}",
			"{\"name\":\"Bob \xed\xa0\x80\"}", // a surrogate encoded in UTF-8
			`{"name":"Bob \ud800"}`,
			`{"name":"Bob \udc00"}`,
			`{"name":"Bob \ud800\u0041"}`,
			`{"name":"Bob \ud800x"}`,
		} {
			before := snapshot(t, st, e.ten.ID)
			r := e.call(t, http.MethodPatch, path, token, body)
			wantProblem(t, "PATCH "+strconv.Quote(body), r, http.StatusBadRequest)
			wantUnchanged(t, "PATCH "+strconv.Quote(body), before, snapshot(t, st, e.ten.ID))
		}
		for body, want := range map[string]string{
			`{"name":"Bob \ud83d\ude00"}`: "Bob \U0001F600",
			`{"name":"Bob \\ud800"}`:      `Bob \ud800`,
			"{\"name\":\"Bøb 😀\"}":        "Bøb 😀",
		} {
			r := e.call(t, http.MethodPatch, path, token, body)
			if r.Status != http.StatusOK {
				t.Fatalf("PATCH %s: %d %s", body, r.Status, r.Body)
			}
			u, err := st.UserByID(t.Context(), e.bob.ID)
			if err != nil || u.Name != want {
				t.Errorf("PATCH %s stored %q (%v), want %q", body, u.Name, err, want)
			}
		}
	})
}

// A public client whose library sends its client_id as HTTP Basic with an empty secret ("id:") redeems
// its code and refreshes alike; a confidential client doing the same is refused.
func TestPublicClientBasicWithoutSecret(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		rp := o.env.RP(public, "", "openid", "offline_access")
		rp.OAuth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		a, code := rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
		tok, err := rp.Exchange(code, a)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if _, err := rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("refresh with Basic %q: %v", public.ID+":", err)
		}
		_, ctok := o.signIn(t, o.rp, o.env.NewBrowser())
		r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ctok.RefreshToken}}, o.client.ID, "")
		if r.Status != http.StatusUnauthorized || r.OAuthError() != "invalid_client" {
			t.Errorf("confidential client with Basic and no secret: %d %s", r.Status, r.Body)
		}
	})
}
