// Package secret holds Portcullis' sealing and hashing primitives: AES-256-GCM sealing under keys derived
// from one master key, argon2id password hashes in PHC format, and random tokens with their hashes.
// It depends on the standard library and golang.org/x/crypto only.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// RandomToken returns nBytes of crypto/rand output, base64url-encoded without padding.
func RandomToken(nBytes int) string {
	b := make([]byte, nBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenHash returns the hex SHA-256 of s, for codes, refresh tokens and session ids stored by hash.
func TokenHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// HashClientSecret hashes a client secret that we generated (32 random bytes). Slow hashing protects
// guessable passwords; a 256-bit random secret cannot be guessed, so one SHA-256 is enough and keeps the
// token endpoint fast (argon2id there cost ~25 ms of CPU per token request).
func HashClientSecret(s string) string { return clientSecretPrefix + TokenHash(s) }

const clientSecretPrefix = "sha256:"

// VerifyClientSecret checks a client secret against its stored hash, in constant time. Hashes in the
// argon2id format are accepted too.
func VerifyClientSecret(stored, s string) bool {
	if h, ok := strings.CutPrefix(stored, clientSecretPrefix); ok {
		return subtle.ConstantTimeCompare([]byte(h), []byte(TokenHash(s))) == 1
	}
	ok, err := VerifyPassword(stored, s)
	return err == nil && ok
}
