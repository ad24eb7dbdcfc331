// Package secret holds Portcullis' sealing and hashing primitives: AES-256-GCM sealing under keys derived
// from one master key, argon2id password hashes in PHC format, and random tokens with their hashes.
// It depends on the standard library and golang.org/x/crypto only, and must not import any package of
// ours (storage included): callers store what it seals and hashes.
package secret

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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

// VerifyClientSecret checks a client secret against its stored hash of the current scheme
// (HashClientSecret), in constant time. Any other hash is refused here, the argon2id hashes of client
// secrets from before the current scheme included: those cost an argon2id run (19 MiB) each, so they
// are verified within a Hasher's bounds (Hasher.Verify) and then replaced by the current scheme's
// hash (see ClientSecretHashCurrent).
func VerifyClientSecret(stored, s string) bool {
	if h, ok := strings.CutPrefix(stored, clientSecretPrefix); ok {
		return subtle.ConstantTimeCompare([]byte(h), []byte(TokenHash(s))) == 1
	}
	return false
}

// ClientSecretHashCurrent reports whether stored is a client secret hash of the current scheme
// (HashClientSecret). Any other is a legacy hash (argon2id, HashPassword) or not a hash at all.
func ClientSecretHashCurrent(stored string) bool {
	return strings.HasPrefix(stored, clientSecretPrefix)
}

// KeyedHash is HMAC-SHA-256 under a key derived from the master key for one purpose, for generated
// high-entropy values (recovery codes) that must be stored hashed: a stolen database does not let
// anyone test guesses offline without the secret key, and a fast hash keeps enrolment and lookups
// cheap (argon2id protects guessable passwords; 60 random bits need no stretching). Safe for concurrent use.
type KeyedHash struct {
	key []byte
}

// NewKeyedHash derives the HMAC key for purpose from masterKey with HKDF-SHA256 (info
// "portcullis/"+purpose), independent of the sealing keys.
func NewKeyedHash(masterKey []byte, purpose string) (*KeyedHash, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("new keyed hash: master key must be %d bytes, got %d", MasterKeySize, len(masterKey))
	}
	if purpose == "" {
		return nil, errors.New("new keyed hash: empty purpose")
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, "portcullis/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("new keyed hash: derive key: %w", err)
	}
	return &KeyedHash{key: key}, nil
}

// KeyedHashPrefix marks hashes made by KeyedHash.Sum.
const KeyedHashPrefix = "hmac-sha256:"

// Sum returns "hmac-sha256:" and the hex HMAC of s; equal inputs give equal sums, so a sum can be
// looked up.
func (k *KeyedHash) Sum(s string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(s))
	return KeyedHashPrefix + hex.EncodeToString(m.Sum(nil))
}

// Equal reports, in constant time, whether stored is the sum of s.
func (k *KeyedHash) Equal(stored, s string) bool {
	return hmac.Equal([]byte(stored), []byte(k.Sum(s)))
}
