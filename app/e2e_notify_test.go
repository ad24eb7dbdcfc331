package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// TestSecurityNotifications: the user hears of an enrolment (when, which app, from where), a recovery
// code used (and how many are left), and an admin's reset of their authenticator, whose link carries
// the enrolment code so that the next sign-in needs no typing of it; every admin hears of the policy
// going on and of an admin's authenticator reset.
func TestSecurityNotifications(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		boss := m.env.User(m.ten.ID, "boss@acme.test", pw, storage.RoleAdmin)
		boss2 := m.env.User(m.ten.ID, "boss2@acme.test", pw, storage.RoleAdmin)
		svc, svcSecret := m.env.Client(m.ten.ID, apptest.ClientOptions{Grants: []string{"client_credentials"}, Admin: true})
		token := serviceToken(t, m.rp, svc, svcSecret)
		call := func(method, rest, body string) response {
			t.Helper()
			r := callAPI(t, m.env, apiCall{Method: method, Path: tenantPath(m.ten.Slug, rest), Token: token, Body: body})
			if r.Status >= 300 {
				t.Fatalf("%s %s: %d %s", method, rest, r.Status, r.Body)
			}
			return r
		}

		// The policy goes on: every admin is told.
		call("PUT", "/mfa-policy", `{"enabled":true}`)
		for _, a := range []storage.User{boss, boss2} {
			if n := m.deliver(t, a.Email, 1)[0]; !strings.Contains(n.Subject, "turned on") || !strings.Contains(n.Text, "Acme Inc") {
				t.Errorf("%s: %q", a.Email, n.Subject)
			}
		}

		// Ann enrols: she is told when, through which app and from where.
		_, codes, _, _ := m.enrol(t, m.env.NewBrowser())
		n := m.deliver(t, m.user.Email, 1)[0]
		if !strings.Contains(n.Subject, "new authenticator") || !strings.Contains(n.Text, "Test App") && !strings.Contains(n.Text, "signing in to") ||
			!strings.Contains(n.Text, "127.0.0.1") {
			t.Errorf("enrolment notice %q:\n%s", n.Subject, n.Text)
		}
		// A recovery code: she is told how many are left.
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		p = b.Get(m.env.URL + "/login/recovery?authRequestID=" + p.URL.Query().Get("authRequestID"))
		b.Submit(p, "/login/recovery", map[string]string{"code": codes[0]})
		if n := m.deliver(t, m.user.Email, 2)[1]; !strings.Contains(n.Subject, "recovery code was used") || !strings.Contains(n.Text, "9 recovery codes are left") {
			t.Errorf("recovery notice %q:\n%s", n.Subject, n.Text)
		}

		// An admin resets Ann's authenticator: the mail's link carries the enrolment code.
		call("DELETE", "/users/"+m.user.ID+"/mfa", "")
		n = m.deliver(t, m.user.Email, 3)[2]
		link := n.Link()
		if !strings.Contains(n.Subject, "reset") || !strings.Contains(link, "/login/enrol-code/link?code=") {
			t.Fatalf("reset notice %q link %q", n.Subject, link)
		}
		b = m.env.NewBrowser()
		p = b.Get(link) // → the account page → sign in
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if p.URL.Path != "/login/enrol-code" {
			t.Fatalf("after the password: %s (%d)", p.URL, p.Status)
		}
		if got := p.Form(t, "/login/enrol-code").Fields.Get("enrolment_code"); got == "" || !strings.Contains(link, got) {
			t.Fatalf("the enrolment code is not filled in from the link: %q", got)
		}
		p = b.Submit(p, "/login/enrol-code", nil) // nothing typed
		if p.URL.Path != "/login/enrol" {
			t.Fatalf("after the linked enrolment code: %s (%d)\n%s", p.URL, p.Status, p.Body)
		}
		secret := apptest.EnrolmentSecret(t, p)
		m.env.Clock.Advance(31 * time.Second)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p = b.Get(continueURL(t, p)); p.URL.Path != "/admin/account" || p.Status != http.StatusOK {
			t.Errorf("after the enrolment: %s %d", p.URL, p.Status)
		}

		// An admin's authenticator reset: every admin is told (boss2 included).
		_ = m.env.App.Mail.RunOnce(t.Context())
		call("DELETE", "/users/"+boss.ID+"/mfa", "")
		m.env.App.Mail.RunOnce(t.Context())
		for _, a := range []storage.User{boss, boss2} {
			var got bool
			for _, msg := range m.smtp.To(a.Email) {
				got = got || strings.Contains(msg.Subject, "administrator's authenticator was reset")
			}
			if !got {
				t.Errorf("%s was not told of the admin's reset", a.Email)
			}
		}
	})
}
