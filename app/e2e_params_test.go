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

// Our pre-checks in front of the provider library read a parameter's first value, the library's
// decoder its last; and a form that does not parse used to skip our /authorize checks while the
// library went on with what it could read. A request that repeats a single-valued parameter (RFC 6749
// §3.1) or does not parse is refused, so both always read the same request.

// A public client's loopback redirect URI may differ from the registered one in its port only
// (RFC 8252 §7.3). A second redirect_uri, or a ';' that made our pre-check skip the request, sent the
// code to another loopback host.
func TestAuditLoopbackPrecheckBypass(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		ten := env.Tenant("Acme")
		u := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
		c, _ := env.Client(ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/callback"})
		rp := env.RP(c, "")
		other := "http://localhost:1/callback"
		swap := func(s string) string {
			return strings.Replace(s, url.QueryEscape(c.RedirectURIs[0]), url.QueryEscape(other), 1)
		}
		for _, tc := range []struct {
			name   string
			mutate func(string) string
		}{
			{"duplicate redirect_uri", func(s string) string { return s + "&redirect_uri=" + url.QueryEscape(other) }},
			{"semicolon in query", func(s string) string { return swap(s) + "&x=;" }},
			{"broken escape in query", func(s string) string { return swap(s) + "&x=%zz" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := rp.Start()
				b := env.NewBrowser()
				p := b.Get(tc.mutate(a.URL))
				if isLoginForm(p) {
					q := b.Submit(p, "/login/password", map[string]string{"email": u.Email, "password": pw})
					t.Fatalf("the request was taken: after the password the browser went to %v", q.Redirect)
				}
				if p.Status != http.StatusBadRequest || p.Redirect != nil {
					t.Fatalf("got %d redirect %v, want a 400 page and no redirect", p.Status, p.Redirect)
				}
				if !strings.Contains(p.Header.Get("Content-Type"), "text/html") || !strings.Contains(p.Body, "not valid") {
					t.Errorf("not the error page: %s\n%s", p.Header.Get("Content-Type"), p.Body)
				}
			})
		}
		// The registered URI with another port still works (RFC 8252 §7.3), once.
		a := rp.Start()
		b := env.NewBrowser()
		p := b.Get(strings.Replace(a.URL, url.QueryEscape("127.0.0.1:1/"), url.QueryEscape("127.0.0.1:2/"), 1))
		p = b.Submit(p, "/login/password", map[string]string{"email": u.Email, "password": pw})
		if p.Redirect == nil || p.Redirect.Host != "127.0.0.1:2" || p.Redirect.Query().Get("code") == "" {
			t.Fatalf("loopback with another port: %d %v", p.Status, p.Redirect)
		}
	})
}

// The callback issues the code only to the browser the sign-in is bound to; the guard read the id of
// the query, the library the form's first (the body's). A POST with the browser's own sign-in in the
// query and another (finished) sign-in in the body must not get the other's code.
func TestCallbackIDOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		// The victim finishes a sign-in but never reaches the callback (we stop before it).
		victim := o.env.NewBrowser()
		victim.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.Path, "/authorize/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		p := victim.Get(o.rp.Start().URL)
		p = victim.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": pw})
		loc := p.Redirect // the browser stopped at the callback
		if loc == nil || loc.Path != "/authorize/callback" {
			t.Fatalf("victim's sign-in: %d %v", p.Status, loc)
		}
		victimID := loc.Query().Get("id")

		// The attacker starts a sign-in of their own in their browser (bound to it).
		attacker := o.env.NewBrowser()
		p = attacker.Get(o.rp.Start().URL)
		ownID := p.URL.Query().Get("authRequestID")
		if ownID == "" || victimID == "" {
			t.Fatalf("ids: own %q victim %q", ownID, victimID)
		}
		q := attacker.Post(o.env.URL+"/authorize/callback?id="+url.QueryEscape(ownID), url.Values{"id": {victimID}})
		if q.Redirect != nil && q.Redirect.Query().Get("code") != "" {
			t.Fatalf("the attacker's browser got the victim's code: %v", q.Redirect)
		}
		if q.Status < 400 {
			t.Fatalf("callback with two ids: %d %v, want a refusal", q.Status, q.Redirect)
		}
	})
}

