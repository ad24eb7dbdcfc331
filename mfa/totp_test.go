package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// RFC 6238 Appendix B seeds (the SHA256 and SHA512 ones from the RFC's reference code).
var (
	seedSHA1   = []byte("12345678901234567890")
	seedSHA256 = []byte("12345678901234567890123456789012")
	seedSHA512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

type rfcVector struct {
	unix int64
	alg  otp.Algorithm
	code string // 8 digits
}

// rfcVectors is RFC 6238 Appendix B, verbatim.
var rfcVectors = []rfcVector{
	{59, otp.AlgorithmSHA1, "94287082"},
	{59, otp.AlgorithmSHA256, "46119246"},
	{59, otp.AlgorithmSHA512, "90693936"},
	{1111111109, otp.AlgorithmSHA1, "07081804"},
	{1111111109, otp.AlgorithmSHA256, "68084774"},
	{1111111109, otp.AlgorithmSHA512, "25091201"},
	{1111111111, otp.AlgorithmSHA1, "14050471"},
	{1111111111, otp.AlgorithmSHA256, "67062674"},
	{1111111111, otp.AlgorithmSHA512, "99943326"},
	{1234567890, otp.AlgorithmSHA1, "89005924"},
	{1234567890, otp.AlgorithmSHA256, "91819424"},
	{1234567890, otp.AlgorithmSHA512, "93441116"},
	{2000000000, otp.AlgorithmSHA1, "69279037"},
	{2000000000, otp.AlgorithmSHA256, "90698825"},
	{2000000000, otp.AlgorithmSHA512, "38618901"},
	{20000000000, otp.AlgorithmSHA1, "65353130"},
	{20000000000, otp.AlgorithmSHA256, "77737706"},
	{20000000000, otp.AlgorithmSHA512, "47863826"},
}

func seedFor(alg otp.Algorithm) []byte {
	switch alg {
	case otp.AlgorithmSHA256:
		return seedSHA256
	case otp.AlgorithmSHA512:
		return seedSHA512
	}
	return seedSHA1
}

func TestCodeRFC6238(t *testing.T) {
	for _, v := range rfcVectors {
		for _, digits := range []int{8, 6} {
			want := v.code[8-digits:] // the same value mod 10^digits
			t.Run(fmt.Sprintf("%s/%d/%d", v.alg, v.unix, digits), func(t *testing.T) {
				got, err := Code(seedFor(v.alg), time.Unix(v.unix, 0), digits, v.alg)
				if err != nil {
					t.Fatalf("Code: %v", err)
				}
				if got != want {
					t.Errorf("Code = %s, want %s", got, want)
				}
				// Cross-check with the library the rest of the ecosystem uses.
				lib, err := totp.GenerateCodeCustom(string(b32.EncodeToString(seedFor(v.alg))), time.Unix(v.unix, 0),
					totp.ValidateOpts{Period: Period, Digits: otp.Digits(digits), Algorithm: v.alg})
				if err != nil {
					t.Fatalf("GenerateCodeCustom: %v", err)
				}
				if lib != want {
					t.Errorf("pquerna/otp = %s, want %s", lib, want)
				}
			})
		}
	}
}

func TestCodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		at     time.Time
		digits int
		alg    otp.Algorithm
	}{
		{name: "5 digits", secret: seedSHA1, at: time.Unix(59, 0), digits: 5, alg: otp.AlgorithmSHA1},
		{name: "11 digits", secret: seedSHA1, at: time.Unix(59, 0), digits: 11, alg: otp.AlgorithmSHA1},
		{name: "md5", secret: seedSHA1, at: time.Unix(59, 0), digits: 6, alg: otp.AlgorithmMD5},
		{name: "unknown algorithm", secret: seedSHA1, at: time.Unix(59, 0), digits: 6, alg: otp.Algorithm(42)},
		{name: "empty secret", secret: nil, at: time.Unix(59, 0), digits: 6, alg: otp.AlgorithmSHA1},
		{name: "before epoch", secret: seedSHA1, at: time.Unix(-30, 0), digits: 6, alg: otp.AlgorithmSHA1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := Code(tc.secret, tc.at, tc.digits, tc.alg); err == nil {
				t.Errorf("Code = %q, nil; want an error", c)
			}
		})
	}
	// 10 digits is the whole 31-bit value, zero-padded.
	if c, err := Code(seedSHA1, time.Unix(59, 0), 10, otp.AlgorithmSHA1); err != nil || len(c) != 10 || c[2:] != "94287082" {
		t.Errorf("Code(10 digits) = %q, %v", c, err)
	}
}

