package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/tenantadmin"
)

// TestMFAResetHoldsSelfServiceReset: an admin's MFA reset mails the user a link carrying the
// enrolment code, so the mailbox alone must not also yield a new password: forgot password, a reset
// link, a new password, a sign-in, the code from the same mailbox, an authenticator of the attacker's.
// While the code is outstanding, "forgot password" answers as for any address and sends nothing, and a
// reset link the user asked for (this one from before the MFA reset, which revoked it) is refused,
// opened or posted, with a page that says to ask the administrator. A reset the admin sends in that
// time works (the admin vouches), and the user then enrols with the code from the mail. Once the user
// has an authenticator again, "forgot password" sends mail again.
func TestMFAResetHoldsSelfServiceReset(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, true)
		ctx := t.Context()
		ann := m.user.Email
		m.enrol(t, m.env.NewBrowser())
		m.deliver(t, ann, 1) // the enrolment's notification

		// A reset link asked for before the MFA reset, its form open in a browser.
		m.forgot(t, m.env.NewBrowser(), ann)
		early := m.deliver(t, ann, 2)[1].Link()
		eb := m.env.NewBrowser()
		earlyPage := eb.Get(early)
		if earlyPage.Status != http.StatusOK {
			t.Fatalf("the reset link before the MFA reset: %d", earlyPage.Status)
		}

		admin := tenantadmin.Actor{ID: "boss", Email: "boss@acme.test", Address: "192.0.2.1"}
		if _, err := m.env.App.Admin.ResetMFA(ctx, admin, m.user); err != nil {
			t.Fatal(err)
		}
		if open, err := st.OpenLinks(ctx, m.ten.ID, storage.LinkReset, m.env.Clock.Now()); err != nil || len(open) != 0 {
			t.Fatalf("open reset links after the MFA reset: %d %v, want none (revoked with the reset)", len(open), err)
		}
		enrolLink := m.deliver(t, ann, 3)[2].Link()
		if !strings.Contains(enrolLink, "/login/enrol-code/link?code=") {
			t.Fatalf("the MFA reset's mail carries %q", enrolLink)
		}

		// The attack: forgot password answers as for an unknown address, and sends nothing.
		known := m.forgot(t, m.env.NewBrowser(), ann)
		unknown := m.forgot(t, m.env.NewBrowser(), "nobody@acme.test")
		if known.Status != http.StatusOK || unknown.Status != known.Status ||
			strings.ReplaceAll(known.Body, ann, "X") != strings.ReplaceAll(unknown.Body, "nobody@acme.test", "X") {
			t.Fatalf("known %d, unknown %d: the answers differ\n%s\n%s", known.Status, unknown.Status, known.Body, unknown.Body)
		}
		m.deliver(t, ann, 3) // nothing new

		// The link from before: refused, opened or posted, with "ask your administrator".
		heldPage := func(name string, p *apptest.Page) {
			t.Helper()
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Ask your administrator") {
				t.Errorf("%s: %d\n%s", name, p.Status, p.Body)
			}
		}
		heldPage("the early link opened", m.env.NewBrowser().Get(early))
		heldPage("the early link's form posted", eb.Submit(earlyPage, "/login/reset", map[string]string{"password": newPW, "password_confirm": newPW}))
		if _, p := m.password(t, m.env.NewBrowser()); p.URL.Path != "/login/enrol-code" {
			t.Fatalf("the old password after the refused reset: %s (%d), want the enrolment-code page", p.URL, p.Status)
		}

		// An admin's reset mail works in that time.
		if err := m.env.App.Admin.SendReset(ctx, admin, m.ten, m.user.ID); err != nil {
			t.Fatal(err)
		}
		b := m.env.NewBrowser()
		p := b.Get(m.deliver(t, ann, 4)[3].Link())
		p = b.Submit(p, "/login/reset", map[string]string{"password": newPW, "password_confirm": newPW})
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Your password is changed") {
			t.Fatalf("the admin's reset link: %d\n%s", p.Status, p.Body)
		}
		m.deliver(t, ann, 5) // the password's notification

		// Ann follows the MFA reset's link, signs in with the new password and enrols with the code.
		b = m.env.NewBrowser()
		p = b.Get(enrolLink)
		p = b.Submit(p, "/login/password", map[string]string{"email": ann, "password": newPW})
		if p.URL.Path != "/login/enrol-code" {
			t.Fatalf("after the new password: %s (%d)", p.URL, p.Status)
		}
		p = b.Submit(p, "/login/enrol-code", nil)
		if p.URL.Path != "/login/enrol" {
			t.Fatalf("after the linked enrolment code: %s (%d)\n%s", p.URL, p.Status, p.Body)
		}
		secret := apptest.EnrolmentSecret(t, p)
		m.env.Clock.Advance(31 * time.Second)
		p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "recovery") {
			t.Fatalf("after confirming: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		m.deliver(t, ann, 6) // the enrolment's notification

		// The code is spent: forgot password sends mail again, and its link works.
		m.forgot(t, m.env.NewBrowser(), ann)
		if p := m.env.NewBrowser().Get(m.deliver(t, ann, 7)[6].Link()); p.Status != http.StatusOK {
			t.Errorf("a reset link after the enrolment: %d\n%s", p.Status, p.Body)
		}
	})
}

// TestMFAResetHoldExpires: once the enrolment code has expired (it enrols no one any more), the
// self-service reset is no longer held.
func TestMFAResetHoldExpires(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		if _, err := m.env.App.Admin.ResetMFA(t.Context(), tenantadmin.Actor{ID: "boss"}, m.user); err != nil {
			t.Fatal(err)
		}
		m.deliver(t, m.user.Email, 1)
		m.forgot(t, m.env.NewBrowser(), m.user.Email)
		m.deliver(t, m.user.Email, 1)
		m.env.Clock.Advance(72*time.Hour + time.Minute)
		m.forgot(t, m.env.NewBrowser(), m.user.Email)
		if p := m.env.NewBrowser().Get(m.deliver(t, m.user.Email, 2)[1].Link()); p.Status != http.StatusOK {
			t.Errorf("a reset link after the code expired: %d\n%s", p.Status, p.Body)
		}
	})
}