// The token, introspection, revocation and end_session endpoints refuse a repeated single-valued
// parameter (also once in the query and once in the body) and a form that does not parse with
// invalid_request; a parameter that may repeat (RFC 8707 resource) is still taken.
func TestRepeatedParamsRefused(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		raw := func(path, query, body string) response {
			req, err := http.NewRequest(http.MethodPost, o.env.URL+path+query, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(o.client.ID, o.secret)
			return do(t, req)
		}
		rt := url.QueryEscape(tok.RefreshToken)
		for _, tc := range []struct {
			name, path, query, body string
		}{
			{"token: code twice", tokenPath, "", "grant_type=authorization_code&code=x&code=y"},
			{"token: grant_type in query and body", tokenPath, "?grant_type=authorization_code", "grant_type=refresh_token&refresh_token=" + rt},
			{"token: client_id twice", tokenPath, "", "grant_type=refresh_token&refresh_token=" + rt + "&client_id=a&client_id=b"},
			{"token: semicolon", tokenPath, "", "grant_type=refresh_token&refresh_token=" + rt + "&x=;"},
			{"token: broken escape", tokenPath, "", "grant_type=refresh_token&x=%zz&refresh_token=" + rt},
			{"introspection: token twice", introspectPath, "", "token=a&token=" + url.QueryEscape(tok.AccessToken)},
			{"introspection: semicolon", introspectPath, "", "token=" + url.QueryEscape(tok.AccessToken) + "&x=;"},
			{"revocation: token twice", revokePath, "", "token=" + rt + "&token=b"},
			{"revocation: token_type_hint in query and body", revokePath, "?token_type_hint=access_token", "token=" + rt + "&token_type_hint=refresh_token"},
			{"end_session: post_logout_redirect_uri twice", endSessionPath, "", "client_id=" + o.client.ID +
				"&post_logout_redirect_uri=" + url.QueryEscape(o.client.PostLogoutURIs[0]) + "&post_logout_redirect_uri=http%3A%2F%2Fevil.test%2F"},
			{"end_session: semicolon", endSessionPath, "?x=;", "client_id=" + o.client.ID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := raw(tc.path, tc.query, tc.body)
				if r.Status != http.StatusBadRequest || r.OAuthError() != "invalid_request" {
					t.Errorf("got %d %.300s, want 400 invalid_request", r.Status, r.Body)
				}
				if tc.path != endSessionPath && r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
				}
			})
		}
		// Nothing above spent the refresh token or the access token.
		if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); !active(m) {
			t.Errorf("access token inactive after the refused requests: %v", m)
		}
		if r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			o.client.ID, o.secret); r.Status != http.StatusOK {
			t.Errorf("refresh after the refused requests: %d %s", r.Status, r.Body)
		}
		// A parameter that may repeat is taken.
		b := o.env.NewBrowser()
		p := b.Get(o.rp.Start().URL + "&resource=" + url.QueryEscape("https://a.test/") + "&resource=" + url.QueryEscape("https://b.test/"))
		if !isLoginForm(p) {
			t.Errorf("repeated resource: %d %v, want the sign-in page", p.Status, p.Redirect)
		}
	})
}

// end_session with an id_token_hint twice (the guard read the first, the library the last) is refused
// and signs nobody out.
func TestEndSessionRepeatedHint(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		b := o.env.NewBrowser()
		_, tok := o.signIn(t, o.rp, b)
		hint := tok.Extra("id_token").(string)
		q := "id_token_hint=" + url.QueryEscape(hint) + "&id_token_hint=x&post_logout_redirect_uri=" + url.QueryEscape(o.client.PostLogoutURIs[0])
		p := b.Get(o.env.URL + endSessionPath + "?" + q)
		if p.Status != http.StatusBadRequest || p.Redirect != nil {
			t.Fatalf("end_session with two hints: %d %v", p.Status, p.Redirect)
		}
		// Still signed in: a new sign-in completes without the password.
		a := o.rp.Start()
		if p := b.Get(a.URL); p.Redirect == nil || a.Code(t, p) == "" {
			t.Fatalf("the session ended: %d at %s", p.Status, p.URL)
		}
	})
}
