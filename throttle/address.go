package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// AddressStore is the part of the storage the address limiter needs; *storage.Store implements it.
type AddressStore interface {
	ThrottleAccountFailed(ctx context.Context, key, account string, now time.Time, window time.Duration) (bool, error)
	ThrottlePace(ctx context.Context, key string, now time.Time, interval time.Duration) (time.Time, error)
	ThrottlePaceOf(ctx context.Context, key string) (time.Time, error)
}

// AddressPolicy limits password spraying from one client address: failures count by distinct account,
// and an address may see at most Accounts new accounts fail within any Window. Past that it is slowed to
// one new account per Window/Accounts; it is never locked out. Many failures of a few accounts (an
// office full of typos behind one NAT address) never reach it: the per-user policy handles those.
type AddressPolicy struct {
	Accounts int           // distinct failing accounts an address may reach within Window (the burst)
	Window   time.Duration // the sliding window
}

// DefaultAddressPolicy allows 100 distinct failing accounts per address and hour, then one every 36 s.
func DefaultAddressPolicy() AddressPolicy {
	return AddressPolicy{Accounts: 100, Window: time.Hour}
}

// Interval is the pace of a spraying address: one new failing account per Interval.
func (p AddressPolicy) Interval() time.Duration {
	if p.Accounts <= 0 {
		return p.Window
	}
	return p.Window / time.Duration(p.Accounts)
}

// AddressLimiter applies an AddressPolicy with the generic cell rate algorithm (a leaky bucket kept as
// one timestamp per address, the pace): each new failing account moves the pace forward by Interval
// (from now, if it lies in the past), and the address may try again while the pace plus one Interval
// fits within Window of now. So the count drains continuously (a sliding window, not fixed buckets), a
// burst of Accounts is allowed, and the wait past it is at most one Interval.
type AddressLimiter struct {
	Store  AddressStore
	Policy AddressPolicy
	Now    func() time.Time // time.Now when nil
}

func (l *AddressLimiter) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Check returns a *LockedError (a short delay, never a lockout) while the address at key is spraying.
func (l *AddressLimiter) Check(ctx context.Context, key string) error {
	pace, err := l.Store.ThrottlePaceOf(ctx, key)
	if err != nil {
		return fmt.Errorf("check address throttle: %w", err)
	}
	if until := pace.Add(l.Policy.Interval() - l.Policy.Window); until.After(l.now()) {
		return &LockedError{Until: until}
	}
	return nil
}

// Fail counts a failed password of account from the address at key. Only an account that did not
// already fail from there within Window uses up the address's allowance.
func (l *AddressLimiter) Fail(ctx context.Context, key, account string) error {
	now := l.now()
	isNew, err := l.Store.ThrottleAccountFailed(ctx, key, account, now, l.Policy.Window)
	if err != nil {
		return fmt.Errorf("count address failure: %w", err)
	}
	if !isNew {
		return nil
	}
	if _, err := l.Store.ThrottlePace(ctx, key, now, l.Policy.Interval()); err != nil {
		return fmt.Errorf("count address failure: %w", err)
	}
	return nil
}

// Account is the opaque value an address limiter counts for the email tried in a tenant: known and
// unknown emails alike, so it reveals nothing, and the database holds a hash, not the email.
func Account(tenantID, email string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:16])
}
