package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// CreateClient stores a new client; the caller hashes the secret.
func (s *Store) CreateClient(ctx context.Context, c Client) (Client, error) {
	if c.ID == "" {
		c.ID = NewID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	var ls lists
	r := clientRow{ID: c.ID, TenantID: c.TenantID, Name: c.Name, SecretHash: c.SecretHash, Public: c.Public,
		RedirectURIs: ls.join("redirect_uris", c.RedirectURIs), PostLogoutURIs: ls.join("post_logout_redirect_uris", c.PostLogoutURIs),
		Grants: ls.join("grants", c.Grants), Scopes: ls.join("scopes", c.Scopes), Admin: c.Admin, IDTokenAlg: c.IDTokenAlg,
		CreatedAt: utc(c.CreatedAt)}
	if ls.err != nil {
		return Client{}, fmt.Errorf("create client: %w", ls.err)
	}
	if err := s.ctx(ctx).Create(&r).Error; err != nil {
		return Client{}, translate("create client", err)
	}
	return clientFromRow(r), nil
}

// ClientByID returns the client with that id.
func (s *Store) ClientByID(ctx context.Context, id string) (Client, error) {
	// Read by every token, introspection and revocation request: database/sql, not gorm (hotpaths.go).
	r := clientRow{ID: id}
	err := s.queryRow(ctx, clientByIDSQL, id).Scan(&r.TenantID, &r.Name, &r.SecretHash, &r.Public, &r.RedirectURIs,
		&r.PostLogoutURIs, &r.Grants, &r.Scopes, &r.Admin, &r.IDTokenAlg, &r.CreatedAt)
	if err != nil {
		return Client{}, rowErr("client by id", err)
	}
	return clientFromRow(r), nil
}

const clientByIDSQL = `SELECT tenant_id, name, secret_hash, public, redirect_uris, post_logout_uris, grants, scopes, admin,
 id_token_signed_response_alg, created_at FROM clients WHERE id = ?`

// UpgradeClientSecretHash replaces a client's secret hash by newHash while it still is oldHash, in one
// compare-and-set: a hash that changed meanwhile (a new secret, another instance's upgrade) or a client
// that is gone is ErrConflict, and nothing is written.
func (s *Store) UpgradeClientSecretHash(ctx context.Context, id, oldHash, newHash string) error {
	return s.execOne(ctx, "upgrade client secret hash", upgradeClientSecretHashSQL, newHash, id, oldHash)
}

const upgradeClientSecretHashSQL = `UPDATE clients SET secret_hash = ? WHERE id = ? AND secret_hash = ?`

// ListClients returns the tenant's clients ordered by name; an empty tenantID lists all.
func (s *Store) ListClients(ctx context.Context, tenantID string) ([]Client, error) {
	var rows []clientRow
	q := s.ctx(ctx).Order("name, id")
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate("list clients", err)
	}
	out := make([]Client, len(rows))
	for i, r := range rows {
		out[i] = clientFromRow(r)
	}
	return out, nil
}

// DeleteClient removes a tenant's client, with its pending auth requests (by cascade), and revokes
// every token issued to it, in one transaction.
func (s *Store) DeleteClient(ctx context.Context, tenantID, id string) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("tenant_id = ? AND id = ?", tenantID, id).Delete(&clientRow{})
		if res.Error != nil {
			return translate("delete client", res.Error)
		}
		if res.RowsAffected == 0 {
			return translate("delete client", ErrNotFound)
		}
		now := time.Now().UTC()
		for _, m := range []any{&accessTokenRow{}, &refreshTokenRow{}} {
			if err := tx.Model(m).Where("client_id = ? AND revoked_at IS NULL", id).Update("revoked_at", now).Error; err != nil {
				return translate("delete client", err)
			}
		}
		return nil
	})
}
