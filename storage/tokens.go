package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
)

func accessTokenToRow(t AccessToken) accessTokenRow {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	return accessTokenRow{ID: t.ID, GrantID: t.GrantID, TenantID: t.TenantID, ClientID: t.ClientID, Subject: t.Subject,
		Scopes: join(t.Scopes), Audience: join(t.Audience), AMR: join(t.AMR), ACR: t.ACR, AuthTime: optTime(t.AuthTime),
		CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt), RevokedAt: utcPtr(t.RevokedAt)}
}

func refreshTokenToRow(t RefreshToken) refreshTokenRow {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	return refreshTokenRow{ID: t.ID, TokenHash: t.TokenHash, GrantID: t.GrantID, TenantID: t.TenantID, ClientID: t.ClientID,
		Subject: t.Subject, Scopes: join(t.Scopes), Audience: join(t.Audience), AMR: join(t.AMR), ACR: t.ACR,
		AuthTime: optTime(t.AuthTime), CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt), UsedAt: utcPtr(t.UsedAt),
		RevokedAt: utcPtr(t.RevokedAt)}
}

// AccessTokenByID returns the access token record.
func (s *Store) AccessTokenByID(ctx context.Context, id string) (AccessToken, error) {
	var r accessTokenRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return AccessToken{}, translate("access token by id", err)
	}
	return accessTokenFromRow(r), nil
}

// RevokeAccessToken revokes one access token of the client.
func (s *Store) RevokeAccessToken(ctx context.Context, id, clientID string, now time.Time) error {
	res := s.ctx(ctx).Model(&accessTokenRow{}).Where("id = ? AND client_id = ?", id, clientID).
		Where("revoked_at IS NULL").Update("revoked_at", utc(now))
	return translate("revoke access token", res.Error)
}

// RefreshTokenByHash returns the refresh token record whose hash matches.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error) {
	var r refreshTokenRow
	if err := s.ctx(ctx).Where("token_hash = ?", hash).Take(&r).Error; err != nil {
		return RefreshToken{}, translate("refresh token by hash", err)
	}
	return refreshTokenFromRow(r), nil
}

// RevokeUserTokens revokes every token of the subject (used when an admin resets a user's MFA or disables it).
func (s *Store) RevokeUserTokens(ctx context.Context, subject string, now time.Time) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&accessTokenRow{}).Where("subject = ? AND revoked_at IS NULL", subject).Update("revoked_at", utc(now)).Error; err != nil {
			return translate("revoke user tokens", err)
		}
		return translate("revoke user tokens",
			tx.Model(&refreshTokenRow{}).Where("subject = ? AND revoked_at IS NULL", subject).Update("revoked_at", utc(now)).Error)
	})
}

// revokeTokensWithAMR revokes, in tx, the subject's live access and refresh tokens whose amr holds any
// of amr: the tokens of sign-ins made with a factor that is gone (a removed key, a replaced app) must
// not outlive it. amr values are stored space-separated; each is matched as a whole word.
func revokeTokensWithAMR(tx *gorm.DB, subject string, amr []string, now time.Time) error {
	if len(amr) == 0 {
		return nil
	}
	holds, args := holdsAnyWord("amr", amr)
	where := "subject = ? AND revoked_at IS NULL AND " + holds
	args = append([]any{subject}, args...)
	for _, m := range []any{&accessTokenRow{}, &refreshTokenRow{}} {
		if err := tx.Model(m).Where(where, args...).Update("revoked_at", utc(now)).Error; err != nil {
			return translate("revoke tokens", err)
		}
	}
	return nil
}

// RefreshTokenByID returns the refresh token record with that id.
func (s *Store) RefreshTokenByID(ctx context.Context, id string) (RefreshToken, error) {
	var r refreshTokenRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return RefreshToken{}, translate("refresh token by id", err)
	}
	return refreshTokenFromRow(r), nil
}
