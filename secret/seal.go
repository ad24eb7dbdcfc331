package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MasterKeySize is the length in bytes of the master key given to NewSealer.
const MasterKeySize = 32

// ErrUnseal means sealed data could not be opened: it is truncated, was tampered with, or was sealed
// under another key, purpose or associated data.
var ErrUnseal = errors.New("cannot unseal")

// Sealer encrypts small secrets with AES-256-GCM under a key derived from the master key for one purpose.
// It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the AEAD key for purpose (for example "totp" or "signing-key") from masterKey with
// HKDF-SHA256 (info "portcullis/"+purpose), so each purpose gets an independent key.
func NewSealer(masterKey []byte, purpose string) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("new sealer: master key must be %d bytes, got %d", MasterKeySize, len(masterKey))
	}
	if purpose == "" {
		return nil, errors.New("new sealer: empty purpose")
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, "portcullis/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("new sealer: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad and returns nonce||ciphertext, with a fresh random 12-byte nonce.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out[:ns], plaintext, aad), nil
}

// Open reverses Seal. Any failure wraps ErrUnseal.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("open: sealed data too short: %w", ErrUnseal)
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("open: %w", ErrUnseal)
	}
	return pt, nil
}
