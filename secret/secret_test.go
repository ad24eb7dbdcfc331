package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, MasterKeySize) }

func mustSealer(t *testing.T, key []byte, purpose string) *Sealer {
	t.Helper()
	s, err := NewSealer(key, purpose)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	return s
}

func TestNewSealerKeyLength(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		purpose string
		wantErr bool
	}{
		{name: "32 bytes", key: testKey(1), purpose: "totp"},
		{name: "nil key", key: nil, purpose: "totp", wantErr: true},
		{name: "16 bytes", key: make([]byte, 16), purpose: "totp", wantErr: true},
		{name: "31 bytes", key: make([]byte, 31), purpose: "totp", wantErr: true},
		{name: "33 bytes", key: make([]byte, 33), purpose: "totp", wantErr: true},
		{name: "64 bytes", key: make([]byte, 64), purpose: "totp", wantErr: true},
		{name: "empty purpose", key: testKey(1), purpose: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSealer(tc.key, tc.purpose)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewSealer err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && s == nil {
				t.Fatal("NewSealer returned nil sealer")
			}
		})
	}
}

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, testKey(7), "totp")
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{name: "empty", plaintext: nil, aad: nil},
		{name: "totp secret", plaintext: []byte("12345678901234567890"), aad: []byte("user-1")},
		{name: "no aad", plaintext: []byte("hello"), aad: nil},
		{name: "large", plaintext: bytes.Repeat([]byte{0xAB}, 4096), aad: []byte("k")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if want := 12 + len(tc.plaintext) + 16; len(sealed) != want {
				t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
			}
			if len(tc.plaintext) >= 4 && bytes.Contains(sealed, tc.plaintext) {
				t.Error("sealed output contains the plaintext")
			}
			got, err := s.Open(sealed, tc.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %q, want %q", got, tc.plaintext)
			}
			again, err := s.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if bytes.Equal(again[:12], sealed[:12]) {
				t.Error("two seals used the same nonce")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	s := mustSealer(t, testKey(7), "totp")
	plaintext, aad := []byte("12345678901234567890"), []byte("user-1")
	sealed, err := s.Seal(plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    []byte
	}{
		{name: "nonce flipped", sealer: s, sealed: flip(0), aad: aad},
		{name: "ciphertext flipped", sealer: s, sealed: flip(15), aad: aad},
		{name: "tag flipped", sealer: s, sealed: flip(len(sealed) - 1), aad: aad},
		{name: "truncated tag", sealer: s, sealed: sealed[:len(sealed)-1], aad: aad},
		{name: "too short", sealer: s, sealed: sealed[:27], aad: aad},
		{name: "empty", sealer: s, sealed: nil, aad: aad},
		{name: "extra byte", sealer: s, sealed: append(bytes.Clone(sealed), 0), aad: aad},
		{name: "wrong aad", sealer: s, sealed: sealed, aad: []byte("user-2")},
		{name: "missing aad", sealer: s, sealed: sealed, aad: nil},
		{name: "wrong purpose", sealer: mustSealer(t, testKey(7), "signing-key"), sealed: sealed, aad: aad},
		{name: "wrong master key", sealer: mustSealer(t, testKey(8), "totp"), sealed: sealed, aad: aad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.aad)
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open err = %v, want ErrUnseal", err)
			}
			if got != nil {
				t.Errorf("Open returned data %q with an error", got)
			}
		})
	}
}

