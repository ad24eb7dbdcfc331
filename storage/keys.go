package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// SigningKeys returns the keys whose public part is still published (not past ExpiresAt), newest first.
// The first one of an algorithm without RetiredAt is the key that signs with that algorithm.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error) {
	var rows []signingKeyRow
	err := s.ctx(ctx).Where("expires_at IS NULL OR expires_at > ?", utc(now)).Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, translate("signing keys", err)
	}
	out := make([]SigningKey, len(rows))
	for i, r := range rows {
		out[i] = signingKeyFromRow(r)
	}
	return out, nil
}

// AddSigningKey makes k the signing key of its algorithm. The keys of that algorithm that signed until
// now are retired at k.CreatedAt and stay published until overlapUntil, so tokens they signed keep
// verifying until they expire. Keys of the other algorithms stay as they are.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey, overlapUntil time.Time) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&signingKeyRow{}).Where("retired_at IS NULL AND algorithm = ?", k.Algorithm).
			Updates(map[string]any{"retired_at": utc(k.CreatedAt), "expires_at": utc(overlapUntil)}).Error; err != nil {
			return translate("add signing key", err)
		}
		r := signingKeyRow{ID: k.ID, Algorithm: k.Algorithm, PrivateSealed: k.PrivateSealed, PublicPEM: k.PublicPEM,
			CreatedAt: utc(k.CreatedAt)}
		return translate("add signing key", tx.Create(&r).Error)
	})
}
