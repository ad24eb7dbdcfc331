package throttle

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
)

var _ Store = (*storage.Store)(nil)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func TestLockFor(t *testing.T) {
	pwd, otp := PasswordPolicy(), OTPPolicy()
	tests := []struct {
		name     string
		policy   Policy
		failures int
		want     time.Duration
	}{
		{name: "pwd 0", policy: pwd, failures: 0, want: 0},
		{name: "pwd 5 free", policy: pwd, failures: 5, want: 0},
		{name: "pwd 6 base", policy: pwd, failures: 6, want: time.Second},
		{name: "pwd 7 doubles", policy: pwd, failures: 7, want: 2 * time.Second},
		{name: "pwd 11", policy: pwd, failures: 11, want: 32 * time.Second},
		{name: "pwd 12 capped", policy: pwd, failures: 12, want: time.Minute},
		{name: "pwd 99 still a delay", policy: pwd, failures: 99, want: time.Minute},
		{name: "pwd 100 lockout", policy: pwd, failures: 100, want: 15 * time.Minute},
		{name: "pwd 101 lockout doubles", policy: pwd, failures: 101, want: 30 * time.Minute},
		{name: "pwd 102 capped at 1h", policy: pwd, failures: 102, want: time.Hour},
		{name: "pwd huge no overflow", policy: pwd, failures: 1 << 30, want: time.Hour},
		{name: "otp 2 free", policy: otp, failures: 2, want: 0},
		{name: "otp 3 base", policy: otp, failures: 3, want: 2 * time.Second},
		{name: "otp 4", policy: otp, failures: 4, want: 4 * time.Second},
		{name: "otp 5 lockout", policy: otp, failures: 5, want: 5 * time.Minute},
		{name: "otp 6", policy: otp, failures: 6, want: 10 * time.Minute},
		{name: "otp 7", policy: otp, failures: 7, want: 20 * time.Minute},
		{name: "negative failures", policy: otp, failures: -1, want: 0},
		{name: "zero policy", policy: Policy{}, failures: 100, want: 0},
		{name: "delay only", policy: Policy{FreeAttempts: 0, BaseDelay: time.Second, MaxDelay: time.Minute}, failures: 100, want: time.Minute},
		{name: "lockout longer than 24h kept", policy: Policy{LockoutAt: 1, LockoutFor: 48 * time.Hour}, failures: 3, want: 48 * time.Hour},
		{name: "otp lockout capped at 24h", policy: otp, failures: 30, want: 24 * time.Hour},
		{name: "max lockout below lockout", policy: Policy{LockoutAt: 1, LockoutFor: time.Hour, MaxLockout: time.Minute}, failures: 3, want: time.Hour},
		{name: "lockout shorter than delay", policy: Policy{BaseDelay: time.Hour, MaxDelay: 2 * time.Hour, LockoutAt: 1, LockoutFor: time.Second}, failures: 1, want: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.LockFor(tc.failures); got != tc.want {
				t.Errorf("LockFor(%d) = %v, want %v", tc.failures, got, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "password user", got: PasswordUserKey("u1"), want: "pwd:user:u1"},
		{name: "password addr", got: PasswordAddrKey("192.0.2.1"), want: "pwd:ip:192.0.2.1"},
		{name: "ipv4-mapped ipv6 is the ipv4 address", got: PasswordAddrKey("::ffff:192.0.2.1"), want: "pwd:ip:192.0.2.1"},
		{name: "ipv6 counts as its /64", got: PasswordAddrKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), want: "pwd:ip:2001:db8:1:2::/64"},
		{name: "another address of the same /64", got: PasswordAddrKey("2001:db8:1:2::1"), want: "pwd:ip:2001:db8:1:2::/64"},
		{name: "ipv6 with a zone", got: PasswordAddrKey("fe80::1%eth0"), want: "pwd:ip:fe80::/64"},
		{name: "unparsable", got: PasswordAddrKey("unknown"), want: "pwd:ip:unknown"},
		{name: "reset addr", got: ResetAddrKey("2001:db8::7"), want: "reset:ip:2001:db8::/64"},
		{name: "otp user", got: OTPUserKey("u1"), want: "otp:user:u1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("key = %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestDelayGrowth fails an OTP key step by step and checks the lock after each failure.
func TestDelayGrowth(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	l := &Limiter{Store: storagetest.NewSQLite(t), Policy: OTPPolicy(), Now: clk.Now}
	key := OTPUserKey("u1")
	steps := []struct {
		name        string
		wantLock    time.Duration
		wantLockout bool
	}{
		{name: "1 free"}, {name: "2 free"},
		{name: "3", wantLock: 2 * time.Second},
		{name: "4", wantLock: 4 * time.Second},
		{name: "5 lockout", wantLock: 5 * time.Minute, wantLockout: true},
		{name: "6 longer lockout", wantLock: 10 * time.Minute, wantLockout: true},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := l.Check(ctx, key); err != nil {
				t.Fatalf("Check before failure: %v", err)
			}
			th, err := l.Fail(ctx, key)
			if th.Failures != i+1 {
				t.Errorf("Failures = %d, want %d", th.Failures, i+1)
			}
			le, locked := IsLocked(err)
			if locked != s.wantLockout {
				t.Fatalf("Fail err = %v, want lockout %v", err, s.wantLockout)
			}
			if !locked && err != nil {
				t.Fatalf("Fail: %v", err)
			}
			if locked && (!le.Lockout || !le.Until.Equal(clk.Now().Add(s.wantLock))) {
				t.Errorf("Fail LockedError = %+v, want lockout until %v", le, clk.Now().Add(s.wantLock))
			}
			err = l.Check(ctx, key)
			if s.wantLock == 0 {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ce *LockedError
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want *LockedError", err)
			}
			if want := clk.Now().Add(s.wantLock); !ce.Until.Equal(want) || ce.Lockout != s.wantLockout {
				t.Errorf("Check = %+v, want until %v lockout %v", ce, want, s.wantLockout)
			}
			if got := ce.RetryAfter(clk.Now()); got != s.wantLock {
				t.Errorf("RetryAfter = %v, want %v", got, s.wantLock)
			}
			// One second before the end it is still locked; at the end it is free.
			clk.Advance(s.wantLock - time.Second)
			if err := l.Check(ctx, key); err == nil {
				t.Fatal("Check one second before expiry = nil, want locked")
			}
			clk.Advance(time.Second)
		})
	}
}

func TestResetAndSeparateCounters(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := storagetest.NewSQLite(t)
	otp := &Limiter{Store: st, Policy: OTPPolicy(), Now: clk.Now}
	pwd := &Limiter{Store: st, Policy: PasswordPolicy(), Now: clk.Now}
	for range 5 {
		if _, err := otp.Fail(ctx, OTPUserKey("u1")); err != nil && !errors.As(err, new(*LockedError)) {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		limiter *Limiter
		keys    []string
		want    bool // locked
	}{
		{name: "otp locked", limiter: otp, keys: []string{OTPUserKey("u1")}, want: true},
		{name: "password of same user not locked", limiter: pwd, keys: []string{PasswordUserKey("u1")}, want: false},
		{name: "other user not locked", limiter: otp, keys: []string{OTPUserKey("u2")}, want: false},
		{name: "any locked key locks", limiter: otp, keys: []string{OTPUserKey("u2"), OTPUserKey("u1")}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limiter.Check(ctx, tc.keys...)
			if _, locked := IsLocked(err); locked != tc.want {
				t.Errorf("Check(%v) = %v, want locked %v", tc.keys, err, tc.want)
			}
		})
	}
	if err := otp.Reset(ctx, OTPUserKey("u1")); err != nil {
		t.Fatal(err)
	}
	if err := otp.Check(ctx, OTPUserKey("u1")); err != nil {
		t.Fatalf("Check after Reset = %v, want nil", err)
	}
	th, err := otp.Fail(ctx, OTPUserKey("u1"))
	if err != nil || th.Failures != 1 {
		t.Fatalf("Fail after Reset = %+v, %v; want 1 failure", th, err)
	}
}

func TestCheckSeveralLockedKeys(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := storagetest.NewSQLite(t)
	policy := Policy{FreeAttempts: 3, BaseDelay: time.Second, MaxDelay: 30 * time.Second, LockoutAt: 10, LockoutFor: 15 * time.Minute}
	l := &Limiter{Store: st, Policy: policy, Now: clk.Now}
	for range 4 { // 1s delay
		if _, err := l.Fail(ctx, PasswordUserKey("u2")); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // lockout
		_, _ = l.Fail(ctx, PasswordUserKey("u1"))
	}
	err := l.Check(ctx, PasswordUserKey("u1"), PasswordUserKey("u2"))
	le, ok := IsLocked(err)
	if !ok || !le.Lockout || !le.Until.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("Check = %v, want lockout for 15m", err)
	}
	err = l.Check(ctx, PasswordUserKey("u2"))
	if le, ok := IsLocked(err); !ok || le.Lockout || !le.Until.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("Check(u2) = %v, want a 1s delay, not a lockout", err)
	}
}

