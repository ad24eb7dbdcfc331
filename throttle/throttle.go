// Package throttle counts failed sign-in attempts per key in the database and turns them into a growing
// delay and, after too many, a lockout. Counts live in storage, so they survive restarts and are shared by
// every instance (RFC 4226 §7.3: the delay must apply across login sessions).
//
// It owns the counting policies (per account: delay then lockout; per address: slowing only, never a
// lockout) and reads and writes counts through the small Store and AddressStore interfaces it declares.
// It imports only storage of ours, and must not import mfa, op, login, admin, app or telemetry: those
// call it.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Store is the part of the storage the limiter needs; *storage.Store implements it.
type Store interface {
	Throttle(ctx context.Context, key string) (storage.Throttle, error)
	ThrottleFail(ctx context.Context, key string, now time.Time, lockFor func(int) time.Duration) (storage.Throttle, error)
	ThrottleReset(ctx context.Context, key string) error
	ThrottleAttempt(ctx context.Context, key string, now time.Time, limit int, stale time.Time) (storage.Throttle, bool, error)
	ThrottleAttemptFailed(ctx context.Context, key string, now time.Time, steps []storage.ThrottleStep) (storage.Throttle, error)
	ThrottleAttemptSucceeded(ctx context.Context, key string, before int) error
	ThrottleAttemptReleased(ctx context.Context, key string) error
}

// attemptTTL is how long an attempt may stay in flight: one not decided by then is taken as abandoned
// (its process ended), so that it holds no room for others for ever. An attempt is one request, which
// the server's write timeout (30 s) ends well before.
const attemptTTL = time.Minute

// maxLock caps every lock of a policy without its own MaxLockout, however many failures were counted.
const maxLock = 24 * time.Hour

// Policy says how long a key is locked after a number of consecutive failures.
type Policy struct {
	FreeAttempts int           // failures allowed without any delay
	BaseDelay    time.Duration // delay after the first failure beyond FreeAttempts; doubles with each one after
	MaxDelay     time.Duration // cap of that growing delay
	LockoutAt    int           // failures at which the key is locked out (0: never)
	LockoutFor   time.Duration // lockout length at LockoutAt; doubles with each failure beyond, capped at MaxLockout
	MaxLockout   time.Duration // cap of the lockout (0: 24h, or LockoutFor when that is longer)
}

// PasswordPolicy is the default policy for password attempts per user: growing delays first, and a
// lockout only at the 100th consecutive failure (NIST SP 800-63B 5.2.2 allows no more than 100), short
// and capped, because anyone who knows an email can trigger it.
func PasswordPolicy() Policy {
	return Policy{FreeAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Minute, LockoutAt: 100,
		LockoutFor: 15 * time.Minute, MaxLockout: time.Hour}
}

// OTPPolicy is the policy for second-factor attempts (TOTP and recovery codes), per user. It has its own
// counter so that password guessing cannot lock a user out of the second step and vice versa.
func OTPPolicy() Policy {
	return Policy{FreeAttempts: 2, BaseDelay: 2 * time.Second, MaxDelay: 30 * time.Second, LockoutAt: 5, LockoutFor: 5 * time.Minute}
}

// LockFor returns how long a key stays locked after its failures-th consecutive failure: nothing while
// failures <= FreeAttempts, then BaseDelay*2^(failures-FreeAttempts-1) capped at MaxDelay; from LockoutAt on
// at least LockoutFor*2^(failures-LockoutAt), capped at MaxLockout.
func (p Policy) LockFor(failures int) time.Duration {
	var d time.Duration
	if failures > p.FreeAttempts {
		d = doubled(p.BaseDelay, failures-p.FreeAttempts-1, p.MaxDelay)
	}
	if p.LockoutAt > 0 && failures >= p.LockoutAt {
		l := doubled(p.LockoutFor, failures-p.LockoutAt, p.maxLockout())
		d = max(d, l)
	}
	return max(d, 0)
}

func (p Policy) maxLockout() time.Duration {
	if p.MaxLockout > 0 {
		return max(p.MaxLockout, p.LockoutFor)
	}
	return max(maxLock, p.LockoutFor)
}

// Steps returns LockFor as a schedule for the database: each count at which the lock changes, with its
// lock, ascending. LockFor only grows with the count and is constant once both of its doublings reach
// their caps, which takes at most 64 doublings each (a time.Duration has 63 bits), so counts up to
// max(FreeAttempts, LockoutAt)+64 give every step.
func (p Policy) Steps() []storage.ThrottleStep {
	var steps []storage.ThrottleStep
	last := time.Duration(0)
	for n := 1; n <= max(p.FreeAttempts, p.LockoutAt, 0)+64; n++ {
		if d := p.LockFor(n); d != last {
			steps = append(steps, storage.ThrottleStep{Failures: n, Lock: d})
			last = d
		}
	}
	return steps
}

