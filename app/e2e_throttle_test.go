package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/app/apptest"
	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

func trustProxy(c *app.Config) { c.TrustProxy = true }

// loginPage opens a sign-in for rp in a new browser.
func loginPage(t *testing.T, env *apptest.Env, rp *apptest.RP) (*apptest.Browser, *apptest.Attempt, *apptest.Page) {
	t.Helper()
	b := env.NewBrowser()
	a := rp.Start()
	p := b.Get(a.URL)
	if !isLoginForm(p) {
		t.Fatalf("no login form: %d %s", p.Status, p.URL)
	}
	return b, a, p
}

// tryPassword submits the login form from the client address addr (behind the trusted proxy).
func tryPassword(b *apptest.Browser, form *apptest.Page, addr, email, password string) *apptest.Page {
	b.Header = http.Header{"X-Forwarded-For": {addr}}
	return b.Submit(form, "/login/password", map[string]string{"email": email, "password": password})
}

func retryAfter(t *testing.T, p *apptest.Page) time.Duration {
	t.Helper()
	s, err := strconv.Atoi(p.Header.Get("Retry-After"))
	if p.Status != http.StatusTooManyRequests || err != nil || s < 1 {
		t.Fatalf("want 429 with Retry-After, got %d Retry-After %q", p.Status, p.Header.Get("Retry-After"))
	}
	return time.Duration(s) * time.Second
}

// Password guessing slows down after the free attempts and then locks, per user and per client
// address; the counters live in the database, so another instance sees them.
func TestPasswordThrottling(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		policy := throttle.PasswordPolicy()
		env := apptest.New(t, st, trustProxy)
		ten := env.Tenant("Acme")
		ann := env.User(ten.ID, "ann@acme.test", pw, storage.RoleMember)
		bob := env.User(ten.ID, "bob@acme.test", pw, storage.RoleMember)
		c, sec := env.Client(ten.ID, apptest.ClientOptions{})
		rp := env.RP(c, sec)
		addr := 0
		nextAddr := func() string { addr++; return "198.51.100." + strconv.Itoa(addr) }
		var advanced time.Duration
		advance := func(d time.Duration) { env.Clock.Advance(d); advanced += d }
		signsIn := func(t *testing.T, who storage.User, from string) {
			t.Helper()
			b, a, p := loginPage(t, env, rp)
			a.Code(t, tryPassword(b, p, from, who.Email, pw))
		}

		t.Run("per user, from any address", func(t *testing.T) {
			b, _, p := loginPage(t, env, rp)
			for i := range policy.FreeAttempts + 1 {
				if q := tryPassword(b, p, nextAddr(), ann.Email, "wrong"); q.Status != http.StatusUnauthorized {
					t.Fatalf("wrong password %d: %d", i+1, q.Status)
				}
			}
			// Throttled now: even the right password waits, from a new address too.
			q := tryPassword(b, p, nextAddr(), ann.Email, pw)
			if d := retryAfter(t, q); d > policy.BaseDelay+time.Second {
				t.Errorf("first delay %s, want about %s", d, policy.BaseDelay)
			}
			if q.Redirect != nil || !strings.Contains(q.Body, "Too many attempts") {
				t.Errorf("throttled page: redirect %v\n%s", q.Redirect, q.Body)
			}
			signsIn(t, bob, nextAddr()) // another user is not slowed down
			advance(policy.BaseDelay + time.Second)
			signsIn(t, ann, nextAddr()) // after the delay the right password works and resets the count
		})

		t.Run("per client address, for any user", func(t *testing.T) {
			from := nextAddr()
			b, _, p := loginPage(t, env, rp)
			for i := range policy.FreeAttempts + 1 {
				if q := tryPassword(b, p, from, "nobody"+strconv.Itoa(i)+"@acme.test", "wrong"); q.Status != http.StatusUnauthorized {
					t.Fatalf("unknown email %d: %d", i+1, q.Status)
				}
			}
			b2, _, p2 := loginPage(t, env, rp)
			retryAfter(t, tryPassword(b2, p2, from, bob.Email, pw))
			signsIn(t, bob, nextAddr())
			advance(policy.BaseDelay + time.Second)
		})

		t.Run("growing delay, then lockout", func(t *testing.T) {
			b, _, p := loginPage(t, env, rp)
			var delays []time.Duration
			locked := false
			for i := 0; i < 40 && !locked; i++ {
				q := tryPassword(b, p, nextAddr(), ann.Email, "wrong")
				switch q.Status {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					d := retryAfter(t, q)
					if d >= policy.LockoutFor-time.Minute {
						locked = true
						break
					}
					delays = append(delays, d)
					advance(d)
				default:
					t.Fatalf("attempt %d: %d", i+1, q.Status)
				}
			}
			if !locked {
				t.Fatalf("no lockout after 40 attempts; delays %v", delays)
			}
			for i := 1; i < len(delays); i++ {
				if delays[i] < delays[i-1] {
					t.Errorf("delays shrink: %v", delays)
				}
			}
			if len(delays) < 3 || delays[len(delays)-1] <= delays[0] {
				t.Errorf("delays do not grow: %v", delays)
			}
			// Locked out: the right password is refused too.
			b2, _, p2 := loginPage(t, env, rp)
			if q := tryPassword(b2, p2, nextAddr(), ann.Email, pw); q.Status != http.StatusTooManyRequests {
				t.Fatalf("right password during the lockout: %d", q.Status)
			}
		})

		t.Run("a new instance on the same database keeps the count", func(t *testing.T) {
			env2 := apptest.New(t, st, trustProxy)
			env2.Clock.Advance(advanced)
			rp2 := env2.RP(c, sec)
			b, _, p := loginPage(t, env2, rp2)
			if d := retryAfter(t, tryPassword(b, p, nextAddr(), ann.Email, pw)); d < policy.LockoutFor-2*time.Minute {
				t.Errorf("Retry-After %s on the new instance, want the lockout's", d)
			}
			// After the lockout one more wrong password locks again at once: the count was kept, not
			// restarted with free attempts.
			env2.Clock.Advance(policy.LockoutFor + time.Minute)
			b, _, p = loginPage(t, env2, rp2)
			if q := tryPassword(b, p, nextAddr(), ann.Email, "wrong"); q.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password after the lockout: %d", q.Status)
			}
			if d := retryAfter(t, tryPassword(b, p, nextAddr(), ann.Email, pw)); d < policy.LockoutFor {
				t.Errorf("relock Retry-After %s, want at least %s", d, policy.LockoutFor)
			}
		})
	})
}
