package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A refresh token from a TOTP sign-in stops when the tenant turns to phishing-resistant MFA only
// (methods ["webauthn"]): the refresh grant decides with the tenant's allowed methods as they are now,
// like the provider's Done() and the admin API's bearer check.
func TestRefreshTokenStopsWhenTOTPIsNoLongerAllowed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		env := apptest.New(t, st)
		ten := env.Tenant("Acme")
		env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
		env.SetMFA(ten.ID, true)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{})
		rp := env.RP(c, sec, "openid", "offline_access")
		b := env.NewBrowser()
		a := rp.Start()
		p := b.Submit(b.Get(a.URL), "/login/password", map[string]string{"email": "ann@acme.test", "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/enrol") {
			t.Fatalf("after the password: %s", p.URL)
		}
		secret := apptest.EnrolmentSecret(t, p)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
		tok, err := rp.Exchange(a.Code(t, b.Get(continueURL(t, p))), a)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
		}
		tok.Expiry = time.Now().Add(-time.Minute) // make the token source refresh
		if tok, err = rp.OAuth.TokenSource(context.Background(), tok).Token(); err != nil {
			t.Fatalf("refresh while TOTP is allowed: %v", err)
		}
		if _, _, err := st.SetMFAMethods(context.Background(), ten.ID, []string{"webauthn"},
			storage.AuditEvent{TenantID: ten.ID, Action: "mfa.policy_changed", TargetID: ten.ID}); err != nil {
			t.Fatal(err)
		}
		tok.Expiry = time.Now().Add(-time.Minute)
		if _, err := rp.OAuth.TokenSource(context.Background(), tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("refresh of a TOTP grant under a phishing-resistant-only policy: %v", err)
		}
	})
}
