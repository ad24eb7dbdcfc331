package app_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

func idTokenHint(v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("id_token_hint", v) }

// hintEnv: Ann and Bob in one tenant, and an ID token of each (from their own browsers).
type hintEnv struct {
	*oidcEnv
	bob              storage.User
	annToken, bobTok string
}

func newHintEnv(t *testing.T, st *storage.Store, edit ...func(*app.Config)) *hintEnv {
	t.Helper()
	env := apptest.New(t, st, edit...)
	ten := env.Tenant("Acme")
	ann := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
	c, sec := env.Client(ten.ID, apptest.ClientOptions{})
	o := &oidcEnv{env: env, ten: ten, user: ann, client: c, secret: sec, rp: env.RP(c, sec)}
	h := &hintEnv{oidcEnv: o, bob: env.User(ten.ID, "bob@acme.test", pw, storage.RoleMember)}
	_, tok := o.signIn(t, o.rp, env.NewBrowser())
	h.annToken = tok.Extra("id_token").(string)
	h.bobTok = h.signInBob(t, env.NewBrowser())
	return h
}

// signInBob signs Bob in in b and returns his ID token.
func (h *hintEnv) signInBob(t *testing.T, b *apptest.Browser) string {
	t.Helper()
	a, code := h.rp.SignIn(b, h.bob.Email, pw)
	tok, err := h.rp.Exchange(code, a)
	if err != nil {
		t.Fatal(err)
	}
	if c := h.rp.IDToken(tok, a.Nonce); c.Subject != h.bob.ID {
		t.Fatalf("signed in as %s, want Bob", c.Subject)
	}
	return tok.Extra("id_token").(string)
}

// subjectOf redeems the code the app got and returns whom the ID token names.
func (h *hintEnv) subjectOf(t *testing.T, a *apptest.Attempt, p *apptest.Page) string {
	t.Helper()
	tok, err := h.rp.Exchange(a.Code(t, p), a)
	if err != nil {
		t.Fatal(err)
	}
	return h.rp.IDToken(tok, a.Nonce).Subject
}

// An id_token_hint names the user the app expects. A browser signed in as someone else never answers
// for them: prompt=none gets login_required (OIDC Core §3.1.2.2) and an interactive request asks to
// sign in again. The session's own user still gets single sign-on.
func TestIDTokenHintOfAnotherUser(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		h := newHintEnv(t, st)
		t.Run("prompt=none with another user's hint", func(t *testing.T) {
			b := h.env.NewBrowser()
			h.signInBob(t, b)
			a := h.rp.Start(prompt("none"), idTokenHint(h.annToken))
			p := b.Get(a.URL)
			if apptest.AppError(p) != "login_required" || p.Redirect.Query().Get("state") != a.State {
				t.Fatalf("prompt=none with Ann's hint in Bob's browser: %d redirect %v, want login_required with the state", p.Status, p.Redirect)
			}
		})
		t.Run("prompt=none with the session's own hint", func(t *testing.T) {
			b := h.env.NewBrowser()
			tok := h.signInBob(t, b)
			a := h.rp.Start(prompt("none"), idTokenHint(tok))
			if sub := h.subjectOf(t, a, b.Get(a.URL)); sub != h.bob.ID {
				t.Fatalf("prompt=none with Bob's own hint signed in %s", sub)
			}
		})
		t.Run("interactive with another user's hint", func(t *testing.T) {
			b := h.env.NewBrowser()
			h.signInBob(t, b)
			a := h.rp.Start(idTokenHint(h.annToken))
			p := b.Get(a.URL)
			if !isLoginForm(p) {
				t.Fatalf("Ann's hint in Bob's browser: %d redirect %v, want the sign-in form", p.Status, p.Redirect)
			}
			p = b.Submit(p, "/login/password", map[string]string{"email": h.user.Email, "password": pw})
			if sub := h.subjectOf(t, a, p); sub != h.user.ID {
				t.Fatalf("after signing in as Ann the app got %s", sub)
			}
			// The browser is Ann's now.
			a = h.rp.Start(prompt("none"))
			if sub := h.subjectOf(t, a, b.Get(a.URL)); sub != h.user.ID {
				t.Fatalf("the session after the new sign-in is %s's, want Ann's", sub)
			}
		})
		t.Run("a hint that fails to verify", func(t *testing.T) {
			// A hint whose signature does not verify names nobody: the app gets login_required (the
			// library's answer, OIDC Core §3.1.2.2), with the state, and never a code.
			parts := strings.Split(h.bobTok, ".")
			forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
			for _, opts := range [][]oauth2.AuthCodeOption{{prompt("none"), idTokenHint(forged)}, {idTokenHint(forged)}, {idTokenHint("not.a.jwt")}} {
				b := h.env.NewBrowser()
				h.signInBob(t, b)
				a := h.rp.Start(opts...)
				p := b.Get(a.URL)
				if apptest.AppError(p) != "login_required" || p.Redirect.Query().Get("state") != a.State {
					t.Fatalf("forged hint: %d redirect %v, want login_required with the state", p.Status, p.Redirect)
				}
			}
		})
	})
}

