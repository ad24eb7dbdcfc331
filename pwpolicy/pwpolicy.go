// Package pwpolicy is the rule for new passwords (NIST SP 800-63B 5.1.1.2): 8 to 1,024 characters of
// any kind (spaces and emoji included; length counts Unicode code points), not one of the commonly used
// passwords (the 30,000-entry "passwords" frequency list that github.com/trustelem/zxcvbn ships, the
// zxcvbn project's list), and not containing the email's local part or the tenant's name
// (case-insensitive; parts shorter than 3 characters are not checked). No composition rules, no expiry.
// It depends on the standard library and that list only.
package pwpolicy

import (
	"slices"
	"sort"
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
	// The common passwords, lower case, sorted and concatenated, and where each ends: nothing in it for
	// the garbage collector to scan. (A map of strings was the largest part of the provider's live heap,
	// scanned again at every collection, and every password hash's 19 MiB starts one.)
	common string
	ends   []uint32
}

// New builds the policy (the common-password set, about 30,000 entries).
func New() *Policy {
	list := frequency.FrequencyLists["passwords"]
	words := make([]string, 0, len(list))
	for _, w := range list {
		if utf8.RuneCountInString(w) >= MinLength {
			words = append(words, strings.ToLower(w))
		}
	}
	slices.Sort(words)
	words = slices.Compact(words)
	var b strings.Builder
	p := &Policy{ends: make([]uint32, len(words))}
	for i, w := range words {
		b.WriteString(w)
		p.ends[i] = uint32(b.Len())
	}
	p.common = b.String()
	return p
}

// isCommon reports whether lower (lower case) is one of the common passwords.
func (p *Policy) isCommon(lower string) bool {
	word := func(i int) string {
		start := uint32(0)
		if i > 0 {
			start = p.ends[i-1]
		}
		return p.common[start:p.ends[i]]
	}
	i := sort.Search(len(p.ends), func(i int) bool { return word(i) >= lower })
	return i < len(p.ends) && word(i) == lower
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
	if p.isCommon(lower) {
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
