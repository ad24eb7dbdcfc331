package op

import (
	"context"
	"slices"

	"github.com/go-jose/go-jose/v4"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"
)

// SigningKey returns the current signing key.
func (s *Storage) SigningKey(ctx context.Context) (oidcop.SigningKey, error) {
	return s.Keys.SigningKey(ctx)
}

// SignatureAlgorithms lists the algorithms of the published keys.
func (s *Storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	keys, err := s.Keys.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	var out []jose.SignatureAlgorithm
	for _, k := range keys {
		if !slices.Contains(out, k.Algorithm()) {
			out = append(out, k.Algorithm())
		}
	}
	return out, nil
}

// KeySet returns the published public keys.
func (s *Storage) KeySet(ctx context.Context) ([]oidcop.Key, error) { return s.Keys.KeySet(ctx) }
