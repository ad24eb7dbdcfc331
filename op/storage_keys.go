package op

import (
	"context"
	"slices"

	"github.com/go-jose/go-jose/v4"
	oidcop "github.com/zitadel/oidc/v3/pkg/op"
)

// SigningKey returns the key that signs this request's tokens: the one of the algorithm its client
// registered (id_token_signed_response_alg, for the ID and the access token alike), else the default.
func (s *Storage) SigningKey(ctx context.Context) (oidcop.SigningKey, error) {
	if c, ok := requestClient(ctx); ok && c.IDTokenAlg != "" {
		return s.Keys.SigningKeyFor(ctx, jose.SignatureAlgorithm(c.IDTokenAlg))
	}
	return s.Keys.SigningKey(ctx)
}

// SignatureAlgorithms lists the algorithms of the published keys.
func (s *Storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	keys, err := s.Keys.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	out := []jose.SignatureAlgorithm{jose.RS256} // always offered, listed first (OpenID Connect Discovery §3)
	for _, k := range keys {
		if !slices.Contains(out, k.Algorithm()) {
			out = append(out, k.Algorithm())
		}
	}
	return out, nil
}

// KeySet returns the published public keys.
func (s *Storage) KeySet(ctx context.Context) ([]oidcop.Key, error) { return s.Keys.KeySet(ctx) }
