package mfa

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/pquerna/otp"
)

// TOTP parameters of every authenticator Portcullis enrols (what authenticator apps support everywhere).
const (
	Period     = 30 // seconds per time step (RFC 6238 X)
	Digits     = 6
	SecretSize = 20 // bytes: 160 bits, as RFC 4226 recommends
	// Skew is how many steps either side of the current one a code may come from.
	Skew = 1
)

// Algorithm is the HMAC algorithm of enrolled authenticators.
const Algorithm = otp.AlgorithmSHA1

var pow10 = [...]uint32{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// Code returns the TOTP code (RFC 6238, T0 = 0, X = 30 s) of secret at time t, with digits digits
// (6 to 10) and the HMAC algorithm alg (SHA1, SHA256 or SHA512).
func Code(secret []byte, t time.Time, digits int, alg otp.Algorithm) (string, error) {
	if t.Unix() < 0 {
		return "", errors.New("totp code: time before the Unix epoch")
	}
	return codeAt(secret, Step(t), digits, alg)
}

// Step returns the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / Period }

// codeAt is HOTP (RFC 4226) of secret at counter step.
func codeAt(secret []byte, step int64, digits int, alg otp.Algorithm) (string, error) {
	if digits < 6 || digits > 10 {
		return "", fmt.Errorf("totp code: %d digits not supported", digits)
	}
	var h func() hash.Hash
	switch alg {
	case otp.AlgorithmSHA1:
		h = sha1.New
	case otp.AlgorithmSHA256:
		h = sha256.New
	case otp.AlgorithmSHA512:
		h = sha512.New
	default:
		return "", fmt.Errorf("totp code: algorithm %s not supported", alg)
	}
	if len(secret) == 0 {
		return "", errors.New("totp code: empty secret")
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(h, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	if digits < 10 {
		bin %= pow10[digits]
	}
	return fmt.Sprintf("%0*d", digits, bin), nil
}

// matchStep returns the step in now's window (current-Skew .. current+Skew) whose code equals code,
// comparing every candidate in constant time. When several match (a collision), the latest wins.
func matchStep(secret []byte, code string, now time.Time) (int64, bool, error) {
	cur := Step(now)
	var found int64
	var ok bool
	for step := cur - Skew; step <= cur+Skew; step++ {
		want, err := codeAt(secret, step, Digits, Algorithm)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step, true
		}
	}
	return found, ok, nil
}

// normaliseCode strips spaces (and the dashes some apps show) and reports whether what is left is a
// code of Digits decimal digits.
func normaliseCode(in string) (string, bool) {
	b := make([]byte, 0, Digits)
	for _, r := range in {
		switch {
		case r == ' ' || r == '\t' || r == '-' || r == '\u00a0':
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		default:
			return "", false
		}
	}
	return string(b), len(b) == Digits
}