// An expired but validly signed ID token is still a hint (OIDC Core §3.1.2.1 asks only that the OP
// issued it): it names its user, who gets single sign-on, and nobody else does.
func TestIDTokenHintExpired(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		// The library checks expiry against the wall clock, so the test waits for it; the lifetime leaves
		// a loaded machine time to verify the token at the sign-in first.
		const ttl = 4 * time.Second
		h := newHintEnv(t, st, func(c *app.Config) { c.IDTokenTTL = app.Duration{Duration: ttl} })
		b := h.env.NewBrowser()
		bobTok := h.signInBob(t, b)
		time.Sleep(time.Until(tokenExpiry(t, bobTok).Add(1500 * time.Millisecond)))
		a := h.rp.Start(prompt("none"), idTokenHint(bobTok))
		if sub := h.subjectOf(t, a, b.Get(a.URL)); sub != h.bob.ID {
			t.Fatalf("expired own hint: signed in %s", sub)
		}
		a = h.rp.Start(prompt("none"), idTokenHint(h.annToken))
		if p := b.Get(a.URL); apptest.AppError(p) != "login_required" {
			t.Fatalf("expired hint of another user: %d redirect %v, want login_required", p.Status, p.Redirect)
		}
	})
}

// end_session signs the browser out without asking only for an id_token_hint of the session's own
// user: anyone holding an ID token of their own (every user of every app has one) could otherwise sign
// a victim out with a link.
func TestEndSessionHintOfAnotherUser(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		h := newHintEnv(t, st)
		other := h.env.Tenant("Other")
		eve := h.env.User(other.ID, "eve@other.test", pw, storage.RoleMember)
		otherClient, otherSecret := h.env.Client(other.ID, apptest.ClientOptions{})
		otherRP := h.env.RP(otherClient, otherSecret)
		a, code := otherRP.SignIn(h.env.NewBrowser(), eve.Email, pw)
		tok, err := otherRP.Exchange(code, a)
		if err != nil {
			t.Fatal(err)
		}
		eveToken := tok.Extra("id_token").(string)
		for _, tc := range []struct {
			name, hint string
		}{
			{"another user of the tenant", h.annToken},
			{"a user of another tenant", eveToken},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := h.env.NewBrowser()
				h.signInBob(t, b)
				q := url.Values{"id_token_hint": {tc.hint}, "post_logout_redirect_uri": {h.client.PostLogoutURIs[0]}, "state": {"bye"}}
				p := b.Get(h.env.URL + endSessionPath + "?" + q.Encode())
				if p.URL.Path != "/login/logout" || p.Status != http.StatusOK || p.Redirect != nil {
					t.Fatalf("end_session with %s's hint: %d at %s redirect %v, want the sign-out confirmation", tc.name, p.Status, p.URL.Path, p.Redirect)
				}
				a := h.rp.Start(prompt("none"))
				if sub := h.subjectOf(t, a, b.Get(a.URL)); sub != h.bob.ID {
					t.Fatalf("Bob's session after end_session with another's hint: %s", sub)
				}
				// Confirming on the page still signs Bob out.
				b.Submit(p, "/login/logout", nil)
				if p := b.Get(h.rp.Start(prompt("none")).URL); apptest.AppError(p) != "login_required" {
					t.Errorf("after confirming: %v, want login_required", p.Redirect)
				}
			})
		}
		t.Run("the session's own user", func(t *testing.T) {
			b := h.env.NewBrowser()
			tok := h.signInBob(t, b)
			q := url.Values{"id_token_hint": {tok}, "post_logout_redirect_uri": {h.client.PostLogoutURIs[0]}, "state": {"bye"}}
			p := b.Get(h.env.URL + endSessionPath + "?" + q.Encode())
			if p.Redirect == nil || p.Redirect.Query().Get("state") != "bye" {
				t.Fatalf("end_session with Bob's own hint: %d at %s redirect %v, want the app's post-logout URI", p.Status, p.URL.Path, p.Redirect)
			}
			if p := b.Get(h.rp.Start(prompt("none")).URL); apptest.AppError(p) != "login_required" {
				t.Errorf("after a silent sign-out: %v, want login_required", p.Redirect)
			}
		})
	})
}

// tokenExpiry reads the exp claim of a JWT (already verified by the caller).
func tokenExpiry(t *testing.T, jwt string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}
