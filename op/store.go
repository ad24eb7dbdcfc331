package op

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/storage"
)

// Store is the part of the storage the provider uses; *storage.Store implements it. Every decision
// that issues or honours a token reads the database through it, never a cache.
type Store interface {
	CreateAuthRequest(ctx context.Context, a storage.AuthRequest) error
	SaveAuthCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error
	// The callback and the code exchange read the request with its tenant and user in one query.
	AuthRequestGrant(ctx context.Context, id string) (storage.Grant, error)
	ConsumeCodeGrant(ctx context.Context, codeHash string, now time.Time) (storage.Grant, error)
	CreateTokens(ctx context.Context, at storage.AccessToken, rt *storage.RefreshToken) error
	// The code exchange's tokens are stored only while the request's grant is not revoked (by a replay).
	CreateCodeTokens(ctx context.Context, requestID string, at storage.AccessToken, rt *storage.RefreshToken) error
	AccessTokenByID(ctx context.Context, id string) (storage.AccessToken, error)
	RefreshTokenByHash(ctx context.Context, hash string) (storage.RefreshToken, error)
	// The hot paths read a token with what decides access over it (the user, the tenant's policy, the
	// client) in one query.
	AccessTokenWithUser(ctx context.Context, id string) (storage.AccessToken, storage.User, error)
	RefreshTokenGrant(ctx context.Context, hash string) (storage.RefreshGrant, error)
	RefreshTokenByID(ctx context.Context, id string) (storage.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, at storage.AccessToken, rt storage.RefreshToken) error
	RevokeAccessToken(ctx context.Context, id, clientID string, now time.Time) error
	RevokeGrant(ctx context.Context, grantID string, now time.Time) (int64, error)
	TenantByID(ctx context.Context, id string) (storage.Tenant, error)
	UserByID(ctx context.Context, id string) (storage.User, error)
	ClientByID(ctx context.Context, id string) (storage.Client, error)
	// A legacy client secret hash is replaced on its first successful use (compare-and-set).
	UpgradeClientSecretHash(ctx context.Context, id, oldHash, newHash string) error
	ListClients(ctx context.Context, tenantID string) ([]storage.Client, error) // CORS: the registered origins
	Ping(ctx context.Context) error
}

var _ Store = (*storage.Store)(nil)