// TestSurvivesRestart checks that counts and locks live in the database, not in the process.
func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	path := storagetest.SQLiteDSN(t)
	key := OTPUserKey("u1")

	st := storagetest.Open(t, path)
	l := &Limiter{Store: st, Policy: OTPPolicy(), Now: clk.Now}
	for range 4 {
		if _, err := l.Fail(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	l = &Limiter{Store: storagetest.Open(t, path), Policy: OTPPolicy(), Now: clk.Now}
	if _, ok := IsLocked(l.Check(ctx, key)); !ok {
		t.Fatal("Check after restart = not locked, want locked")
	}
	clk.Advance(time.Hour)
	th, err := l.Fail(ctx, key)
	if _, ok := IsLocked(err); !ok || th.Failures != 5 {
		t.Fatalf("Fail after restart = %+v, %v; want failure 5 and a lockout", th, err)
	}
}

// CheckCounted answers like Check and also says whether a counter exists: none before the first
// failure and after a reset, one after a failure (locked or not).
func TestCheckCounted(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	l := &Limiter{Store: storagetest.NewSQLite(t), Policy: OTPPolicy(), Now: clk.Now}
	key := OTPUserKey("u1")
	check := func(name string, wantCounted, wantLocked bool) {
		t.Helper()
		counted, err := l.CheckCounted(ctx, key)
		if counted != wantCounted {
			t.Errorf("%s: counted = %v, want %v", name, counted, wantCounted)
		}
		_, locked := IsLocked(err)
		if locked != wantLocked || (err != nil && !locked) {
			t.Errorf("%s: err = %v, want locked %v", name, err, wantLocked)
		}
		if cerr := l.Check(ctx, key); (cerr != nil) != (err != nil) {
			t.Errorf("%s: Check = %v, CheckCounted = %v", name, cerr, err)
		}
	}
	check("never failed", false, false)
	if _, err := l.Fail(ctx, key); err != nil {
		t.Fatal(err)
	}
	check("one free failure", true, false)
	for range 2 {
		if _, err := l.Fail(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	check("locked", true, true)
	clk.Advance(time.Hour)
	check("lock over", true, false)
	if err := l.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	check("reset", false, false)
}

// Steps is LockFor as the database applies it: for every count, the last step at or below it has
// LockFor's value, far beyond where both doublings reach their caps.
func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
	}{
		{name: "password", policy: PasswordPolicy()},
		{name: "otp", policy: OTPPolicy()},
		{name: "zero policy", policy: Policy{}},
		{name: "delay only", policy: Policy{BaseDelay: time.Second, MaxDelay: time.Minute}},
		{name: "tiny base, long caps", policy: Policy{FreeAttempts: 1, BaseDelay: time.Nanosecond, MaxDelay: time.Hour,
			LockoutAt: 3, LockoutFor: time.Nanosecond, MaxLockout: 48 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := tc.policy.Steps()
			for n := 0; n <= 1000; n++ {
				var got time.Duration
				for _, s := range steps {
					if n >= s.Failures {
						got = s.Lock
					}
				}
				if want := tc.policy.LockFor(n); got != want {
					t.Fatalf("count %d: steps %v give %v, LockFor %v", n, steps, got, want)
				}
			}
		})
	}
}

// raceBegin has n goroutines, released together, each begin an attempt on key with one of limiters
// (in turn) and fail it; it returns how many were allowed to compare.
func raceBegin(t *testing.T, limiters []*Limiter, key string, n int) int {
	t.Helper()
	var allowed atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		l := limiters[i%len(limiters)]
		wg.Go(func() {
			<-start
			att, err := l.Begin(context.Background(), key)
			if _, locked := IsLocked(err); locked {
				return
			}
			if err != nil {
				t.Errorf("Begin: %v", err)
				return
			}
			allowed.Add(1)
			if err := att.Fail(context.Background()); err != nil && !errors.As(err, new(*LockedError)) {
				t.Errorf("Fail: %v", err) // the compared secret was wrong
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

// TestBeginRacers fires bursts of concurrent attempts at one key, as a script with one stolen password
// or one sign-in's cookie would, and counts how many were let through to compare a secret: no more than
// one after the other would be, the free attempts and the one that starts the delay in a burst, and the
// lockout's number in all. On PostgreSQL the racers are spread over two stores, as two instances on one
// database. (With a check before the compare and a count after it, dozens of a burst got through.)
func TestBeginRacers(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) []*storage.Store
	}{
		{name: "sqlite", open: func(t *testing.T) []*storage.Store { return []*storage.Store{storagetest.NewSQLite(t)} }},
		{name: "postgres, two instances", open: func(t *testing.T) []*storage.Store {
			dsn := storagetest.PostgresDSN(t)
			return []*storage.Store{storagetest.Open(t, dsn), storagetest.Open(t, dsn)}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				policy Policy
			}{
				{name: "otp", policy: OTPPolicy()},
				{name: "password", policy: PasswordPolicy()},
			} {
				t.Run(tc.name, func(t *testing.T) {
					stores := b.open(t)
					clk := newClock()
					var limiters []*Limiter
					for _, st := range stores {
						limiters = append(limiters, &Limiter{Store: st, Policy: tc.policy, Now: clk.Now})
					}
					key := OTPUserKey("u1")
					const burst = 64
					if got := raceBegin(t, limiters, key, burst); got != tc.policy.FreeAttempts+1 {
						t.Errorf("first burst: %d of %d attempts compared, want %d (the free ones and the one that starts the delay)",
							got, burst, tc.policy.FreeAttempts+1)
					}
					total := tc.policy.FreeAttempts + 1
					// Each burst after a lock has run out gets exactly one attempt through, until the lockout
					// (smaller bursts: the password policy locks out at the 100th).
					for total < tc.policy.LockoutAt {
						clk.Advance(tc.policy.LockFor(total))
						got := raceBegin(t, limiters, key, burst/4)
						if got != 1 {
							t.Fatalf("burst after %d failures: %d attempts compared, want 1", total, got)
						}
						total += got
					}
					clk.Advance(tc.policy.LockFor(total) - time.Second)
					if got := raceBegin(t, limiters, key, burst); got != 0 {
						t.Errorf("burst during the lockout: %d attempts compared, want none", got)
					}
					th, err := stores[0].Throttle(context.Background(), key)
					if err != nil || th.Failures != tc.policy.LockoutAt {
						t.Errorf("counter = %+v, %v; want %d failures, the lockout's", th, err, tc.policy.LockoutAt)
					}
				})
			}
		})
	}
}

// An attempt is in flight from Begin on and holds room: while as many are in flight as could fail
// without reaching the first lock, Begin answers busy (a moment, no lockout). Fail counts the failure
// (and reports the lockout it reached), Succeed clears the failures counted before it began but keeps
// one counted since, Release counts neither way; after a decision the others do nothing.
func TestAttempt(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clk := newClock()
		policy := OTPPolicy()
		l := &Limiter{Store: st, Policy: policy, Now: clk.Now}
		key := OTPUserKey("u1")
		counter := func() storage.Throttle {
			t.Helper()
			th, err := st.Throttle(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return th
		}
		begin := func() *Attempt {
			t.Helper()
			att, err := l.Begin(ctx, key)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			return att
		}
		wantBusy := func(what string) {
			t.Helper()
			_, err := l.Begin(ctx, key)
			if le, ok := IsLocked(err); !ok || !le.Busy || le.Lockout || le.RetryAfter(clk.Now()) != time.Second {
				t.Fatalf("%s: Begin = %v, want busy for a moment", what, err)
			}
		}

		a, b, c := begin(), begin(), begin()
		if th := counter(); th.Pending != 3 || th.Failures != 0 {
			t.Fatalf("three in flight: counter %+v", th)
		}
		wantBusy("a fourth while three are in flight")
		if err := a.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Fail(ctx); err != nil || counter().Failures != 0 {
			t.Fatalf("Fail after Release = %v, %+v; want a no-op", err, counter())
		}
		d := begin()
		for _, att := range []*Attempt{b, c} {
			if err := att.Fail(ctx); err != nil {
				t.Fatalf("Fail of a free attempt: %v", err)
			}
		}
		wantBusy("with two failures and one in flight")
		if err := d.Succeed(ctx); err != nil {
			t.Fatal(err)
		}
		if th := counter(); th.Failures != 2 || th.Pending != 0 {
			t.Fatalf("after a success while others failed: %+v, want their 2 failures kept", th)
		}

		// A success clears what was counted before it began.
		e := begin()
		if err := e.Succeed(ctx); err != nil {
			t.Fatal(err)
		}
		if th := counter(); th.Failures != 0 || th.Pending != 0 {
			t.Fatalf("after a success: %+v, want nothing", th)
		}
		if err := e.Release(ctx); err != nil || counter().Failures != 0 {
			t.Fatalf("Release after Succeed = %v", err)
		}

		// Failures past the free ones lock; the attempt that reaches the lockout reports it.
		for i := range policy.LockoutAt {
			att := begin()
			err := att.Fail(ctx)
			le, locked := IsLocked(err)
			if want := i+1 == policy.LockoutAt; locked != want || (err != nil && !locked) {
				t.Fatalf("failure %d: Fail = %v, want lockout %v", i+1, err, want)
			}
			if locked && (!le.Lockout || !le.Until.Equal(clk.Now().Add(policy.LockoutFor))) {
				t.Fatalf("failure %d: %+v, want a lockout of %s", i+1, le, policy.LockoutFor)
			}
			if d := policy.LockFor(i + 1); d > 0 {
				_, err := l.Begin(ctx, key)
				if le, ok := IsLocked(err); !ok || le.Busy || !le.Until.Equal(clk.Now().Add(d)) {
					t.Fatalf("after failure %d: Begin = %v, want locked for %s", i+1, err, d)
				}
				clk.Advance(d)
			}
		}
	})
}
