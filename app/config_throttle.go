package app

import (
	"fmt"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/throttle"
)

// ThrottleConfig holds the numbers of password throttling (inline in the YAML file, each key with its
// PORTCULLIS_* variable). The second-factor throttle is fixed (throttle.OTPPolicy).
type ThrottleConfig struct {
	// Per user: growing delays, then a short capped lockout.
	PasswordFreeAttempts int      `yaml:"password_free_attempts"` // failures without any delay
	PasswordBaseDelay    Duration `yaml:"password_base_delay"`    // first delay; doubles with each failure
	PasswordMaxDelay     Duration `yaml:"password_max_delay"`     // cap of that delay
	PasswordLockoutAt    int      `yaml:"password_lockout_at"`    // consecutive failures that lock (1..100)
	PasswordLockout      Duration `yaml:"password_lockout"`       // first lockout; doubles with each failure
	PasswordMaxLockout   Duration `yaml:"password_max_lockout"`   // cap of the lockout
	// Per client address: distinct failing accounts within a sliding window; past it, slowed only.
	AddressAccounts int      `yaml:"address_accounts"`
	AddressWindow   Duration `yaml:"address_window"`
}

// defaultThrottle returns the defaults, which are the throttle package's.
func defaultThrottle() ThrottleConfig {
	p, a := throttle.PasswordPolicy(), throttle.DefaultAddressPolicy()
	return ThrottleConfig{
		PasswordFreeAttempts: p.FreeAttempts, PasswordBaseDelay: Duration{p.BaseDelay}, PasswordMaxDelay: Duration{p.MaxDelay},
		PasswordLockoutAt: p.LockoutAt, PasswordLockout: Duration{p.LockoutFor}, PasswordMaxLockout: Duration{p.MaxLockout},
		AddressAccounts: a.Accounts, AddressWindow: Duration{a.Window},
	}
}

// PasswordPolicy is the per-user password policy these settings describe.
func (t ThrottleConfig) PasswordPolicy() throttle.Policy {
	return throttle.Policy{FreeAttempts: t.PasswordFreeAttempts, BaseDelay: t.PasswordBaseDelay.Duration,
		MaxDelay: t.PasswordMaxDelay.Duration, LockoutAt: t.PasswordLockoutAt, LockoutFor: t.PasswordLockout.Duration,
		MaxLockout: t.PasswordMaxLockout.Duration}
}

// AddressPolicy is the per-address policy these settings describe.
func (t ThrottleConfig) AddressPolicy() throttle.AddressPolicy {
	return throttle.AddressPolicy{Accounts: t.AddressAccounts, Window: t.AddressWindow.Duration}
}

var throttleEnvNames = []string{"PASSWORD_FREE_ATTEMPTS", "PASSWORD_BASE_DELAY", "PASSWORD_MAX_DELAY",
	"PASSWORD_LOCKOUT_AT", "PASSWORD_LOCKOUT", "PASSWORD_MAX_LOCKOUT", "ADDRESS_ACCOUNTS", "ADDRESS_WINDOW"}

// set assigns one throttle setting by its YAML name; ok is false for a name that is not one.
func (t *ThrottleConfig) set(key, v string) (ok bool, err error) {
	dur := func(d *Duration) { d.Duration, err = time.ParseDuration(v) }
	switch key {
	case "password_free_attempts":
		t.PasswordFreeAttempts, err = strconv.Atoi(v)
	case "password_base_delay":
		dur(&t.PasswordBaseDelay)
	case "password_max_delay":
		dur(&t.PasswordMaxDelay)
	case "password_lockout_at":
		t.PasswordLockoutAt, err = strconv.Atoi(v)
	case "password_lockout":
		dur(&t.PasswordLockout)
	case "password_max_lockout":
		dur(&t.PasswordMaxLockout)
	case "address_accounts":
		t.AddressAccounts, err = strconv.Atoi(v)
	case "address_window":
		dur(&t.AddressWindow)
	default:
		return false, nil
	}
	return true, err
}

// validate reports every problem.
func (t ThrottleConfig) validate() []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if t.PasswordFreeAttempts < 0 {
		bad("password_free_attempts: must not be negative")
	}
	if t.PasswordBaseDelay.Duration <= 0 {
		bad("password_base_delay: must be positive")
	}
	if t.PasswordMaxDelay.Duration < t.PasswordBaseDelay.Duration {
		bad("password_max_delay: must be at least password_base_delay")
	}
	// NIST SP 800-63B 5.2.2: no more than 100 consecutive failed attempts on one account.
	if t.PasswordLockoutAt < 1 || t.PasswordLockoutAt > 100 {
		bad("password_lockout_at: must be between 1 and 100 (NIST SP 800-63B 5.2.2), got %d", t.PasswordLockoutAt)
	} else if t.PasswordLockoutAt <= t.PasswordFreeAttempts {
		bad("password_lockout_at: must be above password_free_attempts")
	}
	if t.PasswordLockout.Duration <= 0 {
		bad("password_lockout: must be positive")
	}
	if t.PasswordMaxLockout.Duration < t.PasswordLockout.Duration || t.PasswordMaxLockout.Duration > 24*time.Hour {
		bad("password_max_lockout: must be at least password_lockout and at most 24h")
	}
	if t.AddressAccounts < 1 {
		bad("address_accounts: must be at least 1")
	}
	if w := t.AddressWindow.Duration; w < time.Second || w > 24*time.Hour {
		bad("address_window: must be between 1s and 24h")
	} else if t.AddressAccounts > 0 && w/time.Duration(t.AddressAccounts) < time.Millisecond {
		bad("address_window: must give each of address_accounts at least 1ms")
	}
	return errs
}
