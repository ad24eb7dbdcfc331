package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// Two instances behind one issuer share only the database: a sign-in started on one finishes on the
// other (login POST, callback, code exchange, refresh, userinfo, logout).
func TestTwoInstancesOneDatabase(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		o := newOIDCEnv(t, st, "openid", "email", "offline_access")
		env2 := apptest.New(t, st, func(c *app.Config) { c.Issuer = o.env.URL })
		// The second instance's clock runs ahead, so its answers show where they were made.
		const skew = time.Minute
		env2.Clock.Advance(skew)
		// Requests to the issuer that should reach the second instance.
		ctx2 := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: apptest.Rebased(o.env.Host(), env2)})

		b := o.env.NewBrowser()
		a := o.rp.Start()
		p := b.Get(a.URL) // /authorize and the login page on the first instance
		if !isLoginForm(p) {
			t.Fatalf("no login form: %d", p.Status)
		}
		b.Rebase(env2) // the load balancer sends the rest to the second
		p = b.Submit(p, "/login/password", map[string]string{"email": o.user.Email, "password": pw})
		tok, err := o.rp.OAuth.Exchange(ctx2, a.Code(t, p), oauth2.VerifierOption(a.Verifier))
		if err != nil {
			t.Fatalf("exchange on the second instance: %v", err)
		}
		c := o.rp.IDToken(tok, a.Nonce)
		if c.Subject != o.user.ID || !slices.Equal(c.AMR, []string{"pwd"}) {
			t.Errorf("claims %+v", c)
		}
		// auth_time is the password step's clock, the access token's iat the exchange's (the library
		// stamps the JWTs' own iat with the real time).
		ahead := time.Now().Add(skew / 2).Unix()
		if c.AuthTime < ahead {
			t.Errorf("auth_time %d: the password step did not run on the second instance", c.AuthTime)
		}
		if iat, _ := introspect(t, o.env, o.client.ID, o.secret, tok.AccessToken)["iat"].(float64); int64(iat) < ahead {
			t.Errorf("access token iat %v: the exchange did not run on the second instance", iat)
		}

		// Tokens from the second instance work on the first and the other way round.
		if r := userinfo(t, o.env, tok.AccessToken); r.Status != http.StatusOK {
			t.Errorf("userinfo on the first instance: %d %s", r.Status, r.Body)
		}
		tok2, err := o.rp.OAuth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh on the first instance: %v", err)
		}
		if r := userinfo(t, env2, tok2.AccessToken); r.Status != http.StatusOK {
			t.Errorf("userinfo on the second instance: %d %s", r.Status, r.Body)
		}
		// The spent refresh token is spent everywhere.
		if _, err := o.rp.OAuth.TokenSource(ctx2, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a spent refresh token worked on the second instance")
		}

		// Single sign-on: the session made on the second instance is seen by the first.
		b.Client.Transport = nil // back to the first instance
		a2 := o.rp.Start(prompt("none"))
		if _, err := o.rp.Exchange(a2.Code(t, b.Get(a2.URL)), a2); err != nil {
			t.Fatalf("SSO on the first instance: %v", err)
		}
		// The code is single-use across instances.
		a3 := o.rp.Start(prompt("none"))
		code := a3.Code(t, b.Get(a3.URL))
		if _, err := o.rp.Exchange(code, a3); err != nil {
			t.Fatal(err)
		}
		if _, err := o.rp.OAuth.Exchange(ctx2, code, oauth2.VerifierOption(a3.Verifier)); err == nil {
			t.Error("a code worked twice, once on each instance")
		}
	})
}
