package op

import (
	"strings"
	"testing"

	oidcop "github.com/zitadel/oidc/v3/pkg/op"
)

// TestTokenCrypto checks the provider's sealing of codes and refresh tokens: a round trip, values the
// library sealed before (JWE) still open, and a tampered, foreign or malformed value does not.
func TestTokenCrypto(t *testing.T) {
	key := [32]byte{1, 2, 3}
	c, err := NewTokenCrypto(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Encrypt("rt-id:user-id")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, sealedPrefix) || strings.ContainsAny(v, "+/=") {
		t.Fatalf("sealed value %q: want the prefix and base64url", v)
	}
	if got, err := c.Decrypt(v); err != nil || got != "rt-id:user-id" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	if w, _ := c.Encrypt("rt-id:user-id"); w == v {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}

	legacy, err := oidcop.NewAES256GCMCrypto(key, "k1").Encrypt("old-id:user-id")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(legacy); err != nil || got != "old-id:user-id" {
		t.Fatalf("a value sealed by the library before: Decrypt = %q, %v", got, err)
	}

	other, err := NewTokenCrypto([32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(v)
	flipped[len(flipped)-3] ^= 1
	for name, bad := range map[string]string{
		"tampered":     string(flipped),
		"truncated":    v[:len(v)-4],
		"not base64":   sealedPrefix + "***",
		"empty":        sealedPrefix,
		"oversized":    sealedPrefix + strings.Repeat("A", 2000),
		"a JWT":        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
		"another key":  mustEncrypt(t, other, "rt-id:user-id"),
		"legacy other": mustEncrypt(t, oidcop.NewAES256GCMCrypto([32]byte{9}, "k1"), "x:y"),
	} {
		if got, err := c.Decrypt(bad); err == nil {
			t.Errorf("%s: Decrypt = %q, want an error", name, got)
		}
	}
}

func mustEncrypt(t *testing.T, c oidcop.Crypto, s string) string {
	t.Helper()
	v, err := c.Encrypt(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
