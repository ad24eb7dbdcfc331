package throttle

import (
	"context"
	"errors"
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
