// Package pwpolicy is the rule for new passwords (NIST SP 800-63B 5.1.1.2): 8 to 1,024 characters of
// any kind (spaces and emoji included; length counts Unicode code points), not one of the commonly used
// passwords (the 30,000-entry "passwords" frequency list that github.com/trustelem/zxcvbn ships, the
// zxcvbn project's list), and not containing the email's local part or the tenant's name
// (case-insensitive; parts shorter than 3 characters are not checked). No composition rules, no expiry.
// It depends on the standard library and that list only.
package pwpolicy

import (
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// Limits of a password's length in characters.
const (
	MinLength = 8
	MaxLength = 1024
)

// Error says why a password was refused, in words for the person choosing it.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// Policy checks new passwords. Build one with New and share it; it is safe for concurrent use.
type Policy struct {
	common map[string]struct{}
}

// New builds the policy (the common-password set, about 30,000 entries).
func New() *Policy {
	list := frequency.FrequencyLists["passwords"]
	p := &Policy{common: make(map[string]struct{}, len(list))}
	for _, w := range list {
		if utf8.RuneCountInString(w) >= MinLength {
			p.common[strings.ToLower(w)] = struct{}{}
		}
	}
	return p
}

// Check returns nil for an acceptable password, or an *Error.
func (p *Policy) Check(pw, email, tenantName string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return &Error{"The password is not valid text."}
	case n < MinLength:
		return &Error{"Use at least 8 characters."}
	case n > MaxLength:
		return &Error{"Use at most 1,024 characters."}
	}
	lower := strings.ToLower(pw)
	if _, ok := p.common[lower]; ok {
		return &Error{"This password is one of the most commonly used ones. Choose another."}
	}
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		return &Error{"The password must not contain your email address."}
	}
	if t := strings.ToLower(strings.TrimSpace(tenantName)); utf8.RuneCountInString(t) >= 3 && strings.Contains(lower, t) {
		return &Error{"The password must not contain the organisation's name."}
	}
	return nil
}
