package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// An admin's SSO session from an authenticator app no longer satisfies the tenant's policy once the
// policy allows passkeys and security keys only: the settings and the account page send her to sign in
// (where she adds a key), and a form posted with the old session changes nothing, as the admin API
// refuses a token of such a sign-in. (A phished TOTP session turned the policy off.)
func TestAdminPagesSessionBelowPhishingResistantPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		env := m.env
		admin := env.User(m.ten.ID, "boss@acme.test", pw, storage.RoleAdmin)

		b := env.NewBrowser()
		p := b.Get(env.URL + settingsPath)
		p = b.Submit(p, "/login/password", map[string]string{"email": admin.Email, "password": pw})
		secret, p := enrolOn(t, env, b, p)
		wantSettings(t, p)
		csrf := p.CSRFToken()

		if _, _, err := st.SetMFAMethods(context.Background(), m.ten.ID, []string{"webauthn"}, storage.AuditEvent{Action: "mfa.policy_changed"}); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{settingsPath, "/admin/account"} {
			q := b.Get(env.URL + path)
			if q.URL.Path == path || !strings.HasPrefix(q.URL.Path, "/login/") {
				t.Errorf("%s with a TOTP session under a phishing-resistant-only policy: %d %s, want the sign-in", path, q.Status, q.URL)
			}
		}
		before := snapshot(t, st, m.ten.ID)
		q := b.Post(env.URL+"/admin/settings/security/mfa", url.Values{"enabled": {"false"}, "_csrf": {csrf}})
		if q.URL.Path == settingsPath && q.Status == http.StatusOK {
			t.Errorf("policy form with a TOTP session under a phishing-resistant-only policy reached the settings")
		}
		q = b.Post(env.URL+"/admin/settings/users/invite", url.Values{"email": {"eve@evil.test"}, "role": {"admin"}, "_csrf": {csrf}})
		if q.URL.Path == settingsPath && q.Status == http.StatusOK {
			t.Errorf("invitation with a TOTP session under a phishing-resistant-only policy reached the settings")
		}
		wantUnchanged(t, "forms of a TOTP session under a phishing-resistant-only policy", before, snapshot(t, st, m.ten.ID))

		// Signing in again with the code and a new key gets her in.
		p = b.Get(env.URL + settingsPath)
		if strings.HasPrefix(p.URL.Path, "/login/otp") {
			env.Clock.Advance(30 * time.Second)
			p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, env.Clock.Now())})
		}
		if !strings.HasPrefix(p.URL.Path, "/login/key-enrol") {
			t.Fatalf("sign-in under the phishing-resistant-only policy: %s (%d), want to add a key", p.URL, p.Status)
		}
		p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(m.authenticator().Create(options(t, p)))})
		wantSettings(t, p)
	})
}
