package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

// A user sees their recovery codes left and regenerates them, only after a fresh sign-in with the
// second factor; the old codes stop working.
func TestAccountRegeneratesRecoveryCodes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMFAEnv(t, st, true)
		secret, oldCodes, _, _ := m.enrol(t, m.env.NewBrowser())

		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if !strings.HasPrefix(p.URL.Path, "/login/otp") {
			t.Fatalf("account sign-in went to %s", p.URL)
		}
		m.env.Clock.Advance(30 * time.Second)
		p = b.Submit(p, "/login/otp", map[string]string{"code": apptest.Code(t, secret, m.env.Clock.Now())})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, "10</strong> codes left") {
			t.Fatalf("account page: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		p = b.Submit(p, "/admin/account/recovery-codes", nil)
		newCodes := recoveryCodes(p.Body)
		csrf := p.CSRFToken() // this session's token, for a post after the sign-in went stale
		if p.Status != 200 || len(newCodes) != 10 || newCodes[0] == oldCodes[0] {
			t.Fatalf("regenerate: %d, %d codes", p.Status, len(newCodes))
		}
		// An old code is refused now.
		b2 := m.env.NewBrowser()
		_, q := m.password(t, b2)
		q = b2.Get(m.env.URL + "/login/recovery?authRequestID=" + q.URL.Query().Get("authRequestID"))
		if q = b2.Submit(q, "/login/recovery", map[string]string{"code": oldCodes[1]}); q.Status != 401 {
			t.Fatalf("an old recovery code after regeneration: %d", q.Status)
		}

		// Ten minutes later the sign-in is no longer fresh: the page asks to sign in again.
		m.env.Clock.Advance(11 * time.Minute)
		p = b.Get(m.env.URL + "/admin/account")
		if !strings.Contains(p.Body, "Sign in again to generate new codes") {
			t.Fatalf("stale session: no re-authentication link\n%s", p.Body)
		}
		if q := b.Post(m.env.URL+"/admin/account/recovery-codes", url.Values{"_csrf": {csrf}}); q.Status != 403 || csrf == "" {
			t.Fatalf("regenerating with a stale sign-in: %d", q.Status)
		}
	})
}
