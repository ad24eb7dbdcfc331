package tenantadmin

import (
	"context"

	"github.com/portcullis/portcullis/clientreg"
	"github.com/portcullis/portcullis/secret"
	"github.com/portcullis/portcullis/storage"
)

// Clients lists the tenant's clients, or every tenant's for tenantID "".
func (s *Service) Clients(ctx context.Context, tenantID string) ([]storage.Client, error) {
	return s.Store.ListClients(ctx, tenantID)
}

// CreateClient registers c (TenantID, Name, Public, Admin, URIs, Grants, Scopes; ID optional) after
// clientreg.ValidateClient; no grants means clientreg.DefaultGrants. A confidential client gets a
// generated secret, returned in plain text once and stored hashed.
func (s *Service) CreateClient(ctx context.Context, a Actor, c storage.Client) (storage.Client, string, error) {
	if c.Grants == nil {
		c.Grants = clientreg.DefaultGrants()
	}
	if err := clientreg.ValidateClient(c); err != nil {
		return storage.Client{}, "", &InvalidError{Detail: err.Error()}
	}
	plain := ""
	c.SecretHash = ""
	if !c.Public {
		plain = secret.RandomToken(32)
		c.SecretHash = secret.HashClientSecret(plain)
	}
	c.CreatedAt = s.Now()
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.CreateClient(ctx, c); err != nil {
			return err
		}
		return tx.AddAudit(ctx, s.event(a, c.TenantID, AuditClientCreated, c.ID, map[string]any{"name": c.Name, "grants": c.Grants, "admin": c.Admin}))
	})
	if err != nil {
		return storage.Client{}, "", err
	}
	return c, plain, nil
}

// DeleteClient removes the tenant's client.
func (s *Service) DeleteClient(ctx context.Context, a Actor, tenantID, clientID string) error {
	return s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.DeleteClient(ctx, tenantID, clientID); err != nil {
			return err
		}
		return tx.AddAudit(ctx, s.event(a, tenantID, AuditClientDeleted, clientID, nil))
	})
}
