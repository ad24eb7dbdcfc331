package storage

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// The reads below answer the provider's busiest endpoints (userinfo, the refresh grant) with one query
// each: the token row joined with what decides access (the user's disabled flag, the tenant's policy),
// only the columns needed, read fresh from the database on every call. They bypass gorm's statement
// building and reflection (database/sql directly, on the transaction inside InTx). Prepared statements
// would not help SQLite here: its driver compiles the SQL text again on every execution, prepared or not;
// PostgreSQL's driver caches its statements itself.

// queryRow runs one single-row query; q is written with '?' placeholders.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.dialect == DialectPostgres {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$")
				b.WriteString(string(rune('0' + n))) // at most 9 arguments here
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	return s.db.Statement.ConnPool.QueryRowContext(ctx, q, args...)
}

func rowErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return translate(op, ErrNotFound)
	}
	return translate(op, err)
}

const accessTokenWithUserSQL = `SELECT t.tenant_id, t.client_id, t.subject, t.scopes, t.expires_at, t.revoked_at,
 u.tenant_id, u.email, u.name, u.email_verified, u.disabled
 FROM access_tokens t JOIN users u ON u.id = t.subject WHERE t.id = ?`

// AccessTokenWithUser returns an access token (its tenant, client, subject, scopes, expiry and
// revocation) and the user it was issued to (without the password hash), in one query. A token whose
// subject is no user (a service token) is ErrNotFound.
func (s *Store) AccessTokenWithUser(ctx context.Context, id string) (AccessToken, User, error) {
	at, u := AccessToken{ID: id}, User{}
	var scopes string
	var revoked sql.NullTime
	err := s.queryRow(ctx, accessTokenWithUserSQL, id).Scan(&at.TenantID, &at.ClientID, &at.Subject, &scopes,
		&at.ExpiresAt, &revoked, &u.TenantID, &u.Email, &u.Name, &u.EmailVerified, &u.Disabled)
	if err != nil {
		return AccessToken{}, User{}, rowErr("access token with user", err)
	}
	at.Scopes, at.ExpiresAt, at.RevokedAt = split(scopes), utc(at.ExpiresAt), nullTime(revoked)
	u.ID = at.Subject
	return at, u, nil
}

const refreshTokenGrantSQL = `SELECT r.id, r.grant_id, r.tenant_id, r.client_id, r.subject, r.scopes, r.audience,
 r.amr, r.acr, r.auth_time, r.created_at, r.expires_at, r.used_at, r.revoked_at,
 u.tenant_id, u.email, u.name, u.email_verified, u.disabled, t.mfa_enabled, t.mfa_methods
 FROM refresh_tokens r JOIN users u ON u.id = r.subject JOIN tenants t ON t.id = r.tenant_id
 WHERE r.token_hash = ?`

// RefreshTokenGrant returns the refresh token whose hash matches, its user (without the password hash)
// and its tenant with the MFA policy as it is now, in one query.
func (s *Store) RefreshTokenGrant(ctx context.Context, hash string) (RefreshToken, User, Tenant, error) {
	rt, u, t := RefreshToken{TokenHash: hash}, User{}, Tenant{}
	var scopes, audience, amr, methods string
	var authTime, used, revoked sql.NullTime
	err := s.queryRow(ctx, refreshTokenGrantSQL, hash).Scan(&rt.ID, &rt.GrantID, &rt.TenantID, &rt.ClientID, &rt.Subject,
		&scopes, &audience, &amr, &rt.ACR, &authTime, &rt.CreatedAt, &rt.ExpiresAt, &used, &revoked,
		&u.TenantID, &u.Email, &u.Name, &u.EmailVerified, &u.Disabled, &t.MFAEnabled, &methods)
	if err != nil {
		return RefreshToken{}, User{}, Tenant{}, rowErr("refresh token grant", err)
	}
	rt.Scopes, rt.Audience, rt.AMR = split(scopes), split(audience), split(amr)
	rt.AuthTime = deref(nullTime(authTime))
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt, rt.RevokedAt = utc(rt.CreatedAt), utc(rt.ExpiresAt), nullTime(used), nullTime(revoked)
	u.ID, t.ID, t.MFAMethods = rt.Subject, rt.TenantID, methodsFromRow(methods)
	return rt, u, t, nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
