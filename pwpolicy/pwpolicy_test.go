package pwpolicy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/pwpolicy"
)

func TestCheck(t *testing.T) {
	p := pwpolicy.New()
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{
		{"eight characters", "glx7-mqz", true},
		{"seven characters", "glx7-mq", false},
		{"spaces and emoji count as characters", "🦆 🦆 🦆 🦆 ", true},
		{"1024 characters", strings.Repeat("ab cd ", 170) + "abcd", true},
		{"1025 characters", strings.Repeat("x", 1025), false},
		{"common password", "password", false},
		{"common password mixed case", "BaseBall1", false},
		{"common password upper case", "PASSWORD1", false},
		{"contains the email local part", "my-ann.smith-pw", false},
		{"contains the tenant name", "love acme corp!", false},
		{"no composition rules", "correct horse battery staple", true},
		{"invalid utf-8", "abcdefgh\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(tc.pw, "Ann.Smith@example.com", "Acme Corp")
			var pe *pwpolicy.Error
			if tc.ok != (err == nil) || (err != nil && !errors.As(err, &pe)) {
				t.Fatalf("Check(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
			}
		})
	}
}
