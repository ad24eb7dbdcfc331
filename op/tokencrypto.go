package op

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/secret"
)

// sealedPrefix marks a value sealed by tokenCrypto; anything else is the library's JWE.
const sealedPrefix = "pc1."

// tokenCrypto seals the provider's opaque values (authorization codes, refresh tokens: "id:subject")
// with AES-256-GCM directly, as sealedPrefix + base64url(nonce‖ciphertext). The library's default wraps
// the same AES-GCM in a JWE (a JSON header, a wrapped content key, five base64 parts), ~25 µs of CPU per
// value, paid at every refresh and sign-in; this is ~1 µs. Codes and refresh tokens are stored and looked
// up by hash, so the format only matters where the library opens one (revocation, introspection): values
// sealed by the library before still open, so refresh tokens issued earlier keep working.
type tokenCrypto struct {
	sealer *secret.Sealer
	legacy oidcop.Crypto
}

// NewTokenCrypto is the provider's crypto under key (identical on every instance).
func NewTokenCrypto(key [32]byte) (oidcop.Crypto, error) {
	sealer, err := secret.NewSealer(key[:], "provider-token")
	if err != nil {
		return nil, err
	}
	return tokenCrypto{sealer: sealer, legacy: oidcop.NewAES256GCMCrypto(key, "k1")}, nil
}

func (c tokenCrypto) Encrypt(s string) (string, error) {
	b, err := c.sealer.Seal([]byte(s), []byte(sealedPrefix))
	if err != nil {
		return "", err
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func (c tokenCrypto) Decrypt(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return c.legacy.Decrypt(s)
	}
	if len(rest) > 1024 {
		return "", errors.New("decrypt: value too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	pt, err := c.sealer.Open(b, []byte(sealedPrefix))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
