package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// keyCeremonyOffered reports whether the page runs a registration ceremony (navigator.credentials.create).
func keyCeremonyOffered(p *apptest.Page) bool {
	return strings.Contains(p.Body, `action="/login/key-enrol"`) && strings.Contains(p.Body, "data-options")
}

// An SSO session is not a fresh sign-in: a sign-in that would add a passkey or security key (an app's
// acr_values phr, or a phishing-resistant-only policy) on the word of an old session alone would turn
// that session (a stolen cookie, an unlocked computer) into a lasting credential, a passkey that signs
// in without a password, where the account page asks for a sign-in of the last ten minutes. The
// factor that allows adding the key must be proven in this sign-in: the code of a user with an
// authenticator app, the password of a user without a second factor.
func TestStaleSessionCannotAddKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		phr := oauth2.SetAuthURLParam("acr_values", "urn:portcullis:acr:phr")

		t.Run("session with an authenticator app", func(t *testing.T) {
			m := newKeyEnv(t, st, true)
			b := m.env.NewBrowser()
			secret, _, _, _ := m.enrol(t, b) // b holds a session with the password and the code
			m.env.Clock.Advance(2 * time.Hour)

			a := m.rp.Start(phr)
			p := b.Get(a.URL)
			if keyCeremonyOffered(p) || !strings.HasPrefix(p.URL.Path, "/login/otp") {
				t.Fatalf("phr step-up on a two-hour-old session: %s (%d), want the code first", p.URL, p.Status)
			}
			id := p.URL.Query().Get("authRequestID")
			if q := b.Get(m.env.URL + "/login/key-enrol?authRequestID=" + id); keyCeremonyOffered(q) {
				t.Fatalf("the key page offers a ceremony before the code")
			}
			p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
			if !keyCeremonyOffered(p) {
				t.Fatalf("after the code: %s (%d), want to add a key", p.URL, p.Status)
			}
			p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(m.authenticator().Create(options(t, p)))})
			if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" {
				t.Errorf("acr %q", c.ACR)
			}
		})

		t.Run("password-only session", func(t *testing.T) {
			m := newKeyEnv(t, st, false)
			b := m.env.NewBrowser()
			first, p := m.password(t, b)
			first.Code(t, p)
			m.env.Clock.Advance(2 * time.Hour)

			a := m.rp.Start(phr)
			p = b.Get(a.URL)
			if keyCeremonyOffered(p) || !isLoginForm(p) {
				t.Fatalf("phr step-up on a two-hour-old password session: %s (%d), want the password", p.URL, p.Status)
			}
			id := p.Form(t, "/login/password").Fields.Get("authRequestID")
			if q := b.Get(m.env.URL + "/login/key-enrol?authRequestID=" + id); keyCeremonyOffered(q) {
				t.Fatalf("the key page offers a ceremony before the password")
			}
			if q := b.Get(m.env.URL + "/authorize/callback?id=" + id); q.Redirect == nil || q.Redirect.Query().Get("code") != "" {
				t.Fatalf("callback of the stale sign-in: %d %v", q.Status, q.Redirect)
			}
			p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
			if !keyCeremonyOffered(p) {
				t.Fatalf("after the password: %s (%d), want to add a key", p.URL, p.Status)
			}
			p = b.Submit(p, "/login/key-enrol", map[string]string{"credential": string(m.authenticator().Create(options(t, p)))})
			if c := m.claims(t, a, p); c.ACR != "urn:portcullis:acr:phr" {
				t.Errorf("acr %q", c.ACR)
			}
		})

		t.Run("session from before the policy", func(t *testing.T) {
			// Neither a key nor an authenticator app is added on a two-hour-old session's word: the
			// password first (a stolen session cookie must not enrol a second factor), then the
			// enrolment, with its "use a passkey instead".
			m := newKeyEnv(t, st, false)
			b := m.env.NewBrowser()
			first, p := m.password(t, b)
			first.Code(t, p)
			m.env.Clock.Advance(2 * time.Hour)
			m.env.SetMFA(m.ten.ID, true)

			a := m.rp.Start()
			p = b.Get(a.URL)
			if !isLoginForm(p) || keyCeremonyOffered(p) {
				t.Fatalf("pre-policy session: %s (%d), want the password", p.URL, p.Status)
			}
			id := p.Form(t, "/login/password").Fields.Get("authRequestID")
			for _, page := range []string{"/login/enrol", "/login/key-enrol"} {
				q := b.Get(m.env.URL + page + "?authRequestID=" + id)
				if keyCeremonyOffered(q) || strings.Contains(q.Body, "otpauth://") {
					t.Fatalf("%s on a two-hour-old session offers a second factor to add", page)
				}
			}
			p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
			if !strings.HasPrefix(p.URL.Path, "/login/enrol") || !strings.Contains(p.Body, "/login/key-enrol") {
				t.Fatalf("after the password: %s (%d), want the enrolment with a passkey instead", p.URL, p.Status)
			}
			secret := apptest.EnrolmentSecret(t, p)
			p = b.Submit(p, "/login/enrol", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
			if c := m.claims(t, a, b.Get(continueURL(t, p))); !slices.Contains(c.AMR, "otp") {
				t.Errorf("amr %v", c.AMR)
			}
		})
	})
}
