package app_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

var removeKeyAction = regexp.MustCompile(`/admin/account/keys/[0-9a-f]+/remove`)

// A user lists, renames and removes their keys on the account page; removing needs a fresh sign-in
// with the second factor, and the last one is kept while the policy requires a second factor.
func TestAccountKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newKeyEnv(t, st, true)
		key := m.authenticator()
		m.enrolKey(t, key)

		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		p = b.Submit(p, "/login/key", map[string]string{"credential": string(key.Get(options(t, p)))})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, "Passkeys and security keys") || !strings.Contains(p.Body, `value="Laptop"`) {
			t.Fatalf("account page: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		action := removeKeyAction.FindString(p.Body)
		rename := strings.Replace(action, "/remove", "/rename", 1)
		p = b.Submit(p, rename, map[string]string{"name": "Work laptop"})
		if !strings.Contains(p.Body, `value="Work laptop"`) {
			t.Fatalf("after renaming: %d\n%s", p.Status, p.Body)
		}
		// The only second factor under the policy stays.
		if q := b.Submit(p, action, nil); q.Status != 409 {
			t.Fatalf("removing the last second factor: %d", q.Status)
		}
		// With the policy off it can go, but only after a fresh sign-in.
		m.env.SetMFA(m.ten.ID, false)
		m.env.Clock.Advance(11 * time.Minute)
		p = b.Get(m.env.URL + "/admin/account")
		if strings.Contains(p.Body, action) || !strings.Contains(p.Body, "sign in again") {
			t.Fatalf("a stale sign-in offers removal:\n%s", p.Body)
		}
		m.env.Clock.Advance(-11 * time.Minute)
		p = b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, action, nil)
		if p.Status != 200 || strings.Contains(p.Body, "Passkeys and security keys") {
			t.Fatalf("after removing: %d\n%s", p.Status, p.Body)
		}
		// The session was signed in with the removed key: it ended with it, so the browser must sign in again.
		if !strings.HasPrefix(p.URL.Path, "/login/") || !strings.Contains(p.Body, `action="/login/password"`) {
			t.Fatalf("after removing the key the browser is still signed in: %s\n%s", p.URL, p.Body)
		}
		if creds, err := st.CredentialsByUser(t.Context(), m.user.ID); err != nil || len(creds) != 0 {
			t.Fatalf("keys left: %v %v", creds, err)
		}
	})
}
