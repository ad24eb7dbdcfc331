package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The reads below answer the provider's busiest endpoints (userinfo, the refresh grant) with one query
// each: the token row joined with what decides access (the user's disabled flag, the tenant's policy),
// only the columns needed, read fresh from the database on every call. They bypass gorm's statement
// building and reflection (database/sql directly, on the transaction inside InTx), and stay prepared
// (statements.go).

// queryRow runs one single-row query; q is written with '?' placeholders. On SQLite, outside a
// transaction, it runs on the read-only connections.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	pool := s.db.Statement.ConnPool.(sqlPool)
	if _, inTx := pool.(*sql.Tx); !inTx && s.reader != nil {
		return s.queryRowOn(ctx, s.reader, s.reads, q, args...)
	}
	return s.queryRowOn(ctx, pool, s.writes, q, args...)
}

// sqlTx runs fn in a database/sql transaction, retried like inTx on a serialization failure; on a
// Store bound to a transaction (InTx), in that transaction. Errors come translated (op names them).
func (s *Store) sqlTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if tx, ok := s.db.Statement.ConnPool.(*sql.Tx); ok {
		return s.translateSQL(op, fn(tx))
	}
	return s.translateSQL(op, s.retried(ctx, func() error {
		tx, err := s.sqlDB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}))
}

