package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The code flow with each way a client authenticates at the token endpoint: HTTP Basic and form
// parameters for confidential clients, none (PKCE only) for public ones. State and nonce come back.
func TestCodeFlowClientAuthentication(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		for _, tc := range []struct {
			name   string
			client storage.Client
			secret string
			style  oauth2.AuthStyle
		}{
			{"client_secret_basic", o.client, o.secret, oauth2.AuthStyleInHeader},
			{"client_secret_post", o.client, o.secret, oauth2.AuthStyleInParams},
			{"public client with PKCE", public, "", oauth2.AuthStyleInParams},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rp := o.env.RP(tc.client, tc.secret)
				rp.OAuth.Endpoint.AuthStyle = tc.style
				b := o.env.NewBrowser()
				a := rp.Start()
				a.State = "s/+= " + a.State // characters that need escaping survive the round trip
				a.URL = rp.OAuth.AuthCodeURL(a.State, oauth2.SetAuthURLParam("nonce", a.Nonce), oauth2.S256ChallengeOption(a.Verifier))
				p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": o.user.Email, "password": pw})
				if p.Redirect == nil || p.Redirect.Scheme+"://"+p.Redirect.Host+p.Redirect.Path != tc.client.RedirectURIs[0] {
					t.Fatalf("redirect %v, want to %s", p.Redirect, tc.client.RedirectURIs[0])
				}
				tok, err := rp.Exchange(a.Code(t, p), a)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				c := rp.IDToken(tok, a.Nonce) // checks nonce, issuer, audience, signature
				if c.Subject != o.user.ID || c.Nonce != a.Nonce {
					t.Errorf("sub %q nonce %q", c.Subject, c.Nonce)
				}
				if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken != "" {
					t.Errorf("token type %q, access token %t, refresh token %t (not asked for)", tok.TokenType, tok.AccessToken != "", tok.RefreshToken != "")
				}
			})
		}
	})
}

// A public client must use PKCE with S256; the refusal goes to the app (the redirect URI is known good).
func TestPKCEPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		public, _ := o.env.Client(o.ten.ID, apptest.ClientOptions{Public: true, Redirect: "http://127.0.0.1:1/native"})
		for _, tc := range []struct {
			name      string
			client    storage.Client
			challenge url.Values
			wantError string
		}{
			{"public without code_challenge", public, url.Values{}, "invalid_request"},
			{"public with plain", public, url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, "invalid_request"},
			{"public with challenge but no method (plain by default)", public, url.Values{"code_challenge": {strings.Repeat("a", 43)}}, "invalid_request"},
			{"confidential with plain", o.client, url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := url.Values{"client_id": {tc.client.ID}, "redirect_uri": {tc.client.RedirectURIs[0]}, "response_type": {"code"},
					"scope": {"openid"}, "state": {"st-1"}, "nonce": {"n-1"}}
				for k, v := range tc.challenge {
					q[k] = v
				}
				p := o.env.NewBrowser().Get(o.env.URL + authorizePath + "?" + q.Encode())
				if got := apptest.AppError(p); got != tc.wantError {
					t.Fatalf("app got error %q (status %d, redirect %v), want %q", got, p.Status, p.Redirect, tc.wantError)
				}
				if p.Redirect.Query().Get("state") != "st-1" {
					t.Errorf("state %q", p.Redirect.Query().Get("state"))
				}
				if !strings.HasPrefix(p.Redirect.String(), tc.client.RedirectURIs[0]+"?") {
					t.Errorf("error sent to %s", p.Redirect)
				}
			})
		}
	})
}

// response_mode=form_post: the callback is a page that posts code and state to the redirect URI.
func TestFormPostResponseMode(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		b := o.env.NewBrowser()
		a := o.rp.Start(oauth2.SetAuthURLParam("response_mode", "form_post"))
		p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": o.user.Email, "password": pw})
		if p.Status != http.StatusOK || p.Redirect != nil {
			t.Fatalf("form_post callback: %d redirect %v", p.Status, p.Redirect)
		}
		f := p.Form(t, o.client.RedirectURIs[0])
		if f.Fields.Get("state") != a.State || f.Fields.Get("code") == "" {
			t.Fatalf("form fields %v", f.Fields)
		}
		if cc := p.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("form_post page Cache-Control %q", cc)
		}
		tok, err := o.rp.Exchange(f.Fields.Get("code"), a)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		o.rp.IDToken(tok, a.Nonce)
	})
}

