package app_test

import (
	"context"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A password sign-in through a confidential client with real oauth2 + go-oidc clients.
func TestPasswordSignIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		ten := env.Tenant("Acme")
		u := env.User(ten.ID, "ann@acme.test", "correct horse battery", storage.RoleMember)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{})
		rp := env.RP(c, sec)
		b := env.NewBrowser()

		a := rp.Start()
		p := b.Get(a.URL)
		if p.Status != 200 || p.Form(t, "/login/password").Fields.Get("_csrf") == "" {
			t.Fatalf("login page: %d\n%s", p.Status, p.Body)
		}
		p = b.Submit(p, "/login/password", map[string]string{"email": "ann@acme.test", "password": "correct horse battery"})
		tok, err := rp.Exchange(a.Code(t, p), a)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		claims := rp.IDToken(tok, a.Nonce)
		if claims.Subject != u.ID || claims.Email != "ann@acme.test" || claims.Tenant != ten.ID {
			t.Errorf("claims = %+v", claims)
		}
		if !slices.Equal(claims.AMR, []string{"pwd"}) || claims.ACR != "urn:portcullis:acr:pwd" || claims.AuthTime == 0 {
			t.Errorf("amr %v acr %q auth_time %d", claims.AMR, claims.ACR, claims.AuthTime)
		}
		ui, err := rp.Provider.UserInfo(context.Background(), rp.OAuth.TokenSource(context.Background(), tok))
		if err != nil || ui.Subject != u.ID || ui.Email != "ann@acme.test" {
			t.Errorf("userinfo %+v %v", ui, err)
		}

		// SSO: a second authorization in the same browser completes without a form.
		a2 := rp.Start()
		p = b.Get(a2.URL)
		if _, err := rp.Exchange(a2.Code(t, p), a2); err != nil {
			t.Fatalf("sso exchange: %v", err)
		}
	})
}
