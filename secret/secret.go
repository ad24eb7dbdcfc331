// Package secret holds Portcullis' sealing and hashing primitives: AES-256-GCM sealing under keys derived
// from one master key, argon2id password hashes in PHC format, and random tokens with their hashes.
// It depends on the standard library and golang.org/x/crypto only.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