// A code works once; its replay is refused and revokes what the first use produced (RFC 6749 §4.1.2).
func TestCodeReplayRevokesTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		a, code := o.rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
		tok, err := o.rp.Exchange(code, a)
		if err != nil {
			t.Fatal(err)
		}
		if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("userinfo before the replay: %d %s", r.Status, r.Body)
		}
		_, err = o.rp.Exchange(code, a)
		if code, status := retrieveError(t, err); code != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("replay: %s %d, want invalid_grant 400", code, status)
		}
		wantBearerInvalid(t, "userinfo after the replay", userinfo(t, o.env, tok.AccessToken))
		if m := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken); active(m) {
			t.Errorf("access token still active after the replay: %v", m)
		}
		if m := introspect(t, o.env, o.client.ID, o.secret, tok.RefreshToken); active(m) {
			t.Errorf("refresh token still active after the replay: %v", m)
		}
		_, err = o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if code, _ := retrieveError(t, err); code != "invalid_grant" {
			t.Errorf("refresh after the replay: %s", code)
		}
	})
}

// A replay that races the first exchange of the code still revokes what that exchange produced
// (RFC 6749 §4.1.2): whichever of the two stores its tokens, the other's refusal revokes them, or the
// first exchange is refused too. Never do both exchanges succeed.
func TestConcurrentCodeReplayRevokesTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		const rounds = 50 // the interleaving lands in a few rounds of each fifty
		survived := 0
		for round := range rounds {
			a, code := o.rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
			var wg sync.WaitGroup
			start := make(chan struct{})
			toks := make([]*oauth2.Token, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					<-start
					toks[i], errs[i] = o.rp.Exchange(code, a)
				})
			}
			close(start)
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil || toks[i] == nil {
					continue
				}
				if errs[1-i] == nil {
					t.Errorf("round %d: both exchanges succeeded", round)
					continue
				}
				if code, _ := retrieveError(t, errs[1-i]); code != "invalid_grant" {
					t.Errorf("round %d: the replay got %s, want invalid_grant", round, code)
				}
				if r := userinfo(t, o.env, toks[i].AccessToken); r.Status == http.StatusOK {
					survived++
				}
				if m := introspect(t, o.env, o.client.ID, o.secret, toks[i].RefreshToken); active(m) {
					t.Errorf("round %d: the refresh token survived the refused replay", round)
				}
			}
		}
		if survived > 0 {
			t.Errorf("the access token survived a refused replay in %d of %d rounds", survived, rounds)
		}
	})
}

// Refusals at the token endpoint in the authorization_code grant.
func TestCodeExchangeRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		other, otherSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{Redirect: o.client.RedirectURIs[0]})
		exchange := func(code string, a *apptest.Attempt, clientID, secret string) response {
			return postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {o.client.RedirectURIs[0]}, "code_verifier": {a.Verifier}}, clientID, secret)
		}
		for _, tc := range []struct {
			name       string
			run        func(t *testing.T, code string, a *apptest.Attempt) response
			wantStatus int
			wantError  string
			codeDead   bool // a correct exchange afterwards fails too
		}{
			// The library looks the code up (which spends it) before it authenticates the client: every
			// failed exchange burns the code, a wrong secret included.
			{"wrong client secret", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange(code, a, o.client.ID, "not-the-secret")
			}, http.StatusUnauthorized, "invalid_client", true},
			{"unknown client", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange(code, a, "no-such-client", "x")
			}, http.StatusUnauthorized, "invalid_client", true},
			{"PKCE verifier mismatch", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange(code, &apptest.Attempt{Verifier: oauth2.GenerateVerifier()}, o.client.ID, o.secret)
			}, http.StatusBadRequest, "invalid_grant", true},
			{"PKCE verifier missing", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange(code, &apptest.Attempt{}, o.client.ID, o.secret)
			}, http.StatusBadRequest, "invalid_request", true},
			{"expired code", func(t *testing.T, code string, a *apptest.Attempt) response {
				o.env.Clock.Advance(61 * time.Second)
				return exchange(code, a, o.client.ID, o.secret)
			}, http.StatusBadRequest, "invalid_grant", true},
			{"code of another client", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange(code, a, other.ID, otherSecret)
			}, http.StatusBadRequest, "invalid_grant", true},
			{"wrong redirect_uri", func(t *testing.T, code string, a *apptest.Attempt) response {
				return postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {"http://127.0.0.1:1/elsewhere"}, "code_verifier": {a.Verifier}}, o.client.ID, o.secret)
			}, http.StatusBadRequest, "invalid_grant", true},
			{"unknown code", func(t *testing.T, code string, a *apptest.Attempt) response {
				return exchange("not-a-code", a, o.client.ID, o.secret)
			}, http.StatusBadRequest, "invalid_grant", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, code := o.rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
				r := tc.run(t, code, a)
				if r.Status != tc.wantStatus || r.OAuthError() != tc.wantError {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.wantStatus, tc.wantError)
				}
				if ch := r.Header.Get("WWW-Authenticate"); tc.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(ch, "Basic") {
					t.Errorf("401 without a Basic challenge: WWW-Authenticate %q", ch)
				}
				if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("error response Cache-Control %q", cc)
				}
				_, err := o.rp.Exchange(code, a)
				switch {
				case tc.codeDead && err == nil:
					t.Error("the code still worked after the refused exchange")
				case !tc.codeDead && err != nil:
					t.Errorf("the right exchange failed after the refused one: %v", err)
				}
			})
		}
	})
}

