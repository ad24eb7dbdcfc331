package storage

import (
	"context"
	"time"
)

// Purposes of emailed links.
const (
	LinkReset      = "reset"
	LinkInvitation = "invitation"
)

// EmailLink is a link sent by email: a random token stored by its keyed hash, bound to one purpose,
// user and tenant, used at most once, until it expires.
type EmailLink struct {
	ID        string
	TokenHash string
	Purpose   string
	TenantID  string
	UserID    string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

type emailLinkRow struct {
	ID        string `gorm:"primaryKey"`
	TokenHash string
	Purpose   string
	TenantID  string
	UserID    string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

func (emailLinkRow) TableName() string { return "email_links" }

func linkFromRow(r emailLinkRow) EmailLink {
	return EmailLink{ID: r.ID, TokenHash: r.TokenHash, Purpose: r.Purpose, TenantID: r.TenantID, UserID: r.UserID,
		CreatedBy: r.CreatedBy, CreatedAt: utc(r.CreatedAt), ExpiresAt: utc(r.ExpiresAt), UsedAt: utcPtr(r.UsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

// CreateLink stores a new link. Earlier unused links of the same user and purpose stay valid unless the
// caller revokes them (RevokeLinks).
func (s *Store) CreateLink(ctx context.Context, l EmailLink) (EmailLink, error) {
	if l.ID == "" {
		l.ID = NewID()
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = time.Now()
	}
	r := emailLinkRow{ID: l.ID, TokenHash: l.TokenHash, Purpose: l.Purpose, TenantID: l.TenantID, UserID: l.UserID,
		CreatedBy: l.CreatedBy, CreatedAt: utc(l.CreatedAt), ExpiresAt: utc(l.ExpiresAt)}
	if err := s.ctx(ctx).Create(&r).Error; err != nil {
		return EmailLink{}, translate("create link", err)
	}
	return linkFromRow(r), nil
}

// LinkByHash returns the link with that token hash and purpose, used, revoked or expired alike (the
// caller checks); a hash of another purpose is ErrNotFound.
func (s *Store) LinkByHash(ctx context.Context, purpose, hash string) (EmailLink, error) {
	var r emailLinkRow
	if err := s.ctx(ctx).Where("token_hash = ? AND purpose = ?", hash, purpose).Take(&r).Error; err != nil {
		return EmailLink{}, translate("link by hash", err)
	}
	return linkFromRow(r), nil
}

// LinkByID returns the link with that id.
func (s *Store) LinkByID(ctx context.Context, id string) (EmailLink, error) {
	var r emailLinkRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return EmailLink{}, translate("link by id", err)
	}
	return linkFromRow(r), nil
}

// UseLink spends the link: one compare-and-set that succeeds only for an unused, unrevoked, unexpired
// link of that purpose, user and tenant. Anything else is ErrConflict.
func (s *Store) UseLink(ctx context.Context, l EmailLink, now time.Time) error {
	res := s.ctx(ctx).Model(&emailLinkRow{}).
		Where("id = ? AND purpose = ? AND user_id = ? AND tenant_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
			l.ID, l.Purpose, l.UserID, l.TenantID, utc(now)).
		Update("used_at", utc(now))
	if res.Error != nil {
		return translate("use link", res.Error)
	}
	if res.RowsAffected != 1 {
		return translate("use link", ErrConflict)
	}
	return nil
}

// RevokeLinks revokes every open link of the user for purpose ("" for every purpose).
func (s *Store) RevokeLinks(ctx context.Context, userID, purpose string, now time.Time) error {
	q := s.ctx(ctx).Model(&emailLinkRow{}).Where("user_id = ? AND used_at IS NULL AND revoked_at IS NULL", userID)
	if purpose != "" {
		q = q.Where("purpose = ?", purpose)
	}
	return translate("revoke links", q.Update("revoked_at", utc(now)).Error)
}

// OpenLinks lists the tenant's unused, unrevoked, unexpired links of purpose, newest first.
func (s *Store) OpenLinks(ctx context.Context, tenantID, purpose string, now time.Time) ([]EmailLink, error) {
	var rows []emailLinkRow
	err := s.ctx(ctx).Where("tenant_id = ? AND purpose = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
		tenantID, purpose, utc(now)).Order("created_at DESC").Find(&rows).Error
	if err != nil {
		return nil, translate("open links", err)
	}
	out := make([]EmailLink, len(rows))
	for i, r := range rows {
		out[i] = linkFromRow(r)
	}
	return out, nil
}
