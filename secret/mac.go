package secret

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// MAC is HMAC-SHA256 under a key derived from the master key for one purpose (HKDF-SHA256, info
// "portcullis/mac/"+purpose): tokens that only this server can make and check, such as CSRF tokens
// tied to a browser's binding. It is safe for concurrent use.
type MAC struct {
	key []byte
}

// NewMAC derives the MAC key for purpose from masterKey.
func NewMAC(masterKey []byte, purpose string) (*MAC, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("new mac: master key must be %d bytes, got %d", MasterKeySize, len(masterKey))
	}
	if purpose == "" {
		return nil, errors.New("new mac: empty purpose")
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, "portcullis/mac/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("new mac: derive key: %w", err)
	}
	return &MAC{key: key}, nil
}

// Sum returns the base64url HMAC of msg.
func (m *MAC) Sum(msg string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Verify reports, in constant time, whether mac is Sum(msg).
func (m *MAC) Verify(msg, mac string) bool {
	return hmac.Equal([]byte(m.Sum(msg)), []byte(mac))
}
