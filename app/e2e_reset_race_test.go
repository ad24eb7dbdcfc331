package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/lifecycle"
	"github.com/portcullis/portcullis/login"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

// A password reset ends every session of the user and every sign-in in flight, also one that is
// verifying the old password while the reset commits: its password step read the old hash before the
// reset and records its login after it (when the sign-in named no user yet, so the reset's end of the
// user's sign-ins missed it), or it recorded its login just before the reset and creates its session
// just after. Sign-ins with the old password run one after another while the reset lands; none of
// them may keep a session, and none may end in a server error. Each round resets to a new password, so
// a later round signs in with the previous round's.
func TestPasswordResetEndsSignInVerifyingOldPassword(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		m := newMailEnv(t, st, false)
		ctx := context.Background()
		issuer, err := url.Parse(m.env.URL)
		if err != nil {
			t.Fatal(err)
		}
		sessionCookie := login.CookieName(login.SessionCookie, false)
		survived, refused, rounds := 0, 0, 6
		for round := range rounds {
			m.env.Clock.Advance(time.Hour) // a new hour: the account may get another reset mail
			m.forgot(t, m.env.NewBrowser(), m.user.Email)
			m.env.App.Mail.RunOnce(ctx)
			var token string
			for _, msg := range m.smtp.To(m.user.Email) { // the newest reset link
				if lu, err := url.Parse(msg.Link()); err == nil && lu.Path == "/login/reset" {
					token = lu.Query().Get("token")
				}
			}
			old := pw
			if round > 0 {
				old = newPW + string(rune('a'+round-1))
			}
			next := newPW + string(rune('a'+round))

			stop := make(chan struct{})
			signingIn := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			var browsers []*apptest.Browser
			var pages []*apptest.Page
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if n == 1+round%2 {
						close(signingIn) // one or two sign-ins went through: the next ones race the reset
					}
					b := m.env.NewBrowser()
					p := b.Get(m.rp.Start().URL)
					if p.Status != http.StatusOK {
						continue
					}
					p = b.Submit(p, "/login/password", map[string]string{"email": m.user.Email, "password": old})
					mu.Lock()
					browsers, pages = append(browsers, b), append(pages, p)
					mu.Unlock()
				}
			})
			select {
			case <-signingIn:
				_, err = m.env.App.Accounts.CompleteReset(ctx, token, next, lifecycle.Actor{})
			case <-time.After(30 * time.Second):
				err = errors.New("no sign-in with the old password went through")
			}
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}

			for i, b := range browsers {
				if s := pages[i].Status; s >= http.StatusInternalServerError && s != http.StatusServiceUnavailable {
					t.Errorf("round %d: a sign-in racing the reset ended in %d:\n%s", round, s, pages[i].Body)
				}
				for _, ck := range b.Jar.Cookies(issuer) {
					if ck.Name != sessionCookie {
						continue
					}
					if _, err := st.SessionByID(ctx, secret.TokenHash(ck.Value)); err == nil {
						survived++
					}
				}
				if strings.Contains(pages[i].Body, "This sign-in has expired") {
					refused++ // a step refused after the reset
				}
			}
			// The sign-ins with the old password after the reset were wrong passwords: clear them.
			if err := m.env.App.Accounts.Guesses.Reset(ctx, throttle.PasswordUserKey(m.user.ID)); err != nil {
				t.Fatal(err)
			}
		}
		if survived > 0 {
			t.Errorf("%d session(s) signed in with the old password outlive the password reset", survived)
		}
		t.Logf("%d sign-in(s) racing the reset were refused after verifying the old password", refused)
	})
}