// firstLock is the first count that locks: the attempts in flight may not reach it less the failures
// counted. A policy that never locks has none (a count no key reaches).
func firstLock(steps []storage.ThrottleStep) int {
	if len(steps) > 0 {
		return steps[0].Failures
	}
	return math.MaxInt32
}

// schedule is a policy's Steps and firstLock, computed once per policy rather than at every attempt
// (Steps evaluates LockFor at every count up to the policy's caps).
type schedule struct {
	policy Policy
	steps  []storage.ThrottleStep
	first  int
}

// schedule returns the schedule of l.Policy, computing it when the policy is new or changed.
func (l *Limiter) schedule() *schedule {
	if s := l.sched.Load(); s != nil && s.policy == l.Policy {
		return s
	}
	steps := l.Policy.Steps()
	s := &schedule{policy: l.Policy, steps: steps, first: firstLock(steps)}
	l.sched.Store(s)
	return s
}

// IsLockout reports whether failures reached the lockout threshold.
func (p Policy) IsLockout(failures int) bool { return p.LockoutAt > 0 && failures >= p.LockoutAt }

// doubled returns base*2^n, saturating at limit (and never overflowing).
func doubled(base time.Duration, n int, limit time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for range n {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}

// LockedError says that a key may not be tried before Until. Lockout is true when the failures reached the
// policy's LockoutAt (a lockout, as opposed to the short growing delay before it). Busy is true when the
// key is not locked, but as many attempts as it may have at once are in flight (Limiter.Begin): Until is
// then only a moment away, and nothing was counted.
type LockedError struct {
	Until   time.Time
	Lockout bool
	Busy    bool
}

func (e *LockedError) Error() string {
	if e.Busy {
		return "too many attempts in flight"
	}
	if e.Lockout {
		return fmt.Sprintf("locked out until %s", e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("throttled until %s", e.Until.UTC().Format(time.RFC3339))
}

// RetryAfter returns how long after now the key may be tried again (at least one second).
func (e *LockedError) RetryAfter(now time.Time) time.Duration {
	return max(e.Until.Sub(now).Round(time.Second), time.Second)
}

// IsLocked reports whether err is (or wraps) a *LockedError, and returns it.
func IsLocked(err error) (*LockedError, bool) {
	var le *LockedError
	ok := errors.As(err, &le)
	return le, ok
}

// Limiter applies a Policy to counters kept in a Store.
type Limiter struct {
	Store  Store
	Policy Policy
	Now    func() time.Time // time.Now when nil

	sched atomic.Pointer[schedule] // Policy's schedule (see schedule)
}

func (l *Limiter) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Check returns a *LockedError if any of keys is locked now. When several are, Until is the latest of
// their locks and Lockout is true if any of them is locked out.
func (l *Limiter) Check(ctx context.Context, keys ...string) error {
	now := l.now()
	var locked *LockedError
	for _, k := range keys {
		t, err := l.Store.Throttle(ctx, k)
		if err != nil {
			return fmt.Errorf("check throttle: %w", err)
		}
		if !t.LockedUntil.After(now) {
			continue
		}
		if locked == nil {
			locked = &LockedError{}
		}
		if t.LockedUntil.After(locked.Until) {
			locked.Until = t.LockedUntil
		}
		locked.Lockout = locked.Lockout || l.Policy.IsLockout(t.Failures)
	}
	if locked != nil {
		return locked
	}
	return nil
}

// CheckCounted is Check of one key that also reports whether the key has a counter at all, so that a
// success can skip the Reset of a counter that does not exist (the common case, one write less).
//
// A check is not a reservation: racers all pass it before the first of them counts a failure. Before
// comparing a secret, use Begin.
func (l *Limiter) CheckCounted(ctx context.Context, key string) (bool, error) {
	t, err := l.Store.Throttle(ctx, key)
	if err != nil {
		return false, fmt.Errorf("check throttle: %w", err)
	}
	if t.LockedUntil.After(l.now()) {
		return true, &LockedError{Until: t.LockedUntil, Lockout: l.Policy.IsLockout(t.Failures)}
	}
	return t.Failures > 0, nil
}

// Fail counts one failure for key and returns the updated counter. When this failure reached the lockout
// threshold (a new lockout, or an extended one after an earlier lockout expired) the error is a
// *LockedError with Lockout set, returned together with the counter.
func (l *Limiter) Fail(ctx context.Context, key string) (storage.Throttle, error) {
	t, err := l.Store.ThrottleFail(ctx, key, l.now(), l.Policy.LockFor)
	if err != nil {
		return storage.Throttle{}, fmt.Errorf("count failure: %w", err)
	}
	if l.Policy.IsLockout(t.Failures) {
		return t, &LockedError{Until: t.LockedUntil, Lockout: true}
	}
	return t, nil
}

// Begin reserves one attempt on key before a secret is compared. It refuses with a *LockedError while key
// is delayed or locked out, and (Busy set, a moment) while the attempts in flight, if they all failed,
// would lock it: so no more attempts are compared, also when requests race on this or any number of
// instances, than one after the other would be. One statement in the database both refuses and counts
// the attempt as in flight (storage ThrottleAttempt).
//
// Decide every attempt: Fail when the secret was wrong, Succeed when it was right, and Release when
// nothing was compared (defer it: after Fail or Succeed it does nothing). An attempt left undecided holds
// its room for a minute.
func (l *Limiter) Begin(ctx context.Context, key string) (*Attempt, error) {
	now := l.now()
	t, ok, err := l.Store.ThrottleAttempt(ctx, key, now, l.schedule().first, now.Add(-attemptTTL))
	if err != nil {
		return nil, fmt.Errorf("begin attempt: %w", err)
	}
	if !ok {
		if t.LockedUntil.After(now) {
			return nil, &LockedError{Until: t.LockedUntil, Lockout: l.Policy.IsLockout(t.Failures)}
		}
		return nil, &LockedError{Until: now.Add(time.Second), Busy: true}
	}
	return &Attempt{l: l, key: key, before: t.Failures}, nil
}

// Attempt is one attempt on a key, reserved by Limiter.Begin and in flight until it is decided. It belongs
// to one request (not safe for concurrent use). Its decisions run even when the request's context is
// cancelled: a client that hangs up after the secret was compared must not take its failure back.
type Attempt struct {
	l       *Limiter
	key     string
	before  int // the failures counted when it began
	decided bool
}

// Fail decides the attempt as failed: one failure is counted and the key locked as the policy says for
// the new count, in one statement. When the count reached the lockout threshold (a new lockout, or an
// extended one after an earlier lockout expired), Fail returns a *LockedError with Lockout set. After a
// decision it does nothing.
func (a *Attempt) Fail(ctx context.Context) error {
	if a.decided {
		return nil
	}
	a.decided = true
	t, err := a.l.Store.ThrottleAttemptFailed(context.WithoutCancel(ctx), a.key, a.l.now(), a.l.schedule().steps)
	if err != nil {
		return fmt.Errorf("count failure: %w", err)
	}
	if a.l.Policy.IsLockout(t.Failures) {
		return &LockedError{Until: t.LockedUntil, Lockout: true}
	}
	return nil
}

// Succeed decides the attempt as successful: the failures counted before it began are cleared, those
// counted since stay (they may be someone else's guesses). After a decision it does nothing.
func (a *Attempt) Succeed(ctx context.Context) error {
	if a.decided {
		return nil
	}
	a.decided = true
	if err := a.l.Store.ThrottleAttemptSucceeded(context.WithoutCancel(ctx), a.key, a.before); err != nil {
		return fmt.Errorf("clear throttle: %w", err)
	}
	return nil
}

// Release takes back an attempt that compared nothing (a storage error, a missing enrolment, hashing
// busy): it counts neither way. After a decision it does nothing, so it can be deferred.
func (a *Attempt) Release(ctx context.Context) error {
	if a.decided {
		return nil
	}
	a.decided = true
	if err := a.l.Store.ThrottleAttemptReleased(context.WithoutCancel(ctx), a.key); err != nil {
		return fmt.Errorf("release attempt: %w", err)
	}
	return nil
}

// ReleaseLogged is Release for a defer: a failure to take the attempt back is logged on log (the
// attempt then holds its room until it goes stale, a minute).
func (a *Attempt) ReleaseLogged(ctx context.Context, log *slog.Logger) {
	if err := a.Release(ctx); err != nil && log != nil {
		log.ErrorContext(ctx, "release throttle attempt", "key", a.key, "err", err)
	}
}

// Reset clears key's counter altogether (after a password reset, for one). An attempt's success clears
// with Attempt.Succeed instead, which keeps the failures counted after the attempt began.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.Store.ThrottleReset(ctx, key); err != nil {
		return fmt.Errorf("reset throttle: %w", err)
	}
	return nil
}

// PasswordUserKey is the key of a user's password failures.
func PasswordUserKey(userID string) string { return "pwd:user:" + userID }

// PasswordAddrKey is the key of a client address's password failures.
func PasswordAddrKey(addr string) string { return "pwd:ip:" + AddressBlock(addr) }

// ResetAddrKey is the key of a client address's password-reset requests.
func ResetAddrKey(addr string) string { return "reset:ip:" + AddressBlock(addr) }

// AddressBlock is what an address counts as: an IPv4 address itself, and for IPv6 its /64, the block
// one subscriber or host usually gets (RFC 6177), so that rotating through it does not dodge the
// per-address pacing. Anything that does not parse counts as itself.
func AddressBlock(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// OTPUserKey is the key of a user's second-factor failures, separate from the password counter.
func OTPUserKey(userID string) string { return "otp:user:" + userID }