func TestNormaliseCode(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{in: "123456", want: "123456", wantOK: true},
		{in: " 123 456 ", want: "123456", wantOK: true},
		{in: "123-456", want: "123456", wantOK: true},
		{in: "123\u00a0456", want: "123456", wantOK: true},
		{in: "12345", wantOK: false},
		{in: "1234567", wantOK: false},
		{in: "", wantOK: false},
		{in: "12345a", wantOK: false},
		{in: "１２３４５６", wantOK: false}, // full-width digits
		{in: "+12345", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := normaliseCode(tc.in)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("normaliseCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestVerifyRFCVectors runs the SHA1 vectors (6 digits) through the real path: an enrolment whose
// random source yields the RFC seed, confirmed with the t=59 code, then Verify at each later vector time.
func TestVerifyRFCVectors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSQLiteFixture(t)
	f.svc.Rand = io.MultiReader(bytes.NewReader(seedSHA1), rand.Reader)
	user := f.user(t, "alice@example.com")

	en, err := f.svc.Enrolment(ctx, user, f.req(t, user), "Acme", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if en.Secret != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Fatalf("enrolment secret = %s, want the base32 RFC seed", en.Secret)
	}
	var sha1Vectors []rfcVector
	for _, v := range rfcVectors {
		if v.alg == otp.AlgorithmSHA1 {
			sha1Vectors = append(sha1Vectors, v)
		}
	}
	first := sha1Vectors[0]
	f.clk.Set(time.Unix(first.unix, 0))
	if _, err := f.svc.ConfirmEnrolment(ctx, user, f.req(t, user), first.code[2:], Meta{}); err != nil {
		t.Fatalf("ConfirmEnrolment with the t=59 vector: %v", err)
	}
	for _, v := range sha1Vectors[1:] {
		t.Run(fmt.Sprint(v.unix), func(t *testing.T) {
			f.clk.Set(time.Unix(v.unix, 0))
			if err := f.svc.Verify(ctx, user, v.code[2:], Meta{}); err != nil {
				t.Fatalf("Verify(%s) at %d: %v", v.code[2:], v.unix, err)
			}
			if err := f.svc.Verify(ctx, user, v.code[2:], Meta{}); !errors.Is(err, ErrReplay) {
				t.Fatalf("second Verify = %v, want ErrReplay", err)
			}
		})
	}
}

// TestVerifyWindowEdges checks the ±1 step window at the first and last second of a step.
func TestVerifyWindowEdges(t *testing.T) {
	ctx := context.Background()
	f := newSQLiteFixture(t)
	start := t0 // first second of step S
	last := t0.Add(Period*time.Second - time.Second)
	tests := []struct {
		name       string
		now        time.Time
		codeOffset int // steps from S
		want       error
	}{
		{name: "first second, current step", now: start, codeOffset: 0},
		{name: "first second, previous step", now: start, codeOffset: -1},
		{name: "first second, next step", now: start, codeOffset: 1},
		{name: "first second, two steps back", now: start, codeOffset: -2, want: ErrInvalidCode},
		{name: "first second, two steps ahead", now: start, codeOffset: 2, want: ErrInvalidCode},
		{name: "last second, current step", now: last, codeOffset: 0},
		{name: "last second, previous step", now: last, codeOffset: -1},
		{name: "last second, next step", now: last, codeOffset: 1},
		{name: "last second, two steps back", now: last, codeOffset: -2, want: ErrInvalidCode},
		{name: "last second, two steps ahead", now: last, codeOffset: 2, want: ErrInvalidCode},
		{name: "one second after, previous step now two back", now: last.Add(time.Second), codeOffset: -1, want: ErrInvalidCode},
		{name: "one second before, next step now two ahead", now: start.Add(-time.Second), codeOffset: 1, want: ErrInvalidCode},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clk.Set(tc.now)
			user := f.user(t, fmt.Sprintf("u%d@example.com", i))
			key := randomKey(t)
			f.activate(t, user, key, Step(t0)-10)
			code := mustCode(t, key, start.Add(time.Duration(tc.codeOffset)*Period*time.Second))
			// Make sure the refused codes are not accidental matches of a step in the window.
			if tc.want != nil {
				for d := int64(-1); d <= 1; d++ {
					if c, _ := codeAt(key, Step(tc.now)+d, Digits, Algorithm); c == code {
						t.Skip("random key collided; vanishingly rare")
					}
				}
			}
			err := f.svc.Verify(ctx, user, code, Meta{})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			a, err := f.st.AuthenticatorByUser(ctx, user.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantStep := Step(t0) - 10
			if tc.want == nil {
				wantStep = Step(start) + int64(tc.codeOffset)
			}
			if a.LastStep != wantStep {
				t.Errorf("LastStep = %d, want %d", a.LastStep, wantStep)
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		first  int // step offset of the first (accepted) code
		second int // step offset of the second code
		want   error
	}{
		{name: "same code again", first: 0, second: 0, want: ErrReplay},
		{name: "older after newer", first: 1, second: 0, want: ErrReplay},
		{name: "oldest after newest", first: 1, second: -1, want: ErrReplay},
		{name: "newer after older", first: -1, second: 0, want: nil},
		{name: "next after current", first: 0, second: 1, want: nil},
	}
	f := newSQLiteFixture(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clk.Set(t0.Add(10 * time.Second))
			user := f.user(t, fmt.Sprintf("u%d@example.com", i))
			key := randomKey(t)
			f.activate(t, user, key, Step(t0)-10)
			at := func(off int) string { return mustCode(t, key, t0.Add(time.Duration(off)*Period*time.Second)) }
			if err := f.svc.Verify(ctx, user, at(tc.first), Meta{}); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			err := f.svc.Verify(ctx, user, at(tc.second), Meta{Address: "192.0.2.1", ClientID: "app"})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("second Verify = %v, want %v", err, tc.want)
			}
		})
	}
	got := f.actions(t)
	if got[AuditReplayRefused] != 3 || got[AuditCodeAccepted] != 7 {
		t.Errorf("audit actions = %v, want 3 replays refused and 7 accepted", got)
	}
}

func TestVerifyNotEnrolled(t *testing.T) {
	ctx := context.Background()
	f := newSQLiteFixture(t)
	user := f.user(t, "alice@example.com")
	if err := f.svc.Verify(ctx, user, "123456", Meta{}); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Verify without authenticator = %v, want ErrNotEnrolled", err)
	}
	// A pending authenticator never verifies, even with the right code.
	f.svc.Rand = io.MultiReader(bytes.NewReader(seedSHA1), rand.Reader)
	if _, err := f.svc.Enrolment(ctx, user, f.req(t, user), "Acme", Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Verify(ctx, user, mustCode(t, seedSHA1, f.clk.Now()), Meta{}); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Verify with pending authenticator = %v, want ErrNotEnrolled", err)
	}
	if st, err := f.svc.Status(ctx, user.ID); err != nil || st != StatePending {
		t.Fatalf("Status = %q, %v; want pending", st, err)
	}
	if n := f.actions(t)[AuditCodeAccepted]; n != 0 {
		t.Errorf("%d codes accepted, want 0", n)
	}
}