// retried runs fn again (as inTx does) while it fails with a serialization failure, unless the Store
// is bound to a transaction: then the whole transaction is retried by its owner.
func (s *Store) retried(ctx context.Context, fn func() error) error {
	if _, ok := s.db.Statement.ConnPool.(*sql.Tx); ok {
		return fn()
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = fn(); !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	return err
}

// translateSQL maps a database/sql error to our sentinels as gorm's TranslateError does.
func (s *Store) translateSQL(op string, err error) error {
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok && err != nil && !errors.Is(err, ErrConflict) {
		err = t.Translate(err)
	}
	return translate(op, err)
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
 u.tenant_id, u.email, u.name, u.email_verified, u.disabled, t.mfa_enabled, t.mfa_methods,
 c.tenant_id, c.name, c.secret_hash, c.public, c.redirect_uris, c.post_logout_uris, c.grants, c.scopes, c.admin,
 c.id_token_signed_response_alg, c.created_at
 FROM refresh_tokens r JOIN users u ON u.id = r.subject JOIN tenants t ON t.id = r.tenant_id
 JOIN clients c ON c.id = r.client_id
 WHERE r.token_hash = ?`

// RefreshGrant is what the refresh grant decides on, as it is now: the token, its user (without the
// password hash), its tenant with the MFA policy, and the client it was issued to.
type RefreshGrant struct {
	Token  RefreshToken
	User   User
	Tenant Tenant
	Client Client
}

// RefreshTokenGrant reads the refresh token whose hash matches with its user, tenant and client, in one
// query. A token whose client is gone is not found (deleting a client revokes its tokens).
func (s *Store) RefreshTokenGrant(ctx context.Context, hash string) (RefreshGrant, error) {
	var g RefreshGrant
	rt, u, t := &g.Token, &g.User, &g.Tenant
	c := clientRow{}
	rt.TokenHash = hash
	var scopes, audience, amr, methods string
	var authTime, used, revoked sql.NullTime
	err := s.queryRow(ctx, refreshTokenGrantSQL, hash).Scan(&rt.ID, &rt.GrantID, &rt.TenantID, &rt.ClientID, &rt.Subject,
		&scopes, &audience, &amr, &rt.ACR, &authTime, &rt.CreatedAt, &rt.ExpiresAt, &used, &revoked,
		&u.TenantID, &u.Email, &u.Name, &u.EmailVerified, &u.Disabled, &t.MFAEnabled, &methods,
		&c.TenantID, &c.Name, &c.SecretHash, &c.Public, &c.RedirectURIs, &c.PostLogoutURIs, &c.Grants, &c.Scopes, &c.Admin,
		&c.IDTokenAlg, &c.CreatedAt)
	if err != nil {
		return RefreshGrant{}, rowErr("refresh token grant", err)
	}
	rt.Scopes, rt.Audience, rt.AMR = split(scopes), split(audience), split(amr)
	rt.AuthTime = deref(nullTime(authTime))
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt, rt.RevokedAt = utc(rt.CreatedAt), utc(rt.ExpiresAt), nullTime(used), nullTime(revoked)
	u.ID, t.ID, t.MFAMethods = rt.Subject, rt.TenantID, methodsFromRow(methods)
	c.ID = rt.ClientID
	g.Client = clientFromRow(c)
	return g, nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// The writes of the code exchange and the refresh grant: plain SQL on database/sql, no reflection. On
// SQLite, the statements of one transaction; on PostgreSQL one statement (data-modifying WITH, which
// PostgreSQL-compatible distributed databases also run), so one round trip instead of five: each costs
// the provider a write and a read system call and a wake-up.

const (
	accessTokenColumns  = `id, grant_id, tenant_id, client_id, subject, scopes, audience, amr, acr, auth_time, created_at, expires_at, revoked_at`
	refreshTokenColumns = `id, token_hash, grant_id, tenant_id, client_id, subject, scopes, audience, amr, acr, auth_time, created_at,
 expires_at, used_at, revoked_at`
	// 13 and 15 values, in the order of the columns.
	accessTokenValues  = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
	refreshTokenValues = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

	insertAccessTokenSQL  = `INSERT INTO access_tokens (` + accessTokenColumns + `) VALUES (` + accessTokenValues + `)`
	insertRefreshTokenSQL = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `) VALUES (` + refreshTokenValues + `)`
	spendRefreshTokenSQL  = `UPDATE refresh_tokens SET used_at = ?
 WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`

	// PostgreSQL: the same in one statement. Parameters: the access token's 13, then the refresh
	// token's 15, then (rotation) now and the old token's hash.
	pgAccessTokenValues = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11::timestamptz, $12::timestamptz,
 $13::timestamptz`
	pgRefreshTokenValues = `$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24::timestamptz, $25::timestamptz,
 $26::timestamptz, $27::timestamptz, $28::timestamptz`
	pgCreateTokensSQL = `WITH a AS (INSERT INTO access_tokens (` + accessTokenColumns + `) VALUES (` + pgAccessTokenValues + `))
 INSERT INTO refresh_tokens (` + refreshTokenColumns + `) VALUES (` + pgRefreshTokenValues + `)`
	// The compare-and-set: both inserts take their one row from the spent token, so nothing is stored
	// unless the update changed exactly that row; a concurrent rotation of the same token waits for this
	// one and then finds it used.
	pgRotateSQL = `WITH spent AS (UPDATE refresh_tokens SET used_at = $29::timestamptz
 WHERE token_hash = $30 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $29::timestamptz RETURNING 1),
 a AS (INSERT INTO access_tokens (` + accessTokenColumns + `) SELECT ` + pgAccessTokenValues + ` FROM spent)
 INSERT INTO refresh_tokens (` + refreshTokenColumns + `) SELECT ` + pgRefreshTokenValues + ` FROM spent`

	// The code exchange's tokens (CreateCodeTokens): stored only while the auth request's grant is not
	// revoked. SQLite: the access token's insert takes its row from the check, and the refresh token
	// follows it in the same transaction (on the one writer, which runs one transaction at a time).
	grantLiveSQL             = `SELECT 1 FROM auth_requests WHERE id = ? AND grant_revoked_at IS NULL`
	insertCodeAccessTokenSQL = `INSERT INTO access_tokens (` + accessTokenColumns + `) SELECT ` + accessTokenValues +
		` WHERE EXISTS (` + grantLiveSQL + `)`
	// PostgreSQL: one statement whose inserts take their one row from the auth request, read and
	// locked (FOR UPDATE) by the statement itself; the request's id is the last parameter ($14 without
	// a refresh token, $29 with one). See RevokeGrant for why the lock closes the race with a replay.
	pgCreateCodeAccessTokenSQL = `WITH live AS (SELECT 1 FROM auth_requests WHERE id = $14 AND grant_revoked_at IS NULL FOR UPDATE)
 INSERT INTO access_tokens (` + accessTokenColumns + `) SELECT ` + pgAccessTokenValues + ` FROM live`
	pgCreateCodeTokensSQL = `WITH live AS (SELECT 1 FROM auth_requests WHERE id = $29 AND grant_revoked_at IS NULL FOR UPDATE),
 a AS (INSERT INTO access_tokens (` + accessTokenColumns + `) SELECT ` + pgAccessTokenValues + ` FROM live)
 INSERT INTO refresh_tokens (` + refreshTokenColumns + `) SELECT ` + pgRefreshTokenValues + ` FROM live`
)

func accessTokenArgs(at AccessToken) ([]any, error) {
	a, err := accessTokenToRow(at)
	if err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	return []any{a.ID, a.GrantID, a.TenantID, a.ClientID, a.Subject, a.Scopes, a.Audience, a.AMR, a.ACR, a.AuthTime, a.CreatedAt, a.ExpiresAt,
		a.RevokedAt}, nil
}

func refreshTokenArgs(rt RefreshToken) ([]any, error) {
	r, err := refreshTokenToRow(rt)
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	return []any{r.ID, r.TokenHash, r.GrantID, r.TenantID, r.ClientID, r.Subject, r.Scopes, r.Audience, r.AMR, r.ACR, r.AuthTime, r.CreatedAt, r.ExpiresAt,
		r.UsedAt, r.RevokedAt}, nil
}

