package mfa

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/storage"
	"github.com/portcullis/portcullis/storage/storagetest"
	"github.com/portcullis/portcullis/throttle"
)

// wrongCode returns a code that matches no step in now's window.
func wrongCode(t *testing.T, key []byte, now time.Time) string {
	t.Helper()
	for n := 0; n < 1000; n++ {
		c := fmt.Sprintf("%06d", (n*7919)%1000000)
		hit := false
		for d := int64(-1); d <= 1; d++ {
			if w, _ := codeAt(key, Step(now)+d, Digits, Algorithm); w == c {
				hit = true
			}
		}
		if !hit {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestVerifyLockout(t *testing.T) {
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "alice@example.com")
	other := f.user(t, "bob@example.com")
	key := randomKey(t)
	f.activate(t, user, key, Step(t0)-10)
	otherKey := randomKey(t)
	f.activate(t, other, otherKey, Step(t0)-10)
	policy := throttle.OTPPolicy()

	for i := 1; i <= policy.LockoutAt; i++ {
		// Wait out any short delay, as a patient attacker would.
		if err := f.svc.Verify(ctx, user, wrongCode(t, key, f.clk.Now()), Meta{}); i < policy.LockoutAt {
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("failure %d: Verify = %v, want ErrInvalidCode", i, err)
			}
		} else {
			var le *throttle.LockedError
			if !errors.As(err, &le) || !le.Lockout {
				t.Fatalf("failure %d: Verify = %v, want a lockout", i, err)
			}
			if want := f.clk.Now().Add(policy.LockoutFor); !le.Until.Equal(want) {
				t.Errorf("lockout until %v, want %v", le.Until, want)
			}
		}
		if d := policy.LockFor(i); d > 0 && i < policy.LockoutAt {
			// Within the delay even the right code is refused, with a non-lockout LockedError.
			err := f.svc.Verify(ctx, user, mustCode(t, key, f.clk.Now()), Meta{})
			var le *throttle.LockedError
			if !errors.As(err, &le) || le.Lockout {
				t.Fatalf("after failure %d: Verify within delay = %v, want a delay", i, err)
			}
			f.clk.Advance(d)
		}
	}
	lockedAt := f.clk.Now()

	tests := []struct {
		name        string
		after       time.Duration
		user        storage.User
		key         []byte
		wantLockout bool
	}{
		{name: "right code during lockout", after: 0, user: user, key: key, wantLockout: true},
		{name: "right code one second before the end", after: policy.LockoutFor - time.Second, user: user, key: key, wantLockout: true},
		{name: "other user is not locked", after: time.Second, user: other, key: otherKey},
		{name: "right code after the lockout", after: policy.LockoutFor, user: user, key: key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clk.Set(lockedAt.Add(tc.after))
			err := f.svc.Verify(ctx, tc.user, mustCode(t, tc.key, f.clk.Now()), Meta{})
			if tc.wantLockout {
				var le *throttle.LockedError
				if !errors.As(err, &le) || !le.Lockout {
					t.Fatalf("Verify = %v, want lockout", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
		})
	}
	// Success reset the counter: the next failure is a free one again.
	f.clk.Advance(time.Minute)
	if err := f.svc.Verify(ctx, user, wrongCode(t, key, f.clk.Now()), Meta{}); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Verify after reset = %v, want ErrInvalidCode", err)
	}
	th, err := f.st.Throttle(ctx, throttle.OTPUserKey(user.ID))
	if err != nil || th.Failures != 1 {
		t.Fatalf("throttle after reset = %+v, %v; want 1 failure", th, err)
	}
	got := f.actions(t)
	if got[AuditLockout] != 1 || got[AuditCodeRefused] != policy.LockoutAt+1 {
		t.Errorf("audit actions = %v, want 1 lockout and %d refused", got, policy.LockoutAt+1)
	}
	// The password counter is separate and untouched.
	if th, err := f.st.Throttle(ctx, throttle.PasswordUserKey(user.ID)); err != nil || th.Failures != 0 {
		t.Errorf("password throttle = %+v, %v; want untouched", th, err)
	}
}

func TestVerifyMalformedCounts(t *testing.T) {
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "alice@example.com")
	f.activate(t, user, randomKey(t), Step(t0)-10)
	for i, code := range []string{"", "abcdef", "12345"} {
		if err := f.svc.Verify(ctx, user, code, Meta{}); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("Verify(%q) = %v, want ErrInvalidCode", code, err)
		}
		th, err := f.st.Throttle(ctx, throttle.OTPUserKey(user.ID))
		if err != nil || th.Failures != i+1 {
			t.Fatalf("after %q: throttle = %+v, %v; want %d failures", code, th, err, i+1)
		}
		f.clk.Advance(time.Hour)
	}
}

