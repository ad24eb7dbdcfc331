package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes (OWASP password storage cheat sheet). Existing hashes carry their
// own parameters in the PHC string, so these can be raised later without breaking old hashes.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds accepted when parsing a stored hash, so a corrupt or hostile row cannot make us allocate
// gigabytes or spin for minutes.
const (
	maxArgonMemory  = 1 << 20 // KiB (1 GiB)
	maxArgonTime    = 64
	minArgonSaltLen = 8
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 128
)

// dummyHash is a hash of a random password nobody knows; DummyVerify checks against it.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$kVU3RYL1T+CfnA8l2mhXLw$zE/jxBdAChcxlLlN/4O74I+emJAzoe/2hS4UWvqEl10"

// ErrMalformedHash means a stored password hash is not an argon2id PHC string we can use.
var ErrMalformedHash = errors.New("malformed password hash")

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword hashes pw with argon2id and a random salt, encoded as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the PHC-encoded hash, using the parameters stored in it and
// a constant-time comparison. A malformed hash is an error wrapping ErrMalformedHash.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// DummyVerify does the work of VerifyPassword against a fixed hash and discards the result, so that a
// sign-in with an unknown email takes as long as one with a wrong password.
func DummyVerify(pw string) {
	_, _ = VerifyPassword(dummyHash, pw)
}

func parsePHC(encoded string) (argonParams, error) {
	var p argonParams
	bad := func(what string) (argonParams, error) {
		return argonParams{}, fmt.Errorf("verify password: %s: %w", what, ErrMalformedHash)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("wrong number of fields")
	}
	if parts[1] != "argon2id" {
		return bad("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("parameter without value")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + k + " is not a number")
		}
		switch k {
		case "m":
			if seen[0] || n < 8 || n > maxArgonMemory {
				return bad("memory out of range")
			}
			seen[0], p.memory = true, uint32(n)
		case "t":
			if seen[1] || n < 1 || n > maxArgonTime {
				return bad("time out of range")
			}
			seen[1], p.time = true, uint32(n)
		case "p":
			if seen[2] || n < 1 || n > 255 {
				return bad("parallelism out of range")
			}
			seen[2], p.threads = true, uint8(n)
		default:
			return bad("unknown parameter")
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return bad("missing parameter")
	}
	if p.memory < 8*uint32(p.threads) {
		return bad("memory below 8*parallelism")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(p.salt) < minArgonSaltLen {
		return bad("bad salt")
	}
	if p.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(p.key) < minArgonKeyLen || len(p.key) > maxArgonKeyLen {
		return bad("bad hash")
	}
	return p, nil
}
