package op

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// KeyStore is what the key manager needs from storage.
type KeyStore interface {
	SigningKeys(ctx context.Context, now time.Time) ([]storage.SigningKey, error)
	AddSigningKey(ctx context.Context, k storage.SigningKey, overlapUntil time.Time) error
}

// Keys manages the token signing keys: one active key per supported algorithm (RS256 and ES256),
// generated on first start, stored with the private part sealed, cached briefly so that a rotation by
// another instance or the CLI is picked up within seconds. Tokens are signed with Default unless the
// client asked for the other algorithm.
type Keys struct {
	Store   KeyStore
	Sealer  *secret.Sealer
	Now     func() time.Time
	TTL     time.Duration           // cache lifetime (default 10s)
	Default jose.SignatureAlgorithm // the algorithm of clients that did not choose one (default RS256)

	mu      sync.Mutex
	loaded  time.Time
	version string // the ids and states of the keys last read; a change rebuilds everything below
	signing map[jose.SignatureAlgorithm]*signingKey
	public  []oidcop.Key
	jwks    []byte // the JSON Web Key Set of public, as served
}

type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

// Supported signing algorithms.
var supportedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// ParseAlgorithm accepts "RS256" or "ES256".
func ParseAlgorithm(s string) (jose.SignatureAlgorithm, error) {
	for _, a := range supportedAlgs {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unsupported signing algorithm %q (use RS256 or ES256)", s)
}

// Ensure creates an active signing key for each supported algorithm that has none (first start, or an
// upgrade from a version that kept one key): RS256 is always published, ES256 is there for the clients
// that register for it.
func (k *Keys) Ensure(ctx context.Context) error {
	keys, err := k.Store.SigningKeys(ctx, k.Now())
	if err != nil {
		return fmt.Errorf("ensure signing key: %w", err)
	}
	for _, alg := range supportedAlgs {
		active := false
		for _, sk := range keys {
			active = active || (sk.RetiredAt == nil && sk.Algorithm == string(alg))
		}
		if !active {
			if _, err := k.Rotate(ctx, alg, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rotate makes a new signing key for alg. The previous key of that algorithm stays published for
// overlap, which must cover the longest token lifetime so that tokens it signed keep verifying until
// they expire; the other algorithm's key is left alone.
func (k *Keys) Rotate(ctx context.Context, alg jose.SignatureAlgorithm, overlap time.Duration) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	id := storage.NewID()[:16]
	sealed, err := k.Sealer.Seal(der, []byte(id))
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	now := k.Now().UTC()
	sk := storage.SigningKey{ID: id, Algorithm: string(alg), PrivateSealed: sealed, CreatedAt: now,
		PublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})}
	if err := k.Store.AddSigningKey(ctx, sk, now.Add(overlap)); err != nil {
		return storage.SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	k.mu.Lock()
	k.loaded = time.Time{}
	k.mu.Unlock()
	return sk, nil
}

func (k *Keys) load(ctx context.Context) (map[jose.SignatureAlgorithm]*signingKey, []oidcop.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ttl := k.TTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	now := k.Now()
	if k.signing != nil && now.Sub(k.loaded) < ttl {
		return k.signing, k.public, nil
	}
	keys, err := k.Store.SigningKeys(ctx, now)
	if err != nil {
		return nil, nil, fmt.Errorf("load signing keys: %w", err)
	}
	version := keysVersion(keys)
	if k.signing != nil && version == k.version {
		k.loaded = now // same keys: keep the parsed ones and the serialised set
		return k.signing, k.public, nil
	}
	signing := map[jose.SignatureAlgorithm]*signingKey{}
	var public []oidcop.Key
	for _, sk := range keys {
		block, _ := pem.Decode(sk.PublicPEM)
		if block == nil {
			return nil, nil, fmt.Errorf("load signing key %s: bad public key", sk.ID)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("load signing key %s: %w", sk.ID, err)
		}
		alg := jose.SignatureAlgorithm(sk.Algorithm)
		public = append(public, &publicKey{id: sk.ID, alg: alg, key: pub})
		if signing[alg] == nil && sk.RetiredAt == nil { // keys come newest first
			der, err := k.Sealer.Open(sk.PrivateSealed, []byte(sk.ID))
			if err != nil {
				return nil, nil, fmt.Errorf("unseal signing key %s (is the secret key the one it was made with?): %w", sk.ID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, nil, fmt.Errorf("parse signing key %s: %w", sk.ID, err)
			}
			signer, ok := priv.(crypto.Signer)
			if !ok {
				return nil, nil, fmt.Errorf("signing key %s is not a signer", sk.ID)
			}
			signing[alg] = &signingKey{id: sk.ID, alg: alg, key: signer}
		}
	}
	if len(signing) == 0 {
		return nil, nil, errors.New("no signing key: run the server once or 'portcullis keys rotate'")
	}
	jwks, err := marshalKeySet(public)
	if err != nil {
		return nil, nil, err
	}
	k.signing, k.public, k.jwks, k.version, k.loaded = signing, public, jwks, version, now
	return signing, public, nil
}

// keysVersion names a set of keys by their ids and states: a rotation (here, on another instance or
// by the CLI) or a key leaving its overlap changes it.
func keysVersion(keys []storage.SigningKey) string {
	var b strings.Builder
	for _, sk := range keys {
		b.WriteString(sk.ID)
		if sk.RetiredAt != nil {
			b.WriteString("-r")
		}
		b.WriteByte(',')
	}
	return b.String()
}

// marshalKeySet serialises the public keys once per key set, as the library's keys endpoint would.
func marshalKeySet(public []oidcop.Key) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(public))}
	for i, key := range public {
		set.Keys[i] = jose.JSONWebKey{KeyID: key.ID(), Algorithm: string(key.Algorithm()), Use: key.Use(), Key: key.Key()}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal key set: %w", err)
	}
	return append(b, '\n'), nil
}

// JWKS returns the serialised key set and its version (which changes when the keys do). It is read
// again from the database at most every TTL, so a rotation anywhere is published within TTL.
func (k *Keys) JWKS(ctx context.Context) (body []byte, version string, err error) {
	if _, _, err := k.load(ctx); err != nil {
		return nil, "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.jwks, k.version, nil
}

// SigningKey returns the current signing key of the default algorithm.
func (k *Keys) SigningKey(ctx context.Context) (oidcop.SigningKey, error) {
	return k.SigningKeyFor(ctx, "")
}

// SigningKeyFor returns the current signing key of alg ("" for the default algorithm).
func (k *Keys) SigningKeyFor(ctx context.Context, alg jose.SignatureAlgorithm) (oidcop.SigningKey, error) {
	s, _, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = k.Default
	}
	if alg == "" {
		alg = jose.RS256
	}
	if key := s[alg]; key != nil {
		return key, nil
	}
	return nil, fmt.Errorf("no active %s signing key: run 'portcullis keys rotate --algorithm %s'", alg, alg)
}

// KeySet returns every published public key.
func (k *Keys) KeySet(ctx context.Context) ([]oidcop.Key, error) {
	_, p, err := k.load(ctx)
	return p, err
}

// PublicKey returns the published key with id kid and its algorithm; ok is false when no published
// key has that id (never made by us, or retired past its overlap).
func (k *Keys) PublicKey(ctx context.Context, kid string) (key crypto.PublicKey, alg jose.SignatureAlgorithm, ok bool, err error) {
	_, public, err := k.load(ctx)
	if err != nil {
		return nil, "", false, err
	}
	for _, p := range public {
		if p.ID() == kid {
			return p.Key(), p.Algorithm(), true, nil
		}
	}
	return nil, "", false, nil
}