// TestVerifyConcurrentReplay sends one code from 8 goroutines at once: exactly one may succeed. On
// PostgreSQL the goroutines are spread over two stores, as two instances would be.
func TestVerifyConcurrentReplay(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		open func(t *testing.T) []*storage.Store
	}{
		{name: "sqlite", open: func(t *testing.T) []*storage.Store {
			return []*storage.Store{storagetest.NewSQLite(t)}
		}},
		{name: "postgres", open: func(t *testing.T) []*storage.Store {
			dsn := storagetest.PostgresDSN(t)
			return []*storage.Store{storagetest.Open(t, dsn), storagetest.Open(t, dsn)}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			stores := b.open(t)
			f := newFixture(t, stores[0])
			user := f.user(t, "alice@example.com")
			key := randomKey(t)
			f.activate(t, user, key, Step(t0)-10)
			code := mustCode(t, key, f.clk.Now())

			const n = 8
			errs := make([]error, n)
			var start, done sync.WaitGroup
			start.Add(1)
			for i := range n {
				svc := &Service{Store: stores[i%len(stores)], Sealer: f.sealer, Now: f.clk.Now, Log: f.svc.Log}
				done.Go(func() {
					start.Wait()
					errs[i] = svc.Verify(ctx, user, code, Meta{})
				})
			}
			start.Done()
			done.Wait()

			wins := 0
			for i, err := range errs {
				var le *throttle.LockedError
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ErrReplay), errors.As(err, &le):
				default:
					t.Errorf("goroutine %d: Verify = %v, want nil, ErrReplay or locked", i, err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d goroutines succeeded, want exactly 1 (errors: %v)", wins, errs)
			}
			a, err := f.st.AuthenticatorByUser(ctx, user.ID)
			if err != nil || a.LastStep != Step(f.clk.Now()) {
				t.Fatalf("authenticator = %+v, %v; want last step %d", a, err, Step(f.clk.Now()))
			}
		})
	}
}

// TestVerifyWithRead checks the code step that hands Verify the authenticator its page already read:
// the read saves a query but decides nothing. An authenticator reset since the read refuses a code of
// its secret, and another user's authenticator is never used for this user.
func TestVerifyWithRead(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		user := f.user(t, "alice@example.com")
		other := f.user(t, "bob@example.com")
		key, otherKey := randomKey(t), randomKey(t)
		f.activate(t, user, key, Step(t0)-10)
		f.activate(t, other, otherKey, Step(t0)-10)

		standing, err := f.svc.Standing(ctx, user.ID, f.signIn(t, user))
		if err != nil || !standing.Enrolled || standing.Authenticator.UserID != user.ID {
			t.Fatalf("Standing = %+v, %v; want enrolled with alice's authenticator", standing, err)
		}
		if err := f.svc.VerifyWith(ctx, user, &standing.Authenticator, mustCode(t, key, f.clk.Now()), Meta{}); err != nil {
			t.Fatalf("VerifyWith the authenticator as read: %v", err)
		}

		// Bob's authenticator handed in for Alice: Alice's own is read, so Bob's code is wrong for her.
		f.clk.Advance(Period * time.Second)
		bobs, err := st.AuthenticatorByUser(ctx, other.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.VerifyWith(ctx, user, &bobs, mustCode(t, otherKey, f.clk.Now()), Meta{}); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("Alice with Bob's authenticator and code: %v, want ErrInvalidCode", err)
		}

		// Reset after the read: the stale read's secret still makes a valid code, and it is refused.
		f.clk.Advance(Period * time.Second)
		standing, err = f.svc.Standing(ctx, user.ID, f.signIn(t, user))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ResetMFA(ctx, user.ID, nil, storage.AuditEvent{ID: storage.NewID(), TenantID: user.TenantID, Action: "test.reset",
			TargetID: user.ID, CreatedAt: f.clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.VerifyWith(ctx, user, &standing.Authenticator, mustCode(t, key, f.clk.Now()), Meta{}); err == nil {
			t.Fatal("a code of an authenticator reset after the page read it was accepted")
		}
	})
}

