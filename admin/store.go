package admin

import (
	"context"

	"github.com/portcullis/portcullis/storage"
)

// Store is the part of the storage the admin surface reads directly; *storage.Store implements it.
// Every change goes through the tenant-admin service instead, with its guards and audit event.
type Store interface {
	TenantByID(ctx context.Context, id string) (storage.Tenant, error)
	TenantByRef(ctx context.Context, ref string) (storage.Tenant, error)
	ListTenants(ctx context.Context) ([]storage.Tenant, error)
	UserByID(ctx context.Context, id string) (storage.User, error)
	AuthenticatorByUser(ctx context.Context, userID string) (storage.Authenticator, error)
	AccessTokenByID(ctx context.Context, id string) (storage.AccessToken, error)
	ClientByID(ctx context.Context, id string) (storage.Client, error)
	ListClients(ctx context.Context, tenantID string) ([]storage.Client, error)
	CreateClient(ctx context.Context, c storage.Client) (storage.Client, error) // the console's own client, made on first use
	ListAudit(ctx context.Context, tenantID string, offset, limit int) ([]storage.AuditEvent, error)
	// The account page's passkeys and security keys: the user's own, by user id.
	CredentialsByUser(ctx context.Context, userID string) ([]storage.WebAuthnCredential, error)
	RenameCredential(ctx context.Context, userID, id, name string) error
	DeleteCredential(ctx context.Context, userID, id, endSessionsWith, revokeAMR string, ev storage.AuditEvent) error
}

var _ Store = (*storage.Store)(nil)
