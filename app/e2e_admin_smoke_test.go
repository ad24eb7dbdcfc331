package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// The README's path: an admin gets a token through the tenant's admin client, turns MFA on with one
// PUT, and the next sign-in of a member asks for the code.
func TestAdminTurnsMFAOnWithOneCall(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		ten := env.Tenant("Acme")
		env.User(ten.ID, "boss@acme.test", pw, storage.RoleAdmin)
		env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{Admin: true})
		rp := env.RP(c, sec, "openid", "email", "portcullis:admin")
		a, code := rp.SignIn(env.NewBrowser(), "boss@acme.test", pw)
		tok, err := rp.Exchange(code, a)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, env.URL+"/api/v1/tenants/"+ten.Slug+"/mfa-policy", bytes.NewBufferString(`{"enabled":true}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || out["enabled"] != true {
			t.Fatalf("PUT mfa-policy: %d %v", resp.StatusCode, out)
		}
		// The next sign-in of a member asks for enrolment.
		b := env.NewBrowser()
		p := b.Get(rp.Start().URL)
		p = b.Submit(p, "/login/password", map[string]string{"email": "ann@acme.test", "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("after the policy went on, sign-in went to %s", p.URL)
		}
		// The admin's own token has amr pwd only: with the policy on it no longer administers.
		req, _ = http.NewRequest(http.MethodGet, env.URL+"/api/v1/tenants/"+ten.Slug+"/mfa-policy", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("password-only admin token under the policy: %d", resp.StatusCode)
		}
	})
}