// CreateTokens stores an access token and, when rt is not nil, a refresh token, at once.
func (s *Store) CreateTokens(ctx context.Context, at AccessToken, rt *RefreshToken) error {
	atArgs, err := accessTokenArgs(at)
	if err != nil {
		return fmt.Errorf("create tokens: %w", err)
	}
	if rt == nil { // one row: one statement, no transaction around it
		_, err := s.exec(ctx, "create tokens", insertAccessTokenSQL, atArgs...)
		return err
	}
	rtArgs, err := refreshTokenArgs(*rt)
	if err != nil {
		return fmt.Errorf("create tokens: %w", err)
	}
	if s.dialect == DialectPostgres {
		args := append(atArgs, rtArgs...)
		return s.translateSQL("create tokens", s.retried(ctx, func() error {
			_, err := s.execOn(ctx, s.pool(), pgCreateTokensSQL, args...)
			return err
		}))
	}
	s.prepareWrites(ctx, insertAccessTokenSQL, insertRefreshTokenSQL)
	return s.sqlTx(ctx, "create tokens", func(tx *sql.Tx) error {
		if _, err := s.execOn(ctx, tx, insertAccessTokenSQL, atArgs...); err != nil {
			return err
		}
		_, err := s.execOn(ctx, tx, insertRefreshTokenSQL, rtArgs...)
		return err
	})
}

// CreateCodeTokens is CreateTokens for the code exchange of the auth request requestID (the tokens'
// grant): they are stored only while that grant is not revoked. A grant revoked by RevokeGrant (a
// replay of the code that overtook this exchange), or a request that is gone, gets ErrConflict and
// stores nothing.
func (s *Store) CreateCodeTokens(ctx context.Context, requestID string, at AccessToken, rt *RefreshToken) error {
	atArgs, err := accessTokenArgs(at)
	if err != nil {
		return fmt.Errorf("create code tokens: %w", err)
	}
	var rtArgs []any
	if rt != nil {
		if rtArgs, err = refreshTokenArgs(*rt); err != nil {
			return fmt.Errorf("create code tokens: %w", err)
		}
	}
	if s.dialect == DialectPostgres {
		q, args := pgCreateCodeAccessTokenSQL, append(atArgs, requestID)
		if rt != nil {
			q, args = pgCreateCodeTokensSQL, append(append(atArgs, rtArgs...), requestID)
		}
		return s.translateSQL("create code tokens", s.retried(ctx, func() error {
			res, err := s.execOn(ctx, s.pool(), q, args...)
			if err != nil {
				return err
			}
			return spentOne(res)
		}))
	}
	args := append(atArgs, requestID)
	if rt == nil { // one row: one statement, no transaction around it
		res, err := s.exec(ctx, "create code tokens", insertCodeAccessTokenSQL, args...)
		if err != nil {
			return err
		}
		return s.translateSQL("create code tokens", spentOne(res))
	}
	s.prepareWrites(ctx, insertCodeAccessTokenSQL, insertRefreshTokenSQL)
	return s.sqlTx(ctx, "create code tokens", func(tx *sql.Tx) error {
		res, err := s.execOn(ctx, tx, insertCodeAccessTokenSQL, args...)
		if err == nil {
			err = spentOne(res)
		}
		if err != nil {
			return err
		}
		_, err = s.execOn(ctx, tx, insertRefreshTokenSQL, rtArgs...)
		return err
	})
}

// RotateRefreshToken spends the old refresh token (compare-and-set: unused, unrevoked, unexpired) and
// stores its successor and the new access token, at once. A token that was already used or revoked
// gets ErrConflict: the caller treats that as theft and revokes the family.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, at AccessToken, rt RefreshToken) error {
	atArgs, err := accessTokenArgs(at)
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	rtArgs, err := refreshTokenArgs(rt)
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if s.dialect == DialectPostgres {
		args := append(append(atArgs, rtArgs...), utc(now), oldHash)
		return s.translateSQL("rotate refresh token", s.retried(ctx, func() error {
			res, err := s.execOn(ctx, s.pool(), pgRotateSQL, args...)
			if err != nil {
				return err
			}
			return spentOne(res)
		}))
	}
	s.prepareWrites(ctx, spendRefreshTokenSQL, insertAccessTokenSQL, insertRefreshTokenSQL)
	return s.sqlTx(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		res, err := s.execOn(ctx, tx, spendRefreshTokenSQL, utc(now), oldHash, utc(now))
		if err == nil {
			err = spentOne(res)
		}
		if err != nil {
			return err
		}
		if _, err := s.execOn(ctx, tx, insertAccessTokenSQL, atArgs...); err != nil {
			return err
		}
		_, err = s.execOn(ctx, tx, insertRefreshTokenSQL, rtArgs...)
		return err
	})
}

// spentOne is nil when the statement changed one row, else ErrConflict.
func spentOne(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return ErrConflict
	}
	return nil
}