func TestPasswordHashVerify(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not have the expected PHC prefix", h)
	}
	parts := strings.Split(h, "$")
	if salt, _ := base64.RawStdEncoding.DecodeString(parts[4]); len(salt) != 16 {
		t.Errorf("salt length = %d, want 16", len(salt))
	}
	if key, _ := base64.RawStdEncoding.DecodeString(parts[5]); len(key) != 32 {
		t.Errorf("key length = %d, want 32", len(key))
	}
	h2, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{name: "right", pw: "correct horse battery staple", want: true},
		{name: "wrong", pw: "correct horse battery stapler", want: false},
		{name: "empty", pw: "", want: false},
		{name: "case", pw: "Correct horse battery staple", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyPassword(h, tc.pw)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if got != tc.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerifyPasswordOtherParams(t *testing.T) {
	// A hash made with other (cheaper) parameters still verifies: they are read from the string.
	enc := cheapHash(t, "pw")
	ok, err := VerifyPassword(enc, "pw")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword(cheap) = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(enc, "px")
	if err != nil || ok {
		t.Fatalf("VerifyPassword(cheap, wrong) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "garbage", encoded: "not a hash"},
		{name: "dollars only", encoded: "$$$$$"},
		{name: "argon2i", encoded: "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "bcrypt", encoded: "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"},
		{name: "old version", encoded: "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "no version", encoded: "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "missing p", encoded: "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{name: "duplicate m", encoded: "$argon2id$v=19$m=64,m=64,t=1$" + salt + "$" + key},
		{name: "unknown param", encoded: "$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key},
		{name: "param no value", encoded: "$argon2id$v=19$m,t=1,p=1$" + salt + "$" + key},
		{name: "negative time", encoded: "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key},
		{name: "zero time", encoded: "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{name: "zero threads", encoded: "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{name: "threads overflow", encoded: "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{name: "huge memory", encoded: "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{name: "memory overflow", encoded: "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key},
		{name: "memory below 8p", encoded: "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{name: "huge time", encoded: "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + key},
		{name: "salt not base64", encoded: "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{name: "salt padded", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{name: "salt too short", encoded: "$argon2id$v=19$m=64,t=1,p=1$YWJj$" + key},
		{name: "empty hash", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{name: "short hash", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$YWJj"},
		{name: "extra field", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$x"},
		{name: "leading text", encoded: "x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.encoded, "pw")
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword err = %v, want ErrMalformedHash", err)
			}
			if ok {
				t.Error("VerifyPassword = true for a malformed hash")
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	// The dummy hash must parse, or DummyVerify would return early and be faster than a real check.
	if _, err := parsePHC(dummyHash); err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	if ok, err := VerifyPassword(dummyHash, ""); ok || err != nil {
		t.Fatalf("VerifyPassword(dummy, \"\") = %v, %v", ok, err)
	}
	DummyVerify("anything")
}

func TestRandomToken(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		length int
	}{
		{name: "0", n: 0, length: 0},
		{name: "16", n: 16, length: 22},
		{name: "32", n: 32, length: 43},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := RandomToken(tc.n)
			if len(tok) != tc.length {
				t.Fatalf("len(RandomToken(%d)) = %d, want %d", tc.n, len(tok), tc.length)
			}
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || len(b) != tc.n {
				t.Fatalf("decode %q: %d bytes, %v", tok, len(b), err)
			}
			if tc.n > 0 && tok == RandomToken(tc.n) {
				t.Error("two tokens are equal")
			}
		})
	}
}

func TestTokenHash(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "abc", in: "abc", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TokenHash(tc.in)
			if got != tc.want {
				t.Errorf("TokenHash(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if _, err := hex.DecodeString(got); err != nil {
				t.Errorf("not hex: %v", err)
			}
		})
	}
}

// cheapHash builds a PHC string with small parameters, as an older or differently tuned deployment would.
func cheapHash(t *testing.T, pw string) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
}

// Client secrets: the current scheme verifies in constant time without a hash slot; an argon2id hash
// from before it is not verified here at all (it goes through a Hasher, within its bounds).
func TestVerifyClientSecret(t *testing.T) {
	sec := RandomToken(32)
	current := HashClientSecret(sec)
	if !ClientSecretHashCurrent(current) || !VerifyClientSecret(current, sec) || VerifyClientSecret(current, sec+"x") {
		t.Errorf("current scheme: %q", current)
	}
	legacy, err := HashPassword(sec)
	if err != nil {
		t.Fatal(err)
	}
	if ClientSecretHashCurrent(legacy) || VerifyClientSecret(legacy, sec) {
		t.Error("a legacy argon2id hash verified outside a Hasher")
	}
	if ok, err := NewHasher(HasherOptions{Limit: 1}).Verify(t.Context(), legacy, sec); !ok || err != nil {
		t.Errorf("legacy hash through a Hasher: %v %v", ok, err)
	}
	if ClientSecretHashCurrent("") || VerifyClientSecret("", "") {
		t.Error("an empty hash")
	}
}
