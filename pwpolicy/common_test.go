package pwpolicy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// The compact common-password set answers exactly as a set of the list's eligible words: every one of
// them is in it, and nothing else (neighbours in sort order, prefixes, extensions).
func TestCommonSetMatchesList(t *testing.T) {
	p := New()
	want := map[string]bool{}
	for _, w := range frequency.FrequencyLists["passwords"] {
		if utf8.RuneCountInString(w) >= MinLength {
			want[strings.ToLower(w)] = true
		}
	}
	if len(want) < 1000 {
		t.Fatalf("only %d eligible common passwords", len(want))
	}
	for w := range want {
		for _, probe := range []string{w, w[:len(w)-1], w + "~", w + "0", "0" + w, strings.ToUpper(w)} {
			if got := p.isCommon(probe); got != want[probe] {
				t.Fatalf("isCommon(%q) = %v, want %v", probe, got, want[probe])
			}
		}
	}
	for _, probe := range []string{"", "\x00", "\U0010ffff\U0010ffff\U0010ffff"} {
		if p.isCommon(probe) {
			t.Errorf("isCommon(%q) = true", probe)
		}
	}
}
