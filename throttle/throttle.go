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
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Store is the part of the storage the limiter needs; *storage.Store implements it.
type Store interface {
	Throttle(ctx context.Context, key string) (storage.Throttle, error)
	ThrottleFail(ctx context.Context, key string, now time.Time, lockFor func(int) time.Duration) (storage.Throttle, error)
	ThrottleReset(ctx context.Context, key string) error
}

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
// policy's LockoutAt (a lockout, as opposed to the short growing delay before it).
type LockedError struct {
	Until   time.Time
	Lockout bool
}

func (e *LockedError) Error() string {
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

// Reset clears key's counter after a success.
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
