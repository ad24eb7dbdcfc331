package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

func accessTokenToRow(t AccessToken) (accessTokenRow, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	var ls lists
	r := accessTokenRow{ID: t.ID, GrantID: t.GrantID, TenantID: t.TenantID, ClientID: t.ClientID, Subject: t.Subject,
		Scopes: ls.join("scopes", t.Scopes), Audience: ls.join("audience", t.Audience), AMR: ls.join("amr", t.AMR), ACR: t.ACR,
		AuthTime: optTime(t.AuthTime), CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt), RevokedAt: utcPtr(t.RevokedAt)}
	return r, ls.err
}

func refreshTokenToRow(t RefreshToken) (refreshTokenRow, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	var ls lists
	r := refreshTokenRow{ID: t.ID, TokenHash: t.TokenHash, GrantID: t.GrantID, TenantID: t.TenantID, ClientID: t.ClientID,
		Subject: t.Subject, Scopes: ls.join("scopes", t.Scopes), Audience: ls.join("audience", t.Audience), AMR: ls.join("amr", t.AMR),
		ACR: t.ACR, AuthTime: optTime(t.AuthTime), CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt), UsedAt: utcPtr(t.UsedAt),
		RevokedAt: utcPtr(t.RevokedAt)}
	return r, ls.err
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

// RevokeUserTokens revokes every token of the subject (an admin's MFA reset, a disabled user, a password
// changed or reset), also those a code exchange or a rotation in flight is about to store.
func (s *Store) RevokeUserTokens(ctx context.Context, subject string, now time.Time) error {
	return s.inTx(ctx, func(tx *gorm.DB) error {
		return translate("revoke user tokens", revokeSubjectTokens(tx, subject, "", nil, now))
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
	return translate("revoke tokens", revokeSubjectTokens(tx, subject, holds, args, now))
}

// revokeSubjectTokens revokes, in tx, the subject's live tokens that also match where (with args; ""
// for all), in the order RevokeGrant explains, so that no write racing it leaves a token behind:
//  1. the subject's redeemed sign-ins are marked (grant_revoked_at): a code exchange that has not
//     stored its tokens yet is refused (CreateCodeTokens), or stored them before the mark and the
//     statements below see them. Every redeemed sign-in of the subject is marked, also one whose tokens
//     where would spare: its exchange, a moment from completing, fails and the app signs in again;
//  2. the refresh tokens, pass after pass until one finds none: a rotation in flight either is refused
//     or its new tokens (same subject, same amr) are in the next pass;
//  3. the access tokens, after that pass.
func revokeSubjectTokens(tx *gorm.DB, subject, where string, args []any, now time.Time) error {
	now = utc(now)
	if err := tx.Exec(markSubjectGrantsRevokedSQL, now, subject).Error; err != nil {
		return err
	}
	cond, all := "subject = ? AND revoked_at IS NULL", append([]any{subject}, args...)
	if where != "" {
		cond += " AND " + where
	}
	for pass := 0; ; pass++ {
		if pass == maxRevokePasses {
			return fmt.Errorf("refresh tokens of the user were still being issued after %d passes", maxRevokePasses)
		}
		res := tx.Model(&refreshTokenRow{}).Where(cond, all...).Update("revoked_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			break
		}
	}
	return tx.Model(&accessTokenRow{}).Where(cond, all...).Update("revoked_at", now).Error
}

const markSubjectGrantsRevokedSQL = `UPDATE auth_requests SET grant_revoked_at = ?
 WHERE user_id = ? AND code_used_at IS NOT NULL AND grant_revoked_at IS NULL`

// RefreshTokenByID returns the refresh token record with that id.
func (s *Store) RefreshTokenByID(ctx context.Context, id string) (RefreshToken, error) {
	var r refreshTokenRow
	if err := s.ctx(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return RefreshToken{}, translate("refresh token by id", err)
	}
	return refreshTokenFromRow(r), nil
}
