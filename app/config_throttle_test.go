package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/app"
	"github.com/portcullis/portcullis/throttle"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// The throttle numbers are configuration: the shipped files say the defaults, the environment overrides
// them, and values beyond NIST SP 800-63B 5.2.2 (more than 100 failures before a lockout) are refused.
func TestThrottleConfig(t *testing.T) {
	key := map[string]string{"PORTCULLIS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for _, file := range []string{"../configs/portcullis.yaml", "../configs/postgres.example.yaml"} {
		t.Run(file, func(t *testing.T) {
			cfg, err := app.LoadConfig(file, envOf(key))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if cfg.Throttle != app.Defaults().Throttle {
				t.Errorf("throttle settings %+v, want the defaults %+v", cfg.Throttle, app.Defaults().Throttle)
			}
		})
	}
	d := app.Defaults().Throttle
	if d.PasswordPolicy() != throttle.PasswordPolicy() || d.AddressPolicy() != throttle.DefaultAddressPolicy() {
		t.Errorf("defaults %+v differ from the throttle package's", d)
	}

	cfg, err := app.LoadConfig("", envOf(map[string]string{"PORTCULLIS_PASSWORD_LOCKOUT_AT": "50",
		"PORTCULLIS_PASSWORD_MAX_LOCKOUT": "30m", "PORTCULLIS_ADDRESS_ACCOUNTS": "20", "PORTCULLIS_ADDRESS_WINDOW": "10m",
		"PORTCULLIS_PASSWORD_FREE_ATTEMPTS": "3", "PORTCULLIS_PASSWORD_BASE_DELAY": "2s", "PORTCULLIS_PASSWORD_MAX_DELAY": "5m",
		"PORTCULLIS_PASSWORD_LOCKOUT": "10m"}))
	if err != nil {
		t.Fatalf("LoadConfig with the environment: %v", err)
	}
	wantP := throttle.Policy{FreeAttempts: 3, BaseDelay: 2 * time.Second, MaxDelay: 5 * time.Minute, LockoutAt: 50,
		LockoutFor: 10 * time.Minute, MaxLockout: 30 * time.Minute}
	if got := cfg.Throttle.PasswordPolicy(); got != wantP {
		t.Errorf("password policy from the environment = %+v, want %+v", got, wantP)
	}
	if got := cfg.Throttle.AddressPolicy(); got != (throttle.AddressPolicy{Accounts: 20, Window: 10 * time.Minute}) {
		t.Errorf("address policy from the environment = %+v", got)
	}

	for _, tc := range []struct {
		name, env, value, want string
	}{
		{"more than 100 failures before a lockout", "PORTCULLIS_PASSWORD_LOCKOUT_AT", "101", "password_lockout_at"},
		{"no lockout", "PORTCULLIS_PASSWORD_LOCKOUT_AT", "0", "password_lockout_at"},
		{"lockout cap beyond a day", "PORTCULLIS_PASSWORD_MAX_LOCKOUT", "48h", "password_max_lockout"},
		{"lockout cap below the lockout", "PORTCULLIS_PASSWORD_MAX_LOCKOUT", "1m", "password_max_lockout"},
		{"no address ceiling", "PORTCULLIS_ADDRESS_ACCOUNTS", "0", "address_accounts"},
		{"address window beyond a day", "PORTCULLIS_ADDRESS_WINDOW", "48h", "address_window"},
		{"max delay below the base", "PORTCULLIS_PASSWORD_MAX_DELAY", "100ms", "password_max_delay"},
		{"not a number", "PORTCULLIS_ADDRESS_ACCOUNTS", "many", "ADDRESS_ACCOUNTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := app.LoadConfig("", envOf(map[string]string{tc.env: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig with %s=%s: %v, want an error about %s", tc.env, tc.value, err, tc.want)
			}
		})
	}
}