// TestConcurrentGuessesThrottled sends 64 wrong codes of one user at once, for each kind of code, and
// checks that no more of them were compared than codes sent one after the other would be (the clock
// stands still): the free attempts and the one that starts the delay. Each compared code is counted
// and audited. On PostgreSQL the goroutines are spread over two stores, as two instances would be.
// (With the lock checked before the compare and the failure counted after it, dozens got through.)
func TestConcurrentGuessesThrottled(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		open func(t *testing.T) []*storage.Store
	}{
		{name: "sqlite", open: func(t *testing.T) []*storage.Store { return []*storage.Store{storagetest.NewSQLite(t)} }},
		{name: "postgres", open: func(t *testing.T) []*storage.Store {
			dsn := storagetest.PostgresDSN(t)
			return []*storage.Store{storagetest.Open(t, dsn), storagetest.Open(t, dsn)}
		}},
	}
	kinds := []struct {
		name    string
		refused string // the audit action of a compared, wrong code
		// setup makes the user on f and returns a function that sends one wrong guess of theirs to svc.
		setup func(t *testing.T, f *fixture) (storage.User, func(svc *Service) error)
	}{
		{name: "totp", refused: AuditCodeRefused, setup: func(t *testing.T, f *fixture) (storage.User, func(*Service) error) {
			user := f.user(t, "alice@example.com")
			key := randomKey(t)
			f.activate(t, user, key, Step(t0)-10)
			wrong := wrongCode(t, key, f.clk.Now())
			return user, func(svc *Service) error { return svc.Verify(context.Background(), user, wrong, Meta{}) }
		}},
		{name: "recovery code", refused: AuditRecoveryCodeRefused, setup: func(t *testing.T, f *fixture) (storage.User, func(*Service) error) {
			user, _, _ := f.enrolled(t, "alice@example.com")
			return user, func(svc *Service) error {
				return svc.UseRecoveryCode(context.Background(), user, "zzzz-zzzz-zzzz", Meta{})
			}
		}},
		{name: "enrolment confirmation", refused: AuditCodeRefused, setup: func(t *testing.T, f *fixture) (storage.User, func(*Service) error) {
			user := f.user(t, "alice@example.com")
			en, err := f.svc.Enrolment(context.Background(), user, f.req(t, user), "Acme", Meta{})
			if err != nil {
				t.Fatal(err)
			}
			key, err := b32.DecodeString(en.Secret)
			if err != nil {
				t.Fatal(err)
			}
			wrong := wrongCode(t, key, f.clk.Now())
			return user, func(svc *Service) error {
				_, err := svc.ConfirmEnrolment(context.Background(), user, f.req(t, user), wrong, Meta{})
				return err
			}
		}},
	}
	for _, b := range backends {
		for _, k := range kinds {
			t.Run(b.name+"/"+k.name, func(t *testing.T) {
				stores := b.open(t)
				f := newFixture(t, stores[0])
				user, guess := k.setup(t, f)
				before := f.actions(t)[k.refused]

				const n = 64
				errs := make([]error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range n {
					svc := &Service{Store: stores[i%len(stores)], Sealer: f.sealer, RecoveryHash: f.svc.RecoveryHash, Now: f.clk.Now, Log: f.svc.Log}
					wg.Go(func() {
						<-start
						errs[i] = guess(svc)
					})
				}
				close(start)
				wg.Wait()

				compared := 0
				for i, err := range errs {
					var le *throttle.LockedError
					switch {
					case errors.Is(err, ErrInvalidCode):
						compared++
					case errors.As(err, &le):
					default:
						t.Errorf("goroutine %d: %v, want ErrInvalidCode or locked", i, err)
					}
				}
				allowed := throttle.OTPPolicy().FreeAttempts + 1
				th, err := f.st.Throttle(context.Background(), throttle.OTPUserKey(user.ID))
				if err != nil {
					t.Fatal(err)
				}
				audited := f.actions(t)[k.refused] - before
				if th.Failures > allowed || audited > allowed {
					t.Errorf("%d of %d wrong codes were compared at once (%d counted), want at most %d", audited, n, th.Failures, allowed)
				}
				if compared != th.Failures || audited != th.Failures {
					t.Errorf("%d answered as wrong, %d audited, %d counted; want the same", compared, audited, th.Failures)
				}
			})
		}
	}
}
