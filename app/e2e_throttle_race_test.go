package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

// burst posts n forms to u at once from one browser (one sign-in: its cookies and CSRF token), the i-th
// with edit(i) applied to form's fields, and returns how many answers had each status and how long the
// burst took.
func burst(b *apptest.Browser, u string, form apptest.Form, n int, edit func(v url.Values, i int)) (map[int]int, time.Duration) {
	statuses := make([]atomic.Int64, 600)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			v := url.Values{}
			for k, vs := range form.Fields {
				v[k] = append([]string(nil), vs...)
			}
			edit(v, i)
			if s := b.Post(u, v).Status; s > 0 && s < len(statuses) {
				statuses[s].Add(1)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	out := map[int]int{}
	for s := range statuses {
		if c := statuses[s].Load(); c > 0 {
			out[s] = int(c)
		}
	}
	return out, took
}

// mostInSequence is how many failed attempts policy lets one after the other within d (the test clock
// runs in real time): the free ones and the one that starts the delay, then one more each time a delay
// has run out.
func mostInSequence(policy throttle.Policy, d time.Duration) int {
	n, waited := policy.FreeAttempts+1, time.Duration(0)
	for waited+policy.LockFor(n) <= d {
		waited += policy.LockFor(n)
		n++
	}
	return n
}

// A burst of wrong codes sent in parallel with one sign-in's cookie and CSRF token is held to the
// throttle like codes sent one after the other: once the free attempts are spent, the first delay
// refuses the rest (or lets one more through each time a delay runs out, if the burst lasts that long),
// and requests beyond what could still fail without a lock wait their turn (429). Before, every request
// checked the lock before any failure was counted, and one burst of 300 on PostgreSQL had 77 codes
// compared against the secret (lockout at 5).
func TestParallelWrongCodesAreThrottled(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		policy := throttle.OTPPolicy()
		m := newMFAEnv(t, st, true)
		m.enrol(t, m.env.NewBrowser())
		m.env.Clock.Advance(30 * time.Second)
		b := m.env.NewBrowser()
		_, p := m.password(t, b)
		form := p.Form(t, "/login/otp")
		got, took := burst(b, m.env.URL+"/login/otp", form, 300, func(v url.Values, i int) {
			v.Set("code", fmt.Sprintf("%06d", 100000+i))
		})
		th, err := st.Throttle(context.Background(), throttle.OTPUserKey(m.user.ID))
		if err != nil {
			t.Fatal(err)
		}
		allowed := mostInSequence(policy, took)
		t.Logf("statuses %v in %s, %d failures counted", got, took.Round(time.Millisecond), th.Failures)
		if th.Failures > allowed || got[http.StatusUnauthorized] > allowed {
			t.Errorf("%d wrong codes were compared in one burst of %s (%d counted); one after the other, at most %d (lockout at %d)",
				got[http.StatusUnauthorized], took.Round(time.Millisecond), th.Failures, allowed, policy.LockoutAt)
		}
		if got[http.StatusUnauthorized] != th.Failures {
			t.Errorf("%d codes refused as wrong but %d failures counted", got[http.StatusUnauthorized], th.Failures)
		}
	})
}

// The same for the password step, whose argon2id verification kept the window between the check and the
// count wide (a burst of 300 had 52 to 54 passwords compared on either database): a burst of wrong
// passwords for one user compares no more of them than one after the other. Answers of 503 (hashing or
// the user's attempts busy) compared nothing and count nothing.
func TestParallelWrongPasswordsAreThrottled(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		policy := app.Defaults().Throttle.PasswordPolicy()
		m := newMFAEnv(t, st, false)
		b := m.env.NewBrowser()
		p := b.Get(m.rp.Start().URL)
		if !isLoginForm(p) {
			t.Fatalf("no login form: %d %s", p.Status, p.URL)
		}
		form := p.Form(t, "/login/password")
		got, took := burst(b, m.env.URL+"/login/password", form, 300, func(v url.Values, i int) {
			v.Set("email", m.user.Email)
			v.Set("password", fmt.Sprintf("wrong-%d", i))
		})
		th, err := st.Throttle(context.Background(), throttle.PasswordUserKey(m.user.ID))
		if err != nil {
			t.Fatal(err)
		}
		allowed := mostInSequence(policy, took)
		t.Logf("statuses %v in %s, %d failures counted", got, took.Round(time.Millisecond), th.Failures)
		if th.Failures > allowed || got[http.StatusUnauthorized] > allowed {
			t.Errorf("%d wrong passwords were compared in one burst of %s (%d counted); one after the other, at most %d",
				got[http.StatusUnauthorized], took.Round(time.Millisecond), th.Failures, allowed)
		}
		if got[http.StatusUnauthorized] != th.Failures {
			t.Errorf("%d passwords refused as wrong but %d failures counted", got[http.StatusUnauthorized], th.Failures)
		}
	})
}