// Refusals at /authorize: only a known client and a registered redirect URI may receive a redirect.
func TestAuthorizeRefusals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		base := func() url.Values {
			return url.Values{"client_id": {o.client.ID}, "redirect_uri": {o.client.RedirectURIs[0]}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"st-2"}, "nonce": {"n"}, "code_challenge": {strings.Repeat("A", 43)},
				"code_challenge_method": {"S256"}}
		}
		for _, tc := range []struct {
			name      string
			edit      func(url.Values)
			wantPage  int    // an error page with this status, no redirect
			wantError string // else: this error sent to the app
			wantText  string // on the error page
		}{
			{"unknown client", func(q url.Values) { q.Set("client_id", "no-such-client") }, http.StatusBadRequest, "", "client"},
			{"missing client_id", func(q url.Values) { q.Del("client_id") }, http.StatusBadRequest, "", "client_id"},
			{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, http.StatusBadRequest, "", "redirect_uri"},
			{"redirect_uri with extra path", func(q url.Values) { q.Set("redirect_uri", o.client.RedirectURIs[0]+"/x") }, http.StatusBadRequest, "", "redirect_uri"},
			{"redirect_uri with extra query", func(q url.Values) { q.Set("redirect_uri", o.client.RedirectURIs[0]+"?next=x") }, http.StatusBadRequest, "", "redirect_uri"},
			{"response_type=token", func(q url.Values) { q.Set("response_type", "token") }, 0, "unsupported_response_type", ""},
			{"response_type=id_token", func(q url.Values) { q.Set("response_type", "id_token") }, 0, "unsupported_response_type", ""},
			{"response_mode=fragment", func(q url.Values) { q.Set("response_mode", "fragment") }, 0, "invalid_request", ""},
			{"prompt=none with another prompt", func(q url.Values) { q.Set("prompt", "none login") }, 0, "invalid_request", ""},
			{"acr_values with a tab inside a value", func(q url.Values) { q.Set("acr_values", "urn:x\tphr") }, 0, "invalid_request", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := base()
				tc.edit(q)
				p := o.env.NewBrowser().Get(o.env.URL + authorizePath + "?" + q.Encode())
				if tc.wantPage != 0 {
					if p.Status != tc.wantPage || p.Redirect != nil || p.Header.Get("Location") != "" {
						t.Fatalf("got %d redirect %v, want an error page %d", p.Status, p.Redirect, tc.wantPage)
					}
					// Our HTML error page with the provider's one-line reason: no JSON, no echo of the
					// unregistered URI.
					if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(p.Body, tc.wantText) ||
						!strings.Contains(p.Body, "This sign-in link is not valid") ||
						strings.Contains(p.Body, "evil.example") || strings.Contains(p.Body, `{"`) {
						t.Errorf("error page %s %q, want a page mentioning %q", ct, p.Body, tc.wantText)
					}
					return
				}
				if p.Redirect == nil || !strings.HasPrefix(p.Redirect.String(), o.client.RedirectURIs[0]) {
					t.Fatalf("status %d, redirect %v: want the error sent to the app", p.Status, p.Redirect)
				}
				params := p.Redirect.Query()
				if p.Redirect.Fragment != "" { // the error goes back the way the app asked for the answer
					params, _ = url.ParseQuery(p.Redirect.Fragment)
				}
				if params.Get("error") != tc.wantError || params.Get("state") != "st-2" {
					t.Errorf("app got error %q state %q, want %q st-2", params.Get("error"), params.Get("state"), tc.wantError)
				}
			})
		}
	})
}

