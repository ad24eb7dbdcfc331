package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

// TestAccountChangesPassword: on /admin/account a user changes their password with the current one,
// within 15 minutes of signing in; their other sessions end (this one stays), they are told by email,
// and the new password signs in at an app. A wrong current password, a common new one and a stale
// sign-in are refused.
func TestAccountChangesPassword(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		other := m.env.NewBrowser()
		a, code := m.rp.SignIn(other, m.user.Email, pw)
		tok, err := m.rp.Exchange(code, a)
		if err != nil {
			t.Fatal(err)
		}

		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		if p.URL.Path != "/admin/account" || !strings.Contains(p.Body, `action="/admin/account/password"`) ||
			!strings.Contains(p.Body, `autocomplete="new-password"`) {
			t.Fatalf("account page: %s %d\n%s", p.URL, p.Status, p.Body)
		}
		for _, tc := range []struct{ name, current, next, want string }{
			{"wrong current password", "not it at all", newPW, "current password is not right"},
			{"common new password", pw, "password1", "most commonly used"},
			{"not the same twice", pw, "", "not the same"},
		} {
			confirm := tc.next
			if tc.next == "" {
				tc.next, confirm = newPW, newPW+"!"
			}
			q := b.Submit(p, "/admin/account/password", map[string]string{"current_password": tc.current, "new_password": tc.next,
				"new_password_confirm": confirm})
			if !strings.Contains(q.Body, tc.want) {
				t.Errorf("%s: %d, page lacks %q", tc.name, q.Status, tc.want)
			}
		}
		p = b.Submit(p, "/admin/account/password", map[string]string{"current_password": pw, "new_password": newPW,
			"new_password_confirm": newPW})
		if p.Status != 200 || !strings.Contains(p.Body, "Your password is changed") {
			t.Fatalf("change: %d\n%s", p.Status, p.Body)
		}
		// This browser stays signed in; the other session and the tokens end.
		if q := b.Get(m.env.URL + "/admin/account"); q.URL.Path != "/admin/account" || q.Status != 200 {
			t.Errorf("this session ended: %s %d", q.URL, q.Status)
		}
		a2 := m.rp.Start()
		if q := other.Get(a2.URL); !strings.Contains(q.Body, `action="/login/password"`) {
			t.Errorf("the other session still signs in: %d %s", q.Status, q.URL)
		}
		if _, err := m.rp.OAuth.TokenSource(t.Context(), tokWithRefreshOnly(tok)).Token(); err == nil {
			t.Error("the old refresh token still works")
		}
		if _, code := m.rp.SignIn(m.env.NewBrowser(), m.user.Email, newPW); code == "" {
			t.Error("the new password does not sign in")
		}
		if n := m.deliver(t, m.user.Email, 1)[0]; !strings.Contains(n.Subject, "password was changed") {
			t.Errorf("notification %q", n.Subject)
		}

		// 16 minutes after the sign-in, the form is replaced by a link to sign in again, and a post is refused.
		csrf := p.CSRFToken()
		m.env.Clock.Advance(16 * time.Minute)
		if q := b.Get(m.env.URL + "/admin/account"); !strings.Contains(q.Body, "Sign in again to change your password") {
			t.Errorf("stale sign-in: no re-authentication link")
		}
		q := b.Post(m.env.URL+"/admin/account/password", url.Values{"_csrf": {csrf}, "current_password": {newPW},
			"new_password": {"yet another passphrase"}, "new_password_confirm": {"yet another passphrase"}})
		if q.Status != http.StatusForbidden {
			t.Errorf("change with a stale sign-in: %d", q.Status)
		}
	})
}

// TestAccountPasswordGuessesAreThrottled: whoever holds a signed-in browser cannot guess the current
// password on the account page without limit: wrong ones count on the user's sign-in counter, and past
// the free attempts the form answers 429 (the sign-in is delayed alike) until the delay is over.
func TestAccountPasswordGuessesAreThrottled(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		b := m.env.NewBrowser()
		p := b.Get(m.env.URL + "/admin/account")
		p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": pw})
		free := throttle.PasswordPolicy().FreeAttempts
		change := func(current string) *apptest.Page {
			return b.Submit(p, "/admin/account/password", map[string]string{"current_password": current,
				"new_password": newPW, "new_password_confirm": newPW})
		}
		for i := 0; i <= free; i++ {
			if q := change(fmt.Sprintf("guess number %d", i)); !strings.Contains(q.Body, "current password is not right") {
				t.Fatalf("guess %d: %d, want the wrong-password message", i, q.Status)
			}
		}
		q := change("yet another guess")
		if q.Status != http.StatusTooManyRequests || q.Header.Get("Retry-After") == "" {
			t.Fatalf("a guess past the free attempts: %d (Retry-After %q), want 429", q.Status, q.Header.Get("Retry-After"))
		}
		if q := change(pw); q.Status != http.StatusTooManyRequests {
			t.Errorf("the right password during the delay: %d, want 429", q.Status)
		}
		other := m.env.NewBrowser()
		if q := other.Submit(other.Get(m.rp.Start().URL), "/login/password", map[string]string{"email": m.user.Email, "password": pw}); q.Status != http.StatusTooManyRequests {
			t.Errorf("a sign-in during the delay the guesses caused: %d %s, want 429", q.Status, q.URL)
		}
		m.env.Clock.Advance(time.Minute)
		if q := change(pw); !strings.Contains(q.Body, "Your password is changed") {
			t.Fatalf("after the delay: %d", q.Status)
		}
	})
}