// A refresh rotates the refresh token; an old one is refused, and a spent one presented again revokes
// the whole family, the newest token included. The refreshed ID token keeps amr, acr and auth_time.
func TestRefreshRotation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		a, tok0 := o.signIn(t, o.rp, o.env.NewBrowser())
		first := o.rp.IDToken(tok0, a.Nonce)
		if tok0.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}
		refresh := func(rt string) (*oauth2.Token, error) {
			return o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
		}
		o.env.Clock.Advance(time.Minute)
		tok1, err := refresh(tok0.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok1.RefreshToken == "" || tok1.RefreshToken == tok0.RefreshToken || tok1.AccessToken == tok0.AccessToken {
			t.Fatal("the refresh did not rotate the tokens")
		}
		c := o.rp.IDToken(tok1, "")
		if !slices.Equal(c.AMR, first.AMR) || c.ACR != first.ACR || c.AuthTime != first.AuthTime || c.ACR == "" {
			t.Errorf("refreshed ID token amr %v acr %q auth_time %d, want %v %q %d", c.AMR, c.ACR, c.AuthTime, first.AMR, first.ACR, first.AuthTime)
		}
		tok2, err := refresh(tok1.RefreshToken)
		if err != nil {
			t.Fatalf("second refresh: %v", err)
		}
		// The first token was spent: presenting it is reuse, which kills the family.
		_, err = refresh(tok0.RefreshToken)
		if code, status := retrieveError(t, err); code != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("reused refresh token: %s %d", code, status)
		}
		_, err = refresh(tok2.RefreshToken)
		if code, _ := retrieveError(t, err); code != "invalid_grant" {
			t.Errorf("the newest refresh token survived the reuse: %s", code)
		}
		wantBearerInvalid(t, "userinfo with the newest access token after reuse", userinfo(t, o.env, tok2.AccessToken))
		if m := introspect(t, o.env, o.client.ID, o.secret, tok2.AccessToken); active(m) {
			t.Errorf("newest access token still active: %v", m)
		}
	})
}

// A refresh token is bound to its client.
func TestRefreshTokenOfAnotherClient(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		other, otherSecret := o.env.Client(o.ten.ID, apptest.ClientOptions{})
		r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			other.ID, otherSecret)
		if r.Status != http.StatusBadRequest || r.OAuthError() != "invalid_grant" {
			t.Fatalf("refresh by another client: %d %s", r.Status, r.Body)
		}
		if _, err := o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("the owner's refresh failed after another client tried: %v", err)
		}
	})
}

// Parallel redemptions of one code, and of one refresh token, over HTTP: at most one gets tokens, and
// since the others are replays of what it redeemed (RFC 6749 §4.1.2, §10.4), what it got is revoked or
// refused too: whichever order they land in on the database, no token of the grant stays usable.
func TestParallelRedemption(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "offline_access")
		const n = 8
		race := func(form url.Values) (won []map[string]any, statuses []int) {
			results := make([]response, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					results[i], errs[i] = send(formRequest(o.env.URL+tokenPath, form, o.client.ID, o.secret))
				})
			}
			close(start)
			wg.Wait()
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("racer %d: %v", i, errs[i])
				}
				statuses = append(statuses, r.Status)
				switch {
				case r.Status == http.StatusOK:
					won = append(won, r.JSON(t))
				case r.Status != http.StatusBadRequest || r.OAuthError() != "invalid_grant":
					t.Errorf("loser got %d %s, want 400 invalid_grant", r.Status, r.Body)
				}
			}
			return won, statuses
		}
		// wantDead: the tokens a winner got do not outlive the replays that raced it.
		wantDead := func(what string, won []map[string]any) {
			t.Helper()
			for _, m := range won {
				access, _ := m["access_token"].(string)
				if r := userinfo(t, o.env, access); r.Status != http.StatusUnauthorized {
					t.Errorf("%s: the winner's access token still works after the replays: %d", what, r.Status)
				}
				refresh, _ := m["refresh_token"].(string)
				r := postForm(t, o.env.URL, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}},
					o.client.ID, o.secret)
				if r.Status != http.StatusBadRequest || r.OAuthError() != "invalid_grant" {
					t.Errorf("%s: the winner's refresh token after the replays: %d %s", what, r.Status, r.Body)
				}
			}
		}
		a, code := o.rp.SignIn(o.env.NewBrowser(), o.user.Email, pw)
		won, sts := race(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {o.client.RedirectURIs[0]}, "code_verifier": {a.Verifier}})
		if len(won) > 1 {
			t.Fatalf("%d parallel code exchanges succeeded (%v), want at most 1", len(won), sts)
		}
		wantDead("code", won)
		_, tok := o.signIn(t, o.rp, o.env.NewBrowser())
		won, sts = race(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if len(won) != 1 {
			t.Fatalf("%d parallel refreshes succeeded (%v), want 1 (one compare-and-set wins)", len(won), sts)
		}
		wantDead("refresh", won)
	})
}

// A sign-in finished just before the auth request's deadline still redeems its code after it.
func TestCodeOutlivesTheLoginDeadline(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st)
		b := o.env.NewBrowser()
		a := o.rp.Start()
		p := b.Get(a.URL)
		o.env.Clock.Advance(14*time.Minute + 50*time.Second) // the user took their time
		p = b.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": pw})
		code := a.Code(t, p)
		o.env.Clock.Advance(20 * time.Second) // past the request's 15 minutes, within the code's minute
		if _, err := o.env.Store.Sweep(context.Background(), o.env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := o.rp.Exchange(code, a); err != nil {
			t.Fatalf("exchange after the login deadline: %v", err)
		}
	})
}
